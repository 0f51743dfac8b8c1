"""Fixtures for the end-to-end tests: a real Streamlit server over a fresh database and a tiny
real model, driven by a real headless Chromium through Playwright.

The server runs exactly as in production (`streamlit run dashboard/app.py`), configured only
through the environment variables the app reads. Skipped, with the reason, when Chromium or
Playwright is missing.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
# Everything here runs on two slow, busy cores: one step may take a minute or more.
STEP_TIMEOUT_MS = 120_000
SERVER_START_TIMEOUT_S = 180.0
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass(frozen=True)
class E2EApp:
    """The running dashboard and the files the browser uploads."""

    url: str
    data_dir: Path
    weights_dir: Path
    database_url: str
    first_photo: Path
    second_photo: Path
    log_file: Path

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return text[-chars:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(url: str, process: subprocess.Popen, log_file: Path) -> None:
    """Poll Streamlit's health endpoint until it answers 'ok' (or the server died)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {process.returncode}:\n"
                + log_file.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1.0)
    raise RuntimeError(
        f"streamlit did not answer at {url} within {SERVER_START_TIMEOUT_S:.0f} s:\n"
        + log_file.read_text(errors="replace")[-4000:]
    )


def _write_photos(folder: Path) -> tuple[Path, Path]:
    """Two JPEGs of the public-domain astronaut face: as shipped, then slightly turned and
    closer, as a second visit's photo would be (never ACNE04 photos). Both stay above the
    quality gate's minimum size (480 px), so both are analysed as good photos."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    face = Image.fromarray(data.astronaut())
    first = folder / "astronaut_visit1.jpg"
    face.save(first, format="JPEG", quality=92)
    turned = face.rotate(4.0, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
    turned = turned.resize((560, 560), Image.Resampling.LANCZOS)
    second = folder / "astronaut_visit2.jpg"
    turned.save(second, format="JPEG", quality=92)
    return first, second


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system Chromium; skips the e2e tests where it (or Playwright) is not installed."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def e2e_app(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EApp]:
    """A migrated empty database, a tiny real model and the dashboard served on a free port."""
    from tests.model_factory import build_tiny_weights

    base = tmp_path_factory.mktemp("e2e")
    data_dir = base / "data"
    # The tiny model is fast and deterministic; ACNE_E2E_WEIGHTS_DIR (for example weights/)
    # runs the same flow with a trained model, for screenshots with real lesions.
    chosen = os.environ.get("ACNE_E2E_WEIGHTS_DIR")
    if chosen:
        weights_dir = Path(chosen).resolve()
        if not (weights_dir / "manifest.json").is_file():
            pytest.fail(f"ACNE_E2E_WEIGHTS_DIR={chosen} has no manifest.json")
    else:
        weights_dir = build_tiny_weights(base / "weights")
    database_url = f"sqlite:///{data_dir / 'acne.db'}"
    first_photo, second_photo = _write_photos(base / "uploads")
    env = migrated_env(data_dir, weights_dir, database_url)
    log_file = base / "streamlit.log"
    with running_app(env, log_file) as url:
        yield E2EApp(
            url=url, data_dir=data_dir, weights_dir=weights_dir, database_url=database_url,
            first_photo=first_photo, second_photo=second_photo, log_file=log_file,
        )


def migrated_env(data_dir: Path, weights_dir: Path, database_url: str) -> dict[str, str]:
    """The app's settings for a test server, with its database migrated as `make run` does."""
    env = {
        **os.environ,
        "ACNE_DATA_DIR": str(data_dir),
        "ACNE_WEIGHTS_DIR": str(weights_dir),
        "DATABASE_URL": database_url,
        "HF_HUB_OFFLINE": "1",
        # A server for a test only: no usage statistics, no browser window.
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    subprocess.run(
        [sys.executable, "-m", "usecases.cli.migrate"], cwd=ROOT, env=env, check=True,
        capture_output=True, timeout=300,
    )
    return env


@contextmanager
def seeded_app_url(base: Path, seed: Callable[[str, Path], None]) -> Iterator[tuple[str, Path]]:
    """A test server with no model over a migrated database that `seed(database_url, data_dir)`
    fills first; yields (its URL, its log file)."""
    data_dir, weights_dir = base / "data", base / "weights"
    weights_dir.mkdir(parents=True)  # no model: stored results only
    database_url = f"sqlite:///{data_dir / 'acne.db'}"
    env = migrated_env(data_dir, weights_dir, database_url)
    seed(database_url, data_dir)
    log_file = base / "streamlit.log"
    with running_app(env, log_file) as url:
        yield url, log_file


@contextmanager
def running_app(env: dict[str, str], log_file: Path) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on a free port with `env`; yields its URL once healthy,
    stops it afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
                "--server.headless", "true",
                "--server.address", "127.0.0.1",
                "--server.port", str(port),
                "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_health(url, process, log_file)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[object]:
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, e2e_app: E2EApp) -> Iterator[object]:  # noqa: ANN001 - playwright Browser
    """A fresh browser tab (wide enough that the sidebar stays open) with generous timeouts."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:  # noqa: ANN001
    """Where the flow's screenshots go: docs/screenshots/ (the product's committed pictures) only
    when ACNE_E2E_SCREENSHOTS=1, so an ordinary test run never changes tracked files."""
    if os.environ.get("ACNE_E2E_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")
