"""Record a visit from uploaded photos: THE one route of a photo into the clinic.

    bytes -> decode_upload (core.imaging: format, size, EXIF orientation, metadata dropped)
          -> check_photo (same upload twice, already stored for the patient, one analysis)
          -> store_checked_photo (db.repository.store_photo: file, rows and audit in one unit)

The new-visit page runs `check_photo` on each upload (the preview shows its quality verdict),
then `record_visit`; the folder import (`usecases.folder_import`) runs the same three steps,
decoding ahead and storing behind in threads. A photo is analysed once, here.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Literal, Protocol

from sqlalchemy.exc import SQLAlchemyError

from core.errors import PhotoError
from core.imaging import decode_photo
from core.types import BODY_SITES, CLOSE_UP_VIEW, VIEWS, Analysis, DecodedPhoto
from db.errors import DuplicateError, PermissionDenied
from db.models import Account
from db.repository import create_visit, find_duplicate_photo, store_photo
from usecases.analysis_queue import DEFAULT_WORKERS, process_queue
from usecases.clinic import Clinic

StoreStatus = Literal["stored", "skipped", "refused"]


class PhotoAnalyzer(Protocol):
    def analyze(self, photo: DecodedPhoto) -> Analysis: ...


@dataclass(frozen=True)
class CheckedPhoto:
    """One upload after decoding, the duplicate checks and the single analysis."""

    filename: str
    photo: DecodedPhoto | None = None
    analysis: Analysis | None = None
    error: str | None = None  # a sentence: why it cannot be used
    duplicate: str | None = None  # why it is skipped: the same bytes are already there

    @property
    def storable(self) -> bool:
        return self.photo is not None and self.error is None and self.duplicate is None


@dataclass(frozen=True)
class CaptureDetails:
    """What the person recording the visit confirms about one photo."""

    view: str = "front"
    taken_on: date | None = None
    makeup: bool | None = None
    lighting: str | None = None
    body_site: str | None = None  # where a close-up was taken (core.types.BODY_SITES)

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ValueError(f"view {self.view!r} must be one of {', '.join(VIEWS)}")
        if self.body_site is not None and self.body_site not in BODY_SITES:
            raise ValueError(f"body site {self.body_site!r} must be one of {', '.join(BODY_SITES)}")

    @classmethod
    def from_photo(cls, checked: CheckedPhoto, body_site: str | None = None,
                   view: str | None = None) -> CaptureDetails:
        """The details a photo gives by itself: the view the face model saw (a photo of skin
        without a face is a close-up), the EXIF date; `body_site` and `view` (a close-up) as
        the caller knows them (a folder's layout: usecases.folder_plan.capture_hint)."""
        analysis = checked.analysis
        if view == CLOSE_UP_VIEW or (analysis is not None and not analysis.face.found):
            view = CLOSE_UP_VIEW
        else:
            estimated = analysis.face.view if analysis else None
            view = estimated if estimated in VIEWS else ("close-up" if body_site else "front")
        captured = checked.photo.captured_at if checked.photo else None
        return cls(view=view, taken_on=captured.date() if captured else None,
                   body_site=body_site if view == CLOSE_UP_VIEW else None)


@dataclass(frozen=True)
class StoreResult:
    filename: str
    status: StoreStatus
    reason: str | None = None
    photo_id: int | None = None
    quality_passed: bool | None = None


@dataclass(frozen=True)
class RecordedVisit:
    visit_id: int
    visit_date: date
    results: tuple[StoreResult, ...]

    @property
    def stored(self) -> int:
        return sum(1 for result in self.results if result.status == "stored")

    @property
    def refused(self) -> list[StoreResult]:
        return [result for result in self.results if result.status == "refused"]


def decode_upload(data: bytes, filename: str) -> DecodedPhoto | str:
    """The decoded photo, or the sentence saying why these bytes cannot be used."""
    try:
        return decode_photo(data, filename=filename)
    except PhotoError as error:
        return str(error)


def with_capture_date(photo: DecodedPhoto, taken_on: date | None) -> DecodedPhoto:
    """The photo with the capture date the user confirmed (keeping the EXIF time of day)."""
    if taken_on is None:
        return replace(photo, captured_at=None)
    clock = photo.captured_at.timetz() if photo.captured_at else time(0, 0)
    return replace(photo, captured_at=datetime.combine(taken_on, clock))


def check_photo(
    clinic: Clinic,
    actor: Account,
    *,
    patient_id: int | None,
    filename: str,
    data: bytes | None = None,
    photo: DecodedPhoto | None = None,
    analyzer: PhotoAnalyzer | None,
    seen: set[str] | None = None,
    on_wait: Callable[[int], None] | None = None,
    analyses_at_once: int = DEFAULT_WORKERS,
) -> CheckedPhoto:
    """Decode `data` (or take `photo`, decoded ahead), skip a photo already in this upload
    (`seen` holds their SHA-256) or already stored for the patient, then analyse it once
    (no analysis when `analyzer` is None; it waits its turn in the process's analysis queue,
    which runs `analyses_at_once` at a time)."""
    if photo is None:
        decoded = decode_upload(data if data is not None else b"", filename)
        if isinstance(decoded, str):
            return CheckedPhoto(filename=filename, error=decoded)
        photo = decoded
    if seen is not None:
        if photo.upload_sha256 in seen:
            return CheckedPhoto(filename=filename, duplicate="the same photo is already in this upload")
        seen.add(photo.upload_sha256)
    if patient_id is not None:
        with clinic.session() as session:
            existing = find_duplicate_photo(session=session, actor=actor, patient_id=patient_id,
                                            upload_sha256=photo.upload_sha256)
        if existing is not None:
            return CheckedPhoto(filename=filename, photo=photo,
                                duplicate=f"already stored for this patient (as "
                                          f"'{existing.filename}', saved {existing.created_at:%d %b %Y})")
    analysis = None
    if analyzer is not None:
        try:
            # One bounded queue per process: many users at once take turns (issue 28);
            # `on_wait` hears how many analyses are ahead.
            analysis = process_queue(analyses_at_once).run(lambda: analyzer.analyze(photo),
                                                           on_wait=on_wait)
        except (ValueError, RuntimeError) as error:
            return CheckedPhoto(filename=filename, photo=photo, error=f"analysis failed: {error}")
    return CheckedPhoto(filename=filename, photo=photo, analysis=analysis)


def store_checked_photo(
    clinic: Clinic, actor: Account, *, visit_id: int, checked: CheckedPhoto, details: CaptureDetails
) -> StoreResult:
    """Store a checked photo with its analysis in one unit (file, rows, audit). The duplicate
    check is repeated inside the write: a second tab or import may have stored it meanwhile."""
    if not checked.storable:
        return StoreResult(checked.filename, "refused", checked.error or checked.duplicate)
    photo = with_capture_date(checked.photo, details.taken_on)
    try:
        with clinic.session() as session:
            row = store_photo(
                session=session, actor=actor, photo_store=clinic.photo_store, visit_id=visit_id,
                photo=photo, analysis=checked.analysis, view=details.view, makeup=details.makeup,
                lighting=details.lighting, refuse_duplicate=True, body_site=details.body_site,
            )
    except DuplicateError:
        return StoreResult(checked.filename, "skipped", "already stored")
    except (PermissionDenied, ValueError, OSError, SQLAlchemyError) as error:
        from db.engine import DISK_FULL, disk_full_error

        root = getattr(clinic.photo_store, "root", None)
        if disk_full_error(error, [root] if root is not None else []):
            return StoreResult(checked.filename, "refused", f"not stored: {DISK_FULL}")  # issue 24
        return StoreResult(checked.filename, "refused", f"not stored: {error}")
    passed = checked.analysis.quality.passed if checked.analysis else None
    return StoreResult(checked.filename, "stored", photo_id=row.id, quality_passed=passed)


def record_visit(
    clinic: Clinic,
    actor: Account,
    *,
    patient_id: int,
    visit_date: date,
    notes: str,
    photos: Sequence[tuple[CheckedPhoto, CaptureDetails]],
    on_progress: Callable[[int, int], None] | None = None,
) -> RecordedVisit:
    """Create the visit, then store each checked photo (one unit per photo; one photo that
    fails does not stop the others). Raises PermissionDenied / ValueError for the visit itself."""
    with clinic.session() as session:
        visit_id = create_visit(session=session, actor=actor, patient_id=patient_id,
                                visit_date=visit_date, treatment_notes=notes).id
    results: list[StoreResult] = []
    for index, (checked, details) in enumerate(photos, start=1):
        results.append(store_checked_photo(clinic, actor, visit_id=visit_id, checked=checked,
                                           details=details))
        if on_progress is not None:
            on_progress(index, len(photos))
    return RecordedVisit(visit_id=visit_id, visit_date=visit_date, results=tuple(results))
