"""Every page, every way of naming a patient, visit or study: a clinician of another team is
refused and sees none of the other patient's data (code, name, notes, counts, photos, charts).

The ways a page is told what to show: the current patient in the session (the patients page's
picker, or left over from before a right was taken away), `?patient=` in the address, `?visit=`
and the remembered visit on the visit page, the review page's last reviewed patient, the
studies page's remembered study, and selections (visit, analysis, patient) remembered under a
widget's key. Pages read no other address parameter (`?photo=` is not one).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest

from tests.dashboard.fixtures_d2 import (
    PAGE_TIMEOUT_S,
    Seeded,
    add_review,
    comedones,
    papules,
    seed_patient,
)

NO_ACCESS = "No such patient or no access."
HIDDEN_CODE, HIDDEN_NAME = "ACN-HIDDEN", "Hidden Person"
HIDDEN_NOTE, HIDDEN_EVENT = "private visit note", "secret isotretinoin course"
PATIENT_PAGES = ("patients", "new_visit", "visit", "trends", "compare", "reports")


@dataclass
class World:
    owner: int
    intruder: int
    hidden: Seeded
    mine: Seeded
    study_id: int


@pytest.fixture
def world(dash) -> World:  # noqa: ANN001
    """A north-team patient with analysed, reviewed visits, a treatment event, a visit note and
    a study; a south-team clinician (the intruder) with a patient of their own."""
    from db.repository import add_treatment_event, create_study, enrol_patient, list_arms

    dash.make_account("root", role="admin")
    owner = dash.make_account("north-doc", role="clinician", team="north")
    intruder = dash.make_account("south-doc", role="clinician", team="south")
    hidden = seed_patient(dash, owner, HIDDEN_CODE, [
        (date(2024, 1, 10), papules(17) + comedones(9)),
        (date(2024, 2, 10), papules(13) + comedones(7)),
    ], team="north")
    dash.make_visit(owner, hidden.patient_id, date(2024, 3, 1), notes=HIDDEN_NOTE)
    add_review(dash, owner, hidden.analysis_ids[0], iga=3)
    account = dash.get_account(owner)
    with dash.env.session() as session:
        from db.models import PatientUpdate
        from db.repository import update_patient

        update_patient(session=session, actor=account, patient_id=hidden.patient_id,
                       data=PatientUpdate(name=HIDDEN_NAME))
        add_treatment_event(session=session, actor=account, patient_id=hidden.patient_id,
                            event_date=date(2024, 1, 20), description=HIDDEN_EVENT)
        study = create_study(session=session, actor=account, name="North trial", arms=["a"])
        arm = list_arms(session=session, actor=account, study_id=study.id)[0]
        enrol_patient(session=session, actor=account, study_id=study.id, arm_id=arm.id,
                      patient_id=hidden.patient_id)
    mine = seed_patient(dash, intruder, "ACN-MINE", [(date(2024, 1, 5), papules(2)),
                                                     (date(2024, 2, 5), papules(1))],
                        team="south")
    return World(owner, intruder, hidden, mine, study.id)


def everything_shown(at) -> str:  # noqa: ANN001 - an AppTest
    """All a person could read on the page: texts, table cells, widget labels and options,
    metrics, image captions and chart data."""
    parts = [str(element.value) for kind in (
        "title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
        "success", "text") for element in getattr(at, kind)]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    for kind in ("selectbox", "radio", "multiselect"):
        for widget in getattr(at, kind):
            parts += [widget.label, *map(str, widget.options)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(image.proto) for image in at.get("image")]
    parts += [json.dumps(json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]
    return "\n".join(parts)


def assert_nothing_of(at, world: World) -> None:  # noqa: ANN001
    """No error, and nothing that belongs to the hidden patient on the page."""
    assert not at.exception, at.exception
    shown = everything_shown(at)
    for secret in (HIDDEN_CODE, HIDDEN_NAME, HIDDEN_NOTE, HIDDEN_EVENT):
        assert secret not in shown, f"{secret!r} is shown"


def assert_refused(at, world: World) -> None:  # noqa: ANN001
    """The page says "No such patient or no access." and shows no photo, chart or number."""
    assert_nothing_of(at, world)
    assert NO_ACCESS in [str(e.value) for e in at.error]
    assert not at.get("image") and not at.get("plotly_chart") and not at.metric
    assert not at.get("download_button")


def open_as(dash, account: int, page: str, *, state: dict | None = None,
            query: dict | None = None):  # noqa: ANN001, ANN201 - an AppTest
    """Sign in, set the session state and address parameters, then open the page (so that no
    other page has re-checked them first)."""
    at = dash.app(account, timeout=PAGE_TIMEOUT_S).run()
    for key, value in (state or {}).items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = str(value)
    at.switch_page(f"views/{page}.py").run()
    return at


@pytest.mark.parametrize("page", PATIENT_PAGES)
@pytest.mark.parametrize("way", ["session", "address"])
def test_another_teams_patient_is_refused_on_every_patient_page(dash, world, page, way):
    patient = world.hidden.patient_id
    if way == "session":
        at = open_as(dash, world.intruder, page, state={"patient_id": patient})
    else:
        at = open_as(dash, world.intruder, page, query={"patient": patient})
    assert_refused(at, world)
    # The owner's teammate rule is what refuses: the owner opens the same page fine.
    at = open_as(dash, world.owner, page, state={"patient_id": patient})
    assert not at.exception and NO_ACCESS not in [str(e.value) for e in at.error]
    assert HIDDEN_CODE in everything_shown(at)


@pytest.mark.parametrize("page", PATIENT_PAGES)
def test_a_patient_id_that_is_no_number_is_refused(dash, world, page):
    at = open_as(dash, world.intruder, page, query={"patient": f"{world.hidden.patient_id}x"})
    assert_refused(at, world)


@pytest.mark.parametrize("way", ["address", "session"])
def test_another_teams_visit_id_shows_the_own_patients_visit_instead(dash, world, way):
    hidden_visit = world.hidden.visit_ids[0]
    state = {"patient_id": world.mine.patient_id}
    if way == "address":
        at = open_as(dash, world.intruder, "visit", state=state, query={"visit": hidden_visit})
    else:
        at = open_as(dash, world.intruder, "visit", state={**state, "visit_id": hidden_visit})
    assert_nothing_of(at, world)
    assert at.session_state["visit_id"] == world.mine.visit_ids[-1]
    assert "Visits of ACN-MINE" in [t.value for t in at.title]
    # With the hidden patient named as well, the page refuses outright.
    at = open_as(dash, world.intruder, "visit", query={"patient": world.hidden.patient_id,
                                                        "visit": hidden_visit})
    assert_refused(at, world)


def test_compare_keeps_to_the_own_patients_visits(dash, world):
    mine = world.mine.patient_id
    state = {"patient_id": mine, f"compare_before_{mine}_front": world.hidden.visit_ids[0],
             f"compare_after_{mine}_front": world.hidden.visit_ids[1]}
    at = open_as(dash, world.intruder, "compare", state=state)
    assert_nothing_of(at, world)
    assert at.selectbox(key=f"compare_before_{mine}_front").value in world.mine.visit_ids


def test_review_page_shows_only_the_own_teams_queue_and_reviews(dash, world):
    hidden_analysis = world.hidden.analysis_ids[1]
    at = open_as(dash, world.intruder, "review", state={
        "review_last_patient": world.hidden.patient_id, "review_pick": hidden_analysis})
    assert_nothing_of(at, world)
    assert hidden_analysis not in at.selectbox(key="review_pick").options
    assert at.selectbox(key="review_pick").value in world.mine.analysis_ids
    assert f"Reviews of {HIDDEN_CODE}" not in [s.value for s in at.subheader]


def test_review_page_with_an_empty_queue_shows_no_other_patients_reviews(dash, world):
    for analysis_id in world.mine.analysis_ids:
        add_review(dash, world.intruder, analysis_id, iga=1)
    at = open_as(dash, world.intruder, "review",
                 state={"review_last_patient": world.hidden.patient_id})
    assert_nothing_of(at, world)
    assert "Nothing to review" in "".join(s.value for s in at.success)
    assert not at.dataframe


def test_studies_page_shows_no_other_teams_study_or_subjects(dash, world):
    from db.repository import create_study

    with dash.env.session() as session:
        create_study(session=session, actor=dash.get_account(world.intruder), name="South trial",
                     arms=["x"])
    for tab in ("Results", "Measurements", "Enrolment", "Members"):
        at = open_as(dash, world.intruder, "studies", state={
            "study_id": world.study_id, "study_tab": tab,
            "enrol_patient": world.hidden.patient_id})
        assert_nothing_of(at, world)
        assert at.selectbox(key="study_id").options == ["South trial"]
        assert "North trial" not in everything_shown(at)
        if tab == "Enrolment":
            assert at.selectbox(key="enrol_patient").value == world.mine.patient_id


def test_a_report_prepared_for_another_patient_is_never_offered(dash, world):
    at = open_as(dash, world.intruder, "reports", state={
        "patient_id": world.mine.patient_id,
        "report_pdf": {"patient_id": world.hidden.patient_id, "pdf": b"%PDF-1.4 hidden",
                       "visits": 2, "view": "front"}})
    assert_nothing_of(at, world)
    assert not at.get("download_button")
    assert "Report for ACN-MINE" in [t.value for t in at.title]


# ------------------------------------------------- researchers see subjects, never people
RESEARCHER_PAGES = ("patients", "visit", "trends", "compare", "reports", "studies")


@pytest.mark.parametrize("page", RESEARCHER_PAGES)
def test_a_researcher_sees_the_subject_label_never_the_patients_code_or_name(dash, world, page):
    from sqlmodel import select

    from db.models import Enrolment
    from db.repository import add_study_member

    researcher = dash.make_account("res", role="researcher")
    with dash.env.session() as session:
        add_study_member(session=session, actor=dash.get_account(world.owner),
                         study_id=world.study_id, account_id=researcher)
        enrolment = session.exec(select(Enrolment)).one()
    label = f"S-{enrolment.id:04d}"
    state = {"patient_id": world.hidden.patient_id}
    if page == "studies":
        state["study_tab"] = "Measurements"
    if page == "visit":
        state["visit_id"] = world.hidden.visit_ids[0]  # a visit with a photo and its file name
    at = open_as(dash, researcher, page, state=state)
    shown = everything_shown(at)
    assert not at.exception, at.exception
    assert label in shown
    for secret in (HIDDEN_CODE, HIDDEN_NAME, "face_0.png"):  # face_0.png: the photo's file name
        assert secret not in shown, f"{secret!r} is shown to a researcher"
    if page in ("visit", "trends", "compare"):
        assert at.get("image") or at.get("plotly_chart")  # the data itself is there


def test_a_researchers_report_names_the_subject_only(dash, world):
    from sqlmodel import select

    from tests.dashboard.test_reports_page import _pdf_text

    from db.models import Enrolment
    from db.repository import add_study_member

    researcher = dash.make_account("res", role="researcher")
    with dash.env.session() as session:
        add_study_member(session=session, actor=dash.get_account(world.owner),
                         study_id=world.study_id, account_id=researcher)
        enrolment = session.exec(select(Enrolment)).one()
    at = open_as(dash, researcher, "reports", state={"patient_id": world.hidden.patient_id})
    assert at.checkbox[0].disabled  # no name to include
    at.button(key="prepare_report").click().run()
    assert not at.exception
    text = _pdf_text(at.session_state["report_pdf"]["pdf"])
    assert f"S-{enrolment.id:04d}" in text
    assert HIDDEN_CODE not in text and HIDDEN_NAME not in text
