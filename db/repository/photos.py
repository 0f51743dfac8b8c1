"""Photos and their analyses: THE one way to store a photo, re-analysis, and reads.

`store_photo` writes the photo file, the mask PNGs and every row in one unit: when anything
fails, the rows are rolled back and the files this call created are removed again (unless
another row already points to the same bytes).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timezone
from pathlib import PurePosixPath, PureWindowsPath

import numpy as np
from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from core import types as core_types
from db.access import load_principal, visible_patients
from db.errors import DuplicateError
from db.models import (
    MASK_COLUMNS,
    Account,
    Analysis,
    LesionRecord,
    Patient,
    Photo,
    Review,
    Visit,
)
from db.photos import PhotoStore, decode_mask, encode_mask, normalise_extension
from db.repository._common import (
    add_audit,
    current_analysis_id,
    hides_identity,
    join_analysis_patient,
    writable_photo,
    writable_visit,
    write_transaction,
)
from db.repository.files import MASK_EXTENSION, StoredFile, delete_unreferenced_files

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------ validation
def _check_view(view: str) -> str:
    if view not in core_types.VIEWS:
        raise ValueError(f"view {view!r} must be one of {', '.join(core_types.VIEWS)}")
    return view


def _check_body_site(view: str, body_site: str | None) -> str | None:
    """The site of a close-up (None: not recorded); other views have none."""
    if body_site is None or view != core_types.CLOSE_UP_VIEW:
        return None
    if body_site not in core_types.BODY_SITES:
        raise ValueError(f"body site {body_site!r} must be one of {', '.join(core_types.BODY_SITES)}")
    return body_site


def _mask_png(mask: np.ndarray | None, analysis: core_types.Analysis, name: str) -> bytes | None:
    if mask is None:
        return None
    if mask.dtype != np.uint8 or mask.shape != (analysis.height, analysis.width):
        raise ValueError(
            f"{name} must be uint8 of shape {(analysis.height, analysis.width)}, "
            f"not {mask.dtype} {mask.shape}"
        )
    return encode_mask(mask)


def _check_analysis(analysis: core_types.Analysis, width: int, height: int) -> None:
    if (analysis.width, analysis.height) != (width, height):
        raise ValueError(
            f"analysis is for a {analysis.width}x{analysis.height} photo, "
            f"the photo is {width}x{height}"
        )
    if not analysis.model_version.strip():
        raise ValueError("analysis has no model version")
    if analysis.grade.value not in range(4):
        raise ValueError(f"grade {analysis.grade.value!r} is outside the 0-3 scale")
    second = analysis.second_opinion
    if second is not None:
        if second.value not in range(4):
            raise ValueError(f"second-opinion grade {second.value!r} is outside the 0-3 scale")
        if len(second.label) > 40:
            raise ValueError(f"second-opinion label {second.label[:20]!r}... is over 40 characters")
        if len(second.source) > 200:
            raise ValueError(f"second-opinion source {second.source[:20]!r}... is over 200 characters")
    _check_lesion_kinds(analysis.lesions)


def _check_lesion_kinds(lesions: tuple[core_types.Lesion, ...]) -> None:
    for lesion in lesions:
        if lesion.kind not in core_types.LESION_KINDS:
            raise ValueError(f"lesion kind {lesion.kind!r} is not one of {core_types.LESION_KINDS}")


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None  # JSON has no NaN


def _colour_mask_png(analysis: core_types.Analysis) -> bytes | None:
    colour = getattr(analysis, "colour", None)
    return _mask_png(colour.mask, analysis, "colour mask") if colour is not None else None


def _colour_columns(colour: core_types.ColourMeasures | None) -> dict[str, object]:
    """The colour measures' columns (db.models.COLOUR_COLUMNS); all None when not measured."""
    if colour is None:
        return {}

    def number(value: float | None) -> float | None:
        return None if value is None else _finite(value)

    return {
        "colour_reference": colour.reference,
        "red_area_fraction": number(colour.red_area_fraction),
        "dark_area_fraction": number(colour.dark_area_fraction),
        "red_mean_delta_a": number(colour.red_mean_delta_a),
        "dark_mean_delta_l": number(colour.dark_mean_delta_l),
        "clear_skin_l": number(colour.skin_l),
        "clear_skin_a": number(colour.skin_a),
        "clear_skin_b": number(colour.skin_b),
        "clear_skin_ita": number(colour.skin_ita),
        "colour_measured_fraction": number(colour.measured_fraction),
        "colour_card_delta_e": number(colour.card_delta_e),
    }


def _analysis_row(
    analysis: core_types.Analysis,
    photo_id: int,
    kind_mask_sha256: str | None,
    probability_sha256: str | None,
) -> Analysis:
    counts, face, grade, quality = analysis.counts, analysis.face, analysis.grade, analysis.quality
    second = analysis.second_opinion
    return Analysis(
        photo_id=photo_id,
        model_version=analysis.model_version,
        comedone=counts.comedone,
        papule=counts.papule,
        pustule=counts.pustule,
        nodule=counts.nodule,
        inflammatory_type_uncertain=counts.inflammatory_type_uncertain,
        inflammatory=counts.inflammatory,
        non_inflammatory=counts.non_inflammatory,
        total=counts.total,
        lesion_area_fraction=float(analysis.lesion_area_fraction),
        skin_area_px=int(analysis.skin_area_px),
        grade=int(grade.value),
        grade_label=grade.label,
        grade_confidence=float(grade.confidence),
        grade_source=grade.source,
        quality_passed=bool(quality.passed),
        assessable=bool(analysis.assessable),
        not_assessable_reasons=list(analysis.not_assessable_reasons),
        quality_reasons=[str(reason) for reason in quality.reasons],
        quality_metrics={str(k): _finite(v) for k, v in quality.metrics.items()},
        face_found=bool(face.found),
        face_box=[float(v) for v in face.box] if face.box is not None else None,
        landmarks=[[float(x), float(y)] for x, y in face.landmarks] if face.landmarks else None,
        n_faces=int(face.n_faces),
        view_estimate=face.view,
        alignment=[float(v) for v in analysis.alignment] if analysis.alignment is not None else None,
        region_counts={
            str(region): {str(kind): int(n) for kind, n in tally.items()}
            for region, tally in analysis.region_counts.items()
        },
        gags_estimate=int(analysis.gags_estimate) if analysis.gags_estimate is not None else None,
        grade_evidence=[_finite(h) for h in analysis.grade_evidence],
        second_opinion_grade=int(second.value) if second is not None else None,
        second_opinion_label=second.label if second is not None else None,
        second_opinion_confidence=_finite(second.confidence) if second is not None else None,
        second_opinion_source=second.source if second is not None else None,
        typicality=_finite(analysis.typicality) if analysis.typicality is not None else None,
        unusual=bool(analysis.unusual),
        **_colour_columns(getattr(analysis, "colour", None)),
        kind_mask_sha256=kind_mask_sha256,
        probability_sha256=probability_sha256,
    )


def lesion_rows(lesions: tuple[core_types.Lesion, ...], analysis_id: int) -> list[LesionRecord]:
    """The rows of `lesions` for the analysis row `analysis_id`."""
    return [
        LesionRecord(
            analysis_id=analysis_id,
            x0=int(lesion.bbox[0]),
            y0=int(lesion.bbox[1]),
            x1=int(lesion.bbox[2]),
            y1=int(lesion.bbox[3]),
            kind=lesion.kind,
            area_px=int(lesion.area_px),
            score=float(lesion.score),
            region=lesion.region,
            type_confidence=float(lesion.type_confidence),
            type_uncertain=bool(lesion.type_uncertain),
            added_by_clinician=bool(lesion.added_by_clinician),
        )
        for lesion in lesions
    ]


class _FileWriter:
    """Puts files into the store and remembers which ones this call created."""

    def __init__(self, photo_store: PhotoStore) -> None:
        self.store = photo_store
        self.created: list[StoredFile] = []

    def put(self, data: bytes | None, extension: str) -> str | None:
        if data is None:
            return None
        sha, created = self.store.put_checked(data, extension)
        if created:
            self.created.append((sha, normalise_extension(extension)))
        return sha

    def undo(self, session: Session) -> None:
        """After a failure: remove the created files that no committed row points to."""
        if not self.created:
            return
        try:
            delete_unreferenced_files(session, self.store, self.created)
        except Exception:  # the original error matters more; integrity check finds leftovers
            log.exception("could not remove files after a failed store: %s", self.created)


def _insert_analysis(
    session: Session,
    writer: _FileWriter,
    photo_id: int,
    analysis: core_types.Analysis,
    masks: tuple[bytes | None, ...],
) -> Analysis:
    kind_sha = writer.put(masks[0], MASK_EXTENSION)
    probability_sha = writer.put(masks[1], MASK_EXTENSION)
    row = _analysis_row(analysis, photo_id, kind_sha, probability_sha)
    if len(masks) > 2:
        row.colour_mask_sha256 = writer.put(masks[2], MASK_EXTENSION)
    session.add(row)
    session.flush()
    session.add_all(lesion_rows(analysis.lesions, row.id))
    return row


def _refuse_duplicate(session: Session, patient_id: int, photo: core_types.DecodedPhoto) -> None:
    """Raise DuplicateError if the patient already has a photo uploaded from the same bytes."""
    # Locking the patient row makes concurrent stores for one patient take turns on PostgreSQL
    # (READ COMMITTED), so the check below sees the other's commit. SQLite renders no FOR UPDATE:
    # the write transaction already holds the database's only write lock.
    session.exec(select(Patient.id).where(Patient.id == patient_id).with_for_update()).one()
    existing = session.exec(
        select(Photo.id)
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .where(Visit.patient_id == patient_id, Photo.upload_sha256 == photo.upload_sha256)
        .order_by(col(Photo.id))
        .limit(1)
    ).first()
    if existing is not None:
        raise DuplicateError(
            f"photo {photo.filename!r} is already stored for patient {patient_id} "
            f"(photo #{existing})"
        )


# ------------------------------------------------------------------------------ writes
def store_photo(
    *,
    session: Session,
    actor: Account,
    photo_store: PhotoStore,
    visit_id: int,
    photo: core_types.DecodedPhoto,
    analysis: core_types.Analysis | None,
    view: str = "front",
    makeup: bool | None = None,
    lighting: str | None = None,
    refuse_duplicate: bool = False,
    body_site: str | None = None,
) -> Photo:
    """Store a decoded photo, its analysis, lesions and masks in one unit; return the photo row.

    The same bytes stored twice give two photo rows sharing one file, unless `refuse_duplicate`:
    then DuplicateError is raised when the visit's patient already has a photo uploaded from
    the same bytes, checked inside the write transaction (two sessions saving one upload at
    once store it once).
    """
    _check_view(view)
    body_site = _check_body_site(view, body_site)
    lighting = lighting.strip() if lighting and lighting.strip() else None
    if lighting is not None and len(lighting) > 100:
        raise ValueError(f"lighting note {lighting[:20]!r}... is longer than 100 characters")
    extension = normalise_extension(photo.stored_extension)
    masks: tuple[bytes | None, ...] = (None, None)
    if analysis is not None:
        _check_analysis(analysis, photo.width, photo.height)
        # PNG encoding before the write lock: other writers need not wait for it.
        masks = (
            _mask_png(analysis.kind_mask, analysis, "kind_mask"),
            _mask_png(analysis.probability_map, analysis, "probability_map"),
            _colour_mask_png(analysis),
        )
    captured_at = photo.captured_at
    if captured_at is not None and captured_at.tzinfo is not None:
        captured_at = captured_at.astimezone(timezone.utc).replace(tzinfo=None)
    writer = _FileWriter(photo_store)
    try:
        with write_transaction(session):
            principal = load_principal(session, actor)
            visit = writable_visit(session, principal, visit_id, "add photos")
            if refuse_duplicate:
                _refuse_duplicate(session, visit.patient_id, photo)
            file_sha = writer.put(photo.stored_bytes, extension)
            row = Photo(
                visit_id=visit_id,
                file_sha256=file_sha,
                upload_sha256=photo.upload_sha256,
                file_extension=extension,
                # Sanitised by core already; keep only a base name whatever the separator.
                filename=PureWindowsPath(PurePosixPath(photo.filename).name).name[:255],
                width=photo.width,
                height=photo.height,
                captured_at=captured_at,
                view=view,
                body_site=body_site,
                makeup=makeup,
                lighting=lighting,
                device=photo.device[:200] if photo.device else None,  # from EXIF, unchecked
            )
            session.add(row)
            session.flush()
            analysis_row = None
            if analysis is not None:
                analysis_row = _insert_analysis(session, writer, row.id, analysis, masks)
            add_audit(
                session, actor_id=principal.id, action="create", target_type="photo",
                target_id=row.id,
                detail=f"visit={visit_id} view={view}"
                + (f" analysis={analysis_row.id}" if analysis_row is not None else ""),
            )
    except BaseException:
        writer.undo(session)
        raise
    return row


def add_analysis(
    *,
    session: Session,
    actor: Account,
    photo_store: PhotoStore,
    photo_id: int,
    analysis: core_types.Analysis,
) -> Analysis:
    """Store a re-analysis of a stored photo as a new row (history is never overwritten)."""
    masks = (
        _mask_png(analysis.kind_mask, analysis, "kind_mask"),
        _mask_png(analysis.probability_map, analysis, "probability_map"),
        _colour_mask_png(analysis),
    )
    writer = _FileWriter(photo_store)
    try:
        with write_transaction(session):
            principal = load_principal(session, actor)
            photo = writable_photo(session, principal, photo_id, "re-analyse photos")
            _check_analysis(analysis, photo.width, photo.height)
            row = _insert_analysis(session, writer, photo_id, analysis, masks)
            add_audit(
                session, actor_id=principal.id, action="create", target_type="analysis",
                target_id=row.id, detail=f"photo={photo_id} model={analysis.model_version}",
            )
    except BaseException:
        writer.undo(session)
        raise
    return row


def delete_photo(
    *, session: Session, actor: Account, photo_store: PhotoStore, photo_id: int
) -> None:
    """Remove a photo (a wrong upload) with its analyses, lesions, reviews and files."""
    analysis_ids = select(Analysis.id).where(Analysis.photo_id == photo_id)
    with write_transaction(session):
        principal = load_principal(session, actor)
        photo = writable_photo(session, principal, photo_id, "delete photos")
        files: set[StoredFile] = {(photo.file_sha256, photo.file_extension)}
        for row in session.exec(
            select(*(getattr(Analysis, name) for name in MASK_COLUMNS)).where(
                Analysis.photo_id == photo_id
            )
        ).all():
            files |= {(sha, MASK_EXTENSION) for sha in row if sha}
        session.exec(delete(Review).where(col(Review.analysis_id).in_(analysis_ids)))
        session.exec(delete(LesionRecord).where(col(LesionRecord.analysis_id).in_(analysis_ids)))
        session.exec(delete(Analysis).where(Analysis.photo_id == photo_id))
        session.delete(photo)
        add_audit(
            session, actor_id=principal.id, action="delete", target_type="photo",
            target_id=photo_id, detail=f"visit={photo.visit_id}",
        )
    delete_unreferenced_files(session, photo_store, files)


# ------------------------------------------------------------------------------- reads
def _visible_photos(session: Session, actor: Account):  # noqa: ANN202 - a Select
    principal = load_principal(session, actor)
    return (
        select(Photo)
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(visible_patients(principal))
    )


def _as_seen_by(hide: bool, photo: Photo) -> Photo:
    """With `hide` (a researcher), a detached copy without the camera's details, the capture
    time, the lighting note or the file name (issue 24: they can date or name a person)."""
    if not hide:
        return photo
    return Photo(**{**photo.model_dump(), "device": None, "captured_at": None, "lighting": None,
                    "makeup": None, "filename": f"photo_{photo.id}{photo.file_extension}"})


def list_photos(*, session: Session, actor: Account, visit_id: int) -> list[Photo]:
    statement = _visible_photos(session, actor).where(Photo.visit_id == visit_id)
    hide = hides_identity(load_principal(session, actor))
    return [_as_seen_by(hide, p) for p in session.exec(statement.order_by(col(Photo.id))).all()]


def get_photo(*, session: Session, actor: Account, photo_id: int) -> Photo | None:
    statement = _visible_photos(session, actor).where(Photo.id == photo_id)
    photo = session.exec(statement).one_or_none()
    if photo is None:
        return None
    return _as_seen_by(hides_identity(load_principal(session, actor)), photo)


def find_duplicate_photo(
    *, session: Session, actor: Account, patient_id: int, upload_sha256: str
) -> Photo | None:
    """An earlier photo of this patient uploaded from exactly the same bytes, if any."""
    statement = _visible_photos(session, actor).where(
        Visit.patient_id == patient_id, Photo.upload_sha256 == upload_sha256
    )
    return session.exec(statement.order_by(col(Photo.id)).limit(1)).first()


def _visible_analyses(session: Session, actor: Account):  # noqa: ANN202 - a Select
    principal = load_principal(session, actor)
    return (
        select(Analysis)
        .join(Photo, col(Photo.id) == col(Analysis.photo_id))
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(visible_patients(principal))
    )


@dataclass(frozen=True)
class ViewPhoto:
    """A stored photo with its visit's date and its current analysis (None: not analysed)."""

    photo: Photo
    visit_date: date
    analysis: Analysis | None


def last_photo_of_view(
    *, session: Session, actor: Account, patient_id: int, view: str,
    skip_failed_quality: bool = False,
) -> ViewPhoto | None:
    """The patient's newest photo of this view (latest visit date, then the latest stored),
    with its current analysis: the framing guide for the next photo of that view. One query.
    `skip_failed_quality`: never a photo stored although it failed the quality check."""
    principal = load_principal(session, actor)
    statement = (
        select(Photo, Visit.visit_date, Analysis)
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .outerjoin(Analysis, col(Analysis.id) == current_analysis_id(col(Photo.id)))
        .where(visible_patients(principal), Visit.patient_id == patient_id,
               Photo.view == _check_view(view))
    )
    if skip_failed_quality:
        statement = statement.where(or_(col(Analysis.id).is_(None), col(Analysis.quality_passed)))
    statement = (
        statement.order_by(col(Visit.visit_date).desc(), col(Photo.id).desc())
        .limit(1)
    )
    row = session.exec(statement).first()
    if row is None:
        return None
    photo, visit_date, analysis = row
    return ViewPhoto(photo=photo, visit_date=visit_date, analysis=analysis)


def list_analyses(*, session: Session, actor: Account, photo_id: int) -> list[Analysis]:
    """Every analysis of the photo, oldest first."""
    statement = _visible_analyses(session, actor).where(Analysis.photo_id == photo_id)
    return list(session.exec(statement.order_by(col(Analysis.id))).all())


def latest_analysis(*, session: Session, actor: Account, photo_id: int) -> Analysis | None:
    """The photo's current analysis: its newest row that is not a withdrawn (undone)
    correction (rows are only ever added)."""
    statement = _visible_analyses(session, actor).where(
        Analysis.photo_id == photo_id, col(Analysis.withdrawn_at).is_(None))
    return session.exec(statement.order_by(col(Analysis.id).desc()).limit(1)).first()


def get_analysis(*, session: Session, actor: Account, analysis_id: int) -> Analysis | None:
    statement = _visible_analyses(session, actor).where(Analysis.id == analysis_id)
    return session.exec(statement).one_or_none()


def list_lesions(*, session: Session, actor: Account, analysis_id: int) -> list[LesionRecord]:
    principal = load_principal(session, actor)
    statement = (
        join_analysis_patient(select(LesionRecord), col(LesionRecord.analysis_id))
        .where(LesionRecord.analysis_id == analysis_id, visible_patients(principal))
        .order_by(col(LesionRecord.id))
    )
    return list(session.exec(statement).all())


def load_photo_bytes(*, photo_store: PhotoStore, photo: Photo) -> bytes:
    """The stored (oriented, metadata-free) photo file of a row the caller may already see."""
    return photo_store.read(photo.file_sha256, photo.file_extension)


def load_masks(
    *, photo_store: PhotoStore, analysis: Analysis
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The analysis' lesion-kind map and probability map (uint8, photo size), when stored."""
    kind = (
        decode_mask(photo_store.read(analysis.kind_mask_sha256, MASK_EXTENSION))
        if analysis.kind_mask_sha256
        else None
    )
    probability = (
        decode_mask(photo_store.read(analysis.probability_sha256, MASK_EXTENSION))
        if analysis.probability_sha256
        else None
    )
    return kind, probability


def load_colour_mask(*, photo_store: PhotoStore, analysis: Analysis) -> np.ndarray | None:
    """The analysis' colour layers (uint8 bits at photo size: 1 red area, 2 dark mark, 4 measured
    skin; core.colour_measures), when they were measured and stored."""
    if not analysis.colour_mask_sha256:
        return None
    return decode_mask(photo_store.read(analysis.colour_mask_sha256, MASK_EXTENSION))
