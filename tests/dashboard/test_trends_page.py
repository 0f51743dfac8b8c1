"""Trends page: the charts hold the patient's stored numbers; other patients stay out of reach."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.dashboard.fixtures_d2 import (
    add_review,
    comedones,
    open_as,
    papules,
    plotly_specs,
    seed_patient,
    trace,
)

NO_ACCESS = "No such patient or no access."


def _history(dash, owner: int, code: str = "ACN-001"):  # noqa: ANN001, ANN202
    return seed_patient(dash, owner, code, [
        (date(2024, 1, 10), papules(10) + comedones(4)),
        (date(2024, 2, 10), papules(6) + comedones(4)),
        (date(2024, 3, 10), papules(2) + comedones(3)),
    ], grades=[1, 1, 0])


TABS = ("Inflammatory / non-inflammatory", "By lesion type", "Lesion area", "Grade",
        "Clinician IGA")


def _dates(trace_spec: dict) -> list[str]:
    return [str(pd.Timestamp(x).date()) for x in trace_spec["x"]]


def _every_tab(at) -> list[dict]:  # noqa: ANN001 - an AppTest
    """The one chart of each tab, opening the tabs in turn (only the open tab is drawn)."""
    specs = []
    for tab in TABS:
        at.session_state["trend_tab"] = tab
        at.run()
        assert not at.exception
        (spec,) = plotly_specs(at)
        specs.append(spec)
    return specs


def test_trend_charts_show_the_stored_counts(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _history(dash, doctor)
    add_review(dash, doctor, seeded.analysis_ids[0], iga=3)
    add_review(dash, doctor, seeded.analysis_ids[2], iga=1, grade_override=1)
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    assert "Trends of ACN-001" in dash.texts(at.title)

    assert len(plotly_specs(at)) == 1  # the first tab's chart only
    groups, kinds, area, grade, iga = _every_tab(at)
    inflammatory = trace(groups, "inflammatory")
    assert inflammatory["y"] == [10, 6, 2]
    assert _dates(inflammatory) == ["2024-01-10", "2024-02-10", "2024-03-10"]
    assert trace(groups, "non_inflammatory")["y"] == [4, 4, 3]
    assert trace(kinds, "pustule")["y"] == [0, 0, 0]
    # 36 px per lesion over half of a 256 x 256 photo, in percent of the skin.
    skin = 256 * 256 // 2
    assert trace(area, "lesion_area_fraction")["y"] == pytest.approx(
        [100 * 36 * n / skin for n in (14, 10, 5)])
    assert trace(grade, "grade")["y"] == [1, 1, 0]
    assert trace(grade, "grade:override")["y"] == [1]
    assert trace(iga, "iga")["y"] == [3, 1]
    assert _dates(trace(iga, "iga:success")) == ["2024-03-10"]
    # Latest against baseline: -8 inflammatory lesions, a real change; comedones -1 is noise.
    metrics = {m.label: m for m in at.metric}
    assert metrics["Inflammatory"].value == "2"
    assert "-8" in metrics["Inflammatory"].delta
    assert "Within counting noise: not a real change." in dash.texts(at.caption)
    assert "Not a diagnosis" in dash.page_text(at)


def test_percent_change_from_a_chosen_baseline_and_smoothing(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _history(dash, doctor)
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    at.radio(key="trend_mode").set_value("percent").run()
    at.selectbox(key=f"trend_baseline_{seeded.patient_id}_front").set_value(seeded.visit_ids[1]).run()
    assert not at.exception
    groups = plotly_specs(at)[0]
    assert trace(groups, "inflammatory")["y"] == [
        100 * (10 - 6) / 6, 0.0, 100 * (2 - 6) / 6]
    assert trace(groups, "non_inflammatory")["y"] == [0.0, 0.0, -25.0]

    at.toggle(key="trend_smoothing").set_value(True).run()
    groups = plotly_specs(at)[0]
    smoothed = trace(groups, "inflammatory")["y"]
    raw = trace(groups, "inflammatory:raw")["y"]
    assert raw == [100 * 4 / 6, 0.0, -100 * 4 / 6]
    # Rolling median of 3 visits: ends use the two values they have.
    assert smoothed == [100 * 2 / 6, 0.0, -100 * 2 / 6]


def test_treatment_event_is_recorded_and_drawn(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _history(dash, doctor)
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    at.date_input[0].set_value(date(2024, 2, 1))
    dash.widget(at.text_input, "Treatment").input("adapalene 0.1% gel")
    dash.widget(at.button, "Add to the timeline").click().run()
    assert not at.exception
    groups = plotly_specs(at)[0]
    shapes = [s for s in groups["layout"]["shapes"] if s.get("name") == "treatment"]
    assert [str(pd.Timestamp(s["x0"]).date()) for s in shapes] == ["2024-02-01"]
    assert "adapalene 0.1% gel" in [a["text"] for a in groups["layout"]["annotations"]]


def test_no_analysed_photo_says_so(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-009")
    dash.make_visit(doctor, patient, date(2024, 1, 1))
    at = open_as(dash, doctor, "trends", patient_id=patient)
    assert not at.exception
    assert any("No analysed photo yet" in text for text in dash.texts(at.info))
    assert not at.get("plotly_chart")


def test_clinician_cannot_open_another_clinicians_patient(dash):
    dash.make_account("root", role="admin")
    mine = dash.make_account("doc", role="clinician", team="north")
    other = dash.make_account("other", role="clinician", team="south")
    theirs = _history(dash, other, code="ACN-777")
    for way in ({"patient_id": theirs.patient_id}, {"query_patient": theirs.patient_id}):
        at = open_as(dash, mine, "trends", **way)
        assert not at.exception
        assert NO_ACCESS in dash.texts(at.error)
        assert not at.get("plotly_chart")
        assert "ACN-777" not in dash.page_text(at)


def test_researcher_sees_trends_read_only(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    researcher = dash.make_account("res", role="researcher")
    seeded = _history(dash, doctor)
    from db.repository import add_study_member, create_study, enrol_patient, list_arms

    owner = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=owner, name="S1", arms=["drug"])
        arm = list_arms(session=session, actor=owner, study_id=study.id)[0]
        enrolment = enrol_patient(session=session, actor=owner, study_id=study.id, arm_id=arm.id,
                                  patient_id=seeded.patient_id)
        add_study_member(session=session, actor=owner, study_id=study.id, account_id=researcher)
    at = open_as(dash, researcher, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    assert trace(plotly_specs(at)[0], "inflammatory")["y"] == [10, 6, 2]
    # The subject label, never the clinic's code.
    assert dash.texts(at.title) == [f"Trends of S-{enrolment.id:04d}"]
    assert "ACN-001" not in dash.page_text(at)
    assert not [b for b in at.button if b.label == "Add to the timeline"]
