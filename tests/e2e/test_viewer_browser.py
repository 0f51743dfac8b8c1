"""The photo viewer in a real browser: a 12 MP visit photo opens cropped to the face, the mouse
wheel zooms in down to the photo's own pixels, the legend switches a lesion type off, and the
heat map and 'Whole photo' switches act in the browser, keeping the zoom.

The server here is the dashboard as in production (`streamlit run dashboard/app.py`) over a
database seeded directly with one patient, one visit and a hand-built analysis of a generated
12 MP photo (the public-domain astronaut enlarged, with sensor-like noise): no model is
installed, none is needed to look at stored results. Its own server, so that the first-start
flow of test_browser_flow.py still meets an empty database.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.conftest import (
    STEP_TIMEOUT_MS,
    seeded_app_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USER = "viewer-doc"
PASSWORD = "viewer correct horse battery"
PATIENT_CODE = "P-VIEW01"
WIDTH, HEIGHT = 4000, 3000  # a 12 MP phone photo
FACE_BOX = (1480.0, 300.0, 2150.0, 1050.0)
# (kind, centre x, centre y, side) on the enlarged astronaut's face; flags below.
LESIONS = [
    ("comedone", 1700, 420, 30), ("comedone", 1900, 400, 30), ("comedone", 1820, 760, 26),
    ("papule", 1660, 730, 50), ("papule", 1980, 720, 50), ("papule", 1760, 880, 44),
    ("pustule", 1900, 860, 44), ("pustule", 2040, 820, 40),
    ("nodule", 1620, 640, 70),
]
UNCERTAIN = ("papule", 2050, 640, 46)  # an inflammatory lesion of uncertain type
ADDED = ("comedone", 1800, 330, 30)  # one a clinician added
# An earlier visit (the 'before' of the comparison): fewer lesions, a little darker.
EARLIER = [("papule", 1660, 730, 50), ("papule", 1980, 720, 50), ("comedone", 1700, 420, 30)]
# Eyes, nose tip, mouth corners of the enlarged astronaut (photo pixels): the face alignment.
LANDMARKS = ((1672.0, 586.0), (1953.0, 586.0), (1812.0, 732.0), (1701.0, 850.0), (1924.0, 850.0))


@dataclass(frozen=True)
class ViewerApp:
    url: str
    log_file: Path


def _photo_bytes(brightness: int = 0) -> bytes:
    import cv2
    from PIL import Image
    from skimage import data

    face = cv2.resize(data.astronaut(), (HEIGHT, HEIGHT), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    left = (WIDTH - HEIGHT) // 2
    canvas[:, left:left + HEIGHT] = face
    noise = np.random.default_rng(7).normal(0.0, 3.0, canvas.shape)
    canvas = np.clip(canvas + noise + brightness, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _analysis(photo, lesion_specs=None):  # noqa: ANN001, ANN202 - a core DecodedPhoto; a core Analysis
    from core.alignment import estimate_alignment
    from core.types import (
        GRADE_LABELS,
        LESION_KINDS,
        Analysis,
        FaceResult,
        Grade,
        Lesion,
        LesionCounts,
        QualityResult,
    )

    kind_mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    probability = np.zeros((HEIGHT, WIDTH), np.float32)
    lesions = []
    rows = [(spec, False, False) for spec in LESIONS] + [(UNCERTAIN, True, False), (ADDED, False, True)]
    if lesion_specs is not None:
        rows = [(spec, False, False) for spec in lesion_specs]
    for (kind, cx, cy, side), uncertain, added in rows:
        x0, y0 = cx - side // 2, cy - side // 2
        box = (x0, y0, x0 + side, y0 + side)
        kind_mask[y0:y0 + side, x0:x0 + side] = 5 if uncertain else LESION_KINDS.index(kind) + 1
        ys, xs = np.mgrid[y0 - side:y0 + 2 * side, x0 - side:x0 + 2 * side]
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2.0 * (side / 2.0) ** 2))
        window = probability[y0 - side:y0 + 2 * side, x0 - side:x0 + 2 * side]
        np.maximum(window, blob, out=window)
        lesions.append(Lesion(bbox=box, kind=kind, score=0.9, area_px=side * side,
                              region="forehead", type_confidence=0.4 if uncertain else 0.9,
                              type_uncertain=uncertain, added_by_clinician=added))
    counts = LesionCounts.from_lesions(lesions)
    return Analysis(
        width=WIDTH, height=HEIGHT, lesions=tuple(lesions), counts=counts,
        grade=Grade(value=1, label=GRADE_LABELS[1], confidence=0.7),
        lesion_area_fraction=0.01, skin_area_px=WIDTH * HEIGHT // 8,
        face=FaceResult(found=True, box=FACE_BOX, landmarks=LANDMARKS, n_faces=1, view="front"),
        alignment=estimate_alignment(LANDMARKS),
        quality=QualityResult(passed=True, metrics={"sharpness": 1.0}),
        model_version="viewer-test 0", kind_mask=kind_mask,
        probability_map=np.rint(probability * 255.0).astype(np.uint8),
    )


def _seed(database_url: str, data_dir: Path) -> None:
    """One clinician, one patient, two visits each with a photo and its analysis."""
    from core.imaging import decode_photo
    from db.engine import get_engine, new_session
    from db.models import AccountCreate, PatientCreate
    from db.photos import PhotoStore
    from db.repository import create_account, create_patient, create_visit, store_photo

    engine = get_engine(database_url)
    with new_session(engine) as session:
        create_account(session=session, data=AccountCreate(
            username="viewer-admin", full_name="Viewer Admin", password=PASSWORD, role="admin"))
    with new_session(engine) as session:
        doctor = create_account(session=session, data=AccountCreate(
            username=USER, full_name="Viewer Doctor", password=PASSWORD, role="clinician"))
    with new_session(engine) as session:
        patient = create_patient(session=session, actor=doctor, data=PatientCreate(code=PATIENT_CODE))
        visit = create_visit(session=session, actor=doctor, patient_id=patient.id,
                             visit_date=date(2024, 3, 1))
        photo = decode_photo(_photo_bytes(), filename="generated_face.jpg")
        store_photo(session=session, actor=doctor, photo_store=PhotoStore(data_dir / "photos"),
                    visit_id=visit.id, photo=photo, analysis=_analysis(photo))
        earlier = create_visit(session=session, actor=doctor, patient_id=patient.id,
                               visit_date=date(2024, 1, 15))
        photo = decode_photo(_photo_bytes(brightness=-12), filename="generated_face_before.jpg")
        store_photo(session=session, actor=doctor, photo_store=PhotoStore(data_dir / "photos"),
                    visit_id=earlier.id, photo=photo, analysis=_analysis(photo, EARLIER))
    engine.dispose()


@pytest.fixture(scope="module")
def viewer_app(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerApp]:  # noqa: ANN001
    base = tmp_path_factory.mktemp("viewer")
    with seeded_app_url(base, _seed) as (url, log_file):
        yield ViewerApp(url=url, log_file=log_file)


def wait_for_run(page) -> None:  # noqa: ANN001 - a playwright Page
    """Wait until Streamlit has finished the script run the last action started."""
    page.wait_for_timeout(500)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    page.wait_for_timeout(300)


def sign_in_and_open(page, viewer_app: ViewerApp, title: str) -> None:  # noqa: ANN001
    """Sign in as the clinician, make the patient current, open the page `title`."""
    page.goto(viewer_app.url)
    page.get_by_label("User name", exact=True).fill(USER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Viewer Doctor").wait_for()
    wait_for_run(page)
    picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Current patient").first
    picker.get_by_role("button", name="Open").click()
    page.get_by_role("option", name=PATIENT_CODE, exact=True).first.click()
    wait_for_run(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    wait_for_run(page)


def view_of(chart) -> dict:  # noqa: ANN001 - a playwright Locator of the .js-plotly-plot
    """What the viewer shows now: axis ranges, plot area in screen pixels, and its traces."""
    return chart.evaluate(
        """plot => {
            const layout = plot._fullLayout;
            return {x: layout.xaxis.range, y: layout.yaxis.range,
                    width: layout._size.w, height: layout._size.h,
                    traces: plot._fullData.map(t => ({meta: t.meta, name: t.name, visible: t.visible,
                                                       showlegend: t.showlegend}))};
        }"""
    )


def legend_entry(chart, name: str):  # noqa: ANN001, ANN201 - playwright Locators
    """The clickable part of a legend entry of the chart."""
    return chart.locator(".legend .traces").filter(has_text=name).locator(".legendtoggle")


def switch(chart, label: str):  # noqa: ANN001, ANN201 - playwright Locators
    """A switch button above the viewer's photo."""
    return chart.locator(".updatemenu-button").filter(has_text=label).first


def screen_px_per_photo_px(view: dict) -> float:
    return view["width"] / abs(view["x"][1] - view["x"][0])


@pytest.mark.timeout(900)
def test_a_12_mp_photo_zooms_to_its_own_pixels(page, viewer_app: ViewerApp, screenshots: Path) -> None:  # noqa: ANN001
    sign_in_and_open(page, viewer_app, "Visit")
    page.get_by_role("heading", name=f"Visits of {PATIENT_CODE}", exact=True).wait_for()
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for(timeout=STEP_TIMEOUT_MS)
    page.wait_for_timeout(1500)  # the 12 MP picture decodes in the browser

    # The picture in the figure is the photo at full resolution ...
    natural = chart.evaluate(
        """async plot => {
            const source = plot.data.find(t => t.meta === 'photo').source;
            const image = new Image();
            image.src = source;
            await image.decode();
            return {width: image.naturalWidth, height: image.naturalHeight, chars: source.length};
        }"""
    )
    assert (natural["width"], natural["height"]) == (WIDTH, HEIGHT), natural
    print(f"viewer: 12 MP photo sent as a {natural['chars'] / 1e6:.2f} MB data URI", flush=True)
    # ... shown first cropped to the face, a lesion type per legend entry, in words.
    start = view_of(chart)
    assert start["x"][0] > 900 and start["x"][1] < 2800, start["x"]
    legend = {t["meta"]: t["name"] for t in start["traces"] if t["showlegend"] and t["meta"]}
    assert legend == {
        "comedone": "Comedones: 3", "papule": "Papules: 3", "pustule": "Pustules: 2",
        "nodule": "Nodules/cysts: 1", "inflammatory_type_uncertain": "Inflammatory, type uncertain: 1",
        "added_by_clinician": "Added by a clinician: 1",
    }, legend
    assert screen_px_per_photo_px(start) < 1.0  # the face crop: photo pixels are shrunk
    shoot(page, screenshots, "08_viewer.png")

    # The mouse wheel zooms in until one photo pixel takes several screen pixels.
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45)
    for _ in range(30):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(150)
        if screen_px_per_photo_px(view_of(chart)) >= 3.0:
            break
    zoomed = view_of(chart)
    assert screen_px_per_photo_px(zoomed) >= 3.0, zoomed
    span = abs(zoomed["x"][1] - zoomed["x"][0])
    assert span < abs(start["x"][1] - start["x"][0]) / 4, (start["x"], zoomed["x"])
    chart.screenshot(path=str(screenshots / "08_viewer_zoomed.png"), animations="disabled")
    # Dragging moves the view (pan is the viewer's drag mode).
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.45, steps=5)
    page.mouse.up()
    page.wait_for_timeout(300)
    panned = view_of(chart)
    assert panned["x"][0] < zoomed["x"][0]
    assert abs(abs(panned["x"][1] - panned["x"][0]) - span) < 1.0

    # The legend hides a type's rings (and their dark border) in the browser, without a rerun.
    legend_entry(chart, "Papules: 3").click()
    page.wait_for_timeout(1000)  # plotly waits to tell a click from a double click
    hidden = {t["meta"]: t["visible"] for t in view_of(chart)["traces"]}
    assert hidden["papule"] == "legendonly" and hidden["papule:border"] == "legendonly", hidden
    assert hidden["pustule"] is True

    # The heat map switch acts in the browser: the zoom and the legend choice stay.
    switch(chart, "Heat map on").click()
    page.wait_for_timeout(1000)
    with_heat = view_of(chart)
    visible = {t["meta"]: t["visible"] for t in with_heat["traces"]}
    assert visible["heat"] is True and visible["heat_scale"] is True, visible
    assert visible["papule"] == "legendonly"
    assert with_heat["x"] == panned["x"], (panned["x"], with_heat["x"])
    assert chart.locator(".cbtitle").first.text_content().strip() == "lesion likelihood"

    # 'Whole photo' shows all of it; 'Face' and a double click go back to the face.
    switch(chart, "Whole photo").click()
    page.wait_for_timeout(800)
    whole = view_of(chart)
    assert whole["x"][0] <= -0.5 and whole["x"][1] >= WIDTH - 0.5, whole["x"]
    switch(chart, "Face").click()
    page.wait_for_timeout(800)
    assert view_of(chart)["x"] == start["x"]
    chart.locator(".nsewdrag").first.dblclick()
    page.wait_for_timeout(800)
    back = view_of(chart)
    assert [round(v) for v in back["x"]] == [round(v) for v in start["x"]], (start["x"], back["x"])
    legend_entry(chart, "Papules: 3").click()
    page.wait_for_timeout(1000)
    shoot(page, screenshots, "09_viewer_heat.png")


def shoot(page, folder: Path, name: str) -> None:  # noqa: ANN001
    """A screenshot of the whole page (1440 px wide) once it is idle: the window is made as tall
    as the content for the picture (Streamlit scrolls its main area inside the window), then put
    back, which keeps the viewer's zoom (its size does not change)."""
    wait_for_run(page)
    viewport = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"]')]"
        ".map(e => e.scrollHeight), 0)")
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    page.wait_for_timeout(1000)
    try:
        page.screenshot(path=str(folder / name), animations="disabled")
    finally:
        page.set_viewport_size(viewport)
        page.wait_for_timeout(500)
    assert (folder / name).stat().st_size > 10_000


@pytest.mark.timeout(900)
def test_compare_zooms_both_aligned_photos_together(page, viewer_app: ViewerApp, screenshots: Path) -> None:  # noqa: ANN001
    sign_in_and_open(page, viewer_app, "Compare visits")
    page.get_by_role("heading", name=f"Compare visits of {PATIENT_CODE}", exact=True).wait_for()
    chart = page.locator(".js-plotly-plot").first  # the viewer; the lesion-by-lesion figure follows
    chart.wait_for(timeout=STEP_TIMEOUT_MS)
    page.wait_for_timeout(1500)

    def ranges() -> dict:
        return chart.evaluate(
            "plot => { const l = plot._fullLayout; return {x: l.xaxis.range, x2: l.xaxis2.range, "
            "y: l.yaxis.range, y2: l.yaxis2.range, width: l.xaxis._length}; }")

    sizes = chart.evaluate(
        """async plot => Promise.all(plot.data.filter(t => t.meta === 'photo').map(async t => {
            const image = new Image(); image.src = t.source; await image.decode();
            return [image.naturalWidth, image.naturalHeight]; }))"""
    )
    # Both in the face frame, at the sharper photo's resolution (more than the 512 px frame).
    assert sizes[0] == sizes[1] and sizes[0][0] > 900, sizes
    start = ranges()
    assert start["x"] == start["x2"] and start["y"] == start["y2"]
    shoot(page, screenshots, "10_compare_viewer.png")
    box = chart.locator(".nsewdrag").first.bounding_box()  # the before photo
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    for _ in range(20):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(200)
        if abs(ranges()["x"][1] - ranges()["x"][0]) < abs(start["x"][1] - start["x"][0]) / 2:
            break
    zoomed = ranges()
    assert abs(zoomed["x"][1] - zoomed["x"][0]) < abs(start["x"][1] - start["x"][0]) / 2, zoomed
    # The after photo moved the same way.
    assert zoomed["x2"] == zoomed["x"] and zoomed["y2"] == zoomed["y"], zoomed
