"""Batch import speed: `python -m usecases.cli.import_folder` over synthetic 4 MP photos (not a timed test).

    python -m benchmarks.bench_import [--photos 500] [--size 2448x1632] [--weights weights]

Builds `--photos` JPEGs of scikit-image's public-domain astronaut at different offsets, scales and
brightness on a noisy background (never patient photos), laid out as
`<patient code>/<YYYY-MM-DD>/<photo>` (20 photos a patient, 4 a visit) in a temporary folder,
imports them with the installed weights into a fresh temporary database on `--threads`
segmenter threads, then runs the real command again over the same folder (a resumed import: every photo
must be skipped, none analysed). Writes benchmarks/results/import.json and prints it:
photos/s (median of the gaps between stored photos, and overall), CPU seconds a photo, total
wall time, peak RSS, and the resumed run's wall time; and, as the baseline of the same run, the
same import into a second database with every photo decoded in full (before issue 27). Target: at
least 6 photos/s at 4 MP.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "import.json"
TARGET_PHOTOS_PER_S = 6.0  # issue 27 (3 in issue 19; 4.38 measured before issue 27)
# A resumed import only hashes files and asks the database: it must cost a small fraction of
# the import itself (5 %), and analyse nothing.
TARGET_RESUME_FRACTION = 0.05
PHOTOS_PER_PATIENT, PHOTOS_PER_VISIT = 20, 4
ACCOUNT, PASSWORD = "bench-clinician", "bench correct horse battery"
FIRST_VISIT = date(2024, 1, 8)


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match or min(int(match[1]), int(match[2])) < 64:
        raise argparse.ArgumentTypeError(f"size {text!r} must be WIDTHxHEIGHT, each at least 64")
    return int(match[1]), int(match[2])


@functools.cache
def _head() -> np.ndarray:
    """The astronaut's head and shoulders: the face is 38 % of this crop's width."""
    from skimage import data

    return data.astronaut()[0:240, 104:344]


def synthetic_photo(index: int, size: tuple[int, int]) -> bytes:
    """JPEG bytes of photo `index`: the astronaut placed and lit differently on a noisy wall."""
    width, height = size
    rng = np.random.default_rng(index)
    wall = np.empty((height, width, 3), np.float32)
    wall[:] = rng.uniform(120, 220, 3)
    wall += np.linspace(-25, 25, width, dtype=np.float32)[None, :, None]  # uneven room light
    # Sensor noise, so the JPEG is as large as a camera's (a flat wall compresses to nothing).
    noise = rng.normal(0, 6, (256, 256, 1)).astype(np.float32)
    wall += np.tile(noise, (height // 256 + 1, width // 256 + 1, 1))[:height, :width]
    # Framed as a clinic photo: the face 14-23 % of a 3:2 photo's width.
    side = int(min(width, height) * rng.uniform(0.55, 0.9))
    face = cv2.resize(_head(), (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    x0 = int(rng.integers(0, width - side + 1))
    y0 = int(rng.integers(0, height - side + 1))
    wall[y0:y0 + side, x0:x0 + side] = face * rng.uniform(0.8, 1.2)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def build_folder(folder: Path, photos: int, size: tuple[int, int]) -> int:
    """Write `photos` synthetic photos in the clinic layout; returns their total bytes."""
    total = 0
    for index in range(photos):
        patient, within = divmod(index, PHOTOS_PER_PATIENT)
        visit = within // PHOTOS_PER_VISIT
        day = FIRST_VISIT + timedelta(weeks=4 * visit)
        path = folder / f"B{patient + 1:03d}" / day.isoformat() / f"IMG_{index:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = synthetic_photo(index, size)
        path.write_bytes(data)
        total += len(data)
    return total


def _database(folder: Path) -> tuple[str, Path]:
    from db.migrate import upgrade_database

    data_dir = folder / "data"
    url = f"sqlite:///{data_dir / 'acne.db'}"
    upgrade_database(url)
    return url, data_dir


def _account(url: str):  # noqa: ANN202 - db.models.Account
    from db.engine import get_engine, new_session
    from db.models import AccountCreate
    from db.repository import create_account

    with new_session(get_engine(url)) as session:  # the first account must be an admin
        create_account(session=session, data=AccountCreate(
            username="bench-admin", password=PASSWORD, role="admin"))
        return create_account(session=session, data=AccountCreate(
            username=ACCOUNT, password=PASSWORD, role="clinician", team="bench"))


def import_once(folder: Path, url: str, data_dir: Path, weights: Path, threads: int) -> dict:
    """The first import, in this process, timed photo by photo."""
    from db.engine import get_engine
    from db.photos import PhotoStore
    from usecases.clinic import Clinic
    from usecases.folder_import import check_account, import_folder

    clinic = Clinic(engine=get_engine(url), photo_store=PhotoStore(data_dir / "photos"))
    loaded: dict[str, float] = {}

    def get_analyzer():  # noqa: ANN202 - core.pipeline.Analyzer
        from core.pipeline import load_analyzer

        started = time.perf_counter()
        analyzer = load_analyzer(weights, threads=threads)  # as the import command does
        analyzer.face_detector.detect(np.zeros((64, 64, 3), np.uint8))  # loads MTCNN too
        loaded["s"] = time.perf_counter() - started
        return analyzer

    cpu_started = time.process_time()
    report = import_folder(clinic, check_account(clinic, ACCOUNT), folder,
                           get_analyzer=get_analyzer, progress=True)
    cpu_s = time.process_time() - cpu_started
    finished = sorted(o.finished_at for o in report.outcomes if o.status == "stored")
    gaps = np.diff(finished)
    stored = report.count("stored")
    return {
        "stored": stored,
        "skipped": report.count("skipped"),
        "refused": [f"{o.name}: {o.reason}" for o in report.refused],
        "quality_problems": sum(1 for o in report.outcomes if o.quality_passed is False),
        "model_load_s": round(loaded.get("s", 0.0), 2),
        "wall_s": round(report.seconds, 1),
        # Model loading excluded: it is paid once per import, whatever its size.
        "photos_per_s_median": round(1 / float(np.median(gaps)), 3) if len(gaps) else None,
        "photos_per_s_overall": round(stored / report.import_seconds, 3) if stored else None,
        "seconds_per_photo_p95": round(float(np.percentile(gaps, 95)), 3) if len(gaps) else None,
        "cpu_s_per_photo": round(cpu_s / stored, 3) if stored else None,
    }


@contextlib.contextmanager
def full_decode():  # noqa: ANN201
    """Within: the import decodes every photo in full (the path before issue 27)."""
    import usecases.visits as visits

    reduced = visits.decode_photo
    visits.decode_photo = functools.partial(reduced, reduced_decode=False)
    try:
        yield
    finally:
        visits.decode_photo = reduced


def resume_with_command(folder: Path, url: str, data_dir: Path, weights: Path) -> dict:
    """The real command over the imported folder, as a user reruns it after an interruption."""
    env = {**os.environ, "DATABASE_URL": url, "ACNE_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "usecases.cli.import_folder", str(folder), "--account", ACCOUNT,
               "--weights", str(weights), "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()
    skipped = re.search(r"skipped (\d+) already imported", summary)
    stored = re.search(r"Stored (\d+) photo", summary)
    return {
        "exit_code": done.returncode,
        "wall_s": round(wall_s, 2),
        "skipped": int(skipped[1]) if skipped else None,
        "stored": int(stored[1]) if stored else None,
        "summary": summary,
    }


def run(photos: int, size: tuple[int, int], weights: Path, threads: int, workdir: Path,
        log=print) -> dict:  # noqa: ANN001
    folder = workdir / "export"
    started = time.perf_counter()
    total_bytes = build_folder(folder, photos, size)
    log(f"built {photos} photos ({total_bytes / photos / 1e6:.2f} MB each) in "
        f"{time.perf_counter() - started:.0f} s")
    url, data_dir = _database(workdir)
    _account(url)
    first = import_once(folder, url, data_dir, weights, threads)
    log(f"import: {first}")
    # The baseline of the same run: the same folder into a second database, every photo decoded
    # in full as before issue 27.
    base_url, base_data_dir = _database(workdir / "baseline")
    _account(base_url)
    with full_decode():
        baseline = import_once(folder, base_url, base_data_dir, weights, threads)
    log(f"import, decoded in full: {baseline}")
    resumed = resume_with_command(folder, url, data_dir, weights)
    log(f"resumed: {resumed}")
    resume_fraction = resumed["wall_s"] / first["wall_s"] if first["wall_s"] else None
    return {
        "photos": photos,
        "size": f"{size[0]}x{size[1]}",
        "megapixels": round(size[0] * size[1] / 1e6, 1),
        "mean_file_mb": round(total_bytes / photos / 1e6, 2),
        "threads": threads,
        "weights": str(weights),
        "import": first,
        "baseline_full_decode": baseline,
        "resume": {**resumed, "fraction_of_import": round(resume_fraction, 4) if resume_fraction else None},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {"photos_per_s_median": TARGET_PHOTOS_PER_S,
                    "resume_fraction_of_import": TARGET_RESUME_FRACTION},
        "meets_targets": {
            "photos_per_s": (first["photos_per_s_median"] or 0) >= TARGET_PHOTOS_PER_S,
            "resume": resumed["exit_code"] == 0 and resumed["skipped"] == photos
            and resumed["stored"] == 0 and resume_fraction is not None
            and resume_fraction <= TARGET_RESUME_FRACTION,
        },
        "machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=int, default=500)
    p.add_argument("--size", type=parse_size, default=(2448, 1632), help="WIDTHxHEIGHT (default 4 MP)")
    p.add_argument("--weights", type=Path, default=ROOT / "weights")
    p.add_argument("--threads", type=int, default=1,
                   help="threads of each analysis, as the import command's default (two at once)")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.photos < 2:
        p.error("--photos must be at least 2 (photos/s needs two stored photos)")
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench_import_") as workdir:
        result = run(args.photos, args.size, args.weights.resolve(), args.threads, Path(workdir), log)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
