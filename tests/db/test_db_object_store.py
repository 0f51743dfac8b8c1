"""Issue 28: photos in S3-compatible object storage, tested against a real S3 HTTP endpoint
(moto's server, started by tests/conftest.py), never a mock of the client."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session
from tests.db.db_factories import make_analysis, make_patient, make_photo, make_visit
from tests.s3_server import TEST_ENV, client

from db import backup
from db import repository as repo
from db.engine import get_engine, new_session
from db.models import Account
from db.object_store import S3PhotoStore, parse_store_url
from db.photos import PhotoStore, sha256_hex
from db.repository.integrity import check_integrity, repair_store
from db.store_identity import PhotoStoreMismatch, bind_photo_store
from usecases.cli import check, migrate
from usecases.settings import EXIT_BAD_SETTINGS, SettingsError, check_storage, load_settings


@pytest.fixture
def s3_store(s3_env: str) -> S3PhotoStore:
    return S3PhotoStore(f"s3://{s3_env}/clinic-a")


def _photos(session: Session, store, actor: Account, n: int = 2) -> list:  # noqa: ANN001
    patient = make_patient(session, actor, "S3-1")
    visit = make_visit(session, actor, patient, date(2025, 5, 1))
    stored = []
    for seed in range(n):
        decoded = make_photo(seed)
        stored.append(repo.store_photo(session=session, actor=actor, photo_store=store,
                                       visit_id=visit.id, photo=decoded,
                                       analysis=make_analysis(decoded)))
    return stored


def test_objects_are_content_addressed_written_once_and_checksummed(
    s3_store: S3PhotoStore, s3_endpoint: str
) -> None:
    sha, created = s3_store.put_checked(b"a photo", ".jpg")
    assert sha == sha256_hex(b"a photo") and created
    assert s3_store.put_checked(b"a photo", ".jpg") == (sha, False), "written once"
    assert s3_store.read(sha, ".jpg") == b"a photo" and s3_store.exists(sha, ".jpg")
    assert list(s3_store.iter_files()) == [(sha, ".jpg")]
    head = client(s3_endpoint).head_object(Bucket=s3_store.bucket, Key=f"clinic-a/{sha[:2]}/{sha}.jpg",
                                           ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"], "the server keeps the SHA-256 it checked on receipt"
    with pytest.raises(FileNotFoundError, match="is missing"):
        s3_store.read("0" * 64, ".png")


def test_store_photo_check_and_repair_on_s3(
    session: Session, s3_store: S3PhotoStore, clinician: Account, s3_endpoint: str
) -> None:
    photos = _photos(session, s3_store, clinician, 3)
    s3 = client(s3_endpoint)
    missing, damaged = photos[0], photos[1]
    s3.delete_object(Bucket=s3_store.bucket, Key=s3_store.key_for(missing.file_sha256, ".png"))
    s3.put_object(Bucket=s3_store.bucket, Key=s3_store.key_for(damaged.file_sha256, ".png"),
                  Body=b"bit rot")
    orphan = s3_store.put(b"left by a crash", ".jpg")
    report = check_integrity(session=session, photo_store=s3_store, verify_content=True)
    assert report.orphan_files == ((orphan, ".jpg"),)
    assert [m.row_id for m in report.missing_files] == [missing.id]
    assert report.damaged_files == ((damaged.file_sha256, ".png"),)

    result = repair_store(session=session, photo_store=s3_store, min_age_s=0)
    assert result.quarantined == ((orphan, ".jpg"),) and not s3_store.exists(orphan, ".jpg")
    assert (orphan, ".jpg") in s3_store.quarantined_files(), "moved, not deleted"
    assert s3_store.empty_quarantine() == 1 and s3_store.quarantined_files() == {}


def test_a_bucket_prefix_belongs_to_one_database(
    db_url: str, databases, tmp_path: Path, s3_store: S3PhotoStore  # noqa: ANN001
) -> None:
    with new_session(get_engine(db_url)) as session:
        first = bind_photo_store(session=session, photo_store=s3_store)
    assert s3_store.read_identity() == first
    other = databases.new(tmp_path / "other")
    try:
        with new_session(get_engine(other)) as session:
            with pytest.raises(PhotoStoreMismatch, match="belongs to another database"):
                bind_photo_store(session=session, photo_store=s3_store)
    finally:
        databases.drop(other)


def test_backup_moves_a_clinic_between_the_folder_and_s3_both_ways_byte_for_byte(
    db_url: str, databases, tmp_path: Path, session: Session, store: PhotoStore,  # noqa: ANN001
    clinician: Account, s3_env: str,
) -> None:
    _photos(session, store, clinician, 2)
    folder_files = {f: store.read(*f) for f in store.iter_files()}
    backup.create_backup(database_url=db_url, photo_store=store, destination=tmp_path / "b1")

    on_s3 = S3PhotoStore(f"s3://{s3_env}/moved")
    s3_url = databases.new(tmp_path / "s3db")
    backup.restore_backup(source=tmp_path / "b1", database_url=s3_url, photo_store=on_s3)
    assert {f: on_s3.read(*f) for f in on_s3.iter_files()} == folder_files
    with new_session(get_engine(s3_url)) as s3_session:
        assert check_integrity(session=s3_session, photo_store=on_s3, verify_content=True).ok
    backup.create_backup(database_url=s3_url, photo_store=on_s3, destination=tmp_path / "b2")

    back = PhotoStore(tmp_path / "back" / "photos")
    back_url = databases.new(tmp_path / "back")
    backup.restore_backup(source=tmp_path / "b2", database_url=back_url, photo_store=back)
    assert {f: back.read(*f) for f in back.iter_files()} == folder_files
    for url in (s3_url, back_url):
        databases.drop(url)


def test_the_commands_run_on_s3_and_never_print_a_credential(
    db_url: str, tmp_path: Path, s3_env: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ACNE_PHOTO_STORE", f"s3://{s3_env}/clinic")
    assert migrate.main() == 0
    assert check.main(["--verify"]) == 0
    out = capsys.readouterr().out
    assert f"photo folder s3://{s3_env}/clinic: 0 files checked" in out
    assert not (tmp_path / "data" / "photos").exists(), "no local photo folder on S3"

    monkeypatch.setenv("ACNE_PHOTO_STORE", "s3://no-such-bucket-here/x")
    assert check.main([]) == EXIT_BAD_SETTINGS
    err = capsys.readouterr().err
    assert "ACNE_PHOTO_STORE" in err and "does not exist" in err
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SettingsError) as unreachable:
        check_storage(load_settings())
    assert "cannot be reached" in str(unreachable.value)
    monkeypatch.setenv("ACNE_PHOTO_STORE", "s3://AKIAKEY:topsecret@bucket/x")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    for text in (str(refused.value), err, out, str(unreachable.value)):
        assert "topsecret" not in text and TEST_ENV["AWS_SECRET_ACCESS_KEY"] not in text
        assert TEST_ENV["AWS_ACCESS_KEY_ID"] not in text
    assert "must not hold credentials" in str(refused.value)


@pytest.mark.parametrize("url", ["s3://", "s3://UPPER/x", "file:///tmp", "s3://b/../x"])
def test_bad_store_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_store_url(url)


def test_an_empty_setting_means_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACNE_PHOTO_STORE", "  ")
    assert load_settings().photo_store is None
