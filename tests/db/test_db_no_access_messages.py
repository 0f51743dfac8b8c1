"""Issue 24: a message about a row the account may not see must not tell that it exists. Undoing
another team's correction said "... of patient 22"; now every refused change of a patient's
rows says the same sentence as a row that does not exist, with no id and no code."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from db import repository as repo
from db.errors import NotFound, PermissionDenied
from db.models import Account, Analysis
from tests.db.db_factories import make_patient, stored_photo_with_analysis


def _refusal(call) -> str:  # noqa: ANN001
    with pytest.raises((PermissionDenied, NotFound)) as error:
        call()
    return str(error.value)


def test_refusals_name_no_patient_and_match_a_missing_row(
        session: Session, clinician: Account, other_clinician: Account, store) -> None:  # noqa: ANN001
    patient = make_patient(session, clinician, "NORTH-22")
    row, analysis = stored_photo_with_analysis(session, store, clinician, patient, date(2024, 1, 10), 3)
    correction = Analysis(**{**analysis.model_dump(exclude={"id"}), "corrects_id": analysis.id,
                             "corrected_by_id": clinician.id, "correction": {"description": "x"}})
    session.add(correction)
    session.commit()
    missing = 10_000

    checks = [
        (lambda: repo.withdraw_correction(session=session, actor=other_clinician,
                                          analysis_id=correction.id),
         lambda: repo.withdraw_correction(session=session, actor=other_clinician, analysis_id=missing)),
        (lambda: repo.create_visit(session=session, actor=other_clinician, patient_id=patient.id,
                                   visit_date=date(2024, 2, 1)),
         lambda: repo.create_visit(session=session, actor=other_clinician, patient_id=missing,
                                   visit_date=date(2024, 2, 1))),
        (lambda: repo.delete_photo(session=session, actor=other_clinician, photo_store=store,
                                   photo_id=row.id),
         lambda: repo.delete_photo(session=session, actor=other_clinician, photo_store=store,
                                   photo_id=missing)),
    ]
    for refused, absent in checks:
        message = _refusal(refused)
        assert message == _refusal(absent)
        assert str(patient.id) not in message.replace("2024", "") and "NORTH" not in message
        assert message.startswith("No such patient or no access")
