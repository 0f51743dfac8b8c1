"""Smoke tests of the benchmark code paths at tiny sizes (the real runs: `make bench`)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks import bench_import
from benchmarks import run as bench_run

ROOT = Path(__file__).resolve().parents[1]


def test_synthetic_photos_are_distinct_jpegs_of_the_asked_size() -> None:
    first = bench_import.synthetic_photo(0, (2448, 1632))
    assert bench_import.synthetic_photo(1, (612, 408)) != bench_import.synthetic_photo(2, (612, 408))
    assert bench_import.synthetic_photo(1, (612, 408)) == bench_import.synthetic_photo(1, (612, 408))
    with Image.open(io.BytesIO(first)) as image:
        assert (image.format, image.size) == ("JPEG", (2448, 1632))
        pixels = np.asarray(image, np.float32)
    # The noisy wall is not flat (a flat one would compress far smaller than a camera's JPEG).
    assert pixels[:, :50].std() > 3


def test_build_folder_uses_the_import_layout(tmp_path: Path) -> None:
    from usecases.folder_plan import plan_folder

    bench_import.build_folder(tmp_path, 21, (96, 64))

    planned, refused = plan_folder(tmp_path)
    assert refused == []
    assert len(planned) == 21
    by_patient: dict[str, set[date]] = {}
    for item in planned:
        by_patient.setdefault(item.patient_code, set()).add(item.visit_date)
    assert {code: len(days) for code, days in by_patient.items()} == {"B001": 5, "B002": 1}


def test_last_json_object_reads_a_benchmarks_final_print() -> None:
    printed = 'loading\n640x640 {"ours": 1}\n' + json.dumps({"a": {"b": [1, 2]}}, indent=2) + "\n"
    assert bench_run.last_json_object(printed) == {"a": {"b": [1, 2]}}
    with pytest.raises(ValueError, match="no JSON object"):
        bench_run.last_json_object("only words\n{ not json\n")


def test_summary_rows_compare_numbers_with_their_targets() -> None:
    analyze = {"sizes": {"4MP": {"ours": {"median_s": 0.34}, "speedup_vs_demo": 3.0},
                         "12MP": {"ours": {"median_s": 1.2}, "speedup_vs_demo": 0.9}}}
    rows = {row.what: row for row in bench_run.summary_rows("analyze", analyze)}
    assert rows["whole analysis, 4MP photo, median"].passed is None  # no target at 4 MP
    assert rows["whole analysis, 12MP photo, median"].number == "1.20 s"
    assert rows["whole analysis, 12MP photo, median"].passed is False
    assert rows["speed-up over the original demo's design, 4MP"].passed is True
    assert rows["speed-up over the original demo's design, 12MP"].passed is False
    analyze["sizes"]["12MP"]["ours"]["median_s"] = 0.55  # issue 19: 12 MP in 0.5 s
    rows = {row.what: row for row in bench_run.summary_rows("analyze", analyze)}
    assert rows["whole analysis, 12MP photo, median"].passed is False

    cold = {"import_torch_s": 3.6, "missing_file_s": 0.4, "first_photo_12mp_s": 5.9,
            "imported_for_first_photo": "['onnxruntime']",
            "targets": {"missing_file_s": 1.0, "first_photo_over_import_torch_s": 2.0},
            "meets_targets": {"missing_file": True, "first_photo": False}}
    rows = {row.what.split(" (")[0]: row for row in bench_run.summary_rows("cold_start", cold)}
    assert rows["command line, missing file, fresh process"].passed is True
    assert rows["command line, first 12MP photo, fresh process"].passed is False
    assert rows["command line, first 12MP photo, fresh process"].number == "5.90 s"

    face = {"per_photo": {"12MP": {"median_ms": 128.0}},
            "alignment_error": [{"found": True, "landmarks_max": 0.014}, {"found": False}]}
    rows = {row.what: row for row in bench_run.summary_rows("face", face)}
    assert rows["face + quality + alignment, 12MP, median"].passed is True
    assert rows["landmark error on rotated/scaled copies, worst"].number == "1.40% of eye distance"
    assert rows["transformed copies where no face was found"].passed is False

    pages = {"targets_s": {"trends": 1.0}, "apptest": {"trends": {"median_s": 1.5}, "compare": {"median_s": 0.2}},
             "browser": None}
    rows = {row.what: row for row in bench_run.summary_rows("pages", pages)}
    assert rows["trends page (apptest), median click"].passed is False
    assert rows["compare page (apptest), median click"].passed is None
    pages["apptest"]["studies_researcher"] = {"median_s": 0.5}
    pages["targets_s"]["studies"] = 2.0
    rows = {row.what: row for row in bench_run.summary_rows("pages", pages)}
    assert rows["studies_researcher page (apptest), median click"].passed is True
    # Issue 28: the size seeded, the machine's load, CPU per click and the first open.
    pages.update(first_open_target_s=2.0,
                 data={"trend_visits": 1000, "study_subjects": 5000, "study_visits": 50000},
                 machine={"load_1min_before": 6.5, "load_1min_after": 7.0,
                          "reference": {"before": {"slowdown": 2.5}}},
                 browser={"trends": {"median_s": 0.4, "cpu_median_s": 0.3, "cold_s": 2.5}})
    rows = {row.what: row for row in bench_run.summary_rows("pages", pages)}
    assert rows["pages: data seeded"].number == (
        "1000 visits of one patient; 5000 study subjects, 50000 visits")
    assert rows["pages: machine load (1 min) before / after"].number.startswith("6.5 / 7.0; ")
    assert rows["trends page (browser), median click (CPU 0.30 s)"].passed is True
    assert rows["trends page (browser), first open"].passed is False

    failed = bench_run.summary_rows("import", {"error": "exit code 1"})
    assert [(row.number, row.passed) for row in failed] == [("did not finish", False)]


def test_run_reports_a_failing_or_missing_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_run, "BENCHMARKS", (
        # bench_import refuses a single photo at once: a benchmark that exits with an error.
        bench_run.Benchmark("import", "benchmarks.bench_import", ("--photos", "1"), (), True, False),
        bench_run.Benchmark("ghost", "benchmarks.bench_ghost", (), (), True, False),
    ))

    assert bench_run.main(["--results", str(tmp_path)]) == 1

    result = json.loads((tmp_path / "import.json").read_text())
    assert result["error"] == "exit code 2"
    assert result["run"]["exit_code"] == 2 and result["run"]["peak_rss_mb"] > 0
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "| import benchmark | did not finish |  | **miss** |" in summary
    assert "ghost" not in summary and not (tmp_path / "ghost.json").exists()


def test_run_refuses_unknown_benchmark_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench_run.main(["--only", "import,nonsense"])
    assert exit_.value.code == 2
    assert "unknown benchmark(s) nonsense" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_import_benchmark_end_to_end(tmp_path: Path) -> None:
    from tests.model_factory import build_tiny_weights

    weights = build_tiny_weights(tmp_path / "weights")
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--only", "import", "--results", str(results),
         "--weights", str(weights)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    result = json.loads((results / "import.json").read_text())
    assert result["photos"] == 3 and result["size"] == "640x480"
    assert result["import"]["stored"] == 3 and result["import"]["refused"] == []
    assert result["import"]["photos_per_s_median"] > 0
    # The resumed run is the real command: every photo skipped, nothing stored, exit code 0.
    assert (result["resume"]["exit_code"], result["resume"]["skipped"], result["resume"]["stored"]) == (0, 3, 0)
    assert result["run"]["quick"] is True and result["run"]["peak_rss_mb"] > 100
    summary = (results / "SUMMARY.md").read_text()
    assert "| batch import, 3 photos of 0.3 MP, photos/s (median) |" in summary
    assert "resumed import, 3 photos of 0.3 MP: all skipped, none analysed" in summary
    assert "(--quick: tiny sizes)" in summary and "n/a (quick)" in summary and "**miss**" not in summary


def test_concurrent_rows_say_what_was_lost_and_compare_p95_with_its_target() -> None:
    result = {
        "browser": {"users": 10, "photo": "4000x3000 JPEG", "visits_stored": 9, "results_shown": 10,
                    "errors_shown": [], "to_result_p50_s": 2.1, "to_result_p95_s": 6.4,
                    "to_saved_p50_s": 3.0, "to_saved_p95_s": 8.0, "server_peak_rss_mb": 1800.0,
                    "target_p95_s": 5.0, "drop_to_last_result": {
                        "wall_s": 6.4, "server_cpu_s": 5.1, "browser_cpu_s": 7.2}},
        "imports": {"imports": 10, "database": "postgresql", "photos_given": 10, "photos_stored": 10,
                    "failed_commands": [], "slowest_command_s": 40.2},
    }
    rows = {row.what: row for row in bench_run.summary_rows("concurrent", result)}
    stored = rows["10 clinicians uploading a 4000x3000 JPEG at once: visits stored"]
    assert (stored.number, stored.passed) == ("9 of 10", False)
    p95 = rows["10 at once: time to the analysed result, p50 / p95"]
    assert p95.number == "2.10 s / 6.40 s" and p95.passed is False
    assert rows["10 import commands at once (postgresql): photos stored"].passed is True
    assert rows["10 at once: CPU from the drop to the last result (6.40 s), app server / browsers"
                ].number == "5.10 s / 7.20 s"


def test_the_cpu_window_splits_the_app_servers_cpu_from_the_browsers(tmp_path: Path) -> None:
    """bench_concurrent.CpuWindow: a process standing for the server and one for the browser,
    each busy for a while; a third that ends before the window closes still counts."""
    import subprocess
    import sys
    import time

    from benchmarks.bench_concurrent import CpuWindow

    busy = "import time\nend = time.process_time() + {}\nwhile time.process_time() < end: pass"
    server = subprocess.Popen([sys.executable, "-c", busy.format(1.0)])
    try:
        window = CpuWindow(server.pid, users=1)
        window.dropped()
        subprocess.run([sys.executable, "-c", busy.format(1.0)], check=True)  # a closed tab
        server.wait(10)
        time.sleep(0.3)
        window.shown()
    finally:
        server.kill()
    split = window.split
    # Sampled every 0.2 s: a process's last 0.2 s before it ended may be missed.
    assert split is not None and split["wall_s"] > 0.5
    assert split["server_cpu_s"] >= 0.6 and split["browser_cpu_s"] >= 0.6, split


def test_each_issue_27_target_is_a_row_beside_its_baseline_of_the_same_run() -> None:
    analyze = {"sizes": {"12MP (face filling the frame)": {
        "ours": {"median_s": 0.19}, "full_decode": {"median_s": 0.26}}}}
    row = bench_run.summary_rows("analyze", analyze)[0]
    assert row.what == "whole analysis, 12MP (face filling the frame) photo, median"
    assert (row.number, row.target, row.passed) == (
        "0.19 s (decoded in full, same run: 0.26 s)", "<= 0.20 s", True)

    cold = {"import_torch_s": 3.2, "missing_file_s": 0.3, "first_photo_12mp_s": 1.3,
            "baseline_first_photo_12mp_s": 1.7, "imported_for_first_photo": "['onnxruntime']",
            "targets": {"missing_file_s": 1.0, "first_photo_over_import_torch_s": 2.0},
            "meets_targets": {"missing_file": True, "first_photo": True}}
    rows = {row.what.split(" (")[0]: row for row in bench_run.summary_rows("cold_start", cold)}
    first = rows["command line, first 12MP photo, fresh process"]
    assert (first.number, first.target, first.passed) == (
        "1.30 s (before issue 27, same run: 1.70 s)", "<= 1.20 s", False)

    imported = {"photos": 500, "megapixels": 4.0,
                "import": {"photos_per_s_median": 6.2, "wall_s": 90.0, "photos_per_s_overall": 5.9},
                "baseline_full_decode": {"photos_per_s_median": 4.4},
                "targets": {"photos_per_s_median": 6.0, "resume_fraction_of_import": 0.05},
                "meets_targets": {}}
    row = bench_run.summary_rows("import", imported)[0]
    assert (row.number, row.target, row.passed) == ("6.20 (decoded in full, same run: 4.40)", ">= 6", True)


@pytest.mark.skipif(not __import__("os").environ.get("ACNE_TEST_POSTGRES_URL"),
                    reason="needs a PostgreSQL server (ACNE_TEST_POSTGRES_URL)")
def test_the_imports_at_once_get_a_database_of_their_own_on_the_postgresql_server() -> None:
    """`make bench` points the ten imports at the test server: they write into a new database,
    never the server's own, and it is gone afterwards."""
    import os

    from sqlalchemy import create_engine, pool, text

    from benchmarks.bench_concurrent import fresh_postgres_database
    from db.engine import database_url

    server = os.environ["ACNE_TEST_POSTGRES_URL"]
    admin = create_engine(database_url(server), poolclass=pool.NullPool)

    def databases() -> set[str]:
        with admin.connect() as connection:
            return set(connection.execute(text("SELECT datname FROM pg_database")).scalars())

    before = databases()
    with fresh_postgres_database(server) as url:
        made = databases() - before
        assert len(made) == 1 and url.endswith("/" + next(iter(made)))
        probe = create_engine(database_url(url), poolclass=pool.NullPool)
        with probe.connect() as connection:
            assert connection.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )).scalar() == 0
        probe.dispose()
    assert databases() == before
    admin.dispose()
