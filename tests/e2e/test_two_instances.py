"""Issue 28: two app instances over one database and one S3 store, with no shared folder.

A photo stored through the first instance is shown, corrected and reported through the second.
On PostgreSQL when ACNE_TEST_POSTGRES_URL names a server (`make test-postgres` runs this file),
otherwise on one SQLite file; the photos always go to a real S3 HTTP endpoint (moto's server).
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from tests.e2e.conftest import STEP_TIMEOUT_MS, migrated_env, running_app
from tests.e2e.test_browser_flow import (
    ANALYSIS_TIMEOUT_MS,
    MODEL_LOAD_TIMEOUT_MS,
    click_on_bare_skin,
    open_page,
    shown_metrics,
    tick,
    wait_for_run,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "two instances password"
CODE = "P-TWO-001"


def _seed(database_url: str) -> None:
    from db.engine import get_engine, new_session
    from db.models import Account, AccountCreate, PatientCreate
    from db.repository import accounts as accounts_module
    from db.repository import create_account, create_patient

    accounts_module.BCRYPT_ROUNDS = 4
    with new_session(get_engine(database_url)) as session:
        create_account(session=session, data=AccountCreate(
            username="admin-two", full_name="Admin Two", password=PASSWORD, role="admin"))
        account = create_account(session=session, data=AccountCreate(
            username="dr-two", full_name="Doctor Two", password=PASSWORD, role="clinician"))
        doctor = session.get(Account, account.id)
        create_patient(session=session, actor=doctor, data=PatientCreate(
            code=CODE, name="Two Instances", consent_date=date(2026, 1, 5)))


def _sign_in(page, url: str) -> None:  # noqa: ANN001 - playwright Page
    page.goto(url)
    page.get_by_label("User name", exact=True).fill("dr-two")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stSidebarNav"]').wait_for()
    wait_for_run(page)
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Current patient").first
    box.get_by_role("combobox").fill(CODE)
    page.get_by_role("option").filter(has_text=CODE).first.click()
    wait_for_run(page)


@pytest.mark.timeout(1800)
def test_a_photo_stored_through_one_instance_is_shown_corrected_and_reported_through_another(
    browser, tmp_path: Path, databases, s3_env: str, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    from tests.e2e.conftest import _write_photos
    from tests.model_factory import build_tiny_weights

    weights = build_tiny_weights(tmp_path / "weights")
    photo, _ = _write_photos(tmp_path / "uploads")
    database_url = databases.new(tmp_path / "db")
    store = f"s3://{s3_env}/trial"
    envs = []
    for name in ("first", "second"):  # each instance has a private data folder of its own
        monkeypatch.setenv("ACNE_PHOTO_STORE", store)
        envs.append(migrated_env(tmp_path / name / "data", weights, database_url))
    _seed(database_url)

    with running_app(envs[0], tmp_path / "first.log") as first_url, \
            running_app(envs[1], tmp_path / "second.log") as second_url:
        contexts = []
        try:
            pages = []
            for _ in range(2):  # two browsers' worth: no cookie shared between the instances
                context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                              accept_downloads=True)
                context.set_default_timeout(STEP_TIMEOUT_MS)
                contexts.append(context)
                pages.append(context.new_page())
            first, second = pages

            # Stored through the first instance.
            _sign_in(first, first_url)
            open_page(first, "New visit", timeout_ms=MODEL_LOAD_TIMEOUT_MS)
            first.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
            first.get_by_text(re.compile(r"\d+ lesions?: ")).first.wait_for(
                timeout=ANALYSIS_TIMEOUT_MS)
            wait_for_run(first)
            if first.get_by_text("Store it anyway", exact=True).count():
                tick(first, "Store it anyway")
                wait_for_run(first)
            first.get_by_role("button", name=re.compile("^Save the visit")).click()
            first.get_by_text(re.compile("saved with 1 photo")).wait_for()
            for folder in ("first", "second"):
                assert not (tmp_path / folder / "data" / "photos").exists(), "no local photos"

            # Shown, corrected and reported through the second.
            _sign_in(second, second_url)
            open_page(second, "Visit", timeout_ms=MODEL_LOAD_TIMEOUT_MS)
            second.locator(".js-plotly-plot").first.wait_for()
            assert second.locator('[data-testid="stException"]').count() == 0
            before = shown_metrics(second)
            second.get_by_text("Correct the lesions", exact=True).first.click()
            wait_for_run(second)
            click_on_bare_skin(second, (0.08, 0.12))
            second.get_by_role("button", name="Add a lesion here").click()
            second.get_by_text(re.compile("Correction saved")).first.wait_for()
            wait_for_run(second)
            after = shown_metrics(second)
            assert after["Total"] == before["Total"] + 1, (before, after)

            open_page(second, "Reports")
            second.get_by_role("button", name="Prepare the PDF report").click()
            wait_for_run(second)
            with second.expect_download() as download:
                second.get_by_role("button", name="Download the PDF report").click()
            pdf = Path(download.value.path()).read_bytes()
            assert pdf.startswith(b"%PDF") and len(pdf) > 10_000, "the report holds the photo"
        finally:
            for context in contexts:
                context.close()
    databases.drop(database_url)
