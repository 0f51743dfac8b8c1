"""Issue 24, item 1: a photo folder belongs to one database, and nothing deletes a photo at
start-up. Migrating a second database against the same data folder must leave every file."""
from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session
from tests.db.db_factories import make_analysis, make_patient, make_photo, make_visit

from db import repository as repo
from db.engine import get_engine, new_session
from db.models import Account
from db.photos import PhotoStore
from db.store_identity import PhotoStoreMismatch, bind_photo_store, database_identity
from usecases.cli import check, migrate
from usecases.settings import EXIT_BAD_SETTINGS

LONG_AGO = time.time() - 24 * 3600


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    return tmp_path / "data"


def _clinic_with_photos(session: Session, store: PhotoStore, actor: Account, n: int = 3) -> None:
    patient = make_patient(session, actor, "ID-1")
    visit = make_visit(session, actor, patient, date(2025, 3, 1))
    for seed in range(n):
        decoded = make_photo(seed)
        repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit.id,
                         photo=decoded, analysis=make_analysis(decoded))
    for sha, ext in store.iter_files():  # old enough for any age limit
        os.utime(store.path_for(sha, ext), (LONG_AGO, LONG_AGO))


def _files(store: PhotoStore) -> set[tuple[str, str]]:
    return set(store.iter_files())


def _other_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_two_databases_on_one_data_folder_keep_every_file(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    assert migrate.main() == 0  # the clinic's own start-up binds its folder
    _clinic_with_photos(session, store, clinician)
    before = _files(store)
    assert len(before) >= 3
    capsys.readouterr()

    _other_database(tmp_path, monkeypatch, "mistyped.db")
    assert migrate.main() == EXIT_BAD_SETTINGS  # was 0, after deleting every photo
    err = capsys.readouterr().err
    assert "belongs to another database" in err and "nothing was read or moved" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _files(store) == before
    assert check.main(["--repair", "--min-age-s", "0"]) == EXIT_BAD_SETTINGS
    assert _files(store) == before


def test_a_folder_from_before_the_check_is_refused_by_a_database_that_does_not_know_it(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _clinic_with_photos(session, store, clinician)  # no identity file: an older clinic
    assert store.read_identity() is None
    before = _files(store)
    _other_database(tmp_path, monkeypatch, "new.db")
    assert migrate.main() == EXIT_BAD_SETTINGS
    assert "holds photos that this database does not know" in capsys.readouterr().err
    assert _files(store) == before and store.read_identity() is None


def test_an_older_clinic_is_bound_on_its_first_start(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _clinic_with_photos(session, store, clinician)
    before = _files(store)
    assert migrate.main() == 0
    assert store.read_identity() == database_identity(session=session) is not None
    assert migrate.main() == 0 and _files(store) == before


def test_migrate_reports_orphans_and_deletes_nothing(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _clinic_with_photos(session, store, clinician)
    orphan = store.put(b"left by a crash", ".jpg")
    os.utime(store.path_for(orphan, ".jpg"), (LONG_AGO, LONG_AGO))
    assert migrate.main() == 0
    out = capsys.readouterr().out
    assert "1 orphan file" in out and "orphan files are kept" in out
    assert store.exists(orphan, ".jpg")


def test_repair_quarantines_puts_back_and_only_an_explicit_command_deletes(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _clinic_with_photos(session, store, clinician, n=1)
    orphan = store.put(b"left by a crash", ".jpg")
    os.utime(store.path_for(orphan, ".jpg"), (LONG_AGO, LONG_AGO))
    assert check.main(["--repair"]) == 0
    assert "moved 1 orphan file and 0 stale temporary files to quarantine" in capsys.readouterr().out
    assert not store.exists(orphan, ".jpg")
    assert (orphan, ".jpg") in store.quarantined_files()

    # A photo file that went missing and waits in quarantine is put back by --repair.
    photo_file = next(f for f in store.iter_files() if f[1] == ".png")
    batch = store.new_quarantine_batch()
    assert store.quarantine(*photo_file, batch)
    assert check.main([]) == 1
    assert "1 missing file waiting in quarantine" in capsys.readouterr().out
    assert check.main(["--repair"]) == 0
    assert "put back 1 missing file from quarantine" in capsys.readouterr().out
    assert store.exists(*photo_file)

    assert check.main(["--empty-quarantine", "--older-than-days", "1"]) == 0
    assert "0 files deleted" in capsys.readouterr().out
    assert check.main(["--empty-quarantine"]) == 0
    assert "quarantine emptied: 1 file deleted" in capsys.readouterr().out
    assert store.quarantined_files() == {}


def test_binding_rules(db_url: str, databases, tmp_path: Path) -> None:  # noqa: ANN001
    engine = get_engine(db_url)
    store = PhotoStore(tmp_path / "shared-photos")
    with new_session(engine) as session:
        first = bind_photo_store(session=session, photo_store=store)  # a new pair
        assert first is not None and store.read_identity() == first
        assert bind_photo_store(session=session, photo_store=store) == first  # idempotent
    other_url = databases.new(tmp_path / "other")
    try:
        with new_session(get_engine(other_url)) as session:
            with pytest.raises(PhotoStoreMismatch, match="belongs to another database"):
                bind_photo_store(session=session, photo_store=store)  # even with no photos
            assert database_identity(session=session) is None  # refused before writing
    finally:
        databases.drop(other_url)
