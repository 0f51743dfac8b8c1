"""The pictures of a patient's PDF report (core.report.build_patient_report), as the signed-in
account may see them: the photo with its lesion-type overlay, warped into the canonical face
frame when the analysis found the face. A researcher's are de-identified first
(usecases.photos.load_photo_for), so the report never holds more of a face than the pages show.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.alignment import warp_to_canonical
from core.overlay import overlay_kinds
from db.models import Account
from db.repository import get_analysis, get_photo
from usecases.clinic import Clinic
from usecases.photos import StoredPhotoError, load_photo_for


@dataclass(frozen=True)
class ReportPicture:
    """One picture for the report and, when it is de-identified, the sentence that says so."""

    image: np.ndarray = field(repr=False, compare=False)
    research_note: str | None = None


def report_picture(clinic: Clinic, actor: Account, *, photo_id: int,
                   analysis_id: int) -> ReportPicture | None:
    """The photo with its lesion-type overlay, in the face frame when the analysis has an
    alignment (else as taken); None when the account may not see it or its file is unreadable."""
    with clinic.session() as session:
        photo = get_photo(session=session, actor=actor, photo_id=photo_id)
        analysis = get_analysis(session=session, actor=actor, analysis_id=analysis_id)
    if photo is None or analysis is None:
        return None
    try:
        stored = load_photo_for(clinic, actor, photo, analysis)
    except StoredPhotoError:
        return None
    image = stored.image
    if stored.kind_mask is not None:
        image = overlay_kinds(image, stored.kind_mask)
    if analysis.alignment:
        image = warp_to_canonical(image, analysis.alignment)
    return ReportPicture(image=image, research_note=stored.research_note)
