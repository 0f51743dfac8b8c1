"""A clinician's correction of the lesions the model found: add, remove or retype one lesion.

The corrected lesions are measured as the model's were: counts by type, the grade by the same
grader, the lesion area, regions and GAGS, and a lesion-type map for the overlay. A correction
is always computed from the model's own analysis and the full list of corrected lesions, so
undoing an edit is simply going back to the previous list.

The grader reads the centre-heatmap peak heights ("soft counts"): a removed lesion takes its
peak out, a lesion a clinician adds counts as a certain one (height 1.0), and the model's
peaks below the lesion threshold (its doubts) stay as they were.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from core.alignment import compose_alignments
from core.grading import CountGrader, GradeEvidence
from core.words import words
from core.regions import count_by_region, gags_estimate, region_masks, region_of
from core.types import (
    LESION_KINDS,
    UNCERTAIN_TYPE_MASK_VALUE,
    CorrectedMeasurements,
    Lesion,
    LesionCounts,
)

EDIT_ACTIONS: tuple[str, ...] = ("add", "remove", "retype")
KIND_WORDS: dict[str, str] = {"comedone": "comedone", "papule": "papule", "pustule": "pustule",
                              "nodule": "nodule/cyst"}
# A lesion drawn by a clinician is a disc this share of the face width across (ACNE04's median
# lesion box is about 35 px on faces about 300 px wide), or of the photo's short side.
ADDED_LESION_FACE_SHARE = 0.11
ADDED_LESION_PHOTO_SHARE = 0.055
ADDED_LESION_HEIGHT = 1.0  # a lesion the clinician saw is certain evidence for the grader
# Regions of an added lesion are looked up on a copy of the photo at most this many pixels wide.
REGION_LOOKUP_SIDE = 512
_HEIGHT_MATCH = 5e-4  # stored peak heights are rounded to 4 decimals


@dataclass(frozen=True)
class LesionEdit:
    """One edit: `add` a lesion of `kind` centred at `point` (photo pixels), `remove` the
    lesion at index `lesion`, or `retype` it to `kind`."""

    action: str
    lesion: int | None = None
    kind: str | None = None
    point: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.action not in EDIT_ACTIONS:
            raise ValueError(f"edit action {self.action!r} must be one of {', '.join(EDIT_ACTIONS)}")
        if self.action in ("add", "retype") and self.kind not in LESION_KINDS:
            raise ValueError(f"lesion type {self.kind!r} must be one of {', '.join(LESION_KINDS)}")
        if self.action == "add" and self.point is None:
            raise ValueError("adding a lesion needs the point clicked on the photo")
        if self.action in ("remove", "retype") and (self.lesion is None or self.lesion < 0):
            raise ValueError(f"{self.action} needs the index of a lesion, not {self.lesion!r}")

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"action": self.action}
        if self.lesion is not None:
            data["lesion"] = self.lesion
        if self.kind is not None:
            data["kind"] = self.kind
        if self.point is not None:
            data["point"] = [round(float(v), 1) for v in self.point]
        return data


def lesion_name(lesion: Lesion) -> str:
    return "inflammatory lesion of uncertain type" if lesion.type_uncertain else KIND_WORDS[lesion.kind]


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def describe_edit(edit: LesionEdit, lesions: Sequence[Lesion], region: str | None = None) -> str:
    """The edit in a clinician's words, e.g. 'changed a nodule/cyst to a papule', 'added a
    papule on the left cheek' (`region`: where an added lesion lies; no pixel coordinates)."""
    if edit.action == "add":
        where = f" on the {words(region)}" if region else ""
        return f"added {_a(KIND_WORDS[edit.kind or ''])}{where}"
    name = lesion_name(lesions[edit.lesion or 0])
    if edit.action == "remove":
        return f"removed {_a(name)}"
    return f"changed {_a(name)} to {_a(KIND_WORDS[edit.kind or ''])}"


_PIXEL_PLACE = re.compile(r" at \(\s*-?\d+(?:\.\d+)?,\s*-?\d+(?:\.\d+)?\)")


def plain_description(description: str | None) -> str:
    """A stored correction's description for the screen: pixel coordinates of corrections
    stored before they were described in words ('added a papule at (422, 500)') left out."""
    return _PIXEL_PLACE.sub("", description or "").strip()


def lesion_at(lesions: Sequence[Lesion], point: Sequence[float], pad: float = 0.0) -> int | None:
    """The index of the lesion whose own outline (its box widened by `pad` pixels, as the
    viewer rings it) holds `point`; the smallest such lesion when outlines overlap; None when
    the point is on bare skin (a click there adds a lesion, issue 26)."""
    x, y = float(point[0]), float(point[1])
    best, best_area = None, float("inf")
    for i, lesion in enumerate(lesions):
        x0, y0, x1, y1 = lesion.bbox
        if x0 - pad <= x < x1 + pad and y0 - pad <= y < y1 + pad:
            area = float((x1 - x0) * (y1 - y0))
            if area < best_area:
                best, best_area = i, area
    return best


def added_lesion_radius(face_box: Sequence[float] | None, width: int, height: int) -> float:
    """The radius in photo pixels of a lesion a clinician adds."""
    if face_box is not None:
        return max(2.0, ADDED_LESION_FACE_SHARE * float(face_box[2] - face_box[0]) / 2.0)
    return max(2.0, ADDED_LESION_PHOTO_SHARE * min(width, height) / 2.0)


def region_at(point: Sequence[float], alignment: Sequence[float] | None, width: int, height: int) -> str | None:
    """The facial region under `point`, from the photo's alignment (None without one)."""
    if alignment is None:
        return None
    scale = min(1.0, REGION_LOOKUP_SIDE / max(width, height))
    small_to_photo = (1.0 / scale, 0.0, 0.0, 0.0, 1.0 / scale, 0.0)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    masks = region_masks(shape, compose_alignments(small_to_photo, alignment))
    return region_of((point[0] * scale, point[1] * scale), masks)


def apply_edit(lesions: Sequence[Lesion], edit: LesionEdit, *, radius: float, width: int, height: int,
               alignment: Sequence[float] | None = None) -> tuple[Lesion, ...]:
    """The lesions after `edit`. Raises ValueError for a lesion index that does not exist or a
    point outside the photo."""
    lesions = tuple(lesions)
    if edit.action == "add":
        x, y = edit.point or (0.0, 0.0)
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"point ({x:.0f}, {y:.0f}) lies outside the {width} x {height} photo")
        box = (max(0, int(np.floor(x - radius))), max(0, int(np.floor(y - radius))),
               min(width, int(np.ceil(x + radius))), min(height, int(np.ceil(y + radius))))
        added = Lesion(bbox=box, kind=edit.kind or "", score=ADDED_LESION_HEIGHT,
                       area_px=int(round(np.pi * radius * radius)), type_confidence=1.0,
                       region=region_at((x, y), alignment, width, height), added_by_clinician=True)
        return (*lesions, added)
    if edit.lesion is None or edit.lesion >= len(lesions):
        raise ValueError(f"lesion {edit.lesion!r} does not exist: the photo has {len(lesions)} lesions")
    if edit.action == "remove":
        return lesions[: edit.lesion] + lesions[edit.lesion + 1:]
    retyped = replace(lesions[edit.lesion], kind=edit.kind or "", type_uncertain=False, type_confidence=1.0)
    return lesions[: edit.lesion] + (retyped,) + lesions[edit.lesion + 1:]


def _key(lesion: Lesion) -> tuple:
    return (tuple(lesion.bbox), round(lesion.score, 6))


def corrected_evidence(model_heights: Sequence[float] | None, model_lesions: Sequence[Lesion],
                       lesions: Sequence[Lesion]) -> tuple[float, ...]:
    """The peak heights the grader sees for the corrected `lesions`: the model's peaks that are
    no lesion (its doubts), the kept model lesions' peaks, 1.0 per added lesion."""
    remaining = list(model_heights) if model_heights is not None else []
    for lesion in model_lesions:  # take out every peak that became a model lesion
        match = next((i for i, h in enumerate(remaining) if abs(h - lesion.score) <= _HEIGHT_MATCH), None)
        if match is not None:
            remaining.pop(match)
    kept = [l.score for l in lesions if not l.added_by_clinician]
    added = [ADDED_LESION_HEIGHT for l in lesions if l.added_by_clinician]
    return tuple(sorted(remaining + kept + added, reverse=True))


def corrected_kind_mask(model_mask: np.ndarray | None, model_lesions: Sequence[Lesion],
                        lesions: Sequence[Lesion], shape: tuple[int, int]) -> np.ndarray:
    """The model's lesion-type map with removed lesions cleared, retyped ones recoloured and
    added ones drawn as discs (0 none, 1..4 the types, 5 inflammatory of uncertain type)."""
    mask = model_mask.copy() if model_mask is not None and model_mask.shape == shape else np.zeros(shape, np.uint8)
    now = Counter(_key(l) for l in lesions if not l.added_by_clinician)
    for lesion in model_lesions:
        x0, y0, x1, y1 = lesion.bbox
        window = mask[y0:y1, x0:x1]
        if now[_key(lesion)] > 0:
            now[_key(lesion)] -= 1
            continue
        window[window > 0] = 0  # removed
    for lesion in lesions:
        x0, y0, x1, y1 = lesion.bbox
        value = UNCERTAIN_TYPE_MASK_VALUE if lesion.type_uncertain else LESION_KINDS.index(lesion.kind) + 1
        if lesion.added_by_clinician:
            centre = (int(round((x0 + x1) / 2)), int(round((y0 + y1) / 2)))
            cv2.circle(mask, centre, max(1, int(round((x1 - x0) / 2))), int(value), thickness=-1)
        else:
            window = mask[y0:y1, x0:x1]
            window[window > 0] = value  # retyped (or unchanged) model lesion
    return mask


def measure_corrected(*, model_lesions: Sequence[Lesion], model_heights: Sequence[float] | None,
                      model_area_fraction: float, skin_area_px: int, lesions: Sequence[Lesion],
                      grader: CountGrader, has_regions: bool, edit: LesionEdit, description: str,
                      model_mask: np.ndarray | None = None,
                      shape: tuple[int, int] | None = None) -> CorrectedMeasurements:
    """Counts, grade, area, regions and lesion-type map of the corrected `lesions`."""
    lesions = tuple(lesions)
    heights = corrected_evidence(model_heights, model_lesions, lesions)
    evidence = GradeEvidence(LesionCounts.from_lesions(lesions, split_uncertain=False), heights)
    added_area = sum(l.area_px for l in lesions) - sum(l.area_px for l in model_lesions)
    area = model_area_fraction + (added_area / skin_area_px if skin_area_px else 0.0)
    return CorrectedMeasurements(
        lesions=lesions,
        counts=LesionCounts.from_lesions(lesions),
        grade=grader.grade(evidence),
        lesion_area_fraction=float(min(1.0, max(0.0, area))),
        region_counts=count_by_region(lesions) if has_regions else {},
        gags_estimate=gags_estimate(lesions) if has_regions else None,
        grade_evidence=heights,
        edit=edit.to_dict(),
        description=description,
        kind_mask=corrected_kind_mask(model_mask, model_lesions, lesions, shape) if shape else None,
    )
