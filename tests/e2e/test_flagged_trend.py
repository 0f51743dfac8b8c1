"""The trends page in a real headless Chromium: a visit whose photo failed the quality check and
was stored anyway is a hollow point with its reason, and each count has the band a retaken
photo would land within (issues 25 and 26). Its screenshot is docs/screenshots/14_trends_flagged.png
when ACNE_E2E_SCREENSHOTS=1 (no photo on it: the numbers are seeded)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.e2e.conftest import STEP_TIMEOUT_MS, seeded_app_url
from tests.e2e.test_plain_screen import (
    ADMIN,
    ADMIN_NAME,
    PASSWORD,
    PATIENT_CODE,
    open_page,
    sign_in_and_pick_the_patient,
    wait_for_run,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _seed(database_url: str, data_dir: Path) -> None:
    """An administrator and one patient with four front visits; the third one's photo had the
    face cut off and was stored anyway (its count jumps); a retake table in the weights folder."""
    from db.engine import get_engine, new_session
    from db.models import AccountCreate, PatientCreate
    from db.repository import create_account, create_patient
    from tests.dashboard.fixtures_d2 import comedones, papules
    from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, retake_table, seed_shots

    engine = get_engine(database_url)
    with new_session(engine) as session:
        admin = create_account(session=session, data=AccountCreate(
            username=ADMIN, full_name=ADMIN_NAME, password=PASSWORD, role="admin"))
    with new_session(engine) as session:
        patient = create_patient(session=session, actor=admin, data=PatientCreate(
            code=PATIENT_CODE, name="Pat Example", consent_date=date(2024, 1, 2)))
        patient_id = patient.id

    class _Dash:  # what seed_shots needs of the page tests' helper
        class env:  # noqa: N801
            pass

        @staticmethod
        def get_account(account_id: int):  # noqa: ANN205
            from db.repository import get_account

            with new_session(engine) as session:
                account = get_account(session=session, account_id=account_id)
                session.expunge(account)
                return account

    _Dash.env.data_dir = data_dir
    _Dash.env.session = staticmethod(lambda: new_session(engine))
    seed_shots(_Dash, admin.id, PATIENT_CODE, [
        (date(2024, 1, 10), [Shot(papules(18) + comedones(9))]),
        (date(2024, 2, 10), [Shot(papules(14) + comedones(8))]),
        (date(2024, 3, 10), [Shot(papules(44) + comedones(12), quality_reasons=(CUT_OFF,))]),
        (date(2024, 4, 10), [Shot(papules(8) + comedones(6))]),
    ], patient_id=patient_id)
    retake_table(data_dir.parent / "weights", sd=1.8)
    engine.dispose()


@pytest.fixture(scope="module")
def flagged_app(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:  # noqa: ANN001
    with seeded_app_url(tmp_path_factory.mktemp("flagged"), _seed) as (url, log_file):
        yield url, log_file


@pytest.mark.timeout(600)
def test_the_flagged_visit_is_hollow_with_its_reason(browser, flagged_app, screenshots: Path) -> None:  # noqa: ANN001
    url, log_file = flagged_app
    context = browser.new_context(viewport={"width": 1280, "height": 1300})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_in_and_pick_the_patient(page, url)
        open_page(page, "Trends")
        page.get_by_role("heading", name=f"Trends of {PATIENT_CODE}", exact=True).wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        wait_for_run(page)
        page.get_by_text("Hollow points come from photos stored although").wait_for()
        page.get_by_text("a retaken photo would land within this band").first.wait_for()
        # Plotly draws an open circle as a marker path with no fill.
        hollow = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot .point')]
            .filter(p => (p.style.fill === 'none' || p.style.fillOpacity === '0')).length""")
        assert hollow >= 2, log_file.read_text()[-2000:]  # inflammatory and non-inflammatory
        page.screenshot(path=str(screenshots / "14_trends_flagged.png"), full_page=False)
    finally:
        context.close()
