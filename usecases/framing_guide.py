"""Capture that can be compared: the patient's last photo of a view as the framing guide for
the next one, and how a new upload's framing differs from it (core.framing).

The new-visit page shows the guide beside the uploader once the clinician picks a view, and,
after each upload is checked (`usecases.visits.check_photo`: one analysis, with its face),
says in sentences how to move the camera or the head. No model runs here: the last photo's face
is the one stored with its analysis, the new photo's the one its single analysis found.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.framing import FramingComparison, compare_framing
from core.imaging import preview_jpeg
from core.types import FaceResult
from db.models import Account
from db.models import Analysis as AnalysisRow
from db.repository import last_photo_of_view, load_photo_bytes
from usecases.clinic import Clinic
from usecases.visits import CheckedPhoto

GUIDE_PREVIEW_PX = 320  # shown 160 px wide; twice that for sharp high-density screens
NOT_ANALYSED = ("The framing cannot be compared: the last photo of this view was stored "
                "without an analysis.")


@dataclass(frozen=True)
class FramingGuide:
    """The patient's last photo of one view: what the next photo of that view should look like."""

    view: str
    photo_id: int
    visit_date: date
    image_bytes: bytes  # a small JPEG of the stored photo (upright, no metadata)
    size: tuple[int, int]  # (width, height)
    face: FaceResult | None  # None: the photo has no analysis


def stored_face(row: AnalysisRow) -> FaceResult:
    """The face an analysis row stored (box, five landmarks, view), as core reads it."""
    return FaceResult(
        found=bool(row.face_found),
        box=tuple(float(v) for v in row.face_box) if row.face_box else None,
        landmarks=tuple((float(x), float(y)) for x, y in row.landmarks) if row.landmarks else None,
        n_faces=int(row.n_faces or 0),
        view=row.view_estimate,
    )


def framing_guide(clinic: Clinic, actor: Account, *, patient_id: int, view: str) -> FramingGuide | None:
    """The patient's last photo of `view` that did not fail the quality check, with its stored
    face; None when there is none yet (or the actor may not see the patient)."""
    with clinic.session() as session:
        # Never a photo stored although it failed the quality check: it is not a framing to copy.
        found = last_photo_of_view(session=session, actor=actor, patient_id=patient_id, view=view,
                                   skip_failed_quality=True)
    if found is None:
        return None
    photo = found.photo
    try:
        # A thumbnail: the page shows it small on every rerun (a 12 MP file is megabytes).
        data = preview_jpeg(load_photo_bytes(photo_store=clinic.photo_store, photo=photo),
                            GUIDE_PREVIEW_PX)
    except (OSError, ValueError):
        return None  # the file is missing or unreadable: the integrity check reports it
    return FramingGuide(view=view, photo_id=int(photo.id), visit_date=found.visit_date,
                        image_bytes=data, size=(int(photo.width), int(photo.height)),
                        face=stored_face(found.analysis) if found.analysis is not None else None)


def compare_with_guide(guide: FramingGuide, checked: CheckedPhoto) -> FramingComparison | None:
    """How the checked upload's framing differs from the guide; None when the upload was not
    analysed (no model installed), so that there is no face to compare."""
    if checked.analysis is None or checked.photo is None:
        return None
    if guide.face is None:
        return FramingComparison(False, sentences=(NOT_ANALYSED,))
    return compare_framing(guide.face, guide.size, checked.analysis.face,
                           (checked.photo.width, checked.photo.height))
