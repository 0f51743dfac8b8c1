"""Issue 24 ("Also"): two app instances (`streamlit run` twice) over ONE SQLite file and one data
folder, each with its own browser, both writing at the same moment.

This is the supported single-machine set-up with more than one server process (for example a
second port for a second room, or a restart overlapping the old process): SQLite's WAL journal,
its busy timeout and `BEGIN IMMEDIATE` (db/engine.py) let both processes write without a
"database is locked" reaching a user, and each instance sees the other's rows at its next page
run. docs/SECURITY.md ("Supported set-ups") says what is and is not supported.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.e2e.conftest import STEP_TIMEOUT_MS, migrated_env, running_app
from tests.e2e.test_browser_flow import choose, fill, open_page, tick, wait_for_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "two sqlite instances"
CODES = {"first": "P-SQL-A", "second": "P-SQL-B"}


def _seed(database_url: str) -> None:
    from db.engine import dispose_engines, get_engine, new_session
    from db.models import AccountCreate
    from db.repository import accounts as accounts_module
    from db.repository import create_account

    accounts_module.BCRYPT_ROUNDS = 4
    with new_session(get_engine(database_url)) as session:
        create_account(session=session, data=AccountCreate(
            username="admin-sql", full_name="Admin Sql", password=PASSWORD, role="admin"))
        for name in ("first", "second"):
            create_account(session=session, data=AccountCreate(
                username=f"dr-{name}", full_name=f"Doctor {name.title()}", password=PASSWORD,
                role="clinician", team="one"))
    dispose_engines()


def _sign_in(page, url: str, username: str) -> None:  # noqa: ANN001 - playwright Page
    page.goto(url)
    fill(page, "User name", username)
    fill(page, "Password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stSidebarNav"]').wait_for()
    page.get_by_role("heading", name="Patients", exact=True).wait_for()
    wait_for_run(page)


def _patients(database_url: str) -> dict[str, str]:
    """code -> the username of the clinician who created it (from the audit trail's owner)."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT patient.code, account.username FROM patient "
                "JOIN account ON account.id = patient.owner_id")).all()
    finally:
        engine.dispose()
    return dict(rows)


@pytest.mark.timeout(1200)
def test_two_instances_on_one_sqlite_file_both_write_and_see_each_other(
    browser, tmp_path: Path,  # noqa: ANN001 - the session's Chromium (tests/e2e/conftest.py)
) -> None:
    from tests.model_factory import build_tiny_weights

    weights = build_tiny_weights(tmp_path / "weights")
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{data_dir / 'acne.db'}"
    env = migrated_env(data_dir, weights, database_url)  # one data folder, one database file
    _seed(database_url)

    with running_app(env, tmp_path / "first.log") as first_url, \
            running_app(env, tmp_path / "second.log") as second_url:
        pages, contexts = {}, []
        for name, url in (("first", first_url), ("second", second_url)):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})  # its own browser
            contexts.append(context)
            context.set_default_timeout(STEP_TIMEOUT_MS)
            pages[name] = context.new_page()
            _sign_in(pages[name], url, f"dr-{name}")
            tick(pages[name], "Consent recorded")
            wait_for_run(pages[name])
            fill(pages[name], "Pseudonymous code", CODES[name])

        # Both instances write at the same moment: one click each, before either answers.
        for page in pages.values():
            page.get_by_role("button", name="Create patient").click()
        for name, page in pages.items():
            page.get_by_text(f"Patient {CODES[name]} created.").wait_for()
            wait_for_run(page)
            assert page.get_by_text("database is locked").count() == 0

        # Each instance sees the other's patient at its next page run (same team).
        for name, page in pages.items():
            other = CODES["second" if name == "first" else "first"]
            open_page(page, "Patients")
            choose(page, "Current patient", other)
            page.get_by_role("heading", name=f"Patient {other}", exact=True).wait_for()
        for context in contexts:
            context.close()

    assert _patients(database_url) == {"P-SQL-A": "dr-first", "P-SQL-B": "dr-second"}
    for log in ("first.log", "second.log"):
        text = (tmp_path / log).read_text(errors="replace")
        assert "Traceback" not in text and "database is locked" not in text, text[-3000:]
