"""A clinician's lesion corrections: each edit is an analysis of its own, undo withdraws one.

The model's analysis is never changed. A correction copies the photo's current analysis,
replaces its lesions and what follows from them (core.correction computes those), and points
at the model's analysis it corrects (`corrects_id`). It becomes the photo's current analysis,
so trends, compare, studies, reports and exports use it. Undoing the newest correction sets its
`withdrawn_at`: the one before it (or the model's analysis) is current again. Both are audited.
"""
from __future__ import annotations

from sqlmodel import Session, select

from core import types as core_types
from db.access import load_principal, no_access
from db.errors import ConflictError, NotFound
from db.models import COLOUR_COLUMNS, Account, Analysis, utcnow
from db.photos import PhotoStore, encode_mask
from db.repository._common import add_audit, current_analysis_id, writable_photo, write_transaction
from db.repository.files import MASK_EXTENSION
from db.repository.photos import _check_lesion_kinds, _FileWriter, _finite, lesion_rows, list_analyses

# Fields of the analysis that a correction takes over unchanged from the one it corrects.
_COPIED = ("photo_id", "model_version", "skin_area_px", "quality_passed", "assessable",
           "not_assessable_reasons", "quality_reasons", "quality_metrics", "face_found", "face_box",
           "landmarks", "n_faces", "view_estimate", "alignment", "second_opinion_grade",
           "second_opinion_label", "second_opinion_confidence", "second_opinion_source",
           "probability_sha256", "typicality", "unusual", *COLOUR_COLUMNS)


def _current_analysis(session: Session, actor: Account, analysis_id: int, what: str) -> Analysis:
    """The analysis `analysis_id`, which `actor` may change and which is still its photo's
    current one; raises NotFound, PermissionDenied or ConflictError (`what` names the action)."""
    principal = load_principal(session, actor)
    analysis = session.get(Analysis, analysis_id)
    if analysis is None:
        raise NotFound(no_access(what))
    writable_photo(session, principal, analysis.photo_id, what)
    current = session.exec(select(current_analysis_id(analysis.photo_id))).one()
    if current != analysis.id:
        raise ConflictError(
            f"the lesions of photo #{analysis.photo_id} changed since they were shown "
            f"(analysis #{analysis.id} is no longer the current one): reload the page and try again"
        )
    return analysis


def add_correction(*, session: Session, actor: Account, photo_store: PhotoStore, analysis_id: int,
                   corrected: core_types.CorrectedMeasurements) -> Analysis:
    """Store `corrected` as the correction of analysis `analysis_id`, which must be its photo's
    current analysis and assessable. Raises NotFound, PermissionDenied, ConflictError (another
    edit came first) or ValueError (a photo that cannot be assessed)."""
    _check_lesion_kinds(corrected.lesions)
    mask_png = encode_mask(corrected.kind_mask) if corrected.kind_mask is not None else None
    writer = _FileWriter(photo_store)
    try:
        with write_transaction(session):
            base = _current_analysis(session, actor, analysis_id, "correct lesions")
            if not base.assessable:
                raise ValueError("this photo cannot be assessed: it has no lesions to correct")
            counts, grade = corrected.counts, corrected.grade
            row = Analysis(
                **{name: getattr(base, name) for name in _COPIED},
                corrects_id=base.corrects_id or base.id,
                corrected_by_id=actor.id,
                correction={**corrected.edit, "description": corrected.description},
                comedone=counts.comedone, papule=counts.papule, pustule=counts.pustule,
                nodule=counts.nodule, inflammatory_type_uncertain=counts.inflammatory_type_uncertain,
                inflammatory=counts.inflammatory, non_inflammatory=counts.non_inflammatory,
                total=counts.total,
                lesion_area_fraction=float(corrected.lesion_area_fraction),
                grade=int(grade.value), grade_label=grade.label,
                grade_confidence=float(grade.confidence), grade_source=grade.source,
                region_counts={str(r): {str(k): int(n) for k, n in t.items()}
                               for r, t in corrected.region_counts.items()},
                gags_estimate=None if corrected.gags_estimate is None else int(corrected.gags_estimate),
                grade_evidence=[_finite(h) for h in corrected.grade_evidence],
                kind_mask_sha256=writer.put(mask_png, MASK_EXTENSION) or base.kind_mask_sha256,
            )
            session.add(row)
            session.flush()
            session.add_all(lesion_rows(corrected.lesions, row.id))
            add_audit(
                session, actor_id=actor.id, action="create", target_type="analysis",
                target_id=row.id,
                detail=f"photo={base.photo_id} correction of analysis={row.corrects_id}: "
                       f"{corrected.description}",
            )
    except BaseException:
        writer.undo(session)
        raise
    return row


def withdraw_correction(*, session: Session, actor: Account, analysis_id: int) -> Analysis:
    """Undo the correction `analysis_id` (the photo's current analysis): it stays stored,
    withdrawn, and the analysis before it is current again. Returns the withdrawn row."""
    with write_transaction(session):
        row = _current_analysis(session, actor, analysis_id, "undo lesion corrections")
        if row.corrects_id is None:
            raise ValueError("this analysis is the model's own: there is no correction to undo")
        row.withdrawn_at = utcnow()
        session.add(row)
        what = (row.correction or {}).get("description", "a correction")
        add_audit(
            session, actor_id=actor.id, action="update", target_type="analysis",
            target_id=row.id, detail=f"photo={row.photo_id} undone: {what}",
        )
    return row


def list_corrections(*, session: Session, actor: Account, photo_id: int) -> list[Analysis]:
    """The photo's corrections, withdrawn ones included, oldest first ([] if not visible)."""
    return [a for a in list_analyses(session=session, actor=actor, photo_id=photo_id)
            if a.corrects_id is not None]
