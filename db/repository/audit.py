"""The audit trail: who viewed, changed, exported or signed in, and when."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select
from sqlmodel import Session, col, select

from db.access import load_principal
from db.errors import PermissionDenied
from db.models import (
    Account,
    Analysis,
    AuditEvent,
    Enrolment,
    Patient,
    Photo,
    Review,
    Study,
    StudyArm,
    StudyMember,
    TreatmentEvent,
    Visit,
)
from db.repository._common import add_audit, write_transaction


def record_audit(
    *,
    session: Session,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None = None,
    detail: str = "",
) -> AuditEvent:
    """Write one audit row now (for views and exports; changes are audited by the repository).

    `detail` must not hold photo bytes or patient names: use ids and pseudonymous codes.
    """
    with write_transaction(session):
        event = add_audit(
            session,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
        )
    return event


def list_audit(*, session: Session, actor: Account, limit: int = 200) -> list[AuditEvent]:
    """The newest audit rows first (admins only: raises PermissionDenied for others)."""
    if limit < 1:
        raise ValueError(f"limit {limit!r} must be at least 1")
    principal = load_principal(session, actor)
    if not principal.is_admin:
        raise PermissionDenied(f"account {principal.id} is not an admin: the audit log is closed")
    statement = (
        select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(limit)
    )
    return list(session.exec(statement).all())


def _when(day: object) -> str:
    return f"{day:%d %b %Y}" if day is not None else "an unknown date"


def audit_names(*, session: Session, actor: Account,
                ids: dict[str, set[int]]) -> dict[str, dict[int, str]]:
    """What the ids of audit rows name, by kind (core.audit_words.ROW_KINDS), for the
    administrator's audit page: a patient as "A002 (Jane Roe)", a study by its name, a visit,
    photo or analysis by its patient and date. Administrators only (PermissionDenied
    otherwise); one query per kind named. Rows deleted since are simply absent."""
    principal = load_principal(session, actor)
    if not principal.is_admin:
        raise PermissionDenied(f"account {principal.id} is not an admin: the audit log is closed")
    names: dict[str, dict[int, str]] = {}

    def wanted(kind: str) -> list[int]:
        return sorted(ids.get(kind, ()))

    def name(kind: str, statement: Select, label: Callable[..., str]) -> None:
        """names[kind]: each wanted row's label, from `statement` selecting its id first and
        then what `label` takes."""
        if wanted(kind):
            id_column = statement.selected_columns[0]
            names[kind] = {row_id: label(*rest) for row_id, *rest in session.exec(
                statement.where(id_column.in_(wanted(kind)))).all()}

    name("patient", select(Patient.id, Patient.code, Patient.name),
         lambda code, full_name: f"{code} ({full_name})" if full_name else code)
    name("study", select(Study.id, Study.name), lambda study: f"“{study}”")
    name("arm", select(StudyArm.id, StudyArm.name), lambda arm: arm)
    name("account", select(Account.id, Account.username, Account.full_name),
         lambda user, full_name: f"{user} ({full_name})" if full_name else user)
    name("visit", select(Visit.id, Visit.visit_date, Patient.code)
         .join(Patient, col(Patient.id) == col(Visit.patient_id)),
         lambda day, code: f"of {code} on {_when(day)}")
    photo_ids = set(ids.get("photo", ()))
    analysis_photo: dict[int, int] = {}
    review_analysis: dict[int, int] = {}
    if ids.get("review"):
        review_analysis = dict(session.exec(select(Review.id, Review.analysis_id).where(
            col(Review.id).in_(wanted("review")))).all())
    analysis_ids = set(ids.get("analysis", ())) | set(review_analysis.values())
    if analysis_ids:
        analysis_photo = dict(session.exec(select(Analysis.id, Analysis.photo_id).where(
            col(Analysis.id).in_(sorted(analysis_ids)))).all())
    photo_ids |= set(analysis_photo.values())
    if photo_ids:
        photos = {photo_id: f"{words_view(view)} photo of {code}, {_when(day)}"
                  for photo_id, view, day, code in session.exec(
                      select(Photo.id, Photo.view, Visit.visit_date, Patient.code)
                      .join(Visit, col(Visit.id) == col(Photo.visit_id))
                      .join(Patient, col(Patient.id) == col(Visit.patient_id))
                      .where(col(Photo.id).in_(sorted(photo_ids)))).all()}
        names["photo"] = {i: f"({text})" for i, text in photos.items()}
        names["analysis"] = {a: f"of the {photos[p]}" for a, p in analysis_photo.items() if p in photos}
        names["review"] = {r: f"of the {photos[analysis_photo[a]]}" for r, a in review_analysis.items()
                           if analysis_photo.get(a) in photos}
    name("enrolment", select(Enrolment.id, Patient.code, Study.name)
         .join(Patient, col(Patient.id) == col(Enrolment.patient_id))
         .join(Study, col(Study.id) == col(Enrolment.study_id)),
         lambda code, study: f"of {code} in “{study}”")
    name("treatment_event", select(TreatmentEvent.id, TreatmentEvent.event_date, Patient.code)
         .join(Patient, col(Patient.id) == col(TreatmentEvent.patient_id)),
         lambda day, code: f"of {code} on {_when(day)}")
    name("study_member", select(StudyMember.id, Account.username, Study.name)
         .join(Account, col(Account.id) == col(StudyMember.account_id))
         .join(Study, col(Study.id) == col(StudyMember.study_id)),
         lambda user, study: f"{user} in “{study}”")
    return names


def words_view(view: str) -> str:
    """A photo's view as the audit page says it ('close-up', 'front')."""
    return view.replace("_", " ")
