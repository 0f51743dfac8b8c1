"""Studies page: create, members, enrolment, per-arm results, CSV export, researcher access."""
from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest

from tests.dashboard.fixtures_d2 import (
    add_review,
    open_as,
    papules,
    seed_patient,
    spec_titled,
    trace,
)


def _study(dash, creator: int, name: str, arms: list[str]) -> tuple[int, dict[str, int]]:  # noqa: ANN001
    from db.repository import create_study, list_arms

    actor = dash.get_account(creator)
    with dash.env.session() as session:
        study = create_study(session=session, actor=actor, name=name, arms=arms)
        return study.id, {a.name: a.id for a in list_arms(session=session, actor=actor,
                                                          study_id=study.id)}


def _enrol(dash, creator: int, study_id: int, arm_id: int, patient_id: int) -> None:  # noqa: ANN001
    from db.repository import enrol_patient

    with dash.env.session() as session:
        enrol_patient(session=session, actor=dash.get_account(creator), study_id=study_id,
                      arm_id=arm_id, patient_id=patient_id)


def _member(dash, creator: int, study_id: int, account_id: int) -> None:  # noqa: ANN001
    from db.repository import add_study_member

    with dash.env.session() as session:
        add_study_member(session=session, actor=dash.get_account(creator), study_id=study_id,
                         account_id=account_id)


@pytest.fixture
def trial(dash):  # noqa: ANN001, ANN201
    """Two arms: drug (P1 20 -> 8, P2 10 -> 6 inflammatory at week 4), vehicle (P3 40 -> 30)."""
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    researcher = dash.make_account("res", role="researcher")
    study_id, arms = _study(dash, doctor, "Adapalene trial", ["drug", "vehicle"])
    p1 = seed_patient(dash, doctor, "P1", [(date(2024, 1, 1), papules(20)),
                                           (date(2024, 1, 29), papules(8))])
    p2 = seed_patient(dash, doctor, "P2", [(date(2024, 1, 3), papules(10)),
                                           (date(2024, 2, 1), papules(6))])
    p3 = seed_patient(dash, doctor, "P3", [(date(2024, 1, 3), papules(40)),
                                           (date(2024, 1, 31), papules(30))])
    for seeded, arm in ((p1, "drug"), (p2, "drug"), (p3, "vehicle")):
        _enrol(dash, doctor, study_id, arms[arm], seeded.patient_id)
    add_review(dash, doctor, p1.analysis_ids[0], iga=3)
    add_review(dash, doctor, p1.analysis_ids[1], iga=1)
    return {"doctor": doctor, "researcher": researcher, "study_id": study_id, "arms": arms,
            "p2_analyses": p2.analysis_ids}


def test_results_per_arm_and_week(dash, trial):
    at = open_as(dash, trial["doctor"], "studies")
    assert not at.exception
    change_inflammatory = spec_titled(at, "in inflammatory lesions")
    responders = spec_titled(at, "Responders")
    iga = spec_titled(at, "IGA success")
    drug = trace(change_inflammatory, "drug")
    assert drug["x"] == [0, 4]
    assert drug["y"] == pytest.approx([0.0, -50.0])  # mean of -60% and -40%
    assert drug["error_y"]["array"][1] == pytest.approx(127.06, abs=0.01)  # t(0.975, 1) * sd / sqrt 2
    assert trace(change_inflammatory, "vehicle")["y"] == pytest.approx([0.0, -25.0])
    assert trace(responders, "drug")["y"] == [0.0, 50.0]
    assert trace(responders, "vehicle")["y"] == [0.0, 0.0]
    assert trace(iga, "drug")["y"] == [0.0, 100.0]  # P1 3 -> 1; P2 has no IGA
    assert "Not a diagnosis" in dash.page_text(at)


def test_csv_download_holds_every_measurement_and_is_audited(dash, trial):
    from db.models import AuditEvent
    from sqlmodel import select

    at = open_as(dash, trial["doctor"], "studies", state={"study_tab": "Measurements"})
    (table,) = [frame.value for frame in at.dataframe]  # only the open tab is drawn
    assert len(table) == 6
    button = at.get("download_button")[0]
    assert button.label == "Download every measurement (CSV)"
    csv = pd.read_csv(io.StringIO(table.to_csv(index=False)))
    p1 = csv[csv["patient_code"] == "P1"].sort_values("visit_date")
    assert list(p1["inflammatory_percent_change"]) == [0.0, -60.0]
    assert list(p1["week"]) == [0, 4]
    assert list(p1["iga_success"]) == [False, True]
    assert "name" not in csv.columns  # pseudonymous codes only

    at.download_button[0].click().run()
    assert not at.exception
    with dash.env.session() as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(e.target_type, e.target_id) for e in exports] == [("study", trial["study_id"])]


def test_create_study_add_member_and_enrol(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    researcher = dash.make_account("res", role="researcher")
    seeded = seed_patient(dash, doctor, "ACN-001", [(date(2024, 1, 1), papules(4)),
                                                    (date(2024, 2, 1), papules(2))])
    at = open_as(dash, doctor, "studies", state={"study_tab": "Enrolment"})
    dash.widget(at.text_input, "Study name").input("Pilot")
    dash.widget(at.text_area, "Arms (one per line)").input("drug\nvehicle")
    dash.widget(at.button, "Create study").click().run()
    assert not at.exception
    assert "Study Pilot created." in dash.texts(at.success)

    from db.models import StudyArm
    from sqlmodel import select

    with dash.env.session() as session:
        vehicle = session.exec(select(StudyArm).where(StudyArm.name == "vehicle")).one().id
    # AppTest needs the option values themselves when a format_func names them.
    at.selectbox(key="enrol_arm").set_value(vehicle).run()
    at.selectbox(key=f"enrol_baseline_{seeded.patient_id}").set_value(seeded.visit_ids[1]).run()
    dash.widget(at.button, "Enrol patient").click().run()
    assert not at.exception
    assert "ACN-001 enrolled in arm vehicle." in dash.texts(at.success)

    at.session_state["study_tab"] = "Members"
    at.run()
    at.selectbox(key="member_pick").set_value(researcher).run()
    dash.widget(at.button, "Add member").click().run()
    assert not at.exception

    from db.models import Enrolment, StudyMember

    with dash.env.session() as session:
        (enrolment,) = session.exec(select(Enrolment)).all()
        (member,) = session.exec(select(StudyMember)).all()
    assert enrolment.patient_id == seeded.patient_id
    assert enrolment.baseline_visit_id == seeded.visit_ids[1]
    assert member.account_id == researcher


def test_researcher_sees_only_member_studies_read_only(dash, trial):
    doctor, researcher = trial["doctor"], trial["researcher"]
    at = open_as(dash, researcher, "studies")
    assert not at.exception
    assert "No study to show" in dash.page_text(at)
    assert "Adapalene trial" not in dash.page_text(at)
    assert not at.get("plotly_chart")

    _member(dash, doctor, trial["study_id"], researcher)
    other_id, _ = _study(dash, doctor, "Other trial", ["a"])  # not a member of this one
    at = open_as(dash, researcher, "studies")
    assert not at.exception
    assert at.selectbox(key="study_id").options == ["Adapalene trial"]
    assert trace(spec_titled(at, "in inflammatory lesions"), "drug")["y"] == pytest.approx(
        [0.0, -50.0])
    labels = {b.label for b in at.button}
    assert not labels & {"Create study", "Enrol patient", "Add member"}
    # A study id smuggled into session state is re-checked and refused.
    at = open_as(dash, researcher, "studies", state={"study_id": other_id})
    assert not at.exception
    assert at.selectbox(key="study_id").options == ["Adapalene trial"]
    assert "Other trial" not in dash.page_text(at)


def test_researcher_sees_subject_labels_and_no_patient_ids_in_the_measurements(dash, trial):
    from db.models import Enrolment
    from sqlmodel import select

    _member(dash, trial["doctor"], trial["study_id"], trial["researcher"])
    with dash.env.session() as session:
        labels = {f"S-{e.id:04d}" for e in session.exec(select(Enrolment)).all()}
    at = open_as(dash, trial["researcher"], "studies", state={"study_tab": "Measurements"})
    assert not at.exception
    (table,) = [frame.value for frame in at.dataframe]
    assert set(table["subject"]) == labels
    assert "patient_code" not in table and "patient_id" not in table
    csv = table.to_csv(index=False)
    assert not {"P1", "P2", "P3"} & set(csv.replace(",", "\n").splitlines())
    # Same numbers as the clinician's table, only the subject is named differently.
    assert sorted(table["inflammatory"]) == [6, 8, 10, 20, 30, 40]


def test_results_are_cached_until_the_data_changes(dash, trial, monkeypatch):
    """A rerun reuses the computed results; a new review is shown at the next run."""
    import db.repository as repository

    at = open_as(dash, trial["doctor"], "studies")
    assert trace(spec_titled(at, "IGA success"), "drug")["y"] == [0.0, 100.0]
    calls = []
    original = repository.study_visits  # the Results tab's read

    def counted(**kwargs):  # noqa: ANN003, ANN202
        calls.append(kwargs["study_id"])
        return original(**kwargs)

    monkeypatch.setattr(repository, "study_visits", counted)
    at.run()
    assert calls == []  # served from the cache: nothing changed
    # P2: IGA 3 at baseline, 2 at week 4 (no success): the drug arm's rate halves.
    add_review(dash, trial["doctor"], trial["p2_analyses"][0], iga=3)
    add_review(dash, trial["doctor"], trial["p2_analyses"][1], iga=2)
    at.run()
    assert not at.exception
    assert calls == [trial["study_id"]]  # the data changed: computed again
    assert trace(spec_titled(at, "IGA success"), "drug")["y"] == [0.0, 50.0]


# ---- issue 26 item 8: a study measures one view; who lacks it is missing, not filled in -----
@pytest.fixture
def mixed_views(dash):  # noqa: ANN001, ANN201
    """A front-view study: P1 front at both visits; P2 left photos only; P3 front at baseline
    and only a left photo at week 4 (which must not stand in for the front)."""
    from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    study_id, arms = _study(dash, doctor, "View trial", ["drug"])
    p1 = seed_shots(dash, doctor, "P1", [
        (date(2024, 1, 1), [Shot(papules(20))]),
        (date(2024, 1, 29), [Shot(papules(44), quality_reasons=(CUT_OFF,))]),
    ])
    p2 = seed_shots(dash, doctor, "P2", [
        (date(2024, 1, 1), [Shot(papules(10), view="left")]),
        (date(2024, 1, 29), [Shot(papules(5), view="left")]),
    ])
    p3 = seed_shots(dash, doctor, "P3", [
        (date(2024, 1, 1), [Shot(papules(30))]),
        (date(2024, 1, 29), [Shot(papules(2), view="left")]),
    ])
    for seeded in (p1, p2, p3):
        _enrol(dash, doctor, study_id, arms["drug"], seeded.patient_id)
    return {"doctor": doctor, "study_id": study_id, "p1": p1, "p2": p2, "p3": p3}


def test_a_study_measures_one_view_and_lists_subjects_without_it(dash, mixed_views):
    at = open_as(dash, mixed_views["doctor"], "studies", state={"study_tab": "Measurements"})
    assert not at.exception
    assert any("This study measures the front view" in c for c in dash.texts(at.caption))
    assert any(w.startswith("Missing (no front photo, so not in the results): P2")
               for w in dash.texts(at.warning))
    (table,) = [frame.value for frame in at.dataframe]
    assert set(table["view"]) == {"front"}
    assert sorted(table["patient_code"]) == ["P1", "P1", "P3"]  # P3's left photo is not used
    assert "P2" not in set(table["patient_code"])

    at.session_state["study_tab"] = "Enrolment"
    at.run()
    enrolled = at.dataframe[0].value.set_index("patient")
    assert enrolled.loc["P1", "view"] == "front photos (2 visits)"
    assert enrolled.loc["P2", "view"] == "missing: no front photo (has left)"
    assert enrolled.loc["P3", "view"] == "front photos (1 visit)"


def test_the_view_is_chosen_when_the_study_is_created(dash):
    from db.models import Study
    from sqlmodel import select

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    at = open_as(dash, doctor, "studies")
    dash.widget(at.text_input, "Study name").input("Side trial")
    dash.widget(at.text_area, "Arms (one per line)").input("drug")
    dash.widget(at.selectbox, "View measured").set_value(("close-up", "chin"))
    dash.widget(at.button, "Create study").click().run()
    assert not at.exception
    with dash.env.session() as session:
        study = session.exec(select(Study)).one()
    assert (study.measured_view, study.measured_body_site) == ("close-up", "chin")
    assert any("This study measures the close-up of the chin: every subject's numbers come "
               "from their photos of it" in c
               for c in dash.texts(at.caption))


# ---- issue 26 item 2: flagged visits in a study: a column, and a choice to leave them out ----
def test_study_flags_visits_stored_anyway_and_can_leave_them_out(dash, mixed_views):
    import io as _io

    study_id = mixed_views["study_id"]
    at = open_as(dash, mixed_views["doctor"], "studies", state={"study_tab": "Measurements"})
    assert not at.exception
    (table,) = [frame.value for frame in at.dataframe]
    p1 = table[table["patient_code"] == "P1"].sort_values("visit_date")
    assert p1["quality_check"].tolist()[0] == "passed"
    assert p1["quality_check"].tolist()[1].startswith("failed: the face is cut off (39%")
    assert any("1 measured visit comes from photos stored although they failed" in w
               for w in dash.texts(at.warning))
    csv = pd.read_csv(_io.StringIO(table.to_csv(index=False)))
    assert "quality_check" in csv.columns and "quality_reasons" not in csv.columns

    at.toggle(key=f"study_leave_out_{study_id}").set_value(True).run()
    assert not at.exception
    (table,) = [frame.value for frame in at.dataframe]
    assert table[table["patient_code"] == "P1"]["inflammatory"].tolist() == [20]
    assert any("1 visit left out" in c for c in dash.texts(at.caption))


# ---- issue 25 item 5: how many subjects changed by more than a retaken photo changes ---------
def test_studies_count_subjects_changed_beyond_a_retake(dash, trial):
    from tests.dashboard.fixtures_timeline import retake_table

    at = open_as(dash, trial["doctor"], "studies")
    assert "Changed beyond a retake" not in list(at.dataframe[0].value.columns)
    retake_table(dash.env.weights_dir, sd=2.0)  # a change must exceed 1.96 * sqrt(8) = 5.5
    at = open_as(dash, trial["doctor"], "studies")
    assert not at.exception
    summary = at.dataframe[0].value.set_index(["Arm", "Week"])
    # Drug: P1 20 -> 8 (-12, beyond), P2 10 -> 6 (-4, within); vehicle: P3 40 -> 30 (-10, beyond).
    assert summary.loc[("drug", 4), "Changed beyond a retake"] == "1 of 2"
    assert summary.loc[("vehicle", 4), "Changed beyond a retake"] == "1 of 1"
    at.session_state["study_tab"] = "Measurements"
    at.run()
    (table,) = [frame.value for frame in at.dataframe]
    week4 = table[table["week"] == 4].set_index("patient_code")
    assert week4["inflammatory_beyond_retake_noise"].to_dict() == {
        "P1": True, "P2": False, "P3": True}


def test_the_measurements_table_is_made_only_when_its_tab_opens(dash, trial, monkeypatch):
    """Issue 28 item 4: at 50,000 visits the measurements frame cost the first open of the
    Results tab half a second; it is made when the Measurements tab opens, once (cached)."""
    from dashboard.charts import studies as study_charts

    calls = []
    original = study_charts.measurement_frame
    monkeypatch.setattr(study_charts, "measurement_frame",
                        lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    at = open_as(dash, trial["doctor"], "studies")
    assert not at.exception
    assert spec_titled(at, "in inflammatory lesions")
    assert calls == []
    at.session_state["study_tab"] = "Measurements"
    at.run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 6
    assert calls == [1]
    at.run()
    assert calls == [1]  # cached per account and data version
