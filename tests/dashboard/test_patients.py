"""Patients page: create, search, pick, edit, delete, and who may see whom."""
from __future__ import annotations

from datetime import date

import pytest

NO_ACCESS = "No such patient or no access."


def patient_row(dash, patient_id: int):  # noqa: ANN001, ANN201
    from db.models import Patient

    with dash.env.session() as session:
        return session.get(Patient, patient_id)


def test_clinician_creates_a_patient_who_becomes_current(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician", team="north")
    at = dash.open_page(doctor, "patients")
    assert not at.exception
    # The consent date is asked for only once consent is recorded.
    assert not [d for d in at.date_input if d.key == "new_0_consent_date"]
    at.checkbox(key="new_0_consent").check().run()
    code_box = dash.widget(at.text_input, "Pseudonymous code")
    assert code_box.value.startswith("P-")  # a suggestion, never a name
    code_box.input("ACN-001")
    at.selectbox(key="new_0_skin").set_value("III")
    at.date_input(key="new_0_consent_date").set_value(date(2024, 3, 1))
    dash.widget(at.button, "Create patient").click().run()

    assert not at.exception
    assert "Patient ACN-001 created." in dash.texts(at.success)
    patient = patient_row(dash, at.session_state["patient_id"])
    assert (patient.code, patient.skin_type, patient.consent_date) == ("ACN-001", "III", date(2024, 3, 1))
    assert (patient.owner_id, patient.team) == (doctor, "north")  # shared with the team
    assert "Patient ACN-001" in dash.texts(at.subheader)
    assert at.query_params["patient"] == str(patient.id)
    assert {m.label: m.value for m in at.metric}["Consent"] == "01 Mar 2024"
    assert not at.checkbox(key="new_1_consent").value  # the next new patient starts without


def test_invalid_code_is_refused_with_the_reason(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    at = dash.open_page(doctor, "patients")
    dash.widget(at.text_input, "Pseudonymous code").input("has spaces")
    dash.widget(at.button, "Create patient").click().run()
    assert "has spaces" in at.error[0].value
    assert "patient_id" not in at.session_state


def test_search_and_pick_the_current_patient(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    first = dash.make_patient(doctor, "ACN-001", name="Ann Example")
    second = dash.make_patient(doctor, "ACN-002")
    at = dash.open_page(doctor, "patients")
    assert sorted(at.dataframe[0].value["code"]) == ["ACN-001", "ACN-002"]

    dash.widget(at.text_input, "Search by code or name").input("ann").run()
    assert list(at.dataframe[0].value["code"]) == ["ACN-001"]

    dash.widget(at.text_input, "Search by code or name").input("").run()
    dash.widget(at.selectbox, "Current patient").set_value(second).run()
    assert at.session_state["patient_id"] == second
    assert "Patient ACN-002" in dash.texts(at.subheader)
    assert first != second


def test_edit_a_patient(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-001")
    at = dash.open_page(doctor, "patients", patient_id=patient)
    at.selectbox(key=f"edit_{patient}_skin").set_value("V")
    at.text_area(key=f"edit_{patient}_notes").input("prefers morning visits")
    dash.widget(at.button, "Save changes").click().run()
    assert not at.exception
    row = patient_row(dash, patient)
    assert (row.skin_type, row.notes) == ("V", "prefers morning visits")


def test_delete_needs_the_typed_code_and_removes_rows_and_files(dash):
    from core.imaging import decode_photo

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-001")
    photo = decode_photo(dash.face_photo_bytes(), filename="face.png")
    dash.make_visit(doctor, patient, date(2024, 5, 1), photo=photo)
    photo_dir = dash.env.data_dir / "photos"
    assert [p for p in photo_dir.rglob("*") if p.is_file()]

    at = dash.open_page(doctor, "patients", patient_id=patient)
    delete = dash.widget(at.button, "Delete patient and all photos")
    assert delete.disabled
    at.text_input(key=f"delete_confirm_{patient}").input("ACN-00").run()
    assert dash.widget(at.button, "Delete patient and all photos").disabled
    at.text_input(key=f"delete_confirm_{patient}").input("ACN-001").run()
    dash.widget(at.button, "Delete patient and all photos").click().run()

    assert not at.exception
    assert "Patient ACN-001 and all their photos were deleted." in dash.texts(at.success)
    assert patient_row(dash, patient) is None
    assert "patient_id" not in at.session_state
    assert not [p for p in photo_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
                and p.name != "store-identity"], "only the folder's binding to its database is left"


@pytest.mark.parametrize("via", ["session_state", "query_params", "picker"])
def test_a_clinician_cannot_reach_another_clinicians_patient(dash, via):
    dash.make_account("root", role="admin")
    owner = dash.make_account("owner", role="clinician")
    other = dash.make_account("other", role="clinician")
    hidden = dash.make_patient(owner, "SECRET-1", name="Hidden Name")
    at = dash.app(other).run()
    if via == "session_state":
        at.session_state["patient_id"] = hidden
    elif via == "query_params":
        at.query_params["patient"] = str(hidden)
    at.switch_page("views/patients.py").run()
    if via == "picker":
        # The patient is not among the options at all.
        assert hidden not in dash.widget(at.selectbox, "Current patient").options
        assert "SECRET-1" not in str(at.dataframe[0].value if at.dataframe else "")
        return
    assert NO_ACCESS in dash.texts(at.error)
    assert "SECRET-1" not in dash.page_text(at)
    assert "Hidden Name" not in dash.page_text(at)


def test_team_members_share_patients_but_other_teams_do_not(dash):
    dash.make_account("root", role="admin")
    north_a = dash.make_account("north-a", role="clinician", team="north")
    north_b = dash.make_account("north-b", role="clinician", team="north")
    south = dash.make_account("south", role="clinician", team="south")
    shared = dash.make_patient(north_a, "ACN-N1", team="north")

    at = dash.open_page(north_b, "patients", patient_id=shared)
    assert "Patient ACN-N1" in dash.texts(at.subheader)
    at = dash.open_page(south, "patients", patient_id=shared)
    assert NO_ACCESS in dash.texts(at.error)


def test_researcher_sees_no_create_or_edit_forms(dash):
    dash.make_account("root", role="admin")
    researcher = dash.make_account("res", role="researcher")
    at = dash.open_page(researcher, "patients")
    assert not at.exception
    labels = [b.label for b in at.button]
    assert "Create patient" not in labels and "Save changes" not in labels
    assert "No patient yet." in dash.texts(at.info)


NEW_FORM_LABELS = ("Consent recorded", "Name (optional)", "Notes", "Allows research use", "Skin type")


def _new_form_widgets(at) -> dict[str, object]:  # noqa: ANN001
    """The new-patient form's widgets by label (the edit form's are left out)."""
    widgets = {}
    for kind in ("checkbox", "text_input", "text_area", "selectbox"):
        for widget in getattr(at, kind):
            if widget.label in NEW_FORM_LABELS and str(widget.key or "").startswith("new"):
                widgets[widget.label] = widget
    return widgets


def test_after_a_save_the_new_patient_form_is_a_new_empty_form(dash):
    """Issue 26: consent stayed ticked in the browser for the next patient (P-CONS05/06 saved
    with consent nobody ticked). A browser resends the state of a widget it still shows, so
    every widget of the form must be a new one after a save, and start empty."""
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    at = dash.open_page(doctor, "patients")
    first = _new_form_widgets(at)
    assert set(first) == set(NEW_FORM_LABELS)
    first["Consent recorded"].check().run()
    form = _new_form_widgets(at)
    form["Name (optional)"].input("Ada")
    form["Notes"].input("isotretinoin planned")
    form["Allows research use"].check()
    dash.widget(at.text_input, "Pseudonymous code").input("P-CONS04")
    dash.widget(at.button, "Create patient").click().run()
    assert not at.exception and not at.error

    after = _new_form_widgets(at)
    # A new widget each (a ticked box in the browser cannot carry over), and empty.
    assert {label: after[label].id for label in after}.items().isdisjoint(
        {label: first[label].id for label in first}.items())
    assert not after["Consent recorded"].value and not after["Allows research use"].value
    assert (after["Name (optional)"].value, after["Notes"].value) == ("", "")
    assert not [d for d in at.date_input if d.label == "Consent date" and str(d.key).startswith("new")]
    dash.widget(at.text_input, "Pseudonymous code").input("P-CONS05")
    dash.widget(at.button, "Create patient").click().run()
    from sqlmodel import select

    from db.models import Patient

    with dash.env.session() as session:
        saved = session.exec(select(Patient).where(Patient.code == "P-CONS05")).one()
    assert (saved.consent_date, saved.research_consent, saved.notes) == (None, False, "")


def test_the_researcher_reads_the_research_use_the_clinician_recorded(dash):
    from db.models import PatientUpdate
    from db.repository import add_study_member, create_study, enrol_patient, list_arms, update_patient

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-R1")
    researcher = dash.make_account("res", role="researcher")
    doc = dash.get_account(doctor)
    with dash.env.session() as session:
        update_patient(session=session, actor=doc, patient_id=patient,
                       data=PatientUpdate(research_consent=True))
        study = create_study(session=session, actor=doc, name="Trial R", arms=["active"])
        arm = list_arms(session=session, actor=doc, study_id=study.id)[0]
        enrol_patient(session=session, actor=doc, study_id=study.id, arm_id=arm.id, patient_id=patient)
        add_study_member(session=session, actor=doc, study_id=study.id, account_id=researcher)
    clinician = dash.open_page(doctor, "patients", patient_id=patient)
    assert {m.label: m.value for m in clinician.metric}["Research use"] == "allowed"
    at = dash.open_page(researcher, "patients", patient_id=patient)
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Research use"] == "allowed"
