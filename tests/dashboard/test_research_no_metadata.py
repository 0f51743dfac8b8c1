"""Issue 24, "EXIF reaches the researcher": the researcher's Visit page showed the capture date
and the camera ("device: JaneDoeCam Serial-JD-12345"). A researcher now reads the visit's rank
and study day only; the rows they get carry no capture date, camera, lighting or file name."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from tests.dashboard.fixtures_d2 import face_photo, lesion_row, make_analysis, open_as

DEVICE = "JaneDoeCam Serial-JD-12345"


@pytest.fixture
def trial(dash):  # noqa: ANN001, ANN201
    from db.repository import add_study_member, create_study, enrol_patient, list_arms

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc")
    researcher = dash.make_account("res", role="researcher")
    patient = dash.make_patient(doctor, "ACN-001")
    visits = []
    for index, day in enumerate((date(2024, 1, 10), date(2024, 2, 7))):
        photo = dataclasses.replace(face_photo(brightness=index), device=DEVICE,
                                    captured_at=datetime(2024, 1, 9 + index, 14, 5),
                                    filename=f"jane_doe_{index}.jpg")
        visits.append(dash.make_visit(doctor, patient, day, photo=photo,
                                      analysis=make_analysis(photo, [lesion_row("papule", 60, 60)])))
    doc = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=doc, name="Trial", arms=["drug"])
        arm = list_arms(session=session, actor=doc, study_id=study.id)[0]
        enrol_patient(session=session, actor=doc, study_id=study.id, arm_id=arm.id, patient_id=patient)
        add_study_member(session=session, actor=doc, study_id=study.id, account_id=researcher)
    return dict(doctor=doctor, researcher=researcher, patient=patient, visits=visits)


def test_a_researcher_sees_the_visit_rank_and_study_day_only(dash, trial) -> None:  # noqa: ANN001
    at = open_as(dash, trial["researcher"], "visit", patient_id=trial["patient"])
    assert not at.exception
    text = dash.page_text(at)
    assert "visit 2 of 2" in text and "study day 28" in text
    for leaked in ("JaneDoe", "Serial-JD", "jane_doe", "2024", "Feb", "Jan"):
        assert leaked not in text, leaked
    options = [str(o) for o in dash.widget(at.selectbox, "Visit").options]
    assert options == ["visit 1 of 2, study day 0", "visit 2 of 2, study day 28"]


def test_the_rows_a_researcher_gets_carry_no_capture_details(dash, trial) -> None:  # noqa: ANN001
    from db.repository import get_photo, list_photos

    researcher = dash.get_account(trial["researcher"])
    with dash.env.session() as session:
        (row,) = list_photos(session=session, actor=researcher, visit_id=trial["visits"][0])
        again = get_photo(session=session, actor=researcher, photo_id=row.id)
    for photo in (row, again):
        assert (photo.device, photo.captured_at, photo.lighting) == (None, None, None)
        assert "jane" not in photo.filename


def test_a_clinician_still_sees_the_camera_and_date(dash, trial) -> None:  # noqa: ANN001
    at = open_as(dash, trial["doctor"], "visit", patient_id=trial["patient"])
    assert not at.exception
    assert DEVICE in dash.page_text(at)
