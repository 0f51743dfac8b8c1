"""The start-up check: `python -m usecases.cli.check` and the check that `python -m usecases.cli.migrate` runs."""
from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest
from tests.db.db_factories import make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session

from db import repository as repo
from db.models import Account, Photo
from db.photos import PhotoStore
from usecases.cli import check, migrate

HOUR_AGO = time.time() - 3600


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings point at the test's database and its photo folder (tmp_path/data/photos)."""
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    return tmp_path / "data"


def _stored_photos(session: Session, store: PhotoStore, actor: Account, n: int) -> list[Photo]:
    patient = make_patient(session, actor, "CHK-1")
    visit = make_visit(session, actor, patient, date(2024, 2, 1))
    photos = []
    for seed in range(n):
        decoded = make_photo(seed)
        photos.append(repo.store_photo(session=session, actor=actor, photo_store=store,
                                       visit_id=visit.id, photo=decoded,
                                       analysis=make_analysis(decoded)))
    return photos


def _plant_problems(store: PhotoStore, photos: list[Photo]) -> tuple[str, Photo, Photo]:
    """An orphan file (an hour old), a deleted photo file and a damaged photo file."""
    orphan = store.put(b"written by a store that crashed before its commit", ".jpg")
    os.utime(store.path_for(orphan, ".jpg"), (HOUR_AGO, HOUR_AGO))
    missing, damaged = photos[0], photos[1]
    store.path_for(missing.file_sha256, missing.file_extension).unlink()
    store.path_for(damaged.file_sha256, damaged.file_extension).write_bytes(b"bit rot")
    return orphan, missing, damaged


def test_a_healthy_store_passes(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stored_photos(session, store, clinician, 2)
    assert check.main(["--verify"]) == 0
    out = capsys.readouterr().out
    # 2 photos + the factory's two masks, equal for both photos.
    assert out.strip() == (
        f"photo folder {store.root}: 4 files checked: "
        "0 orphan files, 0 missing files, 0 damaged files"
    )


def test_orphan_missing_and_damaged_files_are_reported(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    orphan, missing, damaged = _plant_problems(store, _stored_photos(session, store, clinician, 3))
    assert check.main([]) == 1  # without --verify the damaged file is not read
    out = capsys.readouterr()
    assert "5 files checked: 1 orphan file, 1 missing file\n" in out.out
    assert f"missing: photo {missing.id} points to {missing.file_sha256}.png" in out.out
    assert "restore them from a backup" in out.err

    assert check.main(["--verify"]) == 1
    out = capsys.readouterr().out
    assert "1 orphan file, 1 missing file, 1 damaged file" in out
    assert f"damaged: {damaged.file_sha256}.png no longer matches its SHA-256" in out
    assert store.path_for(orphan, ".jpg").is_file(), "a check without --repair changes nothing"


def test_repair_quarantines_old_orphans_and_stale_temporary_files(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stored_photos(session, store, clinician, 1)
    old = store.put(b"old orphan", ".png")
    os.utime(store.path_for(old, ".png"), (HOUR_AGO, HOUR_AGO))
    fresh = store.put(b"fresh orphan: maybe a store still under way", ".png")
    temp = store.root / old[:2] / ".tmp-crashed.png"
    temp.write_bytes(b"half a photo")
    os.utime(temp, (HOUR_AGO - 60, HOUR_AGO - 60))

    assert check.main(["--repair"]) == 0  # orphans alone are no failure
    out = capsys.readouterr().out
    assert "2 orphan files" in out
    assert "repaired: moved 1 orphan file and 1 stale temporary file to quarantine" in out
    assert not store.path_for(old, ".png").exists() and not temp.exists()
    assert (old, ".png") in store.quarantined_files(), "moved, not deleted"
    assert store.path_for(fresh, ".png").exists()

    assert check.main(["--repair", "--min-age-s", "0"]) == 0
    assert ("repaired: moved 1 orphan file and 0 stale temporary files to quarantine"
            in capsys.readouterr().out)
    assert check.main([]) == 0
    assert "0 orphan files, 0 missing files" in capsys.readouterr().out


def test_repair_keeps_missing_and_damaged_files_failing(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    orphan, missing, damaged = _plant_problems(store, _stored_photos(session, store, clinician, 3))
    assert check.main(["--repair", "--verify"]) == 1
    out = capsys.readouterr().out
    assert "1 orphan file, 1 missing file, 1 damaged file" in out
    assert "moved 1 orphan file" in out
    assert not store.path_for(orphan, ".jpg").exists()
    assert (orphan, ".jpg") in store.quarantined_files()
    assert store.path_for(damaged.file_sha256, ".png").read_bytes() == b"bit rot"  # evidence kept


def test_bad_arguments_and_an_unmigrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert check.main(["--min-age-s", "-1"]) == 1
    assert "must not be negative" in capsys.readouterr().err
    assert check.main([]) == 2  # a setting to fix, as every command says it (issue 24)
    assert "the database has no tables yet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        check.main(["--no-such-option"])


def test_migrate_checks_and_reports_but_deletes_nothing_at_start_up(
    configured: Path, session: Session, store: PhotoStore, clinician: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    orphan, missing, _damaged = _plant_problems(store, _stored_photos(session, store, clinician, 3))
    fresh = store.put(b"a store under way right now", ".png")
    assert migrate.main() == 0  # the app still starts: most data is fine
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("database ") and lines[0].endswith(" is up to date")
    assert lines[1:] == [
        "photo files: 6 files checked: 2 orphan files, 1 missing file; orphan files are kept "
        "(`python -m usecases.cli.check --repair` moves them to the photo folder's quarantine)"
        " - run `python -m usecases.cli.check` to see which files are missing"
    ]
    assert store.path_for(orphan, ".jpg").exists(), "issue 24: nothing deleted at start-up"
    assert store.path_for(fresh, ".png").exists()

    store.path_for(fresh, ".png").unlink()
    store.path_for(orphan, ".jpg").unlink()
    assert store.put(make_photo(0).stored_bytes, ".png") == missing.file_sha256  # from a backup
    assert migrate.main() == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "photo files: 5 files checked: 0 orphan files, 0 missing files"
    ]
