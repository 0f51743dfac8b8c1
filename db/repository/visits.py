"""Visits: one date on which a patient was seen, with the treatment notes of that day."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from db.access import load_principal, visible_patients
from db.models import MAX_NOTE_LENGTH, Account, Patient, Visit, VisitCreate, utcnow
from db.repository._common import (
    check_text_length,
    add_audit,
    hides_identity,
    without_free_text,
    writable_patient,
    write_transaction,
)


def check_visit_date(visit_date: date) -> date:
    # datetime is a subclass of date: refuse it, or the time of day would be silently kept.
    if isinstance(visit_date, datetime) or not isinstance(visit_date, date):
        raise ValueError(f"visit date {visit_date!r} must be a date (no time of day)")
    # One day of slack: the clinic's local date can be ahead of UTC.
    if visit_date > utcnow().date() + timedelta(days=1):
        raise ValueError(f"visit date {visit_date.isoformat()} is in the future")
    return visit_date


def create_visit(
    *,
    session: Session,
    actor: Account,
    patient_id: int,
    visit_date: date,
    treatment_notes: str = "",
) -> Visit:
    data = VisitCreate(
        patient_id=patient_id,
        visit_date=check_visit_date(visit_date),
        treatment_notes=check_text_length("The treatment notes", treatment_notes.strip(),
                                          MAX_NOTE_LENGTH),
    )
    with write_transaction(session):
        principal = load_principal(session, actor)
        writable_patient(session, principal, patient_id, "add visits")
        visit = Visit(**data.model_dump(), created_by_id=principal.id)
        session.add(visit)
        session.flush()
        add_audit(
            session, actor_id=principal.id, action="create", target_type="visit",
            target_id=visit.id, detail=f"patient={patient_id} date={visit_date.isoformat()}",
        )
    return visit


def list_visits(*, session: Session, actor: Account, patient_id: int) -> list[Visit]:
    """The patient's visits, oldest first ([] when the actor may not see the patient).
    Researchers get copies without the treatment notes (free text may name the person)."""
    principal = load_principal(session, actor)
    statement = (
        select(Visit)
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(Visit.patient_id == patient_id, visible_patients(principal))
        .order_by(col(Visit.visit_date), col(Visit.id))
    )
    visits = list(session.exec(statement).all())
    if hides_identity(principal):
        return [without_free_text(v, "treatment_notes") for v in visits]
    return visits


def get_visit(*, session: Session, actor: Account, visit_id: int) -> Visit | None:
    principal = load_principal(session, actor)
    statement = (
        select(Visit)
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(Visit.id == visit_id, visible_patients(principal))
    )
    visit = session.exec(statement).one_or_none()
    if visit is not None and hides_identity(principal):
        return without_free_text(visit, "treatment_notes")
    return visit
