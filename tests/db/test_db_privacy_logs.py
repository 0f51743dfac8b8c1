"""Patient names, codes, passwords and photo bytes never reach the logs or the terminal, and
the data and photo folders are owner-only."""
from __future__ import annotations

import base64
import dataclasses
import logging
import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from tests.db.db_factories import PASSWORD, make_account, make_analysis, make_photo, make_visit
from sqlmodel import Session

from db import repository as repo
from db.engine import get_engine, new_session
from db.models import PatientCreate
from db.photos import PhotoStore
from db.repository import photos as photos_module
from usecases.cli import backup, check, migrate

NAME = "Wilhelmina Quarrington"
CODE = "PRIV-7731"


@pytest.fixture
def owner_only_umask() -> Iterator[None]:
    # A typical umask: files and folders would be readable by everyone unless the app says no.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _fragments(data: bytes) -> list[str]:
    """Ways photo bytes could show up in a text: raw, hex, base64, Python's bytes repr."""
    chunk = data[64:112]  # past the PNG header that every PNG shares
    return [
        chunk.decode("latin-1"),
        chunk.hex(),
        base64.b64encode(chunk).decode()[:40],
        repr(chunk)[2:42],
    ]


def test_no_patient_data_in_logs_or_output_and_folders_are_private(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
    owner_only_umask: None,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    data_dir.chmod(0o755)  # as someone's mkdir left it: the app must close it
    monkeypatch.setenv("ACNE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records

    assert migrate.main() == 0
    store = PhotoStore(data_dir / "photos")
    with new_session(get_engine(db_url)) as session:
        admin = make_account(session, "admin", role="admin")
        clinician = make_account(session, "dr_a", team="north")
        assert repo.authenticate(session=session, username="dr_a", password="wrong password!") \
            is None
        patient = repo.create_patient(session=session, actor=clinician,
                                      data=PatientCreate(code=CODE, name=NAME))
        visit = make_visit(session, clinician, patient, date(2024, 4, 1))
        # Clinics name files after patients: the stored name must not travel into logs.
        decoded = dataclasses.replace(make_photo(5), filename=f"{NAME} front.png")
        repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                         photo=decoded, analysis=make_analysis(decoded))
        _failed_store_that_logs(session, store, clinician, visit.id, monkeypatch)

        assert backup.main(["create", str(tmp_path / "export")]) == 0  # the whole-clinic export
        assert check.main(["--verify"]) == 0
        repo.delete_patient(session=session, actor=clinician, photo_store=store,
                            patient_id=patient.id)
        assert repo.list_patients(session=session, actor=admin) == []
    assert migrate.main() == 0

    assert any(r.name == photos_module.log.name for r in caplog.records), "logs were captured"
    output = capsys.readouterr()
    texts = {"log": caplog.text, "stdout": output.out, "stderr": output.err}
    texts["log records"] = "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    secrets = [NAME, CODE, PASSWORD, "wrong password!", *_fragments(decoded.stored_bytes)]
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret[:20]!r} appears in {where}"

    for folder in (data_dir, store.root, *[p for p in store.root.rglob("*") if p.is_dir()],
                   tmp_path / "export"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in [*store.root.rglob("*.*"), *(tmp_path / "export").rglob("*.*")]:
        if file.is_file():
            assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, file


def _failed_store_that_logs(session: Session, store: PhotoStore, actor: object, visit_id: int,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that fails after writing its files, whose clean-up fails too: it is logged."""
    def no_audit(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    def no_cleanup(*_args: object, **_kwargs: object) -> None:
        raise OSError("read-only file system")

    decoded = dataclasses.replace(make_photo(6), filename=f"{NAME} left.png")
    with monkeypatch.context() as patch:
        patch.setattr(photos_module, "add_audit", no_audit)
        patch.setattr(photos_module, "delete_unreferenced_files", no_cleanup)
        with pytest.raises(RuntimeError, match="disk is full"):
            repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit_id,
                             photo=decoded, analysis=make_analysis(decoded))
    # The files that store left behind are orphans: the start-up check removes them later.
    removed = repo.repair_integrity(session=session, photo_store=store, min_age_s=0)
    assert removed
