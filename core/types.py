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
VIEWS: tuple[str, ...] = ("front", "left", "right", "close-up")
# A close-up of skin (no whole face): the view of a photo a clinician takes of one site.
CLOSE_UP_VIEW = "close-up"
# Where a close-up was taken (optional), in words through core.words.words and view_label.
BODY_SITES: tuple[str, ...] = ("left_cheek", "right_cheek", "forehead", "chin", "nose", "jaw",
                               "neck", "back", "chest", "shoulder", "other")
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
class ColourMeasures:
    """Redness and dark marks of one photo, relative to the patient's own clear skin
    (core.colour_measures; the thresholds live there)."""

    reference: str  # "colour-referenced" (a colour card corrected the photo) or "self-referenced"
    red_area_fraction: float  # of the measured skin, 0-1
    dark_area_fraction: float  # dark marks (lesions and red areas excluded), 0-1
    red_mean_delta_a: float | None  # mean delta-a* inside the red area; None when there is none
    dark_mean_delta_l: float | None  # mean delta-L* inside the dark marks (negative); None: none
    skin_l: float  # the clear skin's L*, a*, b* and ITA (degrees): the reference
    skin_a: float
    skin_b: float
    skin_ita: float
    measured_fraction: float  # share of the skin mask that could be measured
    card_delta_e: float | None = None  # the colour card's residual CIEDE2000 median, when one
    # Bits (uint8 at photo size): 1 red area, 2 dark mark, 4 measured skin: the viewer's layers.
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def colour_referenced(self) -> bool:
        return self.reference == "colour-referenced"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; areas in percent of the measured skin."""
        def rounded(value: float | None, digits: int = 2) -> float | None:
            return None if value is None else round(float(value), digits)

        return {
            "reference": self.reference,
            "red_area_percent": round(100.0 * self.red_area_fraction, 2),
            "dark_mark_area_percent": round(100.0 * self.dark_area_fraction, 2),
            "red_mean_delta_a": rounded(self.red_mean_delta_a),
            "dark_mark_mean_delta_l": rounded(self.dark_mean_delta_l),
            "clear_skin": {"L": rounded(self.skin_l), "a": rounded(self.skin_a),
                           "b": rounded(self.skin_b), "ita_degrees": rounded(self.skin_ita, 1)},
            "measured_skin_percent": round(100.0 * self.measured_fraction, 1),
            "card_delta_e2000": rounded(self.card_delta_e),
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
    # False when the photo cannot be assessed (not skin, unlike every training photo, or a face
    # with too little facial skin; core.assessment): the model's measurements are kept for the
    # record, but no count, grade or lesion is reported from it. A skin close-up without a face
    # is assessable (`is_closeup`). The reasons are sentences.
    assessable: bool = True
    not_assessable_reasons: tuple[str, ...] = ()
    # How much the photo looks like the training photos (core.typicality), 0-1, higher = more
    # alike; None when the weights carry no typicality model.
    typicality: float | None = None
    # Typicality under the warning level chosen on valid: measured, but check the numbers.
    unusual: bool = False
    # The centre-heatmap peak heights the grader saw: a clinician's correction is regraded
    # from them by the same grader (core.correction).
    grade_evidence: tuple[float, ...] = ()
    # Lesion map at photo size: 0 background, 1..4 = index in LESION_KINDS + 1.
    kind_mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Lesion probability at photo size, 0-255.
    probability_map: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Redness and dark marks against the patient's own clear skin (core.colour_measures); None
    # when the photo is not assessable or too little skin could be measured.
    colour: ColourMeasures | None = None

    @property
    def is_closeup(self) -> bool:
        """Assessable without a face: a close-up of skin, measured as a whole frame (lesion area
        over the whole working frame, grade from the counts; no alignment, regions or GAGS)."""
        return self.assessable and not self.face.found

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict in the command-line contract (masks left out). A photo that cannot
        be assessed reports no lesion, count, grade or area: `assessable` false with reasons. A
        close-up's grade carries `"graded_from_closeup": true` (false for a face photo)."""
        measured = self.assessable
        grade = {**self.grade.to_dict(), "graded_from_closeup": self.is_closeup} if measured else None
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
            "grade": grade,
            "closeup": self.is_closeup,
            "typicality": round(self.typicality, 4) if self.typicality is not None else None,
            "unusual": self.unusual,
            "lesion_area_fraction": round(self.lesion_area_fraction, 6) if measured else None,
            "skin_area_px": self.skin_area_px,
            "face": self.face.to_dict(),
            "quality": self.quality.to_dict(),
            "alignment": list(self.alignment) if self.alignment else None,
            "region_counts": self.region_counts if measured else {},
            "gags_estimate": self.gags_estimate if measured else None,
            "second_opinion": self.second_opinion.to_dict() if self.second_opinion and measured else None,
            "colour": self.colour.to_dict() if self.colour is not None and measured else None,
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


class _DecodedOnFirstUse:
    """`DecodedPhoto.image`: the pixels it was made with, or the full photo decoded by its
    `load_image` on first use (a JPEG's analysis reads `pixels`, a reduced decode; the viewer
    and the stored file need the whole photo)."""

    def __get__(self, photo: DecodedPhoto | None, owner: type | None = None) -> np.ndarray:
        if photo is None:
            return self  # type: ignore[return-value]
        pixels = photo.__dict__.get("_image")
        if pixels is None:
            if photo.load_image is None:
                raise ValueError(f"the photo {photo.filename!r} was made without its pixels")
            pixels = photo.load_image()
            photo.__dict__["_image"] = pixels
        return pixels

    def __set__(self, photo: DecodedPhoto, value: np.ndarray | None) -> None:
        photo.__dict__["_image"] = value


@dataclass(frozen=True)
class DecodedPhoto:
    """An upload decoded and validated by `core.imaging.decode_photo`."""

    # RGB uint8 H x W x 3, EXIF-oriented; None with `load_image`: decoded on first use.
    image: np.ndarray = field(repr=False, compare=False)
    upload_sha256: str  # SHA-256 of the bytes as uploaded (duplicate detection)
    source_format: str  # "JPEG", "PNG", "WEBP", "HEIF", ...
    # The bytes to store (no location or other metadata: an upright JPEG's own compressed pixels,
    # anything else re-encoded; core.jpeg_copy), made on first use of `stored_bytes`:
    # the command line never stores a photo, and encoding a 12 MP JPEG costs about 0.3 s.
    encode_stored: Callable[[], bytes] = field(repr=False, compare=False)
    stored_extension: str  # ".jpg" or ".png"
    filename: str  # sanitised display name (no folders)
    captured_at: datetime | None = None  # EXIF DateTimeOriginal, if any
    device: str | None = None  # EXIF Make + Model, if any
    # A large JPEG is decoded for the analysis at 1/`reduction` of its size (libjpeg's DCT
    # scaling, `reduced`), its full pixels (`image`) only when something asks for them.
    load_image: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    reduced: np.ndarray | None = field(default=None, repr=False, compare=False)
    reduction: int = 1
    size: tuple[int, int] | None = None  # (width, height) of the whole photo, when `reduced`

    @functools.cached_property
    def stored_bytes(self) -> bytes:
        return self.encode_stored()

    @property
    def width(self) -> int:
        return int(self.size[0]) if self.size else int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.size[1]) if self.size else int(self.image.shape[0])


DecodedPhoto.image = _DecodedOnFirstUse()  # type: ignore[assignment,misc]
