"""Facial regions, skin mask, per-region counts and the GAGS estimate on synthetic geometry."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.alignment import CANONICAL_LANDMARKS, estimate_alignment, invert_alignment, transform_points
from core.regions import (
    EYE_AXES,
    FACE_OVAL_AXES,
    GAGS_FACE_MAXIMUM,
    GAGS_UNCERTAIN_SCORE,
    MOUTH_HALF_HEIGHT,
    MOUTH_MARGIN,
    OUTSIDE_REGIONS,
    REGION_COLUMNS,
    UNCERTAIN_COLUMN,
    count_by_region,
    facial_skin_mask,
    gags_estimate,
    region_masks,
    region_of,
    region_polygons,
    region_totals,
)
from core.types import FACIAL_REGIONS, LESION_KINDS, FaceResult, Lesion, LesionCounts

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
# Canonical points well inside each region (the patient's right cheek is on the image's left).
INSIDE = {
    "forehead": (256.0, 115.0),
    "nose": (256.0, 260.0),
    "right_cheek": (165.0, 290.0),
    "left_cheek": (347.0, 290.0),
    "chin": (256.0, 410.0),
}
OUTSIDE = {"left eye": tuple(CANONICAL_LANDMARKS[0]), "mouth": (256.0, 348.0), "background": (20.0, 20.0)}


def photo_alignment(angle_deg: float, scale: float, tx: float, ty: float) -> tuple[float, ...]:
    """Alignment of a photo in which the canonical face appears rotated, scaled and shifted."""
    a = np.deg2rad(angle_deg)
    to_photo = (scale * np.cos(a), -scale * np.sin(a), tx, scale * np.sin(a), scale * np.cos(a), ty)
    return estimate_alignment(transform_points(CANONICAL_LANDMARKS, to_photo))


def face_for(alignment) -> FaceResult:
    points = transform_points(CANONICAL_LANDMARKS, invert_alignment(alignment))
    return FaceResult(found=True, box=(0.0, 0.0, 1.0, 1.0), landmarks=tuple(map(tuple, points)), n_faces=1)


def lesion(kind: str, region: str | None, x: int = 10, y: int = 10) -> Lesion:
    return Lesion(bbox=(x, y, x + 4, y + 4), kind=kind, score=0.9, area_px=12, region=region)


def test_canonical_regions_hold_their_points_and_never_overlap():
    masks = region_masks((512, 512), IDENTITY)
    assert list(masks) == list(FACIAL_REGIONS)
    for name, point in INSIDE.items():
        assert region_of(point, masks) == name
    for point in OUTSIDE.values():
        assert region_of(point, masks) is None
    stacked = np.stack(list(masks.values())).astype(int)
    assert stacked.sum(axis=0).max() == 1
    skin = facial_skin_mask((512, 512), face_for(IDENTITY), IDENTITY)
    assert not np.any(stacked.sum(axis=0).astype(bool) & ~skin)  # regions lie on the skin


@pytest.mark.parametrize("angle, scale, tx, ty", [(14, 0.6, 80, 40), (-9, 2.5, 300, 150)])
def test_regions_follow_the_face_in_the_photo(angle, scale, tx, ty):
    alignment = photo_alignment(angle, scale, tx, ty)
    shape = (int(560 * scale + 2 * ty), int(560 * scale + 2 * tx), 3)
    masks = region_masks(shape, alignment)
    canonical_masks = region_masks((512, 512), IDENTITY)
    to_photo = invert_alignment(alignment)
    for name, point in INSIDE.items():
        assert region_of(transform_points([point], to_photo)[0], masks) == name
        # Areas scale with the square of the photo scale (rasterisation aside).
        assert masks[name].sum() == pytest.approx(canonical_masks[name].sum() * scale**2, rel=0.03)
    polygons = region_polygons(alignment)
    assert set(polygons) == set(FACIAL_REGIONS) and polygons["nose"].shape[1] == 2


def test_skin_mask_is_the_face_oval_without_eyes_and_mouth():
    skin = facial_skin_mask((512, 512, 3), face_for(IDENTITY), IDENTITY)
    assert skin.shape == (512, 512)
    for point in INSIDE.values():
        assert skin[int(point[1]), int(point[0])]
    for point in OUTSIDE.values():
        assert not skin[int(point[1]), int(point[0])]
    mouth_width = float(np.linalg.norm(CANONICAL_LANDMARKS[4] - CANONICAL_LANDMARKS[3]))
    expected_area = np.pi * (
        FACE_OVAL_AXES[0] * FACE_OVAL_AXES[1]
        - 2 * EYE_AXES[0] * EYE_AXES[1]
        - (mouth_width / 2 + MOUTH_MARGIN) * MOUTH_HALF_HEIGHT
    )
    assert skin.sum() == pytest.approx(expected_area, rel=0.01)


def test_skin_mask_computes_the_alignment_from_the_landmarks_when_not_given():
    alignment = photo_alignment(8, 1.4, 60, 20)
    face = face_for(alignment)
    given = facial_skin_mask((900, 900), face, alignment)
    derived = facial_skin_mask((900, 900), face)
    assert np.array_equal(given, derived) and given.any()


def test_no_face_means_the_whole_photo_and_no_regions():
    assert facial_skin_mask((40, 60), FaceResult(found=False)).all()
    masks = region_masks((40, 60), None)
    assert set(masks) == set(FACIAL_REGIONS) and not any(m.any() for m in masks.values())


def test_region_of_outside_the_photo_is_none():
    masks = region_masks((64, 64), IDENTITY)
    assert region_of((-5.0, 10.0), masks) is None
    assert region_of((10.0, 500.0), masks) is None


def test_count_by_region_exact():
    lesions = [
        lesion("comedone", "forehead"),
        lesion("comedone", "forehead"),
        lesion("papule", "forehead"),
        lesion("pustule", "left_cheek"),
        lesion("nodule", "chin"),
        lesion("papule", None),  # outside every region: in the row of its own
    ]
    table = count_by_region(lesions)
    assert list(table) == [*FACIAL_REGIONS, OUTSIDE_REGIONS]
    zero = dict.fromkeys(REGION_COLUMNS, 0)
    assert table["forehead"] == {**zero, "comedone": 2, "papule": 1}
    assert table["left_cheek"] == {**zero, "pustule": 1}
    assert table["chin"] == {**zero, "nodule": 1}
    assert table["right_cheek"] == table["nose"] == zero
    assert table[OUTSIDE_REGIONS] == {**zero, "papule": 1}


def test_the_region_table_uses_the_counts_types_and_adds_up_to_them():
    """Issue 26: 'Papules 0, Uncertain type 12' beside 'left cheek 8 papules'; 0 of 5 lesions
    in the table. The table counts as the counts do, and every lesion is in one row."""
    uncertain = [replace(lesion("papule", "left_cheek"), type_uncertain=True) for _ in range(8)]
    lesions = [*uncertain, lesion("comedone", None), lesion("nodule", "nose")]
    table = count_by_region(lesions)
    assert table["left_cheek"]["papule"] == 0 and table["left_cheek"][UNCERTAIN_COLUMN] == 8
    counts = LesionCounts.from_lesions(lesions)
    totals = region_totals(table)
    assert totals == {**{k: getattr(counts, k) for k in LESION_KINDS},
                      UNCERTAIN_COLUMN: counts.inflammatory_type_uncertain}
    assert sum(totals.values()) == counts.total
    # GAGS scores an uncertain type as the least inflammatory one (papule, 2) x cheek weight 2,
    # plus the nodule on the nose (4 x 1); the lesion off the regions does not score.
    assert gags_estimate(lesions) == 2 * GAGS_UNCERTAIN_SCORE + 4


def test_regions_cover_the_whole_facial_skin():
    """Skin between the outlines (jaw, temples) belongs to the nearest region, so a lesion on
    the face is never left without one."""
    masks = region_masks((512, 512), IDENTITY)
    skin = facial_skin_mask((512, 512), face_for(IDENTITY), IDENTITY)
    union = np.any(np.stack(list(masks.values())), axis=0)
    assert np.array_equal(union, skin)
    jaw = (170.0, 380.0)  # the patient's right jaw, below the cheek outline
    assert skin[int(jaw[1]), int(jaw[0])] and region_of(jaw, masks) == "right_cheek"


def test_gags_estimate_scores_each_region_by_its_worst_lesion():
    lesions = [
        lesion("comedone", "forehead"),
        lesion("papule", "forehead"),  # forehead worst: papule 2 x weight 2 = 4
        lesion("pustule", "left_cheek"),  # 3 x 2 = 6
        lesion("comedone", "right_cheek"),  # 1 x 2 = 2
        lesion("nodule", "nose"),  # 4 x 1 = 4
        lesion("nodule", None),  # off the regions: ignored
    ]
    assert gags_estimate(lesions) == 16
    assert gags_estimate([]) == 0
    worst_everywhere = [lesion("nodule", name) for name in FACIAL_REGIONS]
    assert gags_estimate(worst_everywhere) == GAGS_FACE_MAXIMUM == 32


def test_unknown_region_or_kind_is_rejected():
    with pytest.raises(ValueError, match="'ear'"):
        count_by_region([lesion("papule", "ear")])
    with pytest.raises(ValueError, match="'cyst'"):
        gags_estimate([lesion("cyst", "nose")])
    with pytest.raises(ValueError, match="image shape"):
        region_masks((0, 10), IDENTITY)


ACNE04_VALID = Path("/work/shared/data/acne04/images/valid")
SHIPPED_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"


@pytest.mark.slow
@pytest.mark.skipif(not ACNE04_VALID.is_dir(), reason="ACNE04 photos are not on this machine")
@pytest.mark.skipif(not (SHIPPED_WEIGHTS / "manifest.json").is_file(), reason="no shipped weights")
def test_on_real_acne04_photos_the_region_table_adds_up_to_the_counts():
    """Issue 26: on real photos the region table listed 11 of 30 lesions, and papules where the
    counts had none. Through the product's own analysis, every lesion is in one row of the
    table with the type the counts give it, and a lesion on the facial skin has a region."""
    from core.imaging import decode_photo
    from core.pipeline import load_analyzer

    analyzer = load_analyzer(SHIPPED_WEIGHTS, threads=1)
    checked = 0
    for path in sorted(ACNE04_VALID.glob("*.jpg"))[::7]:
        analysis = analyzer.analyze(decode_photo(path.read_bytes(), filename=path.name))
        if not analysis.region_counts or analysis.counts.total == 0:
            continue
        counts = analysis.counts
        totals = region_totals(analysis.region_counts)
        assert totals == {**{k: getattr(counts, k) for k in LESION_KINDS},
                          UNCERTAIN_COLUMN: counts.inflammatory_type_uncertain}, path.name
        skin = facial_skin_mask((analysis.height, analysis.width), analysis.face, analysis.alignment)
        for found in analysis.lesions:
            x, y = (int(v) for v in found.centre)
            if skin[min(y, analysis.height - 1), min(x, analysis.width - 1)]:
                assert found.region is not None, (path.name, found)
        checked += 1
        if checked == 6:
            break
    assert checked >= 3  # enough real photos with a face and lesions were looked at
