"""Deleting a patient removes every row and every file that belonged only to them."""
from __future__ import annotations

from datetime import date

from tests.db.db_factories import LesionSpec, make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session, func, select

from db import repository as repo
from db.models import (
    Account,
    Analysis,
    AuditEvent,
    Enrolment,
    LesionRecord,
    Patient,
    Photo,
    Review,
    TreatmentEvent,
    Visit,
)
from db.photos import PhotoStore

PATIENT_TABLES = (Patient, Visit, Photo, Analysis, LesionRecord, Review, TreatmentEvent, Enrolment)


def _counts(session: Session) -> dict[str, int]:
    return {
        m.__name__: session.exec(select(func.count()).select_from(m)).one() for m in PATIENT_TABLES
    }


def _fill(session: Session, store: PhotoStore, actor: Account, code: str, seed: int,
          study_id: int, arm_id: int) -> Patient:
    patient = make_patient(session, actor, code, name="Full Name")
    for offset, day in enumerate((date(2024, 1, 5), date(2024, 3, 5))):
        visit = make_visit(session, actor, patient, day)
        decoded = make_photo(seed * 10 + offset)
        x = seed + offset  # distinct lesions, so distinct mask files, per visit
        photo = repo.store_photo(
            session=session, actor=actor, photo_store=store, visit_id=visit.id, photo=decoded,
            analysis=make_analysis(decoded, [LesionSpec("papule", (x, 1, x + 3, 4))]),
        )
        second = repo.add_analysis(
            session=session, actor=actor, photo_store=store, photo_id=photo.id,
            analysis=make_analysis(decoded, [LesionSpec("pustule", (x, 5, x + 2, 9))],
                                   model_version="v2"),
        )
        repo.add_review(session=session, actor=actor, analysis_id=second.id, iga=2)
    repo.add_treatment_event(
        session=session, actor=actor, patient_id=patient.id, event_date=date(2024, 1, 5),
        description="oral doxycycline",
    )
    repo.enrol_patient(session=session, actor=actor, study_id=study_id, arm_id=arm_id,
                       patient_id=patient.id)
    return patient


def test_delete_patient_removes_every_row_and_file(
    session: Session, store: PhotoStore, clinician: Account
) -> None:
    study = repo.create_study(session=session, actor=clinician, name="S", arms=["a"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    empty_counts = _counts(session)
    gone = _fill(session, store, clinician, "GONE", 1, study.id, arm.id)
    files_of_gone = set(store.iter_files())
    after_first = _counts(session)
    assert len(files_of_gone) == 2 * 5  # per visit: photo + 2 masks per analysis x 2 analyses

    kept = _fill(session, store, clinician, "KEPT", 20, study.id, arm.id)
    files_before = set(store.iter_files())

    repo.delete_patient(session=session, actor=clinician, photo_store=store, patient_id=gone.id)

    # Both patients have rows of the same shape: what is left is exactly one patient's rows.
    assert _counts(session) == after_first
    assert all(after_first[name] > empty_counts[name] for name in after_first)
    assert repo.get_patient(session=session, actor=clinician, patient_id=gone.id) is None
    assert repo.get_patient(session=session, actor=clinician, patient_id=kept.id) is not None
    assert len(repo.patient_timeline(session=session, actor=clinician, patient_id=kept.id)) == 2
    remaining = set(store.iter_files())
    assert remaining == files_before - files_of_gone
    assert len(remaining) == 10

    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "delete", AuditEvent.target_type == "patient")
    ).one()
    assert event.target_id == gone.id and "Full Name" not in event.detail


def test_files_shared_with_another_patient_are_kept(
    session: Session, store: PhotoStore, clinician: Account
) -> None:
    first, second = make_patient(session, clinician, "A"), make_patient(session, clinician, "B")
    decoded = make_photo(5)
    for patient in (first, second):  # the same image stored for two patients
        visit = make_visit(session, clinician, patient, date(2024, 2, 2))
        repo.store_photo(
            session=session, actor=clinician, photo_store=store, visit_id=visit.id,
            photo=decoded, analysis=make_analysis(decoded),
        )
    files = set(store.iter_files())
    repo.delete_patient(session=session, actor=clinician, photo_store=store, patient_id=first.id)
    assert set(store.iter_files()) == files
    repo.delete_patient(session=session, actor=clinician, photo_store=store, patient_id=second.id)
    assert list(store.iter_files()) == []
