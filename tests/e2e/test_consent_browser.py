"""Consent in a real browser (issue 26 item 1): after one patient is created with consent, the
next one must not be saved with consent nobody ticked for them.

In the browser the old form kept the "Consent recorded" box ticked for the next patient (the
page cleared its session key, but the browser resent the box's state at the next click), so
P-CONS05 and P-CONS06 were saved with consent dated today. Here the dashboard runs as in
production over a database seeded with one administrator; no model is installed.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import STEP_TIMEOUT_MS, seeded_app_url
from tests.e2e.test_browser_flow import fill, tick, wait_for_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN, ADMIN_NAME = "consent-admin", "Consent Admin"
PASSWORD = "consent correct horse battery"


def _seed(database_url: str, data_dir: Path) -> None:
    from db.engine import get_engine, new_session
    from db.models import AccountCreate
    from db.repository import create_account

    with new_session(get_engine(database_url)) as session:
        create_account(session=session, data=AccountCreate(
            username=ADMIN, full_name=ADMIN_NAME, password=PASSWORD, role="admin"))


@pytest.fixture(scope="module")
def consent_app(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:  # noqa: ANN001
    base = tmp_path_factory.mktemp("consent")
    with seeded_app_url(base, _seed) as (url, _log):
        yield url, f"sqlite:///{base / 'data' / 'acne.db'}"


def _patient(database_url: str, code: str):  # noqa: ANN202 - a db.models.Patient
    from sqlmodel import select

    from db.engine import get_engine, new_session
    from db.models import Patient

    with new_session(get_engine(database_url)) as session:
        return session.exec(select(Patient).where(Patient.code == code)).one()


def _consent_box(page):  # noqa: ANN001, ANN202
    return page.locator('[data-testid="stCheckbox"]').filter(has_text="Consent recorded").last


def test_the_next_patient_is_never_saved_with_the_last_ones_consent(browser, consent_app) -> None:  # noqa: ANN001
    url, database_url = consent_app
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(url)
        fill(page, "User name", ADMIN)
        fill(page, "Password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(f"Signed in as {ADMIN_NAME}").wait_for()
        wait_for_run(page)

        # The first patient, with consent and research use ticked.
        tick(page, "Consent recorded")
        wait_for_run(page)
        page.get_by_role("spinbutton", name="year, Consent date", exact=True).wait_for()
        fill(page, "Pseudonymous code", "P-CONS04")
        fill(page, "Notes", "isotretinoin planned")
        tick(page, "Allows research use")
        page.get_by_role("button", name="Create patient").click()
        wait_for_run(page)
        first = _patient(database_url, "P-CONS04")
        assert first.consent_date is not None and first.research_consent

        # The next one, touching neither box: saved without consent, and the form said so.
        assert not _consent_box(page).get_by_role("checkbox").is_checked()
        fill(page, "Pseudonymous code", "P-CONS05")
        wait_for_run(page)
        assert not _consent_box(page).get_by_role("checkbox").is_checked()
        page.get_by_role("button", name="Create patient").click()
        wait_for_run(page)
        second = _patient(database_url, "P-CONS05")
        assert (second.consent_date, second.research_consent, second.notes) == (None, False, "")
    finally:
        context.close()
