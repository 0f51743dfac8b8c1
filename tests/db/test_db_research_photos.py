"""Identifiable photos for a study's researchers (revision 0007): off by default, switched by an
administrator only and with a reason kept in the audit trail, and which photos a researcher
sees masked (db.repository.must_mask_photo)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine, inspect
from sqlmodel import Session, col, select

from db import repository as repo
from db.errors import PermissionDenied
from db.migrate import downgrade_database, upgrade_database
from db.models import Account, AuditEvent, Patient, Photo
from db.photos import PhotoStore
from db.repository.studies import PHOTO_DECISION
from tests.db.db_factories import (
    make_account,
    make_analysis,
    make_patient,
    make_photo,
    make_visit,
)

COLUMN = "identifiable_photos_for_researchers"


def _photo(session: Session, store: PhotoStore, actor: Account, patient: Patient, seed: int) -> Photo:
    visit = make_visit(session, actor, patient, date(2024, 4, 1))
    decoded = make_photo(seed)
    return repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit.id,
                            photo=decoded, analysis=make_analysis(decoded, with_masks=False))


@pytest.fixture
def trial(session: Session, store: PhotoStore, admin: Account, clinician: Account,
          researcher: Account) -> dict:
    """A study enrolling one patient with one photo, the researcher a member of it."""
    patient = make_patient(session, clinician, "P-1")
    photo = _photo(session, store, clinician, patient, 1)
    study = repo.create_study(session=session, actor=clinician, name="Trial", arms=["drug"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    repo.enrol_patient(session=session, actor=clinician, study_id=study.id, arm_id=arm.id,
                       patient_id=patient.id)
    repo.add_study_member(session=session, actor=clinician, study_id=study.id,
                          account_id=researcher.id)
    return {"study_id": study.id, "photo_id": photo.id, "patient": patient}


def _decisions(session: Session) -> list[AuditEvent]:
    return list(session.exec(
        select(AuditEvent).where(col(AuditEvent.detail).startswith(PHOTO_DECISION))
        .order_by(col(AuditEvent.id))
    ).all())


def test_off_by_default_and_researchers_see_photos_masked(
    session: Session, trial: dict, admin: Account, clinician: Account, researcher: Account
) -> None:
    study = repo.get_study(session=session, actor=researcher, study_id=trial["study_id"])
    assert study.identifiable_photos_for_researchers is False
    photo_id = trial["photo_id"]
    assert repo.must_mask_photo(session=session, actor=researcher, photo_id=photo_id)
    assert not repo.must_mask_photo(session=session, actor=clinician, photo_id=photo_id)
    assert not repo.must_mask_photo(session=session, actor=admin, photo_id=photo_id)


def test_an_admin_allows_and_stops_identifiable_photos_with_a_reason_in_the_audit_trail(
    session: Session, trial: dict, admin: Account, researcher: Account
) -> None:
    study_id, photo_id = trial["study_id"], trial["photo_id"]
    repo.set_identifiable_photos(session=session, actor=admin, study_id=study_id, allowed=True,
                                 reason="  Ethics committee\n approval EC-2024-17 ")
    assert repo.get_study(session=session, actor=admin, study_id=study_id) \
        .identifiable_photos_for_researchers is True
    assert not repo.must_mask_photo(session=session, actor=researcher, photo_id=photo_id)

    repo.set_identifiable_photos(session=session, actor=admin, study_id=study_id, allowed=False,
                                 reason="photo review finished")
    assert repo.must_mask_photo(session=session, actor=researcher, photo_id=photo_id)
    rows = _decisions(session)
    assert [(r.account_id, r.action, r.target_type, r.target_id) for r in rows] == [
        (admin.id, "update", "study", study_id)] * 2
    assert rows[0].detail.endswith("allowed; reason: Ethics committee approval EC-2024-17")
    assert rows[1].detail.endswith("masked; reason: photo review finished")
    assert rows[0].at is not None and rows[0].at <= rows[1].at
    decisions = repo.list_photo_decisions(session=session, actor=admin, study_id=study_id)
    assert [d.id for d in decisions] == [rows[1].id, rows[0].id]  # newest first

    # The value it already has: nothing changes, nothing is recorded.
    repo.set_identifiable_photos(session=session, actor=admin, study_id=study_id, allowed=False,
                                 reason="again")
    assert len(_decisions(session)) == 2


@pytest.mark.parametrize("who", ["clinician", "researcher"])
def test_only_an_admin_may_switch(session: Session, trial: dict, who: str,
                                  request: pytest.FixtureRequest) -> None:
    actor = request.getfixturevalue(who)  # the clinician created the study, and still may not
    with pytest.raises(PermissionDenied, match="administrators only"):
        repo.set_identifiable_photos(session=session, actor=actor, study_id=trial["study_id"],
                                     allowed=True, reason="we need the faces")
    with pytest.raises(PermissionDenied):
        repo.list_photo_decisions(session=session, actor=actor, study_id=trial["study_id"])
    session.expire_all()
    assert repo.get_study(session=session, actor=actor, study_id=trial["study_id"]) \
        .identifiable_photos_for_researchers is False
    assert _decisions(session) == []


@pytest.mark.parametrize("reason", ["", "   \n ", "x" * 501])
def test_a_reason_is_required(session: Session, trial: dict, admin: Account, reason: str) -> None:
    with pytest.raises(ValueError, match="reason"):
        repo.set_identifiable_photos(session=session, actor=admin, study_id=trial["study_id"],
                                     allowed=True, reason=reason)
    session.expire_all()
    assert repo.get_study(session=session, actor=admin, study_id=trial["study_id"]) \
        .identifiable_photos_for_researchers is False
    assert _decisions(session) == []


def test_only_a_study_of_the_researchers_that_enrols_the_patient_unmasks(
    session: Session, store: PhotoStore, trial: dict, admin: Account, clinician: Account,
    researcher: Account
) -> None:
    # A second study of the same researcher, not enrolling P-1, allows identifiable photos.
    other_patient = make_patient(session, clinician, "P-2")
    other_photo = _photo(session, store, clinician, other_patient, 2)
    other = repo.create_study(session=session, actor=clinician, name="Other", arms=["a"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=other.id)[0]
    repo.enrol_patient(session=session, actor=clinician, study_id=other.id, arm_id=arm.id,
                       patient_id=other_patient.id)
    repo.add_study_member(session=session, actor=clinician, study_id=other.id,
                          account_id=researcher.id)
    repo.set_identifiable_photos(session=session, actor=admin, study_id=other.id, allowed=True,
                                 reason="approved for Other only")
    assert repo.must_mask_photo(session=session, actor=researcher, photo_id=trial["photo_id"])
    assert not repo.must_mask_photo(session=session, actor=researcher, photo_id=other_photo.id)
    # A researcher who is not a member of the allowing study sees it masked.
    stranger = make_account(session, "res2", role="researcher")
    assert repo.must_mask_photo(session=session, actor=stranger, photo_id=other_photo.id)
    # A deactivated researcher: masked whatever the study says.
    repo.update_account(session=session, actor=admin, account_id=researcher.id, is_active=False)
    assert repo.must_mask_photo(session=session, actor=researcher, photo_id=other_photo.id)


def test_revision_0007_adds_and_removes_the_column(empty_db_url: str) -> None:
    def columns() -> set[str]:
        engine = create_engine(empty_db_url)
        try:
            return {c["name"] for c in inspect(engine).get_columns("study")}
        finally:
            engine.dispose()

    upgrade_database(empty_db_url, "0006")
    assert COLUMN not in columns()
    upgrade_database(empty_db_url)
    assert COLUMN in columns()
    downgrade_database(empty_db_url, "0006")
    assert COLUMN not in columns()
