"""Issue 26, "Words": the audit trail shows patient codes and names, study and arm names and
grades in words, never "study=1 arm=2 patient=2" or "grade override=2"."""
from __future__ import annotations

from datetime import date

from tests.dashboard.fixtures_d2 import face_photo, lesion_row, make_analysis, open_as


def test_the_audit_trail_names_patients_studies_and_grades(dash) -> None:  # noqa: ANN001
    from db.repository import (
        add_review,
        create_study,
        enrol_patient,
        latest_analysis,
        list_arms,
        list_photos,
    )

    admin = dash.make_account("root", role="admin")
    doctor = dash.make_account("doc")
    patient = dash.make_patient(doctor, "A002", name="Jane Roe")
    photo = face_photo()
    visit = dash.make_visit(doctor, patient, date(2024, 1, 10), photo=photo,
                            analysis=make_analysis(photo, [lesion_row("papule", 60, 60)]))
    doc = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=doc, name="Doxy trial", arms=["doxycycline"])
        arm = list_arms(session=session, actor=doc, study_id=study.id)[0]
        enrol_patient(session=session, actor=doc, study_id=study.id, arm_id=arm.id, patient_id=patient)
        row = list_photos(session=session, actor=doc, visit_id=visit)[0]
        analysis = latest_analysis(session=session, actor=doc, photo_id=row.id)
        add_review(session=session, actor=doc, analysis_id=analysis.id, iga=2, grade_override=2)

    at = open_as(dash, admin, "audit")
    assert not at.exception
    table = at.dataframe[0].value
    details = list(table["detail"])
    assert "study “Doxy trial”, arm doxycycline, patient A002 (Jane Roe)" in details
    assert any("IGA 2" in d and "grade set to severe" in d and "A002" in d for d in details)
    assert not any("=" in d for d in details), details
    targets = list(table["target"])
    assert "patient A002 (Jane Roe)" in targets
    assert "target id" not in table.columns
