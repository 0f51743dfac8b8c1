"""Several processes writing photos into one database at once: every photo stored once,
no "database is locked", files and rows in agreement."""
from __future__ import annotations

import multiprocessing
import traceback
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.db.db_factories import make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session, func, select

from db import repository as repo
from db.engine import get_engine, new_session
from db.errors import DuplicateError
from db.models import Account, Analysis, LesionRecord, Photo
from db.photos import PhotoStore

WORKERS = 4
PHOTOS_EACH = 50
SAME_PHOTO_SEED = 4242


def _context() -> Any:
    # fork starts in milliseconds; each child still opens its own engine (it is cached per
    # process id) and never touches the parent's connections.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run_workers(target: Any, *args: Any) -> list[str]:
    """Start WORKERS processes of `target(results, worker, *args)`; return their reports."""
    context = _context()
    results = context.Queue()
    processes = [context.Process(target=target, args=(results, worker, *args))
                 for worker in range(WORKERS)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    return reports


def _store_many(results: Any, worker: int, url: str, photo_root: str, actor_id: int,
                patient_id: int, visit_id: int) -> None:
    # Runs in another process: its own engine and connections.
    try:
        engine = get_engine(url)
        store = PhotoStore(Path(photo_root))
        for i in range(PHOTOS_EACH):
            with new_session(engine) as session:  # one short session per action, as the app
                actor = session.get(Account, actor_id)
                decoded = make_photo(1000 * worker + i, width=24, height=16)
                repo.patient_timeline(session=session, actor=actor, patient_id=patient_id)
                repo.store_photo(session=session, actor=actor, photo_store=store,
                                 visit_id=visit_id, photo=decoded, analysis=make_analysis(decoded))
        results.put("ok")
    except BaseException:  # reported to the test, which shows the traceback
        results.put(traceback.format_exc())


@pytest.mark.slow
def test_four_processes_store_two_hundred_photos(
    session: Session, db_url: str, store: PhotoStore, clinician: Account
) -> None:
    patient = make_patient(session, clinician, "C-1")
    visit = make_visit(session, clinician, patient, date(2024, 6, 1))
    reports = _run_workers(_store_many, db_url, str(store.root), clinician.id, patient.id,
                           visit.id)
    assert reports == ["ok"] * WORKERS  # a locked database would raise in a worker

    total = WORKERS * PHOTOS_EACH
    expected = {make_photo(1000 * w + i, width=24, height=16).upload_sha256
                for w in range(WORKERS) for i in range(PHOTOS_EACH)}
    with new_session(get_engine(db_url)) as fresh:
        uploads = fresh.exec(select(Photo.upload_sha256)).all()
        assert len(uploads) == total and set(uploads) == expected  # each photo exactly once
        analysed = fresh.exec(select(Analysis.photo_id)).all()
        assert len(analysed) == total and len(set(analysed)) == total  # one analysis each
        assert fresh.exec(select(func.count()).select_from(LesionRecord)).one() == 2 * total
    assert repo.check_integrity(session=session, photo_store=store, verify_content=True).ok
    assert len(repo.patient_timeline(session=session, actor=clinician, patient_id=patient.id)) == total


def _store_same(results: Any, worker: int, url: str, photo_root: str, actor_id: int,
                visit_id: int, barrier: Any, refuse_duplicate: bool) -> None:
    try:
        engine = get_engine(url)
        store = PhotoStore(Path(photo_root))
        decoded = make_photo(SAME_PHOTO_SEED)
        analysis = make_analysis(decoded)
        with new_session(engine) as session:
            actor = session.get(Account, actor_id)
            session.commit()
            barrier.wait(timeout=60)  # all four store at the same moment
            try:
                repo.store_photo(session=session, actor=actor, photo_store=store,
                                 visit_id=visit_id, photo=decoded, analysis=analysis,
                                 refuse_duplicate=refuse_duplicate)
                results.put("stored")
            except DuplicateError:
                results.put("duplicate")
    except BaseException:
        results.put(traceback.format_exc())


@pytest.mark.slow
@pytest.mark.parametrize("refuse_duplicate", [True, False], ids=["refused", "allowed"])
def test_four_processes_store_the_same_photo_at_once(
    session: Session, db_url: str, store: PhotoStore, clinician: Account, refuse_duplicate: bool
) -> None:
    patient = make_patient(session, clinician, "C-2")
    visit = make_visit(session, clinician, patient, date(2024, 6, 2))
    barrier = _context().Barrier(WORKERS)
    reports = _run_workers(_store_same, db_url, str(store.root), clinician.id, visit.id,
                           barrier, refuse_duplicate)

    rows = 1 if refuse_duplicate else WORKERS
    expected = ["stored"] * rows + ["duplicate"] * (WORKERS - rows)
    assert sorted(reports) == sorted(expected), reports
    sha = make_photo(SAME_PHOTO_SEED).upload_sha256
    with new_session(get_engine(db_url)) as fresh:
        photos = fresh.exec(select(Photo)).all()
        assert len(photos) == rows and {p.upload_sha256 for p in photos} == {sha}
        assert fresh.exec(select(func.count()).select_from(Analysis)).one() == rows
    # One photo file and the two mask files, whatever the number of rows pointing to them.
    files = sorted(store.iter_files())
    assert len(files) == 3 and (photos[0].file_sha256, ".png") in files
    assert repo.check_integrity(session=session, photo_store=store).ok
