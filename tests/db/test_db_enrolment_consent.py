"""Issue 24: a study enrolment needs the patient's consent date and "Allows research use"; a
researcher sees an enrolled patient only while both hold (an enrolment made before the rule,
or consent withdrawn later, shows the researcher nothing)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from db import repository as repo
from db.models import Account, Enrolment, PatientUpdate
from tests.db.db_factories import make_patient


def _study(session: Session, clinician: Account, researcher: Account) -> tuple[int, int]:
    study = repo.create_study(session=session, actor=clinician, name="Trial", arms=["drug"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    repo.add_study_member(session=session, actor=clinician, study_id=study.id, account_id=researcher.id)
    return study.id, arm.id


@pytest.mark.parametrize("fields,missing", [
    ({"research_consent": False, "consent_date": date(2024, 1, 2)}, '"Allows research use"'),
    ({"research_consent": True, "consent_date": None}, "a consent date"),
    ({"research_consent": False, "consent_date": None}, "a consent date and"),
])
def test_enrolment_needs_consent_and_research_use(session: Session, clinician: Account,
                                                  researcher: Account, fields: dict, missing: str) -> None:
    study_id, arm_id = _study(session, clinician, researcher)
    patient = make_patient(session, clinician, "A001", **fields)
    with pytest.raises(ValueError, match="cannot be enrolled") as error:
        repo.enrol_patient(session=session, actor=clinician, study_id=study_id, arm_id=arm_id,
                           patient_id=patient.id)
    assert missing in str(error.value) and "A001" in str(error.value)
    assert session.exec(select(Enrolment)).all() == []
    assert repo.list_patients(session=session, actor=researcher) == []


def test_a_patient_who_withdraws_research_use_disappears_for_researchers(
        session: Session, clinician: Account, researcher: Account, store) -> None:  # noqa: ANN001
    study_id, arm_id = _study(session, clinician, researcher)
    patient = make_patient(session, clinician, "A001")
    repo.enrol_patient(session=session, actor=clinician, study_id=study_id, arm_id=arm_id,
                       patient_id=patient.id)
    visit = repo.create_visit(session=session, actor=clinician, patient_id=patient.id,
                              visit_date=date(2024, 1, 10))
    assert [p.id for p in repo.list_patients(session=session, actor=researcher)] == [patient.id]

    for change in (PatientUpdate(research_consent=False), PatientUpdate(consent_date=None)):
        repo.update_patient(session=session, actor=clinician, patient_id=patient.id, data=change)
        assert repo.list_patients(session=session, actor=researcher) == []
        assert repo.get_patient(session=session, actor=researcher, patient_id=patient.id) is None
        assert repo.list_visits(session=session, actor=researcher, patient_id=patient.id) == []
        assert repo.get_visit(session=session, actor=researcher, visit_id=visit.id) is None
        assert repo.study_measurements(session=session, actor=researcher, study_id=study_id) == []
        repo.update_patient(session=session, actor=clinician, patient_id=patient.id,
                            data=PatientUpdate(research_consent=True, consent_date=date(2024, 1, 2)))
        assert repo.get_patient(session=session, actor=researcher, patient_id=patient.id) is not None
