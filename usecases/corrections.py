"""A clinician corrects the lesions on a visit photo: add one, remove one, change its type; undo.

Each edit is stored as a new analysis beside the model's (db.repository.add_correction) with the
counts, the grade (by the same grader), area, regions and the lesion-type map recomputed from the
corrected lesions (core.correction). From then on every page, report and export uses it.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.correction import (
    LesionEdit,
    added_lesion_radius,
    apply_edit,
    describe_edit,
    measure_corrected,
)
from core.grading import CountGrader
from core.types import Lesion
from db.errors import NotFound
from db.models import Account
from db.models import Analysis as AnalysisRow
from db.repository import (
    add_correction,
    get_analysis,
    get_photo,
    list_lesions,
    load_masks,
    withdraw_correction,
)
from usecases.clinic import Clinic
from usecases.photos import lesions_from_records


@dataclass(frozen=True)
class PhotoLesions:
    """The lesions of one analysis as the editor shows them."""

    analysis: AnalysisRow
    lesions: tuple[Lesion, ...]

    @property
    def corrected(self) -> bool:
        return self.analysis.corrects_id is not None


def analysis_lesions(clinic: Clinic, actor: Account, analysis_id: int) -> PhotoLesions:
    """The analysis with its lesions. Raises NotFound when the account may not see it."""
    with clinic.session() as session:
        analysis = get_analysis(session=session, actor=actor, analysis_id=analysis_id)
        if analysis is None:
            raise NotFound(f"no analysis with id {analysis_id!r}")
        rows = list_lesions(session=session, actor=actor, analysis_id=analysis_id)
    return PhotoLesions(analysis, tuple(lesions_from_records(rows)))


def correct_lesions(clinic: Clinic, actor: Account, *, analysis_id: int, edit: LesionEdit,
                    grader: CountGrader) -> AnalysisRow:
    """Apply `edit` to the lesions of analysis `analysis_id` (the photo's current analysis) and
    store the result as a clinician's correction. Raises NotFound, PermissionDenied,
    db.errors.ConflictError (the lesions changed meanwhile) or ValueError (a bad edit)."""
    current = analysis_lesions(clinic, actor, analysis_id)
    model = (analysis_lesions(clinic, actor, current.analysis.corrects_id)
             if current.corrected else current)
    with clinic.session() as session:
        photo = get_photo(session=session, actor=actor, photo_id=current.analysis.photo_id)
    if photo is None:
        raise NotFound(f"no photo with id {current.analysis.photo_id!r}")
    row = current.analysis
    lesions = apply_edit(current.lesions, edit,
                         radius=added_lesion_radius(row.face_box, photo.width, photo.height),
                         width=photo.width, height=photo.height, alignment=row.alignment)
    try:
        model_mask = load_masks(photo_store=clinic.photo_store, analysis=model.analysis)[0]
    except OSError:
        model_mask = None  # a missing mask file: the integrity check reports it
    corrected = measure_corrected(
        model_lesions=model.lesions, model_heights=model.analysis.grade_evidence,
        model_area_fraction=model.analysis.lesion_area_fraction,
        skin_area_px=model.analysis.skin_area_px, lesions=lesions, grader=grader,
        has_regions=row.alignment is not None, edit=edit,
        description=describe_edit(edit, current.lesions,
                                  region=lesions[-1].region if edit.action == "add" else None),
        model_mask=model_mask,
        shape=(photo.height, photo.width),
    )
    with clinic.session() as session:
        return add_correction(session=session, actor=actor, photo_store=clinic.photo_store,
                              analysis_id=analysis_id, corrected=corrected)


def undo_correction(clinic: Clinic, actor: Account, *, analysis_id: int) -> AnalysisRow:
    """Undo the correction `analysis_id`, the photo's current analysis; returns it, withdrawn."""
    with clinic.session() as session:
        return withdraw_correction(session=session, actor=actor, analysis_id=analysis_id)
