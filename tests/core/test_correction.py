"""A clinician's lesion edits and what follows from them (core.correction)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.alignment import CANONICAL_LANDMARKS, estimate_alignment
from core.correction import (
    LesionEdit,
    added_lesion_radius,
    apply_edit,
    corrected_evidence,
    corrected_kind_mask,
    describe_edit,
    lesion_at,
    measure_corrected,
    plain_description,
    region_at,
)
from core.grading import CountGrader
from core.types import INFLAMMATORY_KINDS, UNCERTAIN_TYPE_MASK_VALUE, Lesion

SHIPPED_GRADER = Path(__file__).resolve().parents[2] / "weights" / "grader.json"
W, H = 200, 160
MODEL_LESIONS = (
    Lesion(bbox=(10, 10, 20, 20), kind="nodule", score=0.81, area_px=80, type_confidence=0.9),
    Lesion(bbox=(50, 10, 60, 20), kind="papule", score=0.42, area_px=70, type_confidence=0.4,
           type_uncertain=True),
    Lesion(bbox=(90, 90, 100, 100), kind="comedone", score=0.33, area_px=60),
)


def _apply(edit: LesionEdit, lesions=MODEL_LESIONS, alignment=None):  # noqa: ANN001, ANN202
    return apply_edit(lesions, edit, radius=5.0, width=W, height=H, alignment=alignment)


def test_adding_a_lesion_puts_a_certain_hand_made_disc_at_the_click() -> None:
    after = _apply(LesionEdit("add", kind="pustule", point=(120.0, 40.0)))
    assert len(after) == 4 and after[:3] == MODEL_LESIONS
    added = after[-1]
    assert added.kind == "pustule" and added.added_by_clinician and not added.type_uncertain
    assert added.bbox == (115, 35, 125, 45) and added.centre == (120.0, 40.0)
    assert added.area_px == round(np.pi * 25) and added.score == 1.0


def test_an_added_lesion_near_the_edge_stays_inside_the_photo_and_a_point_outside_is_refused() -> None:
    added = _apply(LesionEdit("add", kind="papule", point=(1.0, 158.0)))[-1]
    assert added.bbox[0] == 0 and added.bbox[3] == H
    with pytest.raises(ValueError, match=r"outside the 200 x 160 photo"):
        _apply(LesionEdit("add", kind="papule", point=(200.0, 10.0)))


def test_removing_and_retyping_change_only_that_lesion() -> None:
    removed = _apply(LesionEdit("remove", lesion=0))
    assert removed == MODEL_LESIONS[1:]
    retyped = _apply(LesionEdit("retype", lesion=1, kind="pustule"))
    assert retyped[0] == MODEL_LESIONS[0] and retyped[2] == MODEL_LESIONS[2]
    # The clinician's type is certain: no longer "inflammatory, type uncertain".
    assert (retyped[1].kind, retyped[1].type_uncertain, retyped[1].type_confidence) == ("pustule", False, 1.0)
    assert retyped[1].bbox == MODEL_LESIONS[1].bbox


def test_bad_edits_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match=r"'cyst' must be one of comedone, papule, pustule, nodule"):
        LesionEdit("add", kind="cyst", point=(1, 1))
    with pytest.raises(ValueError, match=r"'paint' must be one of add, remove, retype"):
        LesionEdit("paint")
    with pytest.raises(ValueError, match="needs the index"):
        LesionEdit("remove")
    with pytest.raises(ValueError, match=r"lesion 3 does not exist: the photo has 3 lesions"):
        _apply(LesionEdit("remove", lesion=3))


def test_edits_are_described_in_a_clinicians_words() -> None:
    assert describe_edit(LesionEdit("retype", lesion=0, kind="papule"), MODEL_LESIONS) == \
        "changed a nodule/cyst to a papule"
    assert describe_edit(LesionEdit("remove", lesion=1), MODEL_LESIONS) == \
        "removed an inflammatory lesion of uncertain type"
    # Where, in words: never pixel coordinates ("added a papule at (422, 500)", issue 26).
    assert describe_edit(LesionEdit("add", kind="nodule", point=(12.4, 30.6)), MODEL_LESIONS) == \
        "added a nodule/cyst"
    assert describe_edit(LesionEdit("add", kind="papule", point=(422, 500)), MODEL_LESIONS,
                         region="left_cheek") == "added a papule on the left cheek"
    # Descriptions stored before say it without their coordinates on the screen.
    assert plain_description("added a papule at (422, 500)") == "added a papule"
    assert plain_description("removed a comedone") == "removed a comedone"


def test_a_click_selects_a_lesion_only_inside_its_own_outline() -> None:
    """Issue 26: a click 20 px from a found lesion selected it instead of offering 'Add'."""
    assert lesion_at(MODEL_LESIONS, (15, 15)) == 0  # inside its box
    assert lesion_at(MODEL_LESIONS, (21, 15), pad=2) == 0  # on its ring (box plus 2 px)
    assert lesion_at(MODEL_LESIONS, (25, 15), pad=2) is None  # beside it: a click there adds
    assert lesion_at(MODEL_LESIONS, (40, 15), pad=2) is None  # 20 px from it
    nested = (*MODEL_LESIONS, Lesion(bbox=(12, 12, 15, 15), kind="comedone", score=0.5, area_px=9))
    assert lesion_at(nested, (13, 13)) == 3  # the smaller of two overlapping outlines


def test_an_added_lesion_is_sized_by_the_face_or_else_by_the_photo() -> None:
    assert added_lesion_radius((100.0, 0.0, 400.0, 300.0), 1000, 800) == pytest.approx(16.5)
    assert added_lesion_radius(None, 640, 640) == pytest.approx(17.6)


def test_an_added_lesion_gets_the_region_under_the_click() -> None:
    # A face whose landmarks sit exactly on the canonical frame: canonical = photo pixels.
    alignment = estimate_alignment(CANONICAL_LANDMARKS)
    assert region_at((256.0, 110.0), alignment, 512, 512) == "forehead"
    assert region_at((256.0, 420.0), alignment, 512, 512) == "chin"
    assert region_at((5.0, 5.0), alignment, 512, 512) is None
    assert region_at((256.0, 110.0), None, 512, 512) is None


def test_the_grader_sees_the_models_doubts_the_kept_peaks_and_certain_added_lesions() -> None:
    heights = (0.81, 0.42, 0.33, 0.15, 0.12)  # the last two: peaks below the lesion threshold
    lesions = _apply(LesionEdit("add", kind="papule", point=(150.0, 50.0)),
                     _apply(LesionEdit("remove", lesion=0)))
    assert corrected_evidence(heights, MODEL_LESIONS, lesions) == (1.0, 0.42, 0.33, 0.15, 0.12)
    # Stored before the heights were kept: the lesions' own scores stand in.
    assert corrected_evidence(None, MODEL_LESIONS, MODEL_LESIONS) == (0.81, 0.42, 0.33)


def test_the_lesion_type_map_follows_the_edits() -> None:
    model_mask = np.zeros((H, W), np.uint8)
    model_mask[12:18, 12:18] = 4  # nodule
    model_mask[12:18, 52:58] = UNCERTAIN_TYPE_MASK_VALUE
    model_mask[92:98, 92:98] = 1  # comedone
    lesions = _apply(LesionEdit("retype", lesion=0, kind="pustule"), _apply(LesionEdit("remove", lesion=0)))
    lesions = _apply(LesionEdit("add", kind="comedone", point=(150.0, 120.0)), lesions)
    mask = corrected_kind_mask(model_mask, MODEL_LESIONS, lesions, (H, W))
    assert not mask[10:20, 10:20].any()  # removed
    assert set(np.unique(mask[12:18, 52:58])) == {3}  # pustule now
    assert set(np.unique(mask[92:98, 92:98])) == {1}  # untouched
    assert mask[120, 150] == 1 and mask[120, 156] == 0  # a disc of radius 5
    assert model_mask[12, 12] == 4  # the model's map is not changed


@pytest.mark.parametrize("added", [0, 10, 40])
def test_a_correction_is_regraded_by_the_shipped_grader_and_counts_add_up(added: int) -> None:
    grader = CountGrader.load(SHIPPED_GRADER)
    heights = (0.81, 0.42, 0.33)
    lesions = MODEL_LESIONS
    for i in range(added):
        lesions = _apply(LesionEdit("add", kind="papule", point=(5.0 + 4 * (i % 45), 130.0 + (i // 45) * 10)), lesions)
    edit = LesionEdit("add", kind="papule", point=(5.0, 130.0))
    result = measure_corrected(model_lesions=MODEL_LESIONS, model_heights=heights, model_area_fraction=0.01,
                               skin_area_px=20000, lesions=lesions, grader=grader, has_regions=False,
                               edit=edit, description="added", shape=(H, W))
    counts = result.counts
    assert counts.total == 3 + added
    assert counts.inflammatory == sum(getattr(counts, k) for k in INFLAMMATORY_KINDS) + counts.inflammatory_type_uncertain
    assert result.lesion_area_fraction == pytest.approx(0.01 + added * round(np.pi * 25) / 20000)
    assert result.grade.source == "learned" and result.region_counts == {} and result.gags_estimate is None
    assert result.kind_mask is not None and result.kind_mask.shape == (H, W)
    # More lesions never lower the grade: 40 certain papules grade severe or worse.
    if added == 40:
        assert result.grade.value >= 2
    if added == 0:
        assert result.grade.value <= 1
