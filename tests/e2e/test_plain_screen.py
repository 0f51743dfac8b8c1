"""What a person sees in a real browser: metrics never cut short, tables that fit, and no
request that leaves the machine.

Issue 17: a new clinic user at 1440 px saw "Non-inflam...", "Lesion a...", "9.1..." and "very
severe (68% confi..."; the tab icon came from Google's font servers. Here the dashboard runs as
in production (`streamlit run dashboard/app.py`) over a database seeded directly with a patient
whose numbers are long (two-digit counts, a "very severe" grade, an area of 12.34%), reviews, a
treatment event and a study; no model is installed (stored results only). Its own server, so
that the first-start flow of test_browser_flow.py still meets an empty database.

- Every `stMetricLabel` and `stMetricValue`, and every widget label (and everything inside
  them), has scrollWidth <= clientWidth, at 1280 and at 1440 px, on every page that shows
  metrics.
- The trends page's two tables need no horizontal scrolling at either width.
- Every request the browser makes (page loads, scripts, fonts, media, the tab icon, the
  websocket) goes to the app's own 127.0.0.1 server, on every page.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.dashboard.test_plain_words import text_problems
from tests.e2e.conftest import STEP_TIMEOUT_MS, seeded_app_url

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN, ADMIN_NAME = "plain-admin", "Plain Admin"
PASSWORD = "plain correct horse battery"
PATIENT_CODE = "P-PLAIN01"
WIDTHS = (1280, 1440)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# The pages that show st.metric, with the heading each one shows.
METRIC_PAGES = {
    "Patients": f"Patient {PATIENT_CODE}",
    "Visit": f"Visits of {PATIENT_CODE}",
    "Trends": f"Trends of {PATIENT_CODE}",
    "Compare visits": f"Compare visits of {PATIENT_CODE}",
    "Review queue": "Review queue",
}
ALL_PAGES = ("Patients", "New visit", "Visit", "Trends", "Compare visits", "Review queue",
             "Studies", "Reports", "Models", "Accounts", "Audit trail")


# Every rendered text node of the page's main area, except code blocks (an engineer's exact
# version strings, shown as code on purpose), icons, and what is hidden (folded sections).
VISIBLE_TEXT = """() => {
    const main = document.querySelector('[data-testid="stMain"]') || document.body;
    const texts = [];
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const element = walker.currentNode.parentElement;
        if (!element || element.closest('[data-testid="stCode"], script, style')) continue;
        if (element.getClientRects().length === 0) continue;
        // Icons are drawn from a font whose ligatures are words like "keyboard_arrow_right".
        if (getComputedStyle(element).fontFamily.includes('Material')) continue;
        const text = walker.currentNode.textContent.trim();
        if (text) texts.push(text);
    }
    return texts;
}"""


@dataclass(frozen=True)
class SeededApp:
    url: str
    log_file: Path


def _seed(database_url: str, data_dir: Path) -> None:
    """An administrator; a patient with three analysed visits whose numbers are long, region
    counts, reviews and a treatment event; a second patient; a study with both."""
    import dataclasses

    from core.types import GRADE_LABELS, Grade
    from db.engine import get_engine, new_session
    from db.models import AccountCreate, PatientCreate
    from db.photos import PhotoStore
    from db.repository import (
        add_review,
        add_treatment_event,
        create_account,
        create_patient,
        create_study,
        create_visit,
        enrol_patient,
        latest_analysis,
        list_arms,
        store_photo,
    )
    from tests.dashboard.fixtures_d2 import (
        comedones,
        face_photo,
        make_analysis,
        papules,
    )

    engine = get_engine(database_url)
    store = PhotoStore(data_dir / "photos")
    with new_session(engine) as session:
        admin = create_account(session=session, data=AccountCreate(
            username=ADMIN, full_name=ADMIN_NAME, password=PASSWORD, role="admin"))
    with new_session(engine) as session:
        patient = create_patient(session=session, actor=admin, data=PatientCreate(
            code=PATIENT_CODE, name="Pat Example", consent_date=date(2024, 1, 2), skin_type="IV",
            research_consent=True))  # a study enrolment needs both (issue 24)
        other = create_patient(session=session, actor=admin, data=PatientCreate(
            code="P-PLAIN02", consent_date=date(2024, 1, 2), research_consent=True))
        patient_id, other_id = patient.id, other.id
    visits = [  # (date, papules, comedones, grade, confidence)
        (date(2024, 1, 10), 48, 37, 3, 0.6812),
        (date(2024, 2, 10), 30, 25, 2, 0.5533),
        (date(2024, 3, 12), 14, 19, 1, 0.7655),
    ]
    analysis_ids = []
    for index, (when, n_papules, n_comedones, grade, confidence) in enumerate(visits):
        photo = face_photo(brightness=index)
        analysis = make_analysis(photo, papules(n_papules) + comedones(n_comedones, row=150))
        analysis = dataclasses.replace(
            analysis, grade=Grade(value=grade, label=GRADE_LABELS[grade], confidence=confidence),
            lesion_area_fraction=0.1234 - 0.03 * index,
            region_counts={"left_cheek": {"papule": 11, "comedone": 4},
                           "forehead": {"papule": 20, "comedone": 13}},
            gags_estimate=18,
        )
        with new_session(engine) as session:
            visit = create_visit(session=session, actor=admin, patient_id=patient_id,
                                 visit_date=when, treatment_notes="adapalene 0.1% gel")
            stored = store_photo(session=session, actor=admin, photo_store=store,
                                 visit_id=visit.id, photo=photo, analysis=analysis)
            analysis_ids.append(latest_analysis(session=session, actor=admin,
                                                photo_id=stored.id).id)
    # The new texts of issues 25 and 26 on screen too: a visit whose photo was stored although it
    # failed the quality check (flagged everywhere), and an unusual close-up of the left cheek
    # (no face: its own series, "graded from a close-up", the typicality warning).
    from core.types import FaceResult, QualityResult

    flagged_photo = face_photo(brightness=7)
    flagged = dataclasses.replace(
        make_analysis(flagged_photo, papules(20) + comedones(12, row=150)),
        quality=QualityResult(passed=False, reasons=(
            "The face is cut off (39% of it is outside the photo): step back so the whole face "
            "is in the frame.",)))
    closeup_photo = face_photo(brightness=9)
    closeup = dataclasses.replace(
        make_analysis(closeup_photo, papules(6), alignment=None),
        face=FaceResult(found=False), region_counts={}, gags_estimate=None,
        typicality=0.01, unusual=True)
    for when, photo, analysis, view, site in (
            (date(2024, 4, 11), flagged_photo, flagged, "front", None),
            (date(2024, 4, 11), closeup_photo, closeup, "close-up", "left_cheek")):
        with new_session(engine) as session:
            visit = create_visit(session=session, actor=admin, patient_id=patient_id,
                                 visit_date=when)
            store_photo(session=session, actor=admin, photo_store=store, visit_id=visit.id,
                        photo=photo, analysis=analysis, view=view, body_site=site)
    with new_session(engine) as session:
        add_review(session=session, actor=admin, analysis_id=analysis_ids[0], iga=4)
    with new_session(engine) as session:
        add_review(session=session, actor=admin, analysis_id=analysis_ids[1], iga=3,
                   grade_override=1)
    with new_session(engine) as session:
        add_treatment_event(session=session, actor=admin, patient_id=patient_id,
                            event_date=date(2024, 1, 20), description="started adapalene 0.1%")
        study = create_study(session=session, actor=admin, name="Adapalene trial",
                             arms=["drug", "vehicle"])
        arms = {a.name: a.id for a in list_arms(session=session, actor=admin, study_id=study.id)}
        enrol_patient(session=session, actor=admin, study_id=study.id, arm_id=arms["drug"],
                      patient_id=patient_id)
        enrol_patient(session=session, actor=admin, study_id=study.id, arm_id=arms["vehicle"],
                      patient_id=other_id)
    engine.dispose()


@pytest.fixture(scope="module")
def seeded_app(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:  # noqa: ANN001
    base = tmp_path_factory.mktemp("plain")
    with seeded_app_url(base, _seed) as (url, log_file):
        yield SeededApp(url=url, log_file=log_file)


@dataclass
class Requests:
    """Every address the browser asked for (requests and websockets)."""

    urls: list[str]

    def foreign(self) -> list[str]:
        """The requests to any host but the app's own (data: and blob: URLs never leave)."""
        found = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname not in LOCAL_HOSTS:
                found.append(url)
        return sorted(set(found))


@pytest.fixture
def tab(browser, seeded_app: SeededApp) -> Iterator[tuple[object, Requests]]:  # noqa: ANN001
    """A fresh browser tab at 1440 px that records every request from its first one."""
    context = browser.new_context(viewport={"width": WIDTHS[-1], "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    requests = Requests([])
    context.on("request", lambda request: requests.urls.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda socket: requests.urls.append(socket.url))
    try:
        yield page, requests
    finally:
        context.close()


def wait_for_run(page) -> None:  # noqa: ANN001 - a playwright Page
    """Wait until Streamlit has finished the script run the last action started."""
    page.wait_for_timeout(500)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    page.wait_for_timeout(300)


def sign_in_and_pick_the_patient(page, url: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.get_by_label("User name", exact=True).fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {ADMIN_NAME}").wait_for()
    wait_for_run(page)
    picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Current patient").first
    picker.get_by_role("button", name="Open").click()
    page.get_by_role("option", name=f"{PATIENT_CODE} (Pat Example)", exact=True).first.click()
    wait_for_run(page)
    page.get_by_role("heading", name=f"Patient {PATIENT_CODE}", exact=True).wait_for()


def open_page(page, title: str) -> None:  # noqa: ANN001
    """Open a page through the sidebar (a new URL would start a new, signed-out session)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    wait_for_run(page)


# Every metric label and value, and each element inside them, that shows less than its text;
# widget labels too (a toggle's "Smooth (median of ..." was cut at 1280 px).
CUT_METRICS = """() => {
    const cut = [];
    for (const box of document.querySelectorAll(
            '[data-testid="stMetricLabel"], [data-testid="stMetricValue"], '
            + '[data-testid="stWidgetLabel"], [data-testid="stCheckbox"] label')) {
        for (const element of [box, ...box.querySelectorAll('*')]) {
            // (a tick box's own input is a 1 px, visually hidden element: not text)
            if (element.tagName !== 'INPUT' && element.clientWidth > 2
                    && element.scrollWidth > element.clientWidth) {
                cut.push({which: box.dataset.testid || box.tagName, text: box.innerText,
                          scrollWidth: element.scrollWidth, clientWidth: element.clientWidth});
            }
        }
    }
    return cut;
}"""
METRIC_COUNT = """() => document.querySelectorAll('[data-testid="stMetricValue"]').length"""
TABLE_COUNT = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
    .filter(table => table.offsetParent !== null).length"""
# Tables wider than the page: their scrolling area is wider than what it shows.
WIDE_TABLES = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
    .filter(table => table.offsetParent !== null)
    .map(table => table.querySelector('.dvn-scroller'))
    .filter(scroller => scroller && scroller.scrollWidth > scroller.clientWidth + 1)
    .map(scroller => ({scrollWidth: scroller.scrollWidth, clientWidth: scroller.clientWidth}))"""


def at_width(page, width: int) -> None:  # noqa: ANN001
    page.set_viewport_size({"width": width, "height": 1000})
    page.wait_for_timeout(1200)  # let metrics, columns and tables re-lay out


@pytest.mark.timeout(900)
def test_metrics_are_never_cut_and_the_trends_table_fits(tab, seeded_app: SeededApp,
                                                         screenshots: Path) -> None:  # noqa: ANN001
    page, _ = tab
    sign_in_and_pick_the_patient(page, seeded_app.url)
    problems: list[str] = []
    for title, heading in METRIC_PAGES.items():
        if title != "Patients":
            open_page(page, title)
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        page.locator('[data-testid="stMetricValue"]').first.wait_for()
        for width in WIDTHS:
            at_width(page, width)
            shown = page.evaluate(METRIC_COUNT)
            assert shown >= 3, f"{title}: only {shown} metrics shown"
            problems += [f"{title} at {width} px: {cut}" for cut in page.evaluate(CUT_METRICS)]
            page.screenshot(path=str(screenshots / f"plain_{title.lower().replace(' ', '_')}_{width}.png"))
            if title == "Trends":
                problems += [f"Trends table at {width} px: {wide}"
                             for wide in page.evaluate(WIDE_TABLES)]
        if title == "Trends":  # the second table, folded: open it and measure it too
            page.get_by_text("Lesions by type, grade confidence, corrections and quality, per visit").click()
            page.wait_for_timeout(1000)
            for width in WIDTHS:
                at_width(page, width)
                assert page.evaluate(TABLE_COUNT) == 2
                problems += [f"Trends tables at {width} px: {wide}"
                             for wide in page.evaluate(WIDE_TABLES)]
        at_width(page, WIDTHS[-1])
    assert not problems, "\n".join(problems) + "\n" + seeded_app.log_file.read_text()[-2000:]


@pytest.mark.timeout(900)
def test_plain_words_and_no_request_leaves_the_machine(tab, seeded_app: SeededApp) -> None:  # noqa: ANN001
    page, requests = tab
    sign_in_and_pick_the_patient(page, seeded_app.url)
    wording = []
    for title in ALL_PAGES:
        open_page(page, title)
        page.wait_for_timeout(1500)  # icons, fonts, charts and images load after the run
        wording += [f"{title}: {broken} in {text[:120]!r}"
                    for text in page.evaluate(VISIBLE_TEXT) for broken in text_problems(text)]
    # What a person reads in the browser (tables are drawn on a canvas: the AppTest walk in
    # tests/dashboard/test_plain_words.py reads their cells).
    assert not wording, "\n".join(wording)
    # The tab icon is the app's own file, served by the app.
    icon = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href")
    assert urlsplit(icon).hostname in LOCAL_HOSTS, icon
    assert any(urlsplit(url).path.startswith("/_stcore/stream") for url in requests.urls)
    assert len(requests.urls) > 20, requests.urls  # the recorder saw the page's requests
    assert not requests.foreign(), "requests that left the machine:\n" + "\n".join(requests.foreign())
