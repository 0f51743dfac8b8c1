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


# ---- issue 26 item 2: a photo stored although it failed the quality check is flagged -------
def test_a_photo_stored_anyway_is_a_hollow_point_with_its_reason(dash):
    from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_shots(dash, doctor, "ACN-FLAG", [
        (date(2024, 1, 10), [Shot(papules(4))]),
        (date(2024, 2, 10), [Shot(papules(30), quality_reasons=(CUT_OFF,))]),
        (date(2024, 3, 10), [Shot(papules(3))]),
    ])
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    inflammatory = trace(plotly_specs(at)[0], "inflammatory")
    assert inflammatory["y"] == [4, 30, 3]
    assert inflammatory["marker"]["symbol"] == ["circle", "circle-open", "circle"]
    assert "%{text}" in inflammatory["hovertemplate"]
    assert inflammatory["text"][0] == "" and inflammatory["text"][2] == ""
    assert "failed the quality check" in inflammatory["text"][1]
    assert "face is cut off (39% of it is outside the photo)" in inflammatory["text"][1]
    assert any("Hollow points" in text for text in dash.texts(at.warning))
    table = at.dataframe[0].value
    assert table["Quality check"].tolist()[0] == "passed"
    assert table["Quality check"].tolist()[1].startswith("failed: the face is cut off")
    # The grade tab marks it too.
    at.session_state["trend_tab"] = "Grade"
    at.run()
    grade = trace(plotly_specs(at)[0], "grade")
    assert grade["marker"]["symbol"][1] == "circle-open"


# ---- issue 25 item 1: close-ups are series of their own, one per body site ----------------
def test_close_ups_are_series_of_their_own_per_body_site(dash):
    from tests.dashboard.fixtures_timeline import Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")

    def close_up(n: int, site: str) -> Shot:
        return Shot(papules(n), view="close-up", body_site=site, alignment=None,
                    face_found=False)

    seeded = seed_shots(dash, doctor, "ACN-CU", [
        (date(2024, 1, 10), [Shot(papules(2)), close_up(20, "left_cheek"), close_up(9, "chin")]),
        (date(2024, 2, 10), [Shot(papules(1)), close_up(12, "left_cheek"), close_up(7, "chin")]),
    ])
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    radio = at.radio(key=f"trend_series_{seeded.patient_id}")
    assert list(radio.options) == ["front", "close-up of the chin", "close-up of the left cheek"]
    assert trace(plotly_specs(at)[0], "inflammatory")["y"] == [2, 1]
    radio.set_value(("close-up", "left_cheek")).run()
    assert not at.exception
    assert trace(plotly_specs(at)[0], "inflammatory")["y"] == [20, 12]
    at.radio(key=f"trend_series_{seeded.patient_id}").set_value(("close-up", "chin")).run()
    assert trace(plotly_specs(at)[0], "inflammatory")["y"] == [9, 7]


# ---- issue 25 item 5: a band around each count, from the retake table -----------------------
def test_retake_band_around_each_count_only_with_a_table(dash):
    from tests.dashboard.fixtures_timeline import retake_table

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _history(dash, doctor)
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    metas = [t.get("meta") for t in plotly_specs(at)[0]["data"]]
    assert not [m for m in metas if m and "band" in m]  # no table: no band, no words
    assert "retaken photo" not in dash.page_text(at)

    retake_table(dash.env.weights_dir, sd=2.0)
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    spec = plotly_specs(at)[0]
    band = trace(spec, "inflammatory:band")
    low = trace(spec, "inflammatory:band_low")
    half = 1.96 * 2.0
    assert band["y"] == pytest.approx([10 + half, 6 + half, 2 + half])
    assert low["y"] == pytest.approx([10 - half, 6 - half, 0.0])  # never below 0 lesions
    assert band["fill"] == "tonexty"
    assert "a retaken photo would land within this band" in band["name"]
    assert any("a retaken photo would land within this band" in c for c in dash.texts(at.caption))
