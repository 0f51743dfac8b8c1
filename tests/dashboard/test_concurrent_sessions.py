"""Several people using the dashboard at once against one database: three sessions save new
visits with photos while a fourth saves a review, all at the same moment. Every upload is
stored exactly once and no page shows an error ("database is locked" or any other).

AppTest is not thread-safe (each run swaps a process-wide mock Runtime and page registry),
so each session runs in its own process, as it would in its own Streamlit server thread
with its own connections.
"""
from __future__ import annotations

import multiprocessing
import traceback
from datetime import date
from typing import Any

import pytest

from core.words import plural
from dashboard import state
from tests.dashboard.fixtures_d2 import open_as, papules, seed_patient

IGA_LABEL = "IGA (Investigator's Global Assessment)"
BARRIER_TIMEOUT_S = 240  # page set-up on a busy 2-core machine


class SampleAnalyzer:
    """Stands in for the installed model: a fixed, valid analysis of each photo."""

    model_version = "concurrency-test 1.0"

    def __init__(self, dash: Any) -> None:
        self.dash = dash

    def analyze(self, photo: Any) -> Any:
        return self.dash.sample_analysis(photo, model_version=self.model_version)


def _report(at: Any, dash: Any) -> dict[str, list[str]]:
    return {
        "exceptions": [str(e.value) for e in at.exception],
        "errors": dash.texts(at.error),
        "success": dash.texts(at.success),
    }


def _save_visit(dash: Any, account_id: int, patient_id: int,
                uploads: list[tuple[str, bytes]], barrier: Any) -> dict[str, list[str]]:
    at = open_as(dash, account_id, "new_visit", patient_id=patient_id)
    at.file_uploader[0].set_value([(name, data, "image/png") for name, data in uploads])
    at.run()
    save = dash.widget(at.button, f"Save the visit with {plural(len(uploads), 'photo')}")
    barrier.wait(timeout=BARRIER_TIMEOUT_S)  # every session saves at the same moment
    save.click().run()
    return _report(at, dash)


def _save_review(dash: Any, account_id: int, barrier: Any) -> dict[str, list[str]]:
    at = open_as(dash, account_id, "review")
    dash.widget(at.selectbox, IGA_LABEL).set_value(2)
    barrier.wait(timeout=BARRIER_TIMEOUT_S)
    dash.widget(at.button, "Save review").click().run()
    return _report(at, dash)


def _in_process(results: Any, name: str, action: Any, *args: Any) -> None:
    try:
        results.put((name, action(*args)))
    except BaseException:  # shown by the test
        results.put((name, {"exceptions": [traceback.format_exc()], "errors": [], "success": []}))


def _photos(dash: Any, prefix: str, colours: list[tuple[int, int, int]]) -> list[tuple[str, bytes]]:
    """Plain photos, distinct bytes for each colour."""
    return [(f"{prefix}_{i}.png", dash.flat_photo_bytes(colour)) for i, colour in enumerate(colours)]


@pytest.mark.slow
def test_four_sessions_save_visits_and_a_review_at_once(dash, monkeypatch) -> None:  # noqa: ANN001
    from sqlmodel import select

    from db.models import Analysis, Photo, Review, Visit
    from db.photos import PhotoStore
    from db.repository import check_integrity

    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (SampleAnalyzer(dash), None))
    dash.make_account("root", role="admin")
    north_a = dash.make_account("doc_a", role="clinician", team="north")
    north_b = dash.make_account("doc_b", role="clinician", team="north")
    south = dash.make_account("doc_c", role="clinician", team="south")
    reviewer = dash.make_account("doc_d", role="clinician", team="west")
    shared = dash.make_patient(north_a, "ACN-001", team="north")  # two sessions, one patient
    own = dash.make_patient(south, "ACN-002")
    to_review = seed_patient(dash, reviewer, "ACN-003", [(date(2024, 1, 8), papules(4))])

    uploads = {
        "doc_a": _photos(dash, "a", [(200, 150, 130), (201, 150, 130)]),
        "doc_b": _photos(dash, "b", [(180, 140, 120), (181, 140, 120)]),
        "doc_c": _photos(dash, "c", [(160, 120, 100), (161, 120, 100), (162, 120, 100)]),
    }
    sessions = [
        ("doc_a", _save_visit, dash, north_a, shared, uploads["doc_a"]),
        ("doc_b", _save_visit, dash, north_b, shared, uploads["doc_b"]),
        ("doc_c", _save_visit, dash, south, own, uploads["doc_c"]),
        ("doc_d", _save_review, dash, reviewer),
    ]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier = context.Barrier(len(sessions))
    results = context.Queue()
    processes = [
        context.Process(target=_in_process, args=(results, name, action, *args, barrier))
        for name, action, *args in sessions
    ]
    for process in processes:
        process.start()
    reports = dict(results.get(timeout=2 * BARRIER_TIMEOUT_S) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * len(processes)

    for name, report in reports.items():
        assert report["exceptions"] == [] and report["errors"] == [], (name, report)
    for name, files in uploads.items():
        assert any(f"saved with {plural(len(files), 'photo')}." in s
                   for s in reports[name]["success"]), (
            name, reports[name])
    assert any("saved" in s for s in reports["doc_d"]["success"]), reports["doc_d"]

    with dash.env.session() as session:
        stored = session.exec(
            select(Visit.patient_id, Photo.filename, Photo.id).join(Visit, Visit.id == Photo.visit_id)
        ).all()
        by_patient = {
            patient: sorted(name for p, name, _ in stored if p == patient)
            for patient in (shared, own)
        }
        analysed = session.exec(select(Analysis.photo_id)).all()
        reviews = session.exec(select(Review)).all()
        visits = session.exec(select(Visit.patient_id)).all()
    # Every upload exactly once, in its own patient's visit, each analysed once.
    assert by_patient[shared] == sorted(n for n, _ in uploads["doc_a"] + uploads["doc_b"])
    assert by_patient[own] == sorted(n for n, _ in uploads["doc_c"])
    assert sorted(analysed) == sorted(photo_id for *_, photo_id in stored)
    assert sorted(visits) == sorted([shared, shared, own, to_review.patient_id])
    assert [(r.analysis_id, r.iga, r.reviewer_id) for r in reviews] == [
        (to_review.analysis_ids[0], 2, reviewer)
    ]
    with dash.env.session() as session:
        report = check_integrity(session=session, photo_store=PhotoStore(dash.env.data_dir / "photos"))
    assert report.ok, report
