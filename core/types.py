"""Plain, frozen result types shared by the pipeline, the CLI and the database layer.

Every coordinate is in the pixel frame of the photo *after* EXIF orientation.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

LESION_KINDS: tuple[str, ...] = ("comedone", "papule", "pustule", "nodule")
# Clinical groups (CLINICAL.md, as guidelines and trials count them): papules, pustules and
# nodules/cysts are inflammatory, comedones non-inflammatory; nodules are also reported alone.
INFLAMMATORY_KINDS: tuple[str, ...] = ("papule", "pustule", "nodule")
NON_INFLAMMATORY_KINDS: tuple[str, ...] = ("comedone",)
FACIAL_REGIONS: tuple[str, ...] = ("forehead", "left_cheek", "right_cheek", "nose", "chin")
VIEWS: tuple[str, ...] = ("front", "left", "right")
# An inflammatory lesion whose type (papule, pustule or nodule/cyst) the model is unsure of is
# shown and counted as this, never as a confident wrong type (threshold: SegmenterConfig).
UNCERTAIN_TYPE_LABEL = "inflammatory, type uncertain"
UNCERTAIN_TYPE_MASK_VALUE = len(LESION_KINDS) + 1  # kind masks: 1..4 the types, 5 this

# ACNE04 / Hayashi grades. "clear" is shown (grade 0) when no lesion is found at all.
GRADE_LABELS: dict[int, str] = {0: "mild", 1: "moderate", 2: "severe", 3: "very severe"}


class Right(StrEnum):
    """What an account may do; each page and each repository write asks for one."""

    READ = "read"  # see the patients (or study subjects) the access rules allow
    RECORD = "record"  # add and change patients, visits, photos, reviews and studies
    ADMINISTER = "administer"  # manage accounts, read the audit trail, reload models


class Role(StrEnum):
    """An account's role. Its rights are `ROLE_RIGHTS[role]`: the one table the router, the pages
    and the access rules read."""

    ADMIN = "admin"
    CLINICIAN = "clinician"
    RESEARCHER = "researcher"

    def may(self, right: Right) -> bool:
        return right in ROLE_RIGHTS[self]

    @property
    def hides_identity(self) -> bool:
        """Researchers see study subjects by label: never a code, a name or free-text notes."""
        return self is Role.RESEARCHER


ROLE_RIGHTS: dict[Role, frozenset[Right]] = {
    Role.ADMIN: frozenset(Right),
    Role.CLINICIAN: frozenset({Right.READ, Right.RECORD}),
    Role.RESEARCHER: frozenset({Right.READ}),
}
ROLES: tuple[str, ...] = tuple(role.value for role in Role)


def role_may(role: str, right: Right) -> bool:
    """Whether an account with this stored role has the right (an unknown role has none)."""
    try:
        return Role(role).may(right)
    except ValueError:
        return False


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)


@dataclass(frozen=True)
class Lesion:
    """One lesion: a connected region of the lesion map with its type."""

    bbox: Box
    kind: str
    score: float
    area_px: int
    region: str | None = None
    # The segmenter's mean probability of `kind` over the lesion's pixels (0-1): how sure the
    # type is. 1.0 where no model gave one (hand-made lesions).
    type_confidence: float = 1.0
    # An inflammatory lesion whose type is too unsure to show: counted as "inflammatory, type
    # uncertain", not as `kind` (which stays the most likely type, for the record).
    type_uncertain: bool = False
    # Drawn by a clinician on the photo (core.correction), not found by the model.
    added_by_clinician: bool = False

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bbox
        return ((x0 + x1) / 2.0, (y0 + y1) / 2.0)


@dataclass(frozen=True)
class LesionCounts:
    """Lesions by type; a lesion whose inflammatory type is uncertain counts in
    `inflammatory_type_uncertain`, not in papule, pustule or nodule."""

    comedone: int = 0
    papule: int = 0
    pustule: int = 0
    nodule: int = 0
    inflammatory_type_uncertain: int = 0

    @property
    def inflammatory(self) -> int:
        """Papules + pustules + nodules/cysts, with those whose type is uncertain."""
        return sum(getattr(self, kind) for kind in INFLAMMATORY_KINDS) + self.inflammatory_type_uncertain

    @property
    def non_inflammatory(self) -> int:
        """Comedones."""
        return sum(getattr(self, kind) for kind in NON_INFLAMMATORY_KINDS)

    @property
    def total(self) -> int:
        return self.inflammatory + self.non_inflammatory

    @classmethod
    def from_lesions(cls, lesions: "tuple[Lesion, ...] | list[Lesion]", *,
                     split_uncertain: bool = True) -> "LesionCounts":
        """The counts of `lesions`; with `split_uncertain=False` every lesion counts as its most
        likely type (what the grader learned from)."""
        tally = {kind: 0 for kind in LESION_KINDS}
        uncertain = 0
        for lesion in lesions:
            if split_uncertain and lesion.type_uncertain:
                uncertain += 1
            else:
                tally[lesion.kind] += 1
        return cls(**tally, inflammatory_type_uncertain=uncertain)

    def to_dict(self) -> dict[str, int]:
        return {
            **{kind: getattr(self, kind) for kind in LESION_KINDS},
            "inflammatory_type_uncertain": self.inflammatory_type_uncertain,
            "inflammatory": self.inflammatory,
            "non_inflammatory": self.non_inflammatory,
            "total": self.total,
        }


@dataclass(frozen=True)
class Grade:
    """Severity on the ACNE04 / Hayashi scale 0-3 with a calibrated confidence."""

    value: int
    label: str
    confidence: float
    probabilities: tuple[float, ...] = ()
    source: str = "counts"

    def to_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probabilities": [round(p, 4) for p in self.probabilities],
            "source": self.source,
        }


@dataclass(frozen=True)
class FaceResult:
    """The face used for the analysis (the largest one), or found=False."""

    found: bool
    box: tuple[float, float, float, float] | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None  # eyes (L, R), nose, mouth (L, R)
    score: float = 0.0
    n_faces: int = 0
    other_boxes: tuple[tuple[float, float, float, float], ...] = ()
    view: str | None = None
    yaw_ratio: float | None = None
    # Found only on a second look (core.face: a face filling the frame, a tilted head): there is
    # a face, but its box and landmarks are too rough to scale, align or mask the photo by.
    rough: bool = False

    @property
    def measurable(self) -> bool:
        """Whether the box and landmarks may be used to scale, align and mask the photo."""
        return self.found and not self.rough

    def to_dict(self) -> dict[str, object]:
        return {
            "found": self.found,
            "rough": self.rough,
            "box": [round(v, 1) for v in self.box] if self.box else None,
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks]
            if self.landmarks
            else None,
            "score": round(self.score, 4),
            "n_faces": self.n_faces,
            "other_boxes": [[round(v, 1) for v in b] for b in self.other_boxes],
            "view": self.view,
        }


@dataclass(frozen=True)
class QualityResult:
    """Photo quality gate: passed, the reasons it failed, and the measured values."""

    passed: bool
    reasons: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "metrics": {k: round(float(v), 4) for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class Analysis:
    """Everything one photo's analysis produced, with the model version that made it."""

    width: int
    height: int
    lesions: tuple[Lesion, ...]
    counts: LesionCounts
    grade: Grade
    lesion_area_fraction: float
    skin_area_px: int
    face: FaceResult
    quality: QualityResult
    model_version: str
    # 2x3 affine matrix (row-major) mapping photo pixels onto the canonical face frame.
    alignment: tuple[float, ...] | None = None
    region_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    gags_estimate: int | None = None
    # A second grade from an installed Hugging Face classifier, when one is installed.
    second_opinion: Grade | None = None
    # False when the photo cannot be assessed (no face, too little facial skin): the model's
    # measurements are kept for the record, but no count, grade or lesion is reported from it.
    assessable: bool = True
    not_assessable_reasons: tuple[str, ...] = ()
    # The centre-heatmap peak heights the grader saw: a clinician's correction is regraded
    # from them by the same grader (core.correction).
    grade_evidence: tuple[float, ...] = ()
    # Lesion map at photo size: 0 background, 1..4 = index in LESION_KINDS + 1.
    kind_mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Lesion probability at photo size, 0-255.
    probability_map: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict in the command-line contract (masks left out). A photo that cannot
        be assessed reports no lesion, count, grade or area: `assessable` false with reasons."""
        measured = self.assessable
        return {
            "width": self.width,
            "height": self.height,
            "lesions": [
                {
                    "bbox": list(lesion.bbox),
                    "kind": lesion.kind,
                    "score": round(lesion.score, 4),
                    "area_px": lesion.area_px,
                    "region": lesion.region,
                    "type_confidence": round(lesion.type_confidence, 4),
                    "type_uncertain": lesion.type_uncertain,
                }
                for lesion in (self.lesions if measured else ())
            ],
            "assessable": self.assessable,
            "not_assessable_reasons": list(self.not_assessable_reasons),
            "counts": self.counts.to_dict() if measured else None,
            "grade": self.grade.to_dict() if measured else None,
            "lesion_area_fraction": round(self.lesion_area_fraction, 6) if measured else None,
            "skin_area_px": self.skin_area_px,
            "face": self.face.to_dict(),
            "quality": self.quality.to_dict(),
            "alignment": list(self.alignment) if self.alignment else None,
            "region_counts": self.region_counts if measured else {},
            "gags_estimate": self.gags_estimate if measured else None,
            "second_opinion": self.second_opinion.to_dict() if self.second_opinion and measured else None,
            "model_version": self.model_version,
        }


@dataclass(frozen=True)
class CorrectedMeasurements:
    """What a clinician's lesion edit changes in an analysis: the corrected lesions and what
    follows from them (counts, grade by the same grader, area, regions, lesion-type map)."""

    lesions: tuple[Lesion, ...]
    counts: LesionCounts
    grade: Grade
    lesion_area_fraction: float
    region_counts: dict[str, dict[str, int]]
    gags_estimate: int | None
    grade_evidence: tuple[float, ...]
    edit: dict[str, object]  # what was done, for the record (core.correction.LesionEdit.to_dict)
    description: str  # the edit in a sentence, for the audit trail and the screen
    kind_mask: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class DecodedPhoto:
    """An upload decoded and validated by `core.imaging.decode_photo`."""

    image: np.ndarray = field(repr=False, compare=False)  # RGB uint8 H x W x 3, EXIF-oriented
    upload_sha256: str  # SHA-256 of the bytes as uploaded (duplicate detection)
    source_format: str  # "JPEG", "PNG", "WEBP", "HEIF", ...
    # The bytes to store (re-encoded, no location metadata), made on first use of `stored_bytes`:
    # the command line never stores a photo, and encoding a 12 MP JPEG costs about 0.3 s.
    encode_stored: Callable[[], bytes] = field(repr=False, compare=False)
    stored_extension: str  # ".jpg" or ".png"
    filename: str  # sanitised display name (no folders)
    captured_at: datetime | None = None  # EXIF DateTimeOriginal, if any
    device: str | None = None  # EXIF Make + Model, if any

    @functools.cached_property
    def stored_bytes(self) -> bytes:
        return self.encode_stored()

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
