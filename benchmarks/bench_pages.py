"""Page speed: the trends, studies and compare pages over a large database, in AppTest and in a
real browser.

    python -m benchmarks.bench_pages [--repeats 7] [--no-browser] [--keep DIR]
        [--trend-visits 1000 --subjects 5000]

Seeds a temporary database (bulk rows, no model): a patient with 200 analysed visits, a study of
500 subjects x 10 analysed visits (5,000 visits) in two arms, and a patient with two real stored
photos (scikit-image's public-domain astronaut, never patient photos) for the compare page.
Then times each page:
- AppTest: the first run of the page on a fresh session with empty data caches ("cold"), then
  the median of `--repeats` reruns (what a click on the page costs);
- browser (Playwright + /usr/bin/chromium, as tests/e2e): from the click on the page's link in
  the sidebar until its chart is drawn, first click apart, then the median.
The visit page is timed on the trends patient (a picker of every visit, the latest one shown).
Writes benchmarks/results/pages.json and prints it. Targets (issue 28, at trial size: 1,000
visits of one patient, 5,000 subjects x 10 visits): a click on trends under 0.5 s, studies,
compare and the visit page under 1 s; the first open of each under 2 s.

The machine may be shared: `machine.reference` times a fixed pure-Python workload at the start
and at the end of the run (its wall time over its CPU time says how much other work slowed
this run), and every page reports the CPU seconds its click cost beside the wall time.
`--keep DIR` keeps the seeded folder; run again with the same folder, it is reused (no seeding).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "pages.json"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "bench correct horse battery"
TARGETS_S = {"trends": 0.5, "studies": 1.0, "compare": 1.0, "visit": 1.0}
FIRST_OPEN_TARGET_S = 2.0
TREND_VISITS = 200
SUBJECTS = 500
VISITS_PER_SUBJECT = 10
STUDY_NAME = "Bench trial"
# Photo -> canonical 512 x 512 face frame: the 256 px bench photo fills it at twice its size.
ALIGNMENT = (2.0, 0.0, 0.0, 0.0, 2.0, 0.0)


@dataclass(frozen=True)
class Seeded:
    """What the benchmark opens: accounts and the ids of the seeded patients and study."""

    admin_id: int
    clinician_id: int
    researcher_id: int
    trends_patient_id: int
    compare_patient_id: int
    study_id: int
    visits: int
    photos: int


# ---- seeding ----------------------------------------------------------------------------------


def _face_photo(brightness: int):  # noqa: ANN202 - core.types.DecodedPhoto
    from PIL import Image
    from skimage import data

    from core.imaging import decode_photo

    image = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256)), np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image + brightness, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return decode_photo(buffer.getvalue(), filename=f"bench_{brightness}.png")


def _analysis(photo, lesions: int, seed: int):  # noqa: ANN001, ANN202
    """A self-consistent analysis of `photo`: `lesions` 6 px papules and comedones at random
    places on the face, kind mask and probability map agreeing with them."""
    from core.types import (
        GRADE_LABELS, LESION_KINDS, Analysis, FaceResult, Grade, Lesion, LesionCounts,
        QualityResult,
    )

    rng = random.Random(seed)
    mask = np.zeros((photo.height, photo.width), np.uint8)
    probability = np.zeros_like(mask)
    found = []
    for index in range(lesions):
        kind = "papule" if index % 3 else "comedone"
        x, y = rng.randrange(60, 190), rng.randrange(60, 200)
        mask[y:y + 6, x:x + 6] = LESION_KINDS.index(kind) + 1
        probability[y:y + 6, x:x + 6] = 230
        found.append(Lesion(bbox=(x, y, x + 6, y + 6), kind=kind, score=0.9, area_px=36,
                            region="left_cheek"))
    skin = photo.width * photo.height // 2
    return Analysis(
        width=photo.width, height=photo.height, lesions=tuple(found),
        counts=LesionCounts.from_lesions(found),
        grade=Grade(value=1, label=GRADE_LABELS[1], confidence=0.7),
        lesion_area_fraction=36 * lesions / skin, skin_area_px=skin,
        face=FaceResult(found=True, box=(0.0, 0.0, 256.0, 256.0), n_faces=1, view="front"),
        quality=QualityResult(passed=True, metrics={"sharpness": 1.0}),
        model_version="bench-model 1", alignment=ALIGNMENT, kind_mask=mask,
        probability_map=probability,
    )


def _measured_visits(session, *, patient_id: int, creator_id: int, dates: list[date],
                     counts: list[tuple[int, int]], file_sha: str, rng: random.Random) -> list[int]:  # noqa: ANN001
    """Bulk visits of one patient, each with one front photo (all rows share one stored file)
    and one analysis; returns the analysis ids. Rows only: the pages read no file of these."""
    from db.models import Analysis, Photo, Visit

    visits = [Visit(patient_id=patient_id, visit_date=day, created_by_id=creator_id) for day in dates]
    session.add_all(visits)
    session.flush()
    photos = [
        Photo(visit_id=visit.id, file_sha256=file_sha, upload_sha256=f"{visit.id:064x}",
              file_extension=".png", filename=f"visit_{visit.id}.png", width=256, height=256)
        for visit in visits
    ]
    session.add_all(photos)
    session.flush()
    analyses = []
    for photo, (inflammatory, comedones) in zip(photos, counts):
        pustule = inflammatory // 4
        analyses.append(Analysis(
            photo_id=photo.id, model_version="bench-model 1", comedone=comedones,
            papule=inflammatory - pustule, pustule=pustule, nodule=0, inflammatory=inflammatory,
            non_inflammatory=comedones, total=inflammatory + comedones,
            lesion_area_fraction=36 * (inflammatory + comedones) / 32768, skin_area_px=32768,
            grade=min(3, inflammatory // 15), grade_label="bench",
            grade_confidence=round(rng.uniform(0.5, 0.95), 2), quality_passed=True,
            face_found=True, alignment=list(ALIGNMENT),
        ))
    session.add_all(analyses)
    session.flush()
    return [analysis.id for analysis in analyses]


def reference_workload() -> dict[str, float]:
    """Wall and CPU seconds of a fixed pure-Python workload (about 0.3 s of one idle core):
    wall/CPU well above 1 means other processes took the CPU meanwhile."""
    started, started_cpu = time.perf_counter(), time.process_time()
    total = 0
    for index in range(3_000_000):
        total += index * index % 7
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "slowdown": round(wall / cpu, 2) if cpu else None, "load_1min": round(os.getloadavg()[0], 2)}


def seed(database_url: str, photo_dir: Path, *, trend_visits: int = TREND_VISITS,
         subjects: int = SUBJECTS, visits_per_subject: int = VISITS_PER_SUBJECT) -> Seeded:
    """Fill a migrated, empty database: accounts through the repository, the large patient and
    study in bulk, the compare pair through `store_photo` (real files and masks)."""
    from db.engine import get_engine, new_session
    from db.models import (
        Account, AccountCreate, Enrolment, Patient, PatientCreate, Review, TreatmentEvent,
    )
    from db.photos import PhotoStore
    from db.repository import (
        add_study_member, create_account, create_patient, create_study, create_visit,
        list_arms, store_photo,
    )
    from db.repository import accounts as accounts_module

    accounts_module.BCRYPT_ROUNDS = 4  # sign-in speed is not measured here
    engine = get_engine(database_url)
    store = PhotoStore(photo_dir)
    rng = random.Random(7)
    today = date.today()
    with new_session(engine) as session:
        ids = {
            role: create_account(session=session, data=AccountCreate(
                username=f"bench-{role}", full_name=f"Bench {role}", password=PASSWORD,
                role=role)).id
            for role in ("admin", "clinician", "researcher")
        }
    with new_session(engine) as session:
        doctor = session.get(Account, ids["clinician"])
        trends = create_patient(session=session, actor=doctor,
                                data=PatientCreate(code="BENCH-T", name="Trend Person"))
        compare = create_patient(session=session, actor=doctor,
                                 data=PatientCreate(code="BENCH-C", name="Compare Person"))
        study = create_study(session=session, actor=doctor, name=STUDY_NAME,
                             arms=["drug", "vehicle"])
        arms = list_arms(session=session, actor=doctor, study_id=study.id)
        add_study_member(session=session, actor=doctor, study_id=study.id,
                         account_id=ids["researcher"])
        trends_id, compare_id, study_id = trends.id, compare.id, study.id

        # The compare pair: real files, masks, lesions, through the one store function.
        for index, when in enumerate((today - timedelta(days=56), today)):
            photo = _face_photo(brightness=index * 3)
            visit = create_visit(session=session, actor=doctor, patient_id=compare_id,
                                 visit_date=when)
            stored = store_photo(session=session, actor=doctor, photo_store=store,
                                 visit_id=visit.id, photo=photo,
                                 analysis=_analysis(photo, 30 - 12 * index, seed=index))
        file_sha = stored.file_sha256

    with new_session(engine) as session:
        # One patient, a visit every 3 days; counts drift down with noise.
        start = today - timedelta(days=3 * trend_visits)
        dates = [start + timedelta(days=3 * i) for i in range(trend_visits)]
        counts = [(max(0, 30 - i // 8 + rng.randint(-3, 3)), rng.randint(5, 15))
                  for i in range(trend_visits)]
        analysis_ids = _measured_visits(session, patient_id=trends_id, creator_id=ids["clinician"],
                                        dates=dates, counts=counts, file_sha=file_sha, rng=rng)
        session.add_all(Review(analysis_id=aid, reviewer_id=ids["clinician"], iga=rng.randint(1, 3))
                        for aid in analysis_ids[::10])
        session.add_all(TreatmentEvent(patient_id=trends_id, event_date=dates[i],
                                       description=f"treatment step {n}")
                        for n, i in enumerate(range(0, trend_visits, 50)))

        # The study: subjects in alternate arms, a visit every 2 weeks from a staggered start.
        # Consented to research use: a researcher sees only such subjects (issue 24).
        patients = [Patient(code=f"BS-{n:04d}", name=f"Subject Person {n}",
                            owner_id=ids["clinician"], research_consent=True,
                            consent_date=today - timedelta(days=400)) for n in range(subjects)]
        session.add_all(patients)
        session.flush()
        enrolments = []
        for n, patient in enumerate(patients):
            arm = arms[n % 2]
            first = today - timedelta(days=14 * visits_per_subject + n % 60)
            baseline = rng.randint(25, 45)
            slope = 0.08 if arm.name == "drug" else 0.03
            counts = [(max(0, round(baseline * (1 - slope * v)) + rng.randint(-2, 2)),
                       rng.randint(5, 20)) for v in range(visits_per_subject)]
            ids_of = _measured_visits(
                session, patient_id=patient.id, creator_id=ids["clinician"],
                dates=[first + timedelta(days=14 * v) for v in range(visits_per_subject)],
                counts=counts, file_sha=file_sha, rng=rng)
            session.add_all(Review(analysis_id=aid, reviewer_id=ids["clinician"],
                                   iga=max(0, 3 - v // 3)) for v, aid in enumerate(ids_of[::3]))
            enrolments.append(Enrolment(study_id=study_id, arm_id=arm.id, patient_id=patient.id))
        session.add_all(enrolments)
        session.commit()
    visits = trend_visits + subjects * visits_per_subject + 2
    return Seeded(admin_id=ids["admin"], clinician_id=ids["clinician"],
                  researcher_id=ids["researcher"], trends_patient_id=trends_id,
                  compare_patient_id=compare_id, study_id=study_id, visits=visits, photos=visits)


# ---- AppTest ----------------------------------------------------------------------------------


@contextmanager
def app_environment(data_dir: Path, database_url: str) -> Iterator[None]:
    """The environment variables the app reads, for this process (AppTest runs in-process)."""
    weights = data_dir.parent / "weights"
    weights.mkdir(exist_ok=True)
    values = {"ACNE_DATA_DIR": str(data_dir), "DATABASE_URL": database_url,
              "ACNE_WEIGHTS_DIR": str(weights), "HF_HUB_OFFLINE": "1"}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _summary(seconds: list[float], cold: float) -> dict[str, float | int]:
    return {"cold_s": round(cold, 3), "median_s": round(statistics.median(seconds), 3),
            "min_s": round(min(seconds), 3), "max_s": round(max(seconds), 3),
            "runs": len(seconds)}


def time_apptest(page: str, account_id: int, patient_id: int | None, repeats: int) -> dict:
    """Cold first run of `page` (new session, empty data caches), then the median rerun."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
    at.session_state["account_id"] = account_id
    at.run()  # signed in on the default page: navigation registers every page
    if patient_id is not None:
        at.session_state["patient_id"] = patient_id
    at.switch_page(f"views/{page}.py")
    started, started_cpu = time.perf_counter(), time.process_time()
    at.run()
    cold = time.perf_counter() - started
    cold_cpu = time.process_time() - started_cpu
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].message}")
    if not at.get("plotly_chart") and not at.get("imgs"):
        raise RuntimeError(f"{page} drew no chart: {[e.value for e in at.info]}")
    seconds, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        at.run()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    # CPU time of this process (AppTest runs the page in it): on a busy machine the wall time
    # is inflated by other work, this is not.
    return {**_summary(seconds, cold), "cpu_median_s": round(statistics.median(cpu), 3),
            "cold_cpu_s": round(cold_cpu, 3)}


# ---- browser ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(data_dir: Path, database_url: str) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on a free port, as in production (and tests/e2e)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ACNE_DATA_DIR": str(data_dir), "DATABASE_URL": database_url,
           "ACNE_WEIGHTS_DIR": str(data_dir.parent / "weights"), "HF_HUB_OFFLINE": "1",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log = data_dir.parent / "streamlit.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                    if response.read().strip() == b"ok":
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _idle(page) -> None:  # noqa: ANN001 - playwright Page
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def _choose(page, label: str, option_start: str) -> None:  # noqa: ANN001
    """Pick the first option starting with `option_start` in the selectbox labelled `label`
    (typed into the box first: a long list renders only the options in view)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.get_by_role("combobox").fill(option_start)
    page.get_by_role("option", name=re.compile("^" + re.escape(option_start))).first.click()
    page.wait_for_timeout(300)
    _idle(page)


def process_cpu_s() -> dict[int, tuple[int, float]]:
    """Every process's parent and the CPU seconds it has used so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            # The command name (field 2) may hold spaces: split after its closing bracket.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return found


def descendants(root: int, processes: dict[int, tuple[int, float]]) -> set[int]:
    """`root` and every process below it."""
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in processes.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return tree


def _tree_cpu_s() -> float:
    """CPU seconds used so far by this process and all its descendants (the Streamlit server,
    the Playwright driver and every Chromium process); 0.0 where there is none."""
    processes = process_cpu_s()
    return sum(processes[pid][1] for pid in descendants(os.getpid(), processes) if pid in processes)


def _open(page, title: str, heading: str) -> None:  # noqa: ANN001
    """Open a page from the sidebar and wait until it has run to the end (its own title is
    shown and the app is idle): no element of the previous page is left to be mistaken."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    page.locator("h1").filter(has_text=heading).first.wait_for()
    page.wait_for_timeout(200)
    _idle(page)


def _click_to_chart(page, title: str, heading: str, chart: str) -> tuple[float, float]:  # noqa: ANN001
    """(wall seconds, CPU seconds of server and browser) from the click on the sidebar link
    `title` until the page titled `heading` shows `chart`. Called from the Models page, which
    has no chart, so the chart found is the new page's."""
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
    cpu = _tree_cpu_s()
    started = time.perf_counter()
    link.click()
    page.locator("h1").filter(has_text=heading).first.wait_for()
    page.locator(chart).first.wait_for(state="visible")
    elapsed = time.perf_counter() - started
    cpu = _tree_cpu_s() - cpu
    _idle(page)
    return elapsed, cpu


def time_browser(url: str, username: str, pages: list[tuple[str, str, str, str | None]],
                 repeats: int) -> dict[str, dict]:
    """Sign in, then for each (sidebar title, page heading, chart selector, patient code to
    pick first or None): the first click apart, then the median of `repeats` clicks, each from
    the Models page. `cpu_median_s` is the CPU time the server and the browser spent on a
    click: on a busy machine the wall time is inflated by other work, this much less."""
    from playwright.sync_api import sync_playwright

    results: dict[str, dict] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            context.set_default_timeout(180_000)
            page = context.new_page()
            page.goto(url)
            page.get_by_label("User name", exact=True).fill(username)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.locator('[data-testid="stSidebarNav"]').wait_for()
            _idle(page)
            for title, heading, chart, patient_code in pages:
                if patient_code is not None:
                    _open(page, "Patients", "Patients")
                    _choose(page, "Current patient", patient_code)
                walls, cpus = [], []
                for _ in range(repeats + 1):
                    _open(page, "Models", "Models")
                    if page.locator(chart).count():
                        raise RuntimeError("the Models page shows a chart: the timing would be wrong")
                    wall, cpu = _click_to_chart(page, title, heading, chart)
                    walls.append(wall)
                    cpus.append(cpu)
                results[title] = {**_summary(walls[1:], walls[0]),
                                  "cpu_median_s": round(statistics.median(cpus[1:]), 3),
                                  "cold_cpu_s": round(cpus[0], 3)}
        finally:
            browser.close()
    return results


# ---- main -------------------------------------------------------------------------------------


def _migrated(folder: Path) -> tuple[Path, str]:
    from db.migrate import upgrade_database

    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'acne.db'}"
    upgrade_database(url)
    return data_dir, url


def _seeded(folder: Path, trend_visits: int, subjects: int,
            timed: Callable[[str], None]) -> tuple[Path, str, Seeded, float | None]:
    """The folder's database, seeded now, or reused when an earlier run of the same sizes
    seeded it (`seeded.json`); seconds spent seeding (None when reused)."""
    record = folder / "seeded.json"
    data_dir = folder / "data"
    if record.is_file():
        saved = json.loads(record.read_text())
        if saved.get("sizes") == [trend_visits, subjects]:
            timed(f"reusing the database seeded in {folder}")
            data_dir, url = _migrated(folder)  # brought up to this code's migrations
            return data_dir, url, Seeded(**saved["seeded"]), None
        raise RuntimeError(f"{folder} was seeded with other sizes {saved.get('sizes')}")
    data_dir, url = _migrated(folder)
    started = time.perf_counter()
    seeded = seed(url, data_dir / "photos", trend_visits=trend_visits, subjects=subjects)
    seed_s = time.perf_counter() - started
    record.write_text(json.dumps({"sizes": [trend_visits, subjects], "seeded": asdict(seeded)}))
    timed(f"seeded {seeded.visits} visits in {seed_s:.1f} s")
    return data_dir, url, seeded, seed_s


def run(folder: Path, repeats: int, browser: bool, timed: Callable[[str], None] = print, *,
        trend_visits: int = TREND_VISITS, subjects: int = SUBJECTS) -> dict:
    load_before = round(os.getloadavg()[0], 2)
    reference_before = reference_workload()
    data_dir, url, seeded, seed_s = _seeded(folder, trend_visits, subjects, timed)
    pages = {
        "trends": ("trends", seeded.clinician_id, seeded.trends_patient_id),
        "studies": ("studies", seeded.clinician_id, None),
        "studies_researcher": ("studies", seeded.researcher_id, None),
        "compare": ("compare", seeded.clinician_id, seeded.compare_patient_id),
        "visit": ("visit", seeded.clinician_id, seeded.trends_patient_id),
    }
    result: dict = {
        "data": {"trend_visits": trend_visits, "study_subjects": subjects,
                 "study_visits": subjects * VISITS_PER_SUBJECT,
                 "seed_s": None if seed_s is None else round(seed_s, 1)},
        "targets_s": TARGETS_S,
        "first_open_target_s": FIRST_OPEN_TARGET_S,
        "apptest": {},
    }
    with app_environment(data_dir, url):
        for name, (page, account, patient) in pages.items():
            result["apptest"][name] = time_apptest(page, account, patient, repeats)
            timed(f"apptest {name}: {result['apptest'][name]}")
    if browser and CHROMIUM.is_file():
        chart = '[data-testid="stPlotlyChart"] .main-svg'
        image = '[data-testid="stImage"] img'
        with streamlit_server(data_dir, url) as server:
            timings = time_browser(server, "bench-clinician", [
                ("Trends", "Trends of BENCH-T", chart, "BENCH-T"),
                ("Studies", "Studies", chart, None),
                ("Compare visits", "Compare visits of BENCH-C", image, "BENCH-C"),
                ("Visit", "Visits of BENCH-T", chart, "BENCH-T"),
            ], repeats)
        result["browser"] = {"trends": timings["Trends"], "studies": timings["Studies"],
                             "compare": timings["Compare visits"], "visit": timings["Visit"]}
        timed(f"browser: {result['browser']}")
    else:
        result["browser"] = None
        result["browser_skipped"] = "not asked" if not browser else f"{CHROMIUM} is missing"
    browser_timings = result.get("browser") or {}
    result["meets_targets"] = {
        page: {
            "apptest_median": result["apptest"][page]["median_s"] < target,
            "browser_median": browser_timings[page]["median_s"] < target
            if page in browser_timings else None,
            # Server and browser CPU per click: what the wall time is bounded by when the
            # machine is not shared (the two run side by side, so rather less).
            "browser_cpu_median": browser_timings[page]["cpu_median_s"] < target
            if page in browser_timings else None,
            "browser_first_open": browser_timings[page]["cold_s"] < FIRST_OPEN_TARGET_S
            if page in browser_timings else None,
        }
        for page, target in TARGETS_S.items()
    }
    result["machine"] = {"cpus": os.cpu_count(), "load_1min_before": load_before,
                         "load_1min_after": round(os.getloadavg()[0], 2),
                         "reference": {"before": reference_before, "after": reference_workload()}}
    result["seeded"] = asdict(seeded)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-browser", action="store_true", help="AppTest timings only")
    parser.add_argument("--keep", type=Path, help="seed into this folder and keep it")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--trend-visits", type=int, default=TREND_VISITS,
                        help="visits of the trends patient (issue 28's trial size: 1000)")
    parser.add_argument("--subjects", type=int, default=SUBJECTS,
                        help=f"study subjects, {VISITS_PER_SUBJECT} visits each (trial size: 5000)")
    args = parser.parse_args(argv)
    if args.trend_visits < 2 or args.subjects < 2 or args.repeats < 1:
        parser.error("--trend-visits and --subjects need at least 2, --repeats at least 1")
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    sizes = {"trend_visits": args.trend_visits, "subjects": args.subjects}
    if args.keep:
        result = run(args.keep, args.repeats, not args.no_browser, log, **sizes)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_pages_") as folder:
            result = run(Path(folder), args.repeats, not args.no_browser, log, **sizes)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
