"""Treatment events: what was prescribed or changed, and when (drawn on the timeline)."""
from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from db.access import load_principal, visible_patients
from db.models import MAX_EVENT_LENGTH, Account, Patient, TreatmentEvent, TreatmentEventCreate
from db.repository._common import (
    add_audit,
    check_text_length,
    writable_patient,
    write_transaction,
)


def add_treatment_event(
    *, session: Session, actor: Account, patient_id: int, event_date: date, description: str
) -> TreatmentEvent:
    if isinstance(event_date, datetime) or not isinstance(event_date, date):
        raise ValueError(f"treatment date {event_date!r} must be a date (no time of day)")
    data = TreatmentEventCreate(
        patient_id=patient_id, event_date=event_date,
        description=check_text_length("The treatment event", description.strip(), MAX_EVENT_LENGTH),
    )
    with write_transaction(session):
        principal = load_principal(session, actor)
        writable_patient(session, principal, patient_id, "record treatment")
        event = TreatmentEvent(**data.model_dump())
        session.add(event)
        session.flush()
        add_audit(
            session, actor_id=principal.id, action="create", target_type="treatment_event",
            target_id=event.id, detail=f"patient={patient_id} date={event_date.isoformat()}",
        )
    return event


def list_treatment_events(
    *, session: Session, actor: Account, patient_id: int
) -> list[TreatmentEvent]:
    """The patient's treatment events by date ([] when the actor may not see the patient)."""
    principal = load_principal(session, actor)
    statement = (
        select(TreatmentEvent)
        .join(Patient, col(Patient.id) == col(TreatmentEvent.patient_id))
        .where(TreatmentEvent.patient_id == patient_id, visible_patients(principal))
        .order_by(col(TreatmentEvent.event_date), col(TreatmentEvent.id))
    )
    return list(session.exec(statement).all())
