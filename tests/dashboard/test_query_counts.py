"""SQL statements per page: rendering a page costs the same number of statements for a small
data set and one five times larger (no query per visit, photo, review, patient or subject).

Each test renders a page with AppTest over a small data set, grows the same database five-fold,
and renders it again in a fresh session, counting every statement the engine executes
(`before_cursor_execute`) during the page's run.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.dashboard.fixtures_d2 import (
    PAGE_TIMEOUT_S,
    StatementCounter,
    add_measured_visits,
    add_review,
    comedones,
    papules,
    seed_patient,
)

pytestmark = pytest.mark.slow  # each test stores some 20-50 photos and renders pages twice

SMALL, LARGE = 2, 10  # five times more rows the second time
START = date(2024, 1, 1)


def _visits(first: int, count: int) -> list[tuple[date, list]]:
    """`count` weekly visits from week `first`, with changing counts."""
    return [(START + timedelta(weeks=first + i), papules(2 + (first + i) % 5) + comedones(1))
            for i in range(count)]


def _statements(dash, account_id: int, page: str, *, patient_id: int | None = None,
                state: dict | None = None, then=None) -> list[str]:  # noqa: ANN001
    """The statements executed while `page` runs for a freshly signed-in session (and while
    `then(at)` runs, when given: a click on the page)."""
    import streamlit as st

    from db.engine import get_engine

    st.cache_data.clear()  # a first visit: nothing cached from the previous render
    at = dash.app(account_id, timeout=PAGE_TIMEOUT_S).run()
    if patient_id is not None:
        at.session_state["patient_id"] = patient_id
    for key, value in (state or {}).items():
        at.session_state[key] = value
    with StatementCounter(get_engine(dash.env.url)) as counter:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
        if then is not None:
            then(at)
            assert not at.exception, at.exception
    return counter.statements


def _assert_flat(small: list[str], large: list[str]) -> None:
    assert len(small) > 0
    assert len(large) == len(small), (
        f"{len(small)} statements with the small data set, {len(large)} with five times more:\n"
        + "\n---\n".join(s for s in large if s not in small)[:3000]
    )


@pytest.fixture
def doctor(dash) -> int:  # noqa: ANN001
    dash.make_account("root", role="admin")
    return dash.make_account("doc", role="clinician", team="north")


def _patient_pages_flat(dash, doctor: int, page: str, then=None) -> None:  # noqa: ANN001
    seeded = seed_patient(dash, doctor, "ACN-Q1", _visits(0, SMALL))
    for analysis_id in seeded.analysis_ids:
        add_review(dash, doctor, analysis_id, iga=3)
    small = _statements(dash, doctor, page, patient_id=seeded.patient_id, then=then)
    add_measured_visits(dash, doctor, seeded, _visits(SMALL, LARGE - SMALL), reviewed=True)
    assert len(seeded.visit_ids) == LARGE
    large = _statements(dash, doctor, page, patient_id=seeded.patient_id, then=then)
    _assert_flat(small, large)


@pytest.mark.parametrize("page", ["trends", "compare", "visit", "new_visit"])
def test_patient_pages_do_not_query_per_visit(dash, doctor, page):
    _patient_pages_flat(dash, doctor, page)


def test_report_page_and_pdf_do_not_query_per_visit(dash, doctor):
    def prepare(at) -> None:  # noqa: ANN001
        at.button(key="prepare_report").click().run()
        assert at.get("download_button"), "the PDF was not prepared"

    _patient_pages_flat(dash, doctor, "reports", then=prepare)


def test_treatment_events_add_no_queries_on_the_trends_page(dash, doctor):
    from db.repository import add_treatment_event

    seeded = seed_patient(dash, doctor, "ACN-Q2", _visits(0, 3))

    def events(first: int, count: int) -> None:
        with dash.env.session() as session:
            for i in range(first, first + count):
                add_treatment_event(session=session, actor=dash.get_account(doctor),
                                    patient_id=seeded.patient_id,
                                    event_date=START + timedelta(days=i), description=f"step {i}")

    events(0, SMALL)
    small = _statements(dash, doctor, "trends", patient_id=seeded.patient_id)
    events(SMALL, LARGE - SMALL)
    large = _statements(dash, doctor, "trends", patient_id=seeded.patient_id)
    _assert_flat(small, large)


def test_review_queue_and_patient_reviews_do_not_query_per_row(dash, doctor):
    waiting = seed_patient(dash, doctor, "ACN-W", _visits(0, SMALL))
    reviewed = seed_patient(dash, doctor, "ACN-R", _visits(0, SMALL))
    for analysis_id in reviewed.analysis_ids:
        add_review(dash, doctor, analysis_id, iga=2)
    # The reviews table of the last reviewed patient is shown under the queue.
    state = {"review_last_patient": reviewed.patient_id}
    small = _statements(dash, doctor, "review", state=state)
    add_measured_visits(dash, doctor, waiting, _visits(SMALL, LARGE - SMALL))
    add_measured_visits(dash, doctor, reviewed, _visits(SMALL, LARGE - SMALL), reviewed=True)
    large = _statements(dash, doctor, "review", state=state)
    _assert_flat(small, large)


def test_patients_page_does_not_query_per_patient(dash, doctor):
    def patients(first: int, count: int) -> list[int]:
        return [dash.make_patient(doctor, f"ACN-{n:03d}", name=f"Person {n}")
                for n in range(first, first + count)]

    current = patients(0, SMALL)[0]
    small = _statements(dash, doctor, "patients", patient_id=current)
    patients(SMALL, LARGE - SMALL)
    large = _statements(dash, doctor, "patients", patient_id=current)
    _assert_flat(small, large)


@pytest.mark.parametrize("tab", ["Results", "Measurements", "Enrolment", "Members"])
def test_studies_page_does_not_query_per_subject(dash, doctor, tab):
    from db.repository import add_study_member, create_study, enrol_patient, list_arms

    owner = dash.get_account(doctor)
    dash.make_account("res", role="researcher")
    with dash.env.session() as session:
        study = create_study(session=session, actor=owner, name="Q trial", arms=["a", "b"])
        arms = [a.id for a in list_arms(session=session, actor=owner, study_id=study.id)]
        add_study_member(session=session, actor=owner, study_id=study.id,
                         account_id=dash.make_account("res2", role="researcher"))

    def subjects(first: int, count: int) -> None:
        for n in range(first, first + count):
            seeded = seed_patient(dash, doctor, f"SUB-{n:03d}", _visits(n % 3, 2))
            add_review(dash, doctor, seeded.analysis_ids[0], iga=3)
            with dash.env.session() as session:
                enrol_patient(session=session, actor=owner, study_id=study.id,
                              arm_id=arms[n % 2], patient_id=seeded.patient_id)
        dash.make_patient(doctor, f"NOT-ENROLLED-{first}")  # a candidate for enrolment

    state = {"study_tab": tab}
    subjects(0, SMALL)
    small = _statements(dash, doctor, "studies", state=state)
    subjects(SMALL, LARGE - SMALL)
    large = _statements(dash, doctor, "studies", state=state)
    _assert_flat(small, large)
