"""Issue 26 item 7 in a real browser: a reload (F5) keeps the user signed in, a bookmarked page
address (`/visit?patient=..&visit=..`) opens that page after sign-in, and the sign-in cookie is
HttpOnly and ends at sign-out and when the password changes.

The app runs as in production (`streamlit run dashboard/app.py`, which serves the page script
with the two cookie addresses of dashboard/signin_routes.py) over a seeded database; no model.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests.e2e.conftest import STEP_TIMEOUT_MS, seeded_app_url

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USER, FULL_NAME = "reload-doc", "Reload Doc"
PASSWORD = "reload correct horse battery"
NEW_PASSWORD = "another correct horse battery"
CODE = "P-RELOAD01"
COOKIE = "acne_session"


@dataclass(frozen=True)
class ReloadApp:
    url: str
    database_url: str
    patient_id: int
    visit_id: int
    log_file: Path


def _seed(database_url: str, data_dir: Path) -> None:
    from db.engine import get_engine, new_session
    from db.models import AccountCreate, PatientCreate
    from db.photos import PhotoStore
    from db.repository import create_account, create_patient, create_visit, store_photo
    from tests.dashboard.fixtures_d2 import face_photo, make_analysis, papules

    engine = get_engine(database_url)
    with new_session(engine) as session:
        create_account(session=session, data=AccountCreate(
            username="reload-admin", full_name="Admin", password=PASSWORD, role="admin"))
    with new_session(engine) as session:
        doctor = create_account(session=session, data=AccountCreate(
            username=USER, full_name=FULL_NAME, password=PASSWORD, role="clinician"))
    with new_session(engine) as session:
        patient = create_patient(session=session, actor=doctor, data=PatientCreate(code=CODE))
    for index, day in enumerate((date(2024, 1, 10), date(2024, 2, 10))):
        photo = face_photo(brightness=index)
        with new_session(engine) as session:
            visit = create_visit(session=session, actor=doctor, patient_id=patient.id,
                                 visit_date=day, treatment_notes=f"notes of visit {index + 1}")
            store_photo(session=session, actor=doctor, photo_store=PhotoStore(data_dir / "photos"),
                        visit_id=visit.id, photo=photo, analysis=make_analysis(photo, papules(3)))


@pytest.fixture(scope="module")
def reload_app(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReloadApp]:  # noqa: ANN001
    from sqlmodel import select

    from db.engine import get_engine, new_session
    from db.models import Patient, Visit

    base = tmp_path_factory.mktemp("reload")
    seeded: dict[str, str] = {}

    def seed(database_url: str, data_dir: Path) -> None:
        seeded["url"] = database_url
        _seed(database_url, data_dir)

    with seeded_app_url(base, seed) as (url, log_file):
        with new_session(get_engine(seeded["url"])) as session:
            patient_id = session.exec(select(Patient.id).where(Patient.code == CODE)).one()
            first_visit = session.exec(select(Visit.id).where(Visit.patient_id == patient_id)
                                       .order_by(Visit.visit_date)).first()
        yield ReloadApp(url=url, database_url=seeded["url"], patient_id=patient_id,
                        visit_id=first_visit, log_file=log_file)


@pytest.fixture
def tab(browser) -> Iterator[object]:  # noqa: ANN001 - a playwright Browser
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def wait_for_run(page) -> None:  # noqa: ANN001
    page.wait_for_timeout(500)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    page.wait_for_timeout(300)


def sign_in(page, password: str = PASSWORD) -> None:  # noqa: ANN001
    page.get_by_label("User name", exact=True).fill(USER)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {FULL_NAME}").wait_for()
    wait_for_run(page)


def session_cookie(page) -> dict | None:  # noqa: ANN001
    # The browser sets it from the app's answer a moment after the page shows the sign-in.
    for _ in range(40):
        found = [c for c in page.context.cookies() if c["name"] == COOKIE]
        if found:
            return found[0]
        page.wait_for_timeout(250)
    return None


def signed_out(page) -> bool:  # noqa: ANN001
    wait_for_run(page)
    return page.get_by_label("User name", exact=True).count() == 1


def test_a_bookmarked_visit_opens_after_sign_in_and_a_reload_keeps_it(reload_app: ReloadApp, tab) -> None:  # noqa: ANN001
    page = tab
    address = f"{reload_app.url}/visit?patient={reload_app.patient_id}&visit={reload_app.visit_id}"
    page.goto(address)
    page.get_by_label("User name", exact=True).wait_for()
    assert page.get_by_text("Page not found").count() == 0
    sign_in(page)
    page.get_by_role("heading", name=f"Visits of {CODE}").wait_for()
    page.get_by_text("notes of visit 1").wait_for()  # the bookmarked visit, not the latest

    cookie = session_cookie(page)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find(COOKIE) == -1  # page scripts cannot read it

    page.reload()  # F5
    wait_for_run(page)
    page.get_by_text(f"Signed in as {FULL_NAME}").wait_for()
    page.get_by_role("heading", name=f"Visits of {CODE}").wait_for()
    assert page.get_by_label("User name", exact=True).count() == 0

    # The same address typed into a new tab of the same browser: still signed in.
    other = page.context.new_page()
    other.goto(f"{reload_app.url}/trends?patient={reload_app.patient_id}")
    wait_for_run(other)
    other.get_by_role("heading", name=f"Trends of {CODE}").wait_for()
    other.close()


def test_sign_out_ends_the_cookie(reload_app: ReloadApp, tab, browser) -> None:  # noqa: ANN001
    page = tab
    page.goto(reload_app.url)
    sign_in(page)
    cookie = session_cookie(page)
    assert cookie is not None
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("User name", exact=True).wait_for()
    page.reload()
    assert signed_out(page)

    # The old cookie's value, replayed in another browser, signs nobody in.
    replay = browser.new_context()
    replay.add_cookies([{**{k: cookie[k] for k in ("name", "value", "domain", "path")}}])
    replayed = replay.new_page()
    replayed.goto(reload_app.url)
    replayed.get_by_label("User name", exact=True).wait_for()
    assert signed_out(replayed)
    replay.close()


def test_a_new_password_ends_the_cookie(reload_app: ReloadApp, tab) -> None:  # noqa: ANN001
    from sqlmodel import select

    from db.engine import get_engine, new_session
    from db.models import Account
    from db.repository import update_account

    page = tab
    page.goto(reload_app.url)
    sign_in(page)
    assert session_cookie(page) is not None
    with new_session(get_engine(reload_app.database_url)) as session:
        admin = session.exec(select(Account).where(Account.username == "reload-admin")).one()
        doctor = session.exec(select(Account).where(Account.username == USER)).one()
        update_account(session=session, actor=admin, account_id=doctor.id, password=NEW_PASSWORD)
    try:
        page.reload()
        assert signed_out(page)
    finally:
        with new_session(get_engine(reload_app.database_url)) as session:
            admin = session.exec(select(Account).where(Account.username == "reload-admin")).one()
            update_account(session=session, actor=admin, account_id=doctor.id, password=PASSWORD)
