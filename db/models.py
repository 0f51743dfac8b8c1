"""Database tables: accounts, patients, visits, photos, analyses, reviews, studies, audit.

Each table follows the `XBase` (shared fields) / `XCreate` (validated input) /
`X(table=True)` pattern. Our own timestamps are timezone-aware UTC
(SQLModel's UTCDateTime column type). Alembic
(db/migrations) owns the schema: change a table here, then add a revision there.
"""
# No `from __future__ import annotations`: SQLModel reads the annotations at class creation.
import re
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from pydantic import NaiveDatetime, field_validator
from sqlmodel import Field, SQLModel

from core.types import BODY_SITES, LESION_KINDS, ROLES, VIEWS, Role

# Named constraints: Alembic's batch mode (SQLite ALTER) can only drop constraints it can name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AUDIT_ACTIONS: tuple[str, ...] = (
    "view", "create", "update", "delete", "export", "login", "login_failed",
)
SKIN_TYPES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI")  # Fitzpatrick
IGA_RANGE = range(0, 5)
GRADE_RANGE = range(0, 4)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer
# The longest text a person may type into a field (issue 24: a 30 MB note was accepted). The
# repository refuses longer text with a sentence (db.repository._common.check_text_length).
MAX_NOTE_LENGTH = 5000  # notes of a patient, a visit, a review
MAX_DESCRIPTION_LENGTH = 2000  # a study's description
MAX_EVENT_LENGTH = 500  # a treatment event
MAX_NAME_LENGTH = 200  # a person's or a study's name
_USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
_CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def _in_list(name: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{name} IN ({quoted})"


def _created_at() -> Any:
    # SQLModel stores `datetime` fields as UTCDateTime: aware on the way in and out.
    return Field(default_factory=utcnow, index=True)


def _json(default_factory: Any = None) -> Any:
    if default_factory is None:
        return Field(default=None, sa_type=sa.JSON(none_as_null=True))
    return Field(default_factory=default_factory, sa_type=sa.JSON(none_as_null=True))


# ---------------------------------------------------------------- validators shared by models
def check_username(value: str) -> str:
    value = value.strip()
    if not _USERNAME_RE.match(value):
        raise ValueError(
            f"username {value!r} must be 2-64 letters, digits or . _ @ - (no spaces)"
        )
    return value


def check_role(value: str) -> str:
    if value not in ROLES:
        raise ValueError(f"role {value!r} must be one of {', '.join(ROLES)}")
    return value


def check_team(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def check_password(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(value.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes long")
    return value


def check_patient_code(value: str | None) -> str:
    if value is None:
        raise ValueError("patient code cannot be empty")
    value = value.strip()
    if not _CODE_RE.match(value):
        raise ValueError(
            f"patient code {value!r} must be 1-64 letters, digits or . _ - (no spaces)"
        )
    return value


def check_skin_type(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip().upper()
    if value not in SKIN_TYPES:
        raise ValueError(f"skin type {value!r} must be a Fitzpatrick type I to VI")
    return value


def text_limit(what: str, limit: int) -> Any:
    """A before-validator refusing text over `limit` characters with a sentence naming the
    field (`what`), before pydantic's own max_length message ("String should have ...")."""
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            verb = "are" if what.endswith("s") else "is"
            raise ValueError(f"{what} {verb} {len(value):,} characters long; the limit is "
                             f"{limit:,}. Shorten the text and save again.")
        return value
    return check


def check_consent_date(value: date | None) -> date | None:
    if value is not None and value > utcnow().date():
        raise ValueError(f"consent date {value.isoformat()} is in the future")
    return value


# ----------------------------------------------------------------------------- accounts
class AccountBase(SQLModel):
    username: str = Field(index=True, unique=True, max_length=64)
    full_name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.CLINICIAN.value, index=True, max_length=20)
    # Clinicians of one team share their patients; None = own patients only.
    team: str | None = Field(default=None, index=True, max_length=100)
    is_active: bool = Field(default=True, index=True)

    _username = field_validator("username")(check_username)
    _role = field_validator("role")(check_role)
    _team = field_validator("team")(check_team)


class AccountCreate(AccountBase):
    password: str

    _password = field_validator("password")(check_password)


class Account(AccountBase, table=True):
    __table_args__ = (sa.CheckConstraint(_in_list("role", ROLES), name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=100)
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = _created_at()


# ----------------------------------------------------------------------------- patients
class PatientBase(SQLModel):
    code: str = Field(index=True, unique=True, max_length=64)  # pseudonymous
    name: str | None = Field(default=None, max_length=200)
    consent_date: date | None = None
    skin_type: str | None = Field(default=None, max_length=3)
    notes: str = Field(default="", max_length=MAX_NOTE_LENGTH)
    # The patient allows their de-identified photos and lesions to be used to train the models.
    research_consent: bool = Field(default=False, index=True)
    team: str | None = Field(default=None, index=True, max_length=100)

    _code = field_validator("code")(check_patient_code)
    _skin = field_validator("skin_type")(check_skin_type)
    _consent = field_validator("consent_date")(check_consent_date)
    _team = field_validator("team")(check_team)
    _notes = field_validator("notes", mode="before")(text_limit("The notes", MAX_NOTE_LENGTH))
    _name = field_validator("name", mode="before")(text_limit("The name", MAX_NAME_LENGTH))


class PatientCreate(PatientBase):
    pass


class PatientUpdate(SQLModel):
    """Only the fields that are set change (`model_dump(exclude_unset=True)`)."""

    code: str | None = None
    name: str | None = None
    consent_date: date | None = None
    skin_type: str | None = None
    notes: str | None = None
    research_consent: bool | None = None
    team: str | None = None
    owner_id: int | None = None  # admin only: hand a patient to another clinician

    _code = field_validator("code")(check_patient_code)
    _skin = field_validator("skin_type")(check_skin_type)
    _consent = field_validator("consent_date")(check_consent_date)
    _team = field_validator("team")(check_team)
    _notes = field_validator("notes", mode="before")(text_limit("The notes", MAX_NOTE_LENGTH))
    _name = field_validator("name", mode="before")(text_limit("The name", MAX_NAME_LENGTH))


class Patient(PatientBase, table=True):
    __table_args__ = (sa.CheckConstraint(_in_list("skin_type", SKIN_TYPES), name="skin_type"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = _created_at()


# ------------------------------------------------------------------------------- visits
class VisitBase(SQLModel):
    visit_date: date = Field(index=True)
    treatment_notes: str = Field(default="", max_length=MAX_NOTE_LENGTH)


class VisitCreate(VisitBase):
    patient_id: int


class Visit(VisitBase, table=True):
    # A patient's visits by date (visit list, timelines); also serves lookups by patient alone.
    __table_args__ = (sa.Index("ix_visit_patient_id_visit_date", "patient_id", "visit_date"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    created_by_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = _created_at()


# ------------------------------------------------------------------------------- photos
class PhotoBase(SQLModel):
    view: str = Field(default="front", index=True, max_length=10)
    makeup: bool | None = None
    lighting: str | None = Field(default=None, max_length=100)
    device: str | None = Field(default=None, max_length=200)
    # EXIF DateTimeOriginal: the camera's own clock, which carries no time zone.
    captured_at: NaiveDatetime | None = None
    # Where a close-up was taken (core.types.BODY_SITES); None: not recorded or not a close-up.
    body_site: str | None = Field(default=None, max_length=20)


class Photo(PhotoBase, table=True):
    __table_args__ = (
        sa.CheckConstraint(_in_list("view", VIEWS), name="view"),
        sa.CheckConstraint(f"body_site IS NULL OR {_in_list('body_site', BODY_SITES)}",
                           name="body_site"),
    )

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="visit.id", index=True)
    file_sha256: str = Field(index=True, max_length=64)  # the stored file (no metadata)
    upload_sha256: str = Field(index=True, max_length=64)  # the bytes as uploaded
    file_extension: str = Field(max_length=8)
    filename: str = Field(max_length=255)
    width: int
    height: int
    created_at: datetime = _created_at()


# ----------------------------------------------------------------------------- analyses
class AnalysisBase(SQLModel):
    model_version: str = Field(index=True, max_length=200)
    comedone: int = 0
    papule: int = 0
    pustule: int = 0
    nodule: int = 0
    # Inflammatory lesions whose type the model was unsure of (not in papule/pustule/nodule).
    inflammatory_type_uncertain: int = 0
    inflammatory: int = 0
    non_inflammatory: int = 0
    total: int = 0
    lesion_area_fraction: float = 0.0
    skin_area_px: int = 0
    grade: int = Field(index=True)  # ACNE04 / Hayashi 0-3
    grade_label: str = Field(max_length=40)
    grade_confidence: float = 0.0
    grade_source: str = Field(default="counts", max_length=40)
    quality_passed: bool = Field(default=False, index=True)
    quality_reasons: list[str] = _json(list)
    quality_metrics: dict[str, float] = _json(dict)
    face_found: bool = False
    face_box: list[float] | None = _json()
    landmarks: list[list[float]] | None = _json()
    n_faces: int = 0
    view_estimate: str | None = Field(default=None, max_length=20)
    alignment: list[float] | None = _json()  # 2x3 affine, row-major
    region_counts: dict[str, dict[str, int]] = _json(dict)
    gags_estimate: int | None = None
    # False: the photo cannot be assessed (no face, too little facial skin; core.assessment).
    # Its counts and grade are the model's output kept for the record, never shown or trended.
    assessable: bool = Field(default=True, index=True)
    not_assessable_reasons: list[str] = _json(list)
    # The heights of the segmenter's centre-heatmap peaks the grader saw (None: stored before
    # they were kept); a clinician's correction regrades from them (core.correction).
    grade_evidence: list[float] | None = _json()
    # The optional second grader's verdict (core.types.Analysis.second_opinion); None: none ran.
    second_opinion_grade: int | None = None  # ACNE04 / Hayashi 0-3
    second_opinion_label: str | None = Field(default=None, max_length=40)
    second_opinion_confidence: float | None = None
    second_opinion_source: str | None = Field(default=None, max_length=200)  # "hf:<model>"
    # How close the photo is to the photos the models learnt from (core.types.Analysis.typicality;
    # None: not measured), and whether it was judged unlike them (the Visit page warns).
    typicality: float | None = None
    unusual: bool = Field(default=False)
    # Redness and dark marks against the patient's own clear skin (core.types.ColourMeasures;
    # every column NULL: not measured, as for analyses stored before issue 29). The reference
    # is "colour-referenced" (a colour card corrected the photo) or "self-referenced"; the
    # areas are shares (0-1) of the measured skin; delta-a* and delta-L* are the means inside
    # them; the clear skin's L*, a*, b* and ITA (degrees) are the reference itself.
    colour_reference: str | None = Field(default=None, max_length=20)
    red_area_fraction: float | None = None
    dark_area_fraction: float | None = None
    red_mean_delta_a: float | None = None
    dark_mean_delta_l: float | None = None
    clear_skin_l: float | None = None
    clear_skin_a: float | None = None
    clear_skin_b: float | None = None
    clear_skin_ita: float | None = None
    colour_measured_fraction: float | None = None
    colour_card_delta_e: float | None = None


# The colour measures' columns (a clinician's lesion correction keeps the model's: the photo's
# colours did not change).
COLOUR_COLUMNS: tuple[str, ...] = (
    "colour_reference", "red_area_fraction", "dark_area_fraction", "red_mean_delta_a",
    "dark_mean_delta_l", "clear_skin_l", "clear_skin_a", "clear_skin_b", "clear_skin_ita",
    "colour_measured_fraction", "colour_card_delta_e", "colour_mask_sha256",
)
# Every analysis column naming a mask PNG in the photo store (integrity, deletion, backup).
MASK_COLUMNS: tuple[str, ...] = ("kind_mask_sha256", "probability_sha256", "colour_mask_sha256")


class Analysis(AnalysisBase, table=True):
    """One analysis of one photo. Re-analysis and each clinician's correction add a row; rows
    are never overwritten (undoing a correction only sets its `withdrawn_at`). The photo's
    current analysis is its newest row not withdrawn (db.repository.current_analysis_id)."""

    __table_args__ = (
        sa.CheckConstraint("grade >= 0 AND grade <= 3", name="grade"),
        sa.CheckConstraint(
            "second_opinion_grade IS NULL "
            "OR (second_opinion_grade >= 0 AND second_opinion_grade <= 3)",
            name="second_opinion_grade",
        ),
        sa.CheckConstraint(
            "colour_reference IS NULL "
            "OR colour_reference IN ('colour-referenced', 'self-referenced')",
            name="colour_reference",
        ),
        # "Latest analysis of each photo" is max(id) per photo_id: answered from the index alone.
        sa.Index("ix_analysis_photo_id_id", "photo_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    photo_id: int = Field(foreign_key="photo.id")
    # A clinician's correction is an analysis of its own: the model's analysis it corrects
    # (always the model's, never another correction), who made it and the edit it made.
    corrects_id: int | None = Field(default=None, foreign_key="analysis.id", index=True)
    corrected_by_id: int | None = Field(default=None, foreign_key="account.id")
    correction: dict[str, Any] | None = _json()
    # Set when the correction is undone: the row stays, it is no longer the photo's current one.
    withdrawn_at: datetime | None = None
    kind_mask_sha256: str | None = Field(default=None, index=True, max_length=64)
    probability_sha256: str | None = Field(default=None, index=True, max_length=64)
    # The colour measures' layers (core.types.ColourMeasures.mask: bits 1 red area, 2 dark mark,
    # 4 measured skin), a PNG in the photo store like the masks above; None: not measured.
    colour_mask_sha256: str | None = Field(default=None, index=True, max_length=64)
    created_at: datetime = _created_at()


class LesionRecord(SQLModel, table=True):
    """One lesion of one analysis; the box is in the photo's pixel frame (x1, y1 exclusive)."""

    __tablename__ = "lesion"
    __table_args__ = (sa.CheckConstraint(_in_list("kind", LESION_KINDS), name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="analysis.id", index=True)
    x0: int
    y0: int
    x1: int
    y1: int
    kind: str = Field(index=True, max_length=20)
    area_px: int
    score: float
    region: str | None = Field(default=None, index=True, max_length=20)
    type_confidence: float | None = None  # None: stored before types had a confidence
    type_uncertain: bool = False  # counted as "inflammatory, type uncertain"
    added_by_clinician: bool = False


# ------------------------------------------------------------------------------ reviews
class ReviewBase(SQLModel):
    iga: int = Field(ge=0, le=4)  # Investigator's Global Assessment 0-4
    grade_override: int | None = Field(default=None, ge=0, le=3)  # None: model grade confirmed
    notes: str = Field(default="", max_length=MAX_NOTE_LENGTH)


class ReviewCreate(ReviewBase):
    analysis_id: int


class Review(ReviewBase, table=True):
    __table_args__ = (
        sa.CheckConstraint("iga >= 0 AND iga <= 4", name="iga"),
        sa.CheckConstraint(
            "grade_override IS NULL OR (grade_override >= 0 AND grade_override <= 3)",
            name="grade_override",
        ),
        # "Latest review of each analysis" is max(id) per analysis_id, as for analyses.
        sa.Index("ix_review_analysis_id_id", "analysis_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="analysis.id")
    reviewer_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = _created_at()


# ---------------------------------------------------------------------------- treatment
class TreatmentEventBase(SQLModel):
    event_date: date = Field(index=True)
    description: str = Field(min_length=1, max_length=MAX_EVENT_LENGTH)


class TreatmentEventCreate(TreatmentEventBase):
    patient_id: int


class TreatmentEvent(TreatmentEventBase, table=True):
    __tablename__ = "treatment_event"
    # A patient's treatment events by date (trends page).
    __table_args__ = (
        sa.Index("ix_treatment_event_patient_id_event_date", "patient_id", "event_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    created_at: datetime = _created_at()


# ------------------------------------------------------------------------------ studies
class StudyBase(SQLModel):
    name: str = Field(index=True, unique=True, min_length=1, max_length=200)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_LENGTH)


class StudyCreate(StudyBase):
    arms: list[str]


class Study(StudyBase, table=True):
    __table_args__ = (
        sa.CheckConstraint(_in_list("measured_view", VIEWS), name="measured_view"),
        sa.CheckConstraint(
            f"measured_body_site IS NULL OR {_in_list('measured_body_site', BODY_SITES)}",
            name="measured_body_site"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The one view the study measures, chosen when it is created (a close-up with its body
    # site): subjects without a photo of it are missing, never filled from another view.
    measured_view: str = Field(default="front", max_length=10)
    measured_body_site: str | None = Field(default=None, max_length=20)
    created_by_id: int = Field(foreign_key="account.id", index=True)
    created_at: datetime = _created_at()
    # Off: the study's researchers see photos with the eyes and mouth masked (core.deidentify).
    # Only an administrator switches it, with a reason kept in the audit trail.
    identifiable_photos_for_researchers: bool = Field(default=False)


class StudyArm(SQLModel, table=True):
    __tablename__ = "study_arm"
    __table_args__ = (sa.UniqueConstraint("study_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    name: str = Field(max_length=100)


class Enrolment(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("study_id", "patient_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    arm_id: int = Field(foreign_key="study_arm.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    # None: the patient's first measured visit is the baseline.
    baseline_visit_id: int | None = Field(default=None, foreign_key="visit.id", index=True)
    enrolled_at: datetime = _created_at()


class StudyMember(SQLModel, table=True):
    """A researcher with read access to the patients enrolled in a study."""

    __tablename__ = "study_member"
    __table_args__ = (sa.UniqueConstraint("study_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)


# ----------------------------------------------------------------------------- identity
class ClinicIdentity(SQLModel, table=True):
    """The one id this database gives itself, written into the photo store it uses.

    Checked on every open (db.store_identity): a store written for another database is
    refused, so its photos are never taken for orphans. Not part of a backup: a restored
    database and its (new, empty) photo folder are a new pair."""

    __tablename__ = "clinic_identity"

    id: int = Field(default=1, primary_key=True)
    database_id: str = Field(max_length=36)
    created_at: datetime = Field(default_factory=utcnow)


# -------------------------------------------------------------------------------- audit
class AuditEvent(SQLModel, table=True):
    """Who did what to which row. `detail` never holds photo bytes or patient names."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.CheckConstraint(_in_list("action", AUDIT_ACTIONS), name="action"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _created_at()
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    action: str = Field(index=True, max_length=20)
    target_type: str = Field(index=True, max_length=40)
    target_id: int | None = Field(default=None, index=True)
    detail: str = Field(default="", max_length=1000)


# ----------------------------------------------------------------------- sign-in sessions
class SigninSession(SQLModel, table=True):
    """One browser's sign-in, kept across page reloads by an HttpOnly cookie that holds a
    random token; only the token's SHA-256 is stored. Before the cookie is set, the page hands
    the browser a one-time code (`handoff_sha256`, usable once, for a minute) that the app's
    own address exchanges for the cookie, so the token itself never passes through a page.
    The sign-in ends (`ended_at`) at sign-out, after `ACNE_SESSION_MINUTES` without activity
    and when the account's password changes or the account is deactivated."""

    __tablename__ = "signin_session"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_sha256: str | None = Field(default=None, unique=True, max_length=64)
    handoff_sha256: str | None = Field(default=None, unique=True, max_length=64)
    created_at: datetime = _created_at()
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
