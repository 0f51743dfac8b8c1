"""Issue 17's small things: the consent date only with consent, an empty study panel that says
why, one date axis for the trend panels, and a tab icon that is a file of the app.

(A visit saved without a photo only when confirmed, and "Taken on" never blank: see
test_new_visit.py.)
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.dashboard.fixtures_d2 import comedones, open_as, papules, plotly_specs, seed_patient


def test_the_consent_date_is_asked_for_and_shown_only_with_consent(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-001", research_consent=False)  # no consent yet
    at = open_as(dash, doctor, "patients", patient_id=patient)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Consent"] == "not recorded"
    edit_date = f"edit_{patient}_consent_date"
    assert not [d for d in at.date_input if d.key == edit_date]  # no date without consent

    at.checkbox(key=f"edit_{patient}_consent").check().run()
    at.date_input(key=edit_date).set_value(date(2024, 5, 6))
    dash.widget(at.button, "Save changes").click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Consent"] == "06 May 2024"
    assert at.date_input(key=edit_date).value == date(2024, 5, 6)

    # Consent withdrawn: the date goes with it, from the form and from the record.
    at.checkbox(key=f"edit_{patient}_consent").uncheck().run()
    assert not [d for d in at.date_input if d.key == edit_date]
    dash.widget(at.button, "Save changes").click().run()
    assert {m.label: m.value for m in at.metric}["Consent"] == "not recorded"
    from db.models import Patient

    with dash.env.session() as session:
        assert session.get(Patient, patient).consent_date is None


def _study(dash, doctor: int, patients: list[int]) -> None:  # noqa: ANN001
    from db.repository import create_study, enrol_patient, list_arms

    account = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=account, name="Pilot", arms=["drug"])
        arm = list_arms(session=session, actor=account, study_id=study.id)[0]
        for patient in patients:
            enrol_patient(session=session, actor=account, study_id=study.id, arm_id=arm.id,
                          patient_id=patient)


def test_a_study_panel_with_nothing_to_draw_says_why(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    # Papules only (no comedone at baseline: no percent change) and no IGA recorded.
    first = seed_patient(dash, doctor, "P1", [(date(2024, 1, 1), papules(20)),
                                              (date(2024, 1, 29), papules(8))])
    second = seed_patient(dash, doctor, "P2", [(date(2024, 1, 3), papules(10)),
                                               (date(2024, 2, 1), papules(6))])
    _study(dash, doctor, [first.patient_id, second.patient_id])
    at = open_as(dash, doctor, "studies", state={"study_tab": "Results"})
    assert not at.exception
    titles = [spec["layout"]["title"]["text"] for spec in plotly_specs(at)]
    assert titles == ["Mean % change in inflammatory lesions (95% CI)",
                      "Responders (≥50% fewer inflammatory lesions)"]
    infos = dash.texts(at.info)
    assert any(text.startswith("No change in non-inflammatory lesions yet: it needs a measured "
                               "baseline visit with at least one comedone") for text in infos)
    assert any(text.startswith("No IGA success rate yet: it needs a clinician's IGA at the "
                               "baseline visit and at a later visit") for text in infos)


def test_a_study_with_every_measure_draws_every_panel(dash):
    from tests.dashboard.fixtures_d2 import add_review

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "P1", [(date(2024, 1, 1), papules(20) + comedones(6)),
                                               (date(2024, 1, 29), papules(8) + comedones(3))])
    add_review(dash, doctor, seeded.analysis_ids[0], iga=3)
    add_review(dash, doctor, seeded.analysis_ids[1], iga=1)
    _study(dash, doctor, [seeded.patient_id])
    at = open_as(dash, doctor, "studies", state={"study_tab": "Results"})
    assert not at.exception
    assert len(plotly_specs(at)) == 4 and not at.info


def test_the_trend_panels_share_one_date_axis(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-001", [
        (date(2024, 1, 10), papules(10) + comedones(4)), (date(2024, 2, 10), papules(6)),
        (date(2024, 3, 10), papules(2) + comedones(3))], grades=[1, 1, 0])
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    (overview,) = plotly_specs(at)  # the first tab: counts, area and grade, stacked
    layout = overview["layout"]
    assert layout["title"]["text"] == "Overview"
    assert layout["xaxis"]["matches"] == layout["xaxis2"]["matches"] == "x3"
    axes = {trace.get("meta"): trace.get("xaxis", "x") for trace in overview["data"]}
    assert (axes["inflammatory"], axes["lesion_area_fraction"], axes["grade"]) == ("x", "x2", "x3")
    # The other tabs keep the same dates.
    shown = layout["xaxis3"]["range"]
    for tab in ("Inflammatory / non-inflammatory", "Lesion area", "Grade"):
        at.session_state["trend_tab"] = tab
        at.run()
        (spec,) = plotly_specs(at)
        assert spec["layout"]["xaxis"]["range"] == shown, tab


def test_the_tab_icon_is_a_file_of_the_app_not_fetched(dash, monkeypatch):
    """Streamlit's browser code fetches a ":material/...:" tab icon from fonts.gstatic.com."""
    import streamlit

    dash.make_account("root", role="admin")
    given: dict = {}
    real = streamlit.set_page_config

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        given.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(streamlit, "set_page_config", recording)
    at = dash.app().run()
    assert not at.exception
    icon = Path(str(given["page_icon"]))
    assert icon.suffix == ".png" and icon.is_file()
    assert dash.ROOT in icon.resolve().parents  # shipped with the app
