"""Patients: create, search, update, and the team rules of ownership."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from tests.db.db_factories import make_account, make_patient
from pydantic import ValidationError
from sqlmodel import Session

from db import repository as repo
from db.errors import DuplicateError, NotFound, PermissionDenied
from db.models import Account, PatientCreate, PatientUpdate


def test_create_and_read_back(session: Session, clinician: Account) -> None:
    patient = make_patient(
        session, clinician, "AC-001", name="Jane Roe", consent_date=date(2024, 3, 1),
        skin_type="iii", notes="allergic to benzoyl peroxide",
    )
    got = repo.get_patient(session=session, actor=clinician, patient_id=patient.id)
    assert got is not None
    assert (got.code, got.name, got.consent_date, got.skin_type) == (
        "AC-001", "Jane Roe", date(2024, 3, 1), "III"
    )
    assert got.owner_id == clinician.id
    assert got.team == "north"  # defaults to the clinician's team
    assert got.created_at.tzinfo is not None


def test_search_matches_code_or_name_case_insensitively(session: Session, clinician: Account) -> None:
    make_patient(session, clinician, "AC-001", name="Jane Roe")
    make_patient(session, clinician, "AC-002", name="John Doe")
    make_patient(session, clinician, "ZZ_100")

    def codes(search: str | None) -> list[str]:
        return [p.code for p in repo.list_patients(session=session, actor=clinician, search=search)]

    assert codes(None) == ["AC-001", "AC-002", "ZZ_100"]
    assert codes("ac-00") == ["AC-001", "AC-002"]
    assert codes("doe") == ["AC-002"]
    assert codes("_") == ["ZZ_100"]  # LIKE wildcards are matched literally
    assert codes("%") == []
    assert codes("   ") == ["AC-001", "AC-002", "ZZ_100"]


def test_duplicate_codes_are_refused(session: Session, clinician: Account) -> None:
    make_patient(session, clinician, "AC-001")
    with pytest.raises(DuplicateError, match="AC-001"):
        make_patient(session, clinician, "AC-001")
    other = make_patient(session, clinician, "AC-002")
    with pytest.raises(DuplicateError, match="AC-001"):
        repo.update_patient(
            session=session, actor=clinician, patient_id=other.id, data=PatientUpdate(code="AC-001")
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": "has space"}, "patient code"),
        ({"code": ""}, "patient code"),
        ({"code": "P1", "skin_type": "VII"}, "Fitzpatrick"),
        ({"code": "P1", "consent_date": date.today() + timedelta(days=3)}, "future"),
    ],
)
def test_invalid_patient_data_is_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PatientCreate(**fields)


def test_update_changes_only_the_fields_given(session: Session, clinician: Account) -> None:
    patient = make_patient(session, clinician, "AC-001", name="Jane Roe", notes="first note")
    updated = repo.update_patient(
        session=session, actor=clinician, patient_id=patient.id,
        data=PatientUpdate(notes="second note", skin_type="II"),
    )
    assert (updated.name, updated.notes, updated.skin_type) == ("Jane Roe", "second note", "II")
    cleared = repo.update_patient(
        session=session, actor=clinician, patient_id=patient.id, data=PatientUpdate(name=None)
    )
    assert cleared.name is None and cleared.notes == "second note"
    with pytest.raises(NotFound):
        repo.update_patient(session=session, actor=clinician, patient_id=999, data=PatientUpdate())


def test_clinicians_assign_only_their_own_team(session: Session, clinician: Account) -> None:
    with pytest.raises(PermissionDenied, match="south"):
        make_patient(session, clinician, "AC-001", team="south")
    private = make_patient(session, clinician, "AC-002", team=None)
    assert private.team is None
    with pytest.raises(PermissionDenied):
        repo.update_patient(
            session=session, actor=clinician, patient_id=private.id, data=PatientUpdate(team="south")
        )


def test_only_admins_hand_a_patient_to_another_clinician(
    session: Session, admin: Account, clinician: Account, other_clinician: Account
) -> None:
    patient = make_patient(session, clinician, "AC-001")
    with pytest.raises(PermissionDenied):
        repo.update_patient(
            session=session, actor=clinician, patient_id=patient.id,
            data=PatientUpdate(owner_id=other_clinician.id),
        )
    moved = repo.update_patient(
        session=session, actor=admin, patient_id=patient.id,
        data=PatientUpdate(owner_id=other_clinician.id, team="south"),
    )
    assert moved.owner_id == other_clinician.id
    assert repo.get_patient(session=session, actor=other_clinician, patient_id=patient.id) is not None
    assert repo.get_patient(session=session, actor=clinician, patient_id=patient.id) is None


def test_researchers_cannot_create_patients(session: Session, researcher: Account) -> None:
    with pytest.raises(PermissionDenied):
        make_patient(session, researcher, "R-1")
    assert repo.list_patients(session=session, actor=researcher) == []


def test_admin_sees_every_patient(session: Session, admin: Account, clinician: Account) -> None:
    lone = make_account(session, "dr_lone")  # no team
    make_patient(session, clinician, "N-1")
    make_patient(session, lone, "L-1")
    assert [p.code for p in repo.list_patients(session=session, actor=admin)] == ["L-1", "N-1"]
