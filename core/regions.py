"""Facial regions and the facial skin mask, drawn in the canonical face frame (core.alignment)
and mapped into each photo, plus per-region lesion counts and a GAGS estimate.

Left and right are the patient's own (clinical convention): in an unmirrored photo the
patient's left cheek is on the image's right. Regions never overlap and lie inside the skin mask,
and together they cover it: facial skin between the region outlines (the jaw, the temples)
belongs to the nearest region, as GAGS divides the whole face into its areas. A lesion on the
photo off the facial skin (an ear, the neck, the eyes and mouth) is counted in the row
OUTSIDE_REGIONS, so the region table always adds up to the photo's counts (issue 26).
The table's columns are the counts' own: the four types and "inflammatory, type uncertain".
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from core.alignment import CANONICAL_LANDMARKS, estimate_alignment, invert_alignment, transform_points
from core.types import FACIAL_REGIONS, LESION_KINDS, FaceResult, Lesion

# The region table's row of the lesions outside the five facial regions, and its column of the
# inflammatory lesions whose type is uncertain (as core.types.LesionCounts counts them).
OUTSIDE_REGIONS = "outside_regions"
UNCERTAIN_COLUMN = "inflammatory_type_uncertain"
REGION_COLUMNS: tuple[str, ...] = (*LESION_KINDS, UNCERTAIN_COLUMN)

# The face oval (ellipse) in canonical pixels: hairline to chin, cheek to cheek, from average
# face proportions relative to the 128 px eye distance of the canonical frame.
FACE_OVAL_CENTRE = (256.0, 255.0)
FACE_OVAL_AXES = (138.0, 185.0)
# Eyes (with the lower brow) and mouth left out of the skin: ellipses around the landmarks.
EYE_AXES = (46.0, 28.0)
EYE_RAISE = 6.0  # the eye ellipse sits a little above the pupil to cover the lid and brow
MOUTH_MARGIN = 8.0  # beyond each mouth corner
MOUTH_HALF_HEIGHT = 24.0

_RIGHT_CHEEK = [(122, 222), (214, 228), (214, 284), (205, 312), (190, 345), (150, 372), (118, 340), (114, 280)]
# Region polygons, canonical pixels. The patient's right cheek is on the image's left.
REGION_POLYGONS: dict[str, np.ndarray] = {
    "forehead": np.array(
        [(168, 164), (344, 164), (356, 130), (336, 96), (300, 78), (256, 72), (212, 78), (176, 96), (156, 130)],
        dtype=np.float64,
    ),
    "nose": np.array(
        [(238, 200), (274, 200), (284, 250), (298, 282), (256, 296), (214, 282), (228, 250)], dtype=np.float64
    ),
    "right_cheek": np.array(_RIGHT_CHEEK, dtype=np.float64),
    "left_cheek": np.array([(512 - x, y) for x, y in _RIGHT_CHEEK], dtype=np.float64),
    "chin": np.array(
        [(200, 372), (312, 372), (324, 400), (306, 430), (256, 446), (206, 430), (188, 400)], dtype=np.float64
    ),
}

# GAGS (Doshi et al. 1997): area weights and lesion scores; each area scored by its worst lesion.
GAGS_REGION_WEIGHTS: dict[str, int] = {"forehead": 2, "right_cheek": 2, "left_cheek": 2, "nose": 1, "chin": 1}
GAGS_LESION_SCORES: dict[str, int] = {"comedone": 1, "papule": 2, "pustule": 3, "nodule": 4}
# An inflammatory lesion of uncertain type scores as the least of the inflammatory types
# (papule): never more than the model can tell.
GAGS_UNCERTAIN_SCORE = GAGS_LESION_SCORES["papule"]
# The face alone reaches at most 32 (chest and back, weight 3, are not photographed).
GAGS_FACE_MAXIMUM = sum(GAGS_REGION_WEIGHTS.values()) * max(GAGS_LESION_SCORES.values())

_SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point precision: 1/16 pixel


def _ellipse(centre: Sequence[float], axes: Sequence[float], n: int = 72) -> np.ndarray:
    angles = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.stack([centre[0] + axes[0] * np.cos(angles), centre[1] + axes[1] * np.sin(angles)], axis=1)


def _fill(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    fixed = np.round(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask.astype(bool)


def _shape2(shape: Sequence[int]) -> tuple[int, int]:
    if len(shape) < 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"expected an image shape (height, width, ...), got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def _skin_in_photo(shape: tuple[int, int], alignment: Sequence[float]) -> np.ndarray:
    to_photo = invert_alignment(alignment)
    skin = _fill(shape, transform_points(_ellipse(FACE_OVAL_CENTRE, FACE_OVAL_AXES), to_photo))
    for eye in CANONICAL_LANDMARKS[:2]:
        centre = (eye[0], eye[1] - EYE_RAISE)
        skin &= ~_fill(shape, transform_points(_ellipse(centre, EYE_AXES), to_photo))
    mouth_left, mouth_right = CANONICAL_LANDMARKS[3], CANONICAL_LANDMARKS[4]
    mouth_centre = (mouth_left + mouth_right) / 2.0
    half_width = float(np.linalg.norm(mouth_right - mouth_left)) / 2.0 + MOUTH_MARGIN
    skin &= ~_fill(shape, transform_points(_ellipse(mouth_centre, (half_width, MOUTH_HALF_HEIGHT)), to_photo))
    return skin


def region_polygons(alignment: Sequence[float]) -> dict[str, np.ndarray]:
    """Each region's outline (N x 2 points) in the photo's pixels, for drawing."""
    to_photo = invert_alignment(alignment)
    return {name: transform_points(REGION_POLYGONS[name], to_photo) for name in FACIAL_REGIONS}


def region_masks(shape: Sequence[int], alignment: Sequence[float] | None) -> dict[str, np.ndarray]:
    """One boolean mask per facial region at photo size (all empty without an alignment)."""
    size = _shape2(shape)
    if alignment is None:
        return {name: np.zeros(size, dtype=bool) for name in FACIAL_REGIONS}
    skin = _skin_in_photo(size, alignment)
    taken = np.zeros(size, dtype=bool)
    masks: dict[str, np.ndarray] = {}
    for name, polygon in region_polygons(alignment).items():
        mask = _fill(size, polygon) & skin & ~taken  # a shared edge pixel goes to one region only
        taken |= mask
        masks[name] = mask
    _share_the_rest(masks, skin & ~taken)
    return masks


def _share_the_rest(masks: dict[str, np.ndarray], rest: np.ndarray) -> None:
    """Give each pixel of `rest` (facial skin between the outlines) to the nearest region."""
    names = [name for name, mask in masks.items() if mask.any()]
    if not rest.any() or not names:
        return
    distances = np.stack([
        cv2.distanceTransform((~masks[name]).astype(np.uint8), cv2.DIST_L2, 3) for name in names
    ])
    nearest = distances.argmin(axis=0)
    for index, name in enumerate(names):
        masks[name] |= rest & (nearest == index)


def facial_skin_mask(shape: Sequence[int], face: FaceResult, alignment: Sequence[float] | None = None) -> np.ndarray:
    """Face oval minus eyes and mouth, at photo size; the whole photo when no face was found."""
    size = _shape2(shape)
    if not face.found or face.landmarks is None:
        return np.ones(size, dtype=bool)
    if alignment is None:
        alignment = estimate_alignment(face.landmarks)
    return _skin_in_photo(size, alignment)


def region_of(point: Sequence[float], masks: Mapping[str, np.ndarray]) -> str | None:
    """The region whose mask holds the pixel containing `point` (x, y); None if none does."""
    x, y = float(point[0]), float(point[1])
    for name, mask in masks.items():
        col, row = int(np.floor(x)), int(np.floor(y))
        if 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and mask[row, col]:
            return name
    return None


def count_by_region(lesions: Sequence[Lesion]) -> dict[str, dict[str, int]]:
    """Lesions per region and type as the counts count them (REGION_COLUMNS: an inflammatory
    lesion of uncertain type in its own column), every region and column listed, and the row
    OUTSIDE_REGIONS for the lesions off the five regions (region None): the table adds up to
    the photo's counts."""
    table = {name: dict.fromkeys(REGION_COLUMNS, 0) for name in (*FACIAL_REGIONS, OUTSIDE_REGIONS)}
    for lesion in lesions:
        row = OUTSIDE_REGIONS if lesion.region is None else lesion.region
        if row not in table or row == OUTSIDE_REGIONS and lesion.region is not None:
            raise ValueError(f"unknown facial region {lesion.region!r}; expected one of {FACIAL_REGIONS}")
        if lesion.kind not in GAGS_LESION_SCORES:
            raise ValueError(f"unknown lesion kind {lesion.kind!r}; expected one of {LESION_KINDS}")
        table[row][UNCERTAIN_COLUMN if lesion.type_uncertain else lesion.kind] += 1
    return table


def gags_estimate(lesions: Sequence[Lesion]) -> int:
    """An estimate of the Global Acne Grading System score (Doshi 1997) for the face only.

    Each region scores its worst lesion (comedone 1, papule 2, pustule 3, nodule 4; one of
    uncertain type GAGS_UNCERTAIN_SCORE) times its weight (forehead and each cheek 2, nose and
    chin 1); 0 to GAGS_FACE_MAXIMUM. It rests on the model's lesion types and regions, not on a
    clinician's examination. Lesions outside the five regions do not score.
    """
    scores = {**GAGS_LESION_SCORES, UNCERTAIN_COLUMN: GAGS_UNCERTAIN_SCORE}
    total = 0
    for name, columns in count_by_region(lesions).items():
        if name == OUTSIDE_REGIONS:
            continue
        worst = max((scores[column] for column, n in columns.items() if n > 0), default=0)
        total += GAGS_REGION_WEIGHTS[name] * worst
    return total


def region_totals(region_counts: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """The region table summed over its rows, by column (REGION_COLUMNS): what it says the
    photo's counts are (stored tables from before the uncertain column read it as 0)."""
    return {column: sum(int((row or {}).get(column, 0) or 0) for row in region_counts.values())
            for column in REGION_COLUMNS}
