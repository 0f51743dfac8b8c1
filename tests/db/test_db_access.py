"""Access rules through every patient-scoped function: other clinicians see nothing and change
nothing, a team shares, researchers read only their studies' enrolled patients."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from tests.db.db_factories import make_account, make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session, func, select

from db import repository as repo
from db.errors import PermissionDenied
from db.models import (
    Account,
    Analysis,
    AuditEvent,
    Patient,
    PatientUpdate,
    Photo,
    Review,
    TreatmentEvent,
    Visit,
)
from db.photos import PhotoStore


@dataclass
class World:
    owner: Account
    patient: Patient
    visit: Visit
    photo: Photo
    analysis: Analysis
    study_id: int
    arm_id: int


@pytest.fixture
def world(session: Session, store: PhotoStore, clinician: Account, admin: Account) -> World:
    patient = make_patient(session, clinician, "PA-1")
    visit = make_visit(session, clinician, patient, date(2024, 1, 10))
    decoded = make_photo(1)
    photo = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded, analysis=make_analysis(decoded),
    )
    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=2)
    repo.add_treatment_event(
        session=session, actor=clinician, patient_id=patient.id,
        event_date=date(2024, 1, 10), description="adapalene 0.1% gel",
    )
    study = repo.create_study(session=session, actor=clinician, name="Trial", arms=["active"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    return World(clinician, patient, visit, photo, analysis, study.id, arm.id)


def _reads(session: Session, actor: Account, w: World) -> dict[str, object]:
    """Every read of the world's patient data, as the actor sees it."""
    return {
        "get_patient": repo.get_patient(session=session, actor=actor, patient_id=w.patient.id),
        "list_patients": repo.list_patients(session=session, actor=actor),
        "list_visits": repo.list_visits(session=session, actor=actor, patient_id=w.patient.id),
        "get_visit": repo.get_visit(session=session, actor=actor, visit_id=w.visit.id),
        "list_photos": repo.list_photos(session=session, actor=actor, visit_id=w.visit.id),
        "get_photo": repo.get_photo(session=session, actor=actor, photo_id=w.photo.id),
        "find_duplicate_photo": repo.find_duplicate_photo(
            session=session, actor=actor, patient_id=w.patient.id,
            upload_sha256=w.photo.upload_sha256,
        ),
        "latest_analysis": repo.latest_analysis(session=session, actor=actor, photo_id=w.photo.id),
        "list_analyses": repo.list_analyses(session=session, actor=actor, photo_id=w.photo.id),
        "get_analysis": repo.get_analysis(session=session, actor=actor, analysis_id=w.analysis.id),
        "list_lesions": repo.list_lesions(session=session, actor=actor, analysis_id=w.analysis.id),
        "list_reviews": repo.list_reviews(session=session, actor=actor, analysis_id=w.analysis.id),
        "list_treatment_events": repo.list_treatment_events(
            session=session, actor=actor, patient_id=w.patient.id
        ),
        "patient_timeline": repo.patient_timeline(
            session=session, actor=actor, patient_id=w.patient.id
        ),
    }


def _writes(session: Session, store: PhotoStore, actor: Account, w: World) -> dict[str, object]:
    """Every write on the world's patient, each a thunk."""
    decoded = make_photo(7)
    return {
        "update_patient": lambda: repo.update_patient(
            session=session, actor=actor, patient_id=w.patient.id, data=PatientUpdate(notes="x")
        ),
        "create_visit": lambda: repo.create_visit(
            session=session, actor=actor, patient_id=w.patient.id, visit_date=date(2024, 2, 1)
        ),
        "store_photo": lambda: repo.store_photo(
            session=session, actor=actor, photo_store=store, visit_id=w.visit.id,
            photo=decoded, analysis=make_analysis(decoded),
        ),
        "add_analysis": lambda: repo.add_analysis(
            session=session, actor=actor, photo_store=store, photo_id=w.photo.id,
            analysis=make_analysis(make_photo(1), model_version="v2"),
        ),
        "add_review": lambda: repo.add_review(
            session=session, actor=actor, analysis_id=w.analysis.id, iga=1
        ),
        "add_treatment_event": lambda: repo.add_treatment_event(
            session=session, actor=actor, patient_id=w.patient.id,
            event_date=date(2024, 2, 1), description="stop",
        ),
        "enrol_patient": lambda: repo.enrol_patient(
            session=session, actor=actor, study_id=w.study_id, arm_id=w.arm_id,
            patient_id=w.patient.id,
        ),
        "delete_photo": lambda: repo.delete_photo(
            session=session, actor=actor, photo_store=store, photo_id=w.photo.id
        ),
        "delete_patient": lambda: repo.delete_patient(
            session=session, actor=actor, photo_store=store, patient_id=w.patient.id
        ),
    }


def _row_counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: session.exec(select(func.count()).select_from(model)).one()
        for model in (Patient, Visit, Photo, Analysis, Review, TreatmentEvent)
    }


def _assert_sees_nothing(reads: dict[str, object]) -> None:
    for name, value in reads.items():
        assert value in (None, []), f"{name} leaked {value!r}"


def _assert_sees_everything(reads: dict[str, object]) -> None:
    for name, value in reads.items():
        assert value not in (None, []), f"{name} hid the patient"


def test_another_clinician_can_neither_read_nor_write(
    session: Session, store: PhotoStore, world: World, other_clinician: Account
) -> None:
    _assert_sees_nothing(_reads(session, other_clinician, world))
    assert repo.list_review_queue(session=session, actor=other_clinician) == []
    before, files_before = _row_counts(session), sorted(store.iter_files())
    for name, write in _writes(session, store, other_clinician, world).items():
        with pytest.raises(PermissionDenied):
            write()
            pytest.fail(f"{name} let another clinician write")
    assert _row_counts(session) == before
    assert sorted(store.iter_files()) == files_before


def test_the_owner_and_the_owners_team_see_everything(
    session: Session, world: World, admin: Account
) -> None:
    teammate = make_account(session, "dr_north", team="north")
    _assert_sees_everything(_reads(session, world.owner, world))
    _assert_sees_everything(_reads(session, teammate, world))
    _assert_sees_everything(_reads(session, admin, world))


def test_a_teammate_may_write(session: Session, store: PhotoStore, world: World) -> None:
    teammate = make_account(session, "dr_north", team="north")
    writes = _writes(session, store, teammate, world)
    for name in ("update_patient", "create_visit", "store_photo", "add_analysis", "add_review",
                 "add_treatment_event", "delete_patient"):
        writes[name]()
    assert repo.get_patient(session=session, actor=teammate, patient_id=world.patient.id) is None


def test_without_a_team_a_clinician_sees_only_own_patients(session: Session, admin: Account) -> None:
    first, second = make_account(session, "dr_x"), make_account(session, "dr_y")
    patient = make_patient(session, first, "X-1")
    assert patient.team is None
    assert repo.get_patient(session=session, actor=second, patient_id=patient.id) is None
    assert [p.code for p in repo.list_patients(session=session, actor=first)] == ["X-1"]


def test_researcher_reads_only_enrolled_patients_of_their_studies(
    session: Session, store: PhotoStore, world: World, researcher: Account, admin: Account
) -> None:
    _assert_sees_nothing(_reads(session, researcher, world))
    assert repo.list_studies(session=session, actor=researcher) == []

    # Member of the study, patient not enrolled yet: still nothing.
    repo.add_study_member(
        session=session, actor=world.owner, study_id=world.study_id, account_id=researcher.id
    )
    _assert_sees_nothing(_reads(session, researcher, world))
    assert [s.id for s in repo.list_studies(session=session, actor=researcher)] == [world.study_id]

    repo.enrol_patient(
        session=session, actor=world.owner, study_id=world.study_id, arm_id=world.arm_id,
        patient_id=world.patient.id,
    )
    _assert_sees_everything(_reads(session, researcher, world))
    other = make_patient(session, world.owner, "PA-2")  # not enrolled
    assert repo.get_patient(session=session, actor=researcher, patient_id=other.id) is None

    before = _row_counts(session)
    for name, write in _writes(session, store, researcher, world).items():
        if name == "enrol_patient":
            continue  # already enrolled; covered below for another patient
        with pytest.raises(PermissionDenied):
            write()
            pytest.fail(f"{name} let a researcher write")
    with pytest.raises(PermissionDenied):
        repo.enrol_patient(
            session=session, actor=researcher, study_id=world.study_id, arm_id=world.arm_id,
            patient_id=other.id,
        )
    with pytest.raises(PermissionDenied):
        repo.create_study(session=session, actor=researcher, name="Mine", arms=["a"])
    assert _row_counts(session) == before


def test_refused_writes_are_not_audited_as_changes(
    session: Session, store: PhotoStore, world: World, other_clinician: Account
) -> None:
    before = session.exec(select(func.count()).select_from(AuditEvent)).one()
    with pytest.raises(PermissionDenied):
        _writes(session, store, other_clinician, world)["update_patient"]()
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == before
