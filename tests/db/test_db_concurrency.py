"""Several processes writing photos into one SQLite file at once: no "database is locked"."""
from __future__ import annotations

import multiprocessing
from datetime import date
from pathlib import Path

import pytest
from db_factories import make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session, func, select

from db import repository as repo
from db.engine import get_engine, new_session
from db.models import Account, Analysis, Photo
from db.photos import PhotoStore

WORKERS = 4
PHOTOS_EACH = 10


def _worker(url: str, photo_root: str, actor_id: int, visit_id: int, worker: int) -> None:
    # Runs in another process: its own engine and connections.
    engine = get_engine(url)
    store = PhotoStore(Path(photo_root))
    for i in range(PHOTOS_EACH):
        with new_session(engine) as session:  # one short session per action, as the app does
            actor = session.get(Account, actor_id)
            decoded = make_photo(1000 * worker + i)
            repo.patient_timeline(session=session, actor=actor, patient_id=1)  # a read first
            repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit_id,
                             photo=decoded, analysis=make_analysis(decoded))


@pytest.mark.slow
def test_four_processes_store_forty_photos(
    session: Session, db_url: str, store: PhotoStore, clinician: Account
) -> None:
    patient = make_patient(session, clinician, "C-1")
    assert patient.id == 1
    visit = make_visit(session, clinician, patient, date(2024, 6, 1))
    # fork starts in milliseconds; each child still opens its own engine (it is cached per
    # process id) and never touches the parent's connections.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    processes = [
        context.Process(target=_worker,
                        args=(db_url, str(store.root), clinician.id, visit.id, worker))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * WORKERS  # a locked database would raise

    with new_session(get_engine(db_url)) as fresh:
        assert fresh.exec(select(func.count()).select_from(Photo)).one() == WORKERS * PHOTOS_EACH
        assert fresh.exec(select(func.count()).select_from(Analysis)).one() == WORKERS * PHOTOS_EACH
    assert repo.check_integrity(session=session, photo_store=store).ok
    assert len(repo.patient_timeline(session=session, actor=clinician, patient_id=patient.id)) == 40
