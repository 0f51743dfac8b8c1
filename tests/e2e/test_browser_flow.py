"""The whole clinical flow in a real browser, from the first start to the trends chart.

First start -> create the first administrator -> sign out and sign in -> create a patient and
pick it -> a first visit with a photo (analysed by a tiny real model) -> a second visit with a
turned, smaller photo -> the visit page, its photo viewer's heat map switched on -> both visits
compared, registered on the face -> the trends chart -> lesions added, retyped and removed by
clicks on the photo -> the trend moved.
Screenshots of the key steps go to docs/screenshots/ when ACNE_E2E_SCREENSHOTS=1 (see the README).
"""
from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import STEP_TIMEOUT_MS, E2EApp

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN = "e2e-admin"
ADMIN_NAME = "Dana Admin"
PASSWORD = "e2e correct horse battery"
PATIENT_CODE = "P-E2E001"
# The baseline visit lies in the past so the two visits have distinct dates on every chart.
FIRST_VISIT = date.today() - timedelta(days=28)
SECOND_VISIT = date.today()
MODEL_LOAD_TIMEOUT_MS = 600_000
ANALYSIS_TIMEOUT_MS = 300_000


def wait_for_run(page, timeout_ms: int = STEP_TIMEOUT_MS) -> None:  # noqa: ANN001 - Page
    """Wait until Streamlit has finished the script run the last action started."""
    # A rerun starts a moment after the click; give it the chance to begin before checking.
    page.wait_for_timeout(500)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=timeout_ms
    )
    page.wait_for_timeout(300)


def shoot(page, folder: Path, name: str) -> None:  # noqa: ANN001
    """A screenshot of the whole page once it is idle.

    Streamlit scrolls its main area inside the window, so a 'full page' screenshot would stop
    at the window's height: the window is made as tall as the content for the picture.
    """
    wait_for_run(page)
    viewport = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
        "[data-testid=\"stSidebarContent\"]')].map(e => e.scrollHeight), 0)"
    )
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    page.wait_for_timeout(1000)  # let images and charts re-lay out at the new size
    try:
        page.screenshot(path=str(folder / name), full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(viewport)


def open_page(page, title: str, timeout_ms: int = STEP_TIMEOUT_MS) -> None:  # noqa: ANN001
    """Open a page through the sidebar (a new URL would start a new, signed-out session)."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_role("link", name=title, exact=True).click()
    wait_for_run(page, timeout_ms)


def fill(page, label: str, value: str) -> None:  # noqa: ANN001
    page.get_by_label(label, exact=True).fill(value)


def set_date(page, label: str, day: date) -> None:  # noqa: ANN001
    """Type a date into a Streamlit date field: its segments (year/month/day) take digits."""
    page.get_by_role("spinbutton", name=f"year, {label}", exact=True).click()
    page.keyboard.type(day.strftime("%Y%m%d"), delay=50)
    page.keyboard.press("Tab")  # leaving the field commits the value
    wait_for_run(page)
    shown = [
        page.get_by_role("spinbutton", name=f"{part}, {label}", exact=True).inner_text()
        for part in ("year", "month", "day")
    ]
    assert shown == day.strftime("%Y/%m/%d").split("/"), shown


def tick(page, label: str) -> None:  # noqa: ANN001
    """Tick the Streamlit checkbox labelled `label` (its input is hidden behind the label)."""
    box = page.locator('[data-testid="stCheckbox"]').filter(has_text=label).first
    if not box.get_by_role("checkbox").is_checked():
        box.get_by_text(label, exact=True).click()
    assert box.get_by_role("checkbox").is_checked(), label


def choose(page, label: str, option: str) -> None:  # noqa: ANN001
    """Pick `option` in the Streamlit selectbox labelled `label` (a react-aria combobox)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.get_by_role("button", name="Open").click()
    page.get_by_role("option", name=option, exact=True).first.click()
    wait_for_run(page)
    assert box.get_by_role("combobox").input_value() == option


def upload_and_save(page, photo: Path, visit_day: date) -> None:  # noqa: ANN001
    """On the New visit page: date, notes and one photo, then wait for its single analysis."""
    set_date(page, "Visit date", visit_day)
    fill(page, "Treatment notes", f"e2e visit of {visit_day:%d %b %Y}")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
    # The photo is decoded and analysed once by the model, then previewed with its verdict.
    page.locator('[data-testid="stImage"]').first.wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    verdict = page.get_by_text("Quality checks passed.").or_(page.get_by_text("Quality problems:"))
    verdict.first.wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    wait_for_run(page)
    if page.get_by_text("Store it anyway", exact=True).count():
        # A model may judge a photo's quality differently; the flow keeps it, as a clinician may.
        tick(page, "Store it anyway")
        wait_for_run(page)
    page.get_by_text(re.compile(r"\d+ lesions?: ")).first.wait_for()


def shown_metrics(page) -> dict[str, int]:  # noqa: ANN001
    """The visit page's count metrics, by label."""
    values = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
        if value.isdigit():
            values[label] = int(value)
    return values


def trend_series(page, column: str) -> list[float]:  # noqa: ANN001
    """The y values of the first trend chart's line for `column` (plotly keeps them on the chart)."""
    chart = page.locator(".js-plotly-plot").first
    return chart.evaluate(
        "(plot, column) => plot.data.find(trace => trace.meta === column).y", column)


def click_photo(page, at: tuple[float, float]) -> None:  # noqa: ANN001
    """Click the clickable visit photo at (x, y), as shares of its width and height."""
    frame = page.frame_locator('iframe[title*="streamlit_image_coordinates"]')
    image = frame.locator("#image")
    image.wait_for()
    box = image.bounding_box()
    image.click(position={"x": box["width"] * at[0], "y": box["height"] * at[1]})
    wait_for_run(page)


def click_on_bare_skin(page, start: tuple[float, float]) -> tuple[float, float]:  # noqa: ANN001
    """Click near `start` until the click lands away from every lesion (the add panel shows)."""
    for step in range(8):
        at = (start[0], start[1] + 0.1 * step)
        click_photo(page, at)
        if page.get_by_role("button", name="Add a lesion here").count():
            return at
    raise AssertionError("every click landed on a lesion")


def viewer_traces(chart) -> list[dict]:  # noqa: ANN001 - a Locator of the .js-plotly-plot
    """The photo viewer's traces as the figure holds them, switches applied (meta, legend name,
    visibility, legend entry). From `plot.data`: plotly leaves a hidden trace's meta out of
    `_fullData`."""
    return chart.evaluate(
        "plot => plot.data.map(t => ({meta: t.meta, name: t.name, "
        "visible: t.visible === undefined ? true : t.visible, showlegend: t.showlegend !== false}))")


def drawn_metas(chart) -> list[str]:  # noqa: ANN001 - a Locator of the .js-plotly-plot
    """The metas of the viewer's traces plotly actually draws now (`_fullData`, visible)."""
    return chart.evaluate(
        "plot => plot._fullData.filter(t => t.visible === true).map(t => t.meta)")


def trace_visible(traces: list[dict], meta: str) -> bool | str:
    """Whether the viewer trace `meta` is drawn (True), hidden (False) or only in the legend."""
    found = [t["visible"] for t in traces if t["meta"] == meta]
    assert len(found) == 1, (meta, traces)
    return found[0]


def ringed_count(traces: list[dict]) -> int:
    """The lesions ringed on the viewer's photo, from the legend's 'Papules: 3' entries."""
    names = [t["name"] for t in traces
             if t["showlegend"] and t["meta"] not in ("photo", "heat", "heat_scale")
             and not str(t["meta"]).startswith("colour:")]  # redness and dark-mark layers
    return sum(int(name.rsplit(": ", 1)[1]) for name in names)


@pytest.mark.timeout(1800)
def test_first_start_to_trends(page, e2e_app: E2EApp, screenshots: Path) -> None:  # noqa: ANN001
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(step: str) -> None:
        nonlocal started
        timings[step] = round(time.monotonic() - started, 1)
        print(f"e2e step {step}: {timings[step]} s", flush=True)
        started = time.monotonic()

    page.goto(e2e_app.url)

    # --- first start: no account exists, so the first administrator is created ---------------
    page.get_by_text("Create the first administrator").wait_for()
    fill(page, "User name", ADMIN)
    fill(page, "Full name", ADMIN_NAME)
    fill(page, "Password", PASSWORD)
    fill(page, "Repeat the password", PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    page.get_by_text(f"Signed in as {ADMIN_NAME}").wait_for()
    wait_for_run(page)
    lap("first administrator")

    # --- sign out, then sign in with the new account --------------------------------------
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_text("Create the first administrator").count() == 0
    fill(page, "User name", ADMIN)
    fill(page, "Password", PASSWORD)
    shoot(page, screenshots, "01_signin.png")
    # A wrong password is refused with the one message that reveals nothing ...
    fill(page, "Password", "not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong user name or password").wait_for()
    assert page.get_by_text(f"Signed in as {ADMIN_NAME}").count() == 0
    # ... and the right one signs in.
    fill(page, "User name", ADMIN)
    fill(page, "Password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {ADMIN_NAME}").wait_for()
    page.get_by_role("heading", name="Patients", exact=True).wait_for()
    wait_for_run(page)
    lap("sign in")

    # --- create a patient, then pick it as the current patient ----------------------------
    page.get_by_text("No patient yet.").wait_for()
    tick(page, "Consent recorded")  # outside the form: the consent date appears with it
    wait_for_run(page)
    page.get_by_role("spinbutton", name="year, Consent date", exact=True).wait_for()
    fill(page, "Pseudonymous code", PATIENT_CODE)
    page.get_by_role("button", name="Create patient").click()
    page.get_by_text(f"Patient {PATIENT_CODE} created.").wait_for()
    wait_for_run(page)
    choose(page, "Current patient", PATIENT_CODE)
    page.get_by_role("heading", name=f"Patient {PATIENT_CODE}", exact=True).wait_for()
    shoot(page, screenshots, "02_patient.png")
    lap("patient")

    # --- first visit: one photo, analysed before the save --------------------------------
    # The first page that needs the model loads it (torch, face detector): minutes when busy.
    open_page(page, "New visit", timeout_ms=MODEL_LOAD_TIMEOUT_MS)
    page.get_by_role("heading", name=f"New visit for {PATIENT_CODE}", exact=True).wait_for()
    assert page.get_by_text("No model is installed").count() == 0, e2e_app.log_tail()
    upload_and_save(page, e2e_app.first_photo, FIRST_VISIT)
    shoot(page, screenshots, "03_upload.png")
    page.get_by_role("button", name="Save the visit with 1 photo").click()
    page.get_by_text(f"Visit of {FIRST_VISIT:%d %b %Y} saved with 1 photo.").wait_for()
    wait_for_run(page)
    lap("first visit")

    # --- second visit: the same face turned a little and closer ---------------------------
    upload_and_save(page, e2e_app.second_photo, SECOND_VISIT)
    page.get_by_role("button", name="Save the visit with 1 photo").click()
    page.get_by_text(f"Visit of {SECOND_VISIT:%d %b %Y} saved with 1 photo.").wait_for()
    wait_for_run(page)
    lap("second visit")

    # --- the visit page: stored results in the photo viewer, heat map switched on ----------
    open_page(page, "Visit")
    page.get_by_role("heading", name=f"Visits of {PATIENT_CODE}", exact=True).wait_for()
    viewer = page.locator(".js-plotly-plot").first
    viewer.wait_for()
    page.get_by_text("UTC by the ").first.wait_for()
    assert page.get_by_text("This photo has no analysis.").count() == 0
    visit_picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Visit").first
    # The visit by its date in words, never by its number (issue 26).
    assert visit_picker.get_by_role("combobox").input_value() == f"{SECOND_VISIT:%d %b %Y}"
    # The photo is in the viewer with the lesions ringed: one legend entry per type, with the
    # counts the page's metrics give.
    shown = viewer_traces(viewer)
    assert [t["meta"] for t in shown].count("photo") == 1, shown
    assert ringed_count(shown) == shown_metrics(page)["Total"], (shown, shown_metrics(page))
    assert trace_visible(shown, "heat") is False  # the heat map starts switched off
    assert "heat" not in drawn_metas(viewer)
    viewer.locator(".updatemenu-button").filter(has_text="Heat map on").first.click()
    page.wait_for_timeout(1000)  # the switch acts in the browser: no rerun to wait for
    switched = viewer_traces(viewer)
    assert trace_visible(switched, "heat") is True, switched
    assert trace_visible(switched, "heat_scale") is True, switched
    assert {"photo", "heat", "heat_scale"} <= set(drawn_metas(viewer)), drawn_metas(viewer)
    assert ringed_count(switched) == ringed_count(shown)  # the rings stay over the heat map
    shoot(page, screenshots, "04_visit_overlay.png")
    lap("visit page")

    # --- compare: both visits, registered side by side ------------------------------------
    open_page(page, "Compare visits")
    page.get_by_role("heading", name=f"Compare visits of {PATIENT_CODE}", exact=True).wait_for()
    caption = f"Earlier: {FIRST_VISIT:%d %b %Y}; later: {SECOND_VISIT:%d %b %Y}"
    page.get_by_text(caption).first.wait_for()
    page.get_by_role("heading", name="Counts", exact=True).wait_for()
    page.get_by_role("heading", name="Lesion by lesion", exact=True).wait_for()
    # Both photos were registered on the face (no 'not registered' warning): the viewer shows
    # both visits' photos, the before/after slider its cross-fade, and the lesion-by-lesion
    # figure is drawn below.
    assert page.get_by_text(caption + ", registered on the face").count() == 1
    assert page.get_by_text("not registered").count() == 0
    viewer = page.locator(".js-plotly-plot").first
    viewer.wait_for()
    assert [t["meta"] for t in viewer_traces(viewer)].count("photo") >= 2
    # Registered: both photos in the face frame, so the after photo's axes follow the before's.
    assert viewer.evaluate("plot => [plot.layout.xaxis2.matches, plot.layout.yaxis2.matches]") \
        == ["x", "y"]
    page.locator('[data-testid="stImage"]').first.wait_for()
    assert page.locator('[data-testid="stImage"]').count() >= 1
    assert page.locator(".js-plotly-plot").count() >= 2  # the viewer, then lesion by lesion
    shoot(page, screenshots, "05_compare.png")
    lap("compare")

    # --- trends: a plotly chart over the two visits --------------------------------------
    open_page(page, "Trends")
    page.get_by_role("heading", name=f"Trends of {PATIENT_CODE}", exact=True).wait_for()
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for()
    wait_for_run(page)
    # Plotly keeps the drawn traces on the chart element: the measured series has both visits.
    points = chart.evaluate("plot => Math.max(...plot.data.map(trace => (trace.x || []).length))")
    assert points == 2, points
    shoot(page, screenshots, "06_trends.png")
    inflammatory_before = trend_series(page, "inflammatory")
    lap("trends")

    # --- lesion correction: clicks on the photo add, retype and remove lesions -----------
    open_page(page, "Visit")
    page.get_by_role("heading", name=f"Visits of {PATIENT_CODE}", exact=True).wait_for()
    counts = shown_metrics(page)
    page.get_by_text("Correct the lesions", exact=True).first.click()
    wait_for_run(page)
    page.get_by_text("Click on the photo").first.wait_for()
    first = click_on_bare_skin(page, (0.08, 0.12))
    page.get_by_role("button", name="Add a lesion here").click()  # a comedone, the first type
    page.get_by_text("Correction saved: added a comedone").wait_for()
    wait_for_run(page)
    assert shown_metrics(page)["Non-inflammatory"] == counts["Non-inflammatory"] + 1
    page.get_by_text("Clinician-corrected").first.wait_for()
    click_photo(page, first)
    page.get_by_text("Selected: comedone").wait_for()
    choose(page, "Change its type to", "nodule/cyst")
    page.get_by_role("button", name="Change the type").click()
    page.get_by_text("Correction saved: changed a comedone to a nodule/cyst").wait_for()
    wait_for_run(page)
    second = click_on_bare_skin(page, (0.90, 0.10))
    page.get_by_role("button", name="Add a lesion here").click()
    page.get_by_text("Correction saved: added a comedone").wait_for()
    wait_for_run(page)
    click_photo(page, second)
    page.get_by_role("button", name="Remove this lesion").click()
    page.get_by_text("Correction saved: removed a comedone").wait_for()
    wait_for_run(page)
    corrected = shown_metrics(page)
    assert corrected["Nodules/cysts"] == counts["Nodules/cysts"] + 1, (counts, corrected)
    assert corrected["Inflammatory"] == counts["Inflammatory"] + 1
    assert corrected["Total"] == counts["Total"] + 1
    shoot(page, screenshots, "07_lesion_correction.png")
    # Done correcting: the viewer is back, ringing the lesions as corrected.
    page.get_by_text("Correct the lesions", exact=True).first.click()
    wait_for_run(page)
    viewer = page.locator(".js-plotly-plot").first
    viewer.wait_for()
    rings = viewer_traces(viewer)
    assert ringed_count(rings) == corrected["Total"], (rings, corrected)
    assert "Added by a clinician: 1" in [t["name"] for t in rings if t["showlegend"]], rings
    open_page(page, "Trends")
    page.get_by_role("heading", name=f"Trends of {PATIENT_CODE}", exact=True).wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    wait_for_run(page)
    inflammatory_after = trend_series(page, "inflammatory")
    # The corrected (last) visit moved by the one lesion added; the first visit did not.
    assert inflammatory_after[0] == inflammatory_before[0]
    assert inflammatory_after[-1] == inflammatory_before[-1] + 1, (inflammatory_before, inflammatory_after)
    lap("lesion correction")

    print("e2e step timings (s):", timings)
    for name in ("01_signin.png", "02_patient.png", "03_upload.png", "04_visit_overlay.png",
                 "05_compare.png", "06_trends.png", "07_lesion_correction.png"):
        assert (screenshots / name).stat().st_size > 10_000, name
