"""Issue 24: every stored text field has a length limit (db.models: MAX_NOTE_LENGTH and
friends); the repository refuses longer text with a sentence that names the field and both
lengths, and stores nothing (a 30 MB note was accepted). Patient codes are compared without
case: a002 beside A002 is refused with a sentence naming the existing code."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from db import repository as repo
from db.errors import DuplicateError
from db.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_EVENT_LENGTH,
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    Account,
    AuditEvent,
    PatientCreate,
    PatientUpdate,
    Review,
    Study,
    TreatmentEvent,
    Visit,
)
from tests.db.db_factories import make_patient, stored_photo_with_analysis

HUGE = "x" * (30 * 1024 * 1024)  # the 30 MB note of the issue


def _sentence(error: pytest.ExceptionInfo, what: str, limit: int) -> None:
    # A pydantic ValidationError (the form's model) is shown by its messages (dashboard.state
    # .error_message), each the sentence of the validator.
    errors = getattr(error.value, "errors", None)
    message = (str(error.value) if errors is None
               else "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in errors()))
    assert message.startswith(what) and f"{limit:,}" in message and "31,457,280" in message
    assert len(message) < 200  # a sentence, not the text


def test_a_huge_treatment_note_is_refused(session: Session, clinician: Account) -> None:
    patient = make_patient(session, clinician, "A001")
    with pytest.raises(ValueError) as error:
        repo.create_visit(session=session, actor=clinician, patient_id=patient.id,
                          visit_date=date(2024, 1, 10), treatment_notes=HUGE)
    _sentence(error, "The treatment notes", MAX_NOTE_LENGTH)
    assert session.exec(select(Visit)).all() == []
    visit = repo.create_visit(session=session, actor=clinician, patient_id=patient.id,
                              visit_date=date(2024, 1, 10), treatment_notes="n" * MAX_NOTE_LENGTH)
    assert len(visit.treatment_notes) == MAX_NOTE_LENGTH  # the limit itself is kept


def test_huge_patient_notes_and_names_are_refused(session: Session, clinician: Account) -> None:
    with pytest.raises(ValueError) as error:
        make_patient(session, clinician, "A001", notes=HUGE)
    _sentence(error, "The notes", MAX_NOTE_LENGTH)
    patient = make_patient(session, clinician, "A001")
    with pytest.raises(ValueError) as error:
        repo.update_patient(session=session, actor=clinician, patient_id=patient.id,
                            data=PatientUpdate(notes=HUGE))
    _sentence(error, "The notes", MAX_NOTE_LENGTH)
    with pytest.raises(ValueError) as error:
        repo.update_patient(session=session, actor=clinician, patient_id=patient.id,
                            data=PatientUpdate(name=HUGE))
    _sentence(error, "The name", MAX_NAME_LENGTH)
    session.refresh(patient)
    assert (patient.notes, patient.name) == ("", None)


def test_huge_review_notes_and_treatment_events_are_refused(session: Session, clinician: Account,
                                                             store) -> None:  # noqa: ANN001
    patient = make_patient(session, clinician, "A001")
    _, analysis = stored_photo_with_analysis(session, store, clinician, patient, date(2024, 1, 10), 1)
    with pytest.raises(ValueError) as error:
        repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=1, notes=HUGE)
    _sentence(error, "The review notes", MAX_NOTE_LENGTH)
    with pytest.raises(ValueError) as error:
        repo.add_treatment_event(session=session, actor=clinician, patient_id=patient.id,
                                 event_date=date(2024, 1, 12), description=HUGE)
    _sentence(error, "The treatment event", MAX_EVENT_LENGTH)
    assert session.exec(select(Review)).all() == [] and session.exec(select(TreatmentEvent)).all() == []


def test_huge_study_names_descriptions_and_account_names_are_refused(
        session: Session, clinician: Account, admin: Account) -> None:
    with pytest.raises(ValueError) as error:
        repo.create_study(session=session, actor=clinician, name="Trial", description=HUGE,
                          arms=["drug"])
    _sentence(error, "The study description", MAX_DESCRIPTION_LENGTH)
    with pytest.raises(ValueError) as error:
        repo.create_study(session=session, actor=clinician, name=HUGE, arms=["drug"])
    _sentence(error, "The study name", MAX_NAME_LENGTH)
    assert session.exec(select(Study)).all() == []
    with pytest.raises(ValueError) as error:
        repo.update_account(session=session, actor=admin, account_id=clinician.id, full_name=HUGE)
    _sentence(error, "The full name", MAX_NAME_LENGTH)


@pytest.mark.parametrize("new,existing", [("a002", "A002"), ("A002", "a002"), ("Acn-7", "ACN-7")])
def test_a_code_differing_only_in_case_is_refused_naming_the_existing_one(
        session: Session, clinician: Account, other_clinician: Account, new: str, existing: str) -> None:
    make_patient(session, clinician, existing)
    with pytest.raises(DuplicateError) as error:
        repo.create_patient(session=session, actor=other_clinician, data=PatientCreate(code=new))
    assert existing in str(error.value) and "without case" in str(error.value)
    other = make_patient(session, clinician, "B100")
    with pytest.raises(DuplicateError, match=existing):
        repo.update_patient(session=session, actor=clinician, patient_id=other.id,
                            data=PatientUpdate(code=new))
    assert len(repo.list_patients(session=session, actor=clinician)) == 2
    assert not session.exec(select(AuditEvent).where(AuditEvent.detail == f"code={new}")).all()
