"""Backup while photos keep arriving, restore into an empty folder, refusals (db/backup/)."""
from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.db.db_factories import LesionSpec, make_analysis, make_patient, make_photo, make_visit
from sqlalchemy import Engine, select
from sqlmodel import Session, SQLModel

from core import types as core_types
from db import backup
from db import repository as repo
from db.backup import create as backup_create
from db.engine import get_engine, new_session
from db.migrate import upgrade_database
from usecases.cli import backup as backup_cli
from db.models import Account, PatientCreate
from db.photos import PhotoStore, sha256_hex


def _one_more_lesion(decoded) -> core_types.CorrectedMeasurements:  # noqa: ANN001
    """A clinician's correction of `make_analysis(decoded)`: its lesions and a nodule added."""
    import numpy as np

    lesions = (*make_analysis(decoded).lesions,
               core_types.Lesion(bbox=(20, 10, 26, 16), kind="nodule", score=1.0, area_px=28,
                                 added_by_clinician=True))
    kind_mask = np.zeros((decoded.height, decoded.width), np.uint8)
    kind_mask[10:16, 20:26] = 4
    return core_types.CorrectedMeasurements(
        lesions=lesions, counts=core_types.LesionCounts.from_lesions(lesions),
        grade=core_types.Grade(value=1, label="moderate", confidence=0.7),
        lesion_area_fraction=0.05, region_counts={}, gags_estimate=None, grade_evidence=(1.0, 0.9),
        edit={"action": "add", "kind": "nodule", "point": [23.0, 13.0]},
        description="added a nodule/cyst at (23, 13)", kind_mask=kind_mask)


def _populate(session: Session, store: PhotoStore, admin: Account, clinician: Account) -> int:
    """Patients, visits, photos with and without analyses, a re-analysis, reviews, a study."""
    first = repo.create_patient(
        session=session, actor=clinician,
        data=PatientCreate(code="BK-1", name="Zoë Ñandú", consent_date=date(2024, 1, 2),
                           skin_type="III", notes="allergic to \"benzoyl\" \u2013 noted",
                           research_consent=True),
    )
    second = make_patient(session, clinician, "BK-2")
    seed = 0
    for patient in (first, second):
        for day in (date(2024, 1, 5), date(2024, 3, 5)):
            visit = make_visit(session, clinician, patient, day)
            for view in ("front", "left") if patient is first else ("front",):
                seed += 1
                decoded = make_photo(seed)
                analysis = make_analysis(decoded, [LesionSpec("pustule", (1, 1, 4, 4))]) \
                    if seed % 3 else make_analysis(decoded)
                photo = repo.store_photo(session=session, actor=clinician, photo_store=store,
                                         visit_id=visit.id, photo=decoded, analysis=analysis,
                                         view=view, makeup=seed % 2 == 0, lighting="window")
    repo.add_analysis(session=session, actor=clinician, photo_store=store, photo_id=photo.id,
                      analysis=make_analysis(decoded, model_version="seg-test-2", grade=2,
                                             with_masks=False))
    bare = make_photo(999)
    repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                     photo=bare, analysis=None)
    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=3,
                    grade_override=2, notes="checked")
    # Two lesion corrections of that analysis, the second one undone.
    corrected = repo.add_correction(session=session, actor=clinician, photo_store=store,
                                    analysis_id=analysis.id, corrected=_one_more_lesion(decoded))
    undone = repo.add_correction(session=session, actor=clinician, photo_store=store,
                                 analysis_id=corrected.id, corrected=_one_more_lesion(decoded))
    repo.withdraw_correction(session=session, actor=clinician, analysis_id=undone.id)
    repo.add_treatment_event(session=session, actor=clinician, patient_id=first.id,
                             event_date=date(2024, 1, 5), description="adapalene 0.1% gel")
    study = repo.create_study(session=session, actor=clinician, name="Trial", arms=["a", "b"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    repo.enrol_patient(session=session, actor=clinician, study_id=study.id, arm_id=arm.id,
                       patient_id=first.id)
    repo.record_audit(session=session, actor_id=admin.id, action="view", target_type="patient",
                      target_id=first.id)
    return seed + 1


def _all_rows(engine: Engine) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every row of every table, read through the app's own column types, by primary key."""
    rows: dict[str, dict[Any, dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name == "clinic_identity":  # not clinic data: each pair has its own id
                continue
            key = [c.name for c in table.primary_key.columns]
            rows[table.name] = {
                tuple(r[k] for k in key): dict(r)
                for r in connection.execute(select(table)).mappings()
            }
    return rows


def _restore_target(tmp_path: Path, name: str = "restored") -> tuple[str, PhotoStore]:
    folder = tmp_path / name
    return f"sqlite:///{folder / 'acne.db'}", PhotoStore(folder / "photos")


def _assert_same_files(rows: dict[str, dict[Any, dict[str, Any]]], source: PhotoStore,
                       target: PhotoStore) -> int:
    """Every file the rows point to is in `target`, byte for byte; return how many files."""
    files = {(p["file_sha256"], p["file_extension"]) for p in rows["photo"].values()}
    files |= {
        (sha, ".png")
        for a in rows["analysis"].values()
        for sha in (a["kind_mask_sha256"], a["probability_sha256"])
        if sha
    }
    for sha, ext in files:
        data = target.read(sha, ext)
        assert data == source.read(sha, ext) and sha256_hex(data) == sha
    return len(files)


def test_backup_while_photos_arrive_then_restore_gives_the_same_data(
    session: Session, db_url: str, store: PhotoStore, admin: Account, clinician: Account,
    tmp_path: Path,
) -> None:
    seed = _populate(session, store, admin, clinician)
    visit_id = repo.list_visits(session=session, actor=clinician, patient_id=1)[0].id
    stop, stored, errors = threading.Event(), [], []

    def keep_storing() -> None:
        try:
            with new_session(get_engine(db_url)) as writer:
                actor = writer.get(Account, clinician.id)
                for i in range(200):
                    if stop.is_set():
                        return
                    decoded = make_photo(10_000 + i)
                    stored.append(repo.store_photo(
                        session=writer, actor=actor, photo_store=store, visit_id=visit_id,
                        photo=decoded, analysis=make_analysis(decoded)).id)
        except Exception as error:  # reported by the main thread
            errors.append(error)

    writer = threading.Thread(target=keep_storing)
    writer.start()
    while not stored and writer.is_alive():
        stop.wait(0.01)
    try:
        summary = backup.create_backup(database_url=db_url, photo_store=store,
                                       destination=tmp_path / "backup")
    finally:
        stop.set()
        writer.join()
    assert errors == []
    assert seed > 0 and stored, "the writer stored photos while the backup ran"
    assert not (tmp_path / "backup.tmp").exists()
    assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o700

    url, target = _restore_target(tmp_path)
    restored = backup.restore_backup(source=tmp_path / "backup", database_url=url,
                                     photo_store=target)
    assert restored.rows == summary.rows and restored.files == summary.files
    # The restored database and folder are a new pair, bound to each other (issue 24).
    from db.store_identity import bind_photo_store, database_identity

    with Session(get_engine(url)) as restored_session:
        restored_id = database_identity(session=restored_session)
        assert restored_id is not None and target.read_identity() == restored_id
        assert bind_photo_store(session=restored_session, photo_store=target) == restored_id

    source_rows, target_rows = _all_rows(get_engine(db_url)), _all_rows(get_engine(url))
    assert {name: len(rows) for name, rows in target_rows.items()} == {
        name: summary.rows.get(name, 0) for name in target_rows
    }
    for name, rows in target_rows.items():
        for key, row in rows.items():
            assert row == source_rows[name][key], f"{name} {key} differs after restore"
    # The snapshot is consistent: every restored photo has its analysis, every file its row.
    analysed = {a["photo_id"] for a in target_rows["analysis"].values()}
    assert {p["id"] for p in target_rows["photo"].values() if p["filename"] != "photo_999.png"} \
        <= analysed
    assert _assert_same_files(target_rows, store, target) == summary.files
    with new_session(get_engine(url)) as fresh:
        assert repo.check_integrity(session=fresh, photo_store=target, verify_content=True).ok
        restored_admin = fresh.get(Account, admin.id)
        patients = repo.list_patients(session=fresh, actor=restored_admin)
        assert [(p.code, p.name) for p in patients] == [("BK-1", "Zoë Ñandú"), ("BK-2", None)]
    with new_session(get_engine(url)) as fresh, new_session(get_engine(db_url)) as original:
        for (analysis_id,) in target_rows["analysis"]:
            lesions = repo.list_lesions(session=fresh, actor=fresh.get(Account, admin.id),
                                        analysis_id=analysis_id)
            expected = repo.list_lesions(session=original, actor=admin, analysis_id=analysis_id)
            assert lesions and [x.model_dump() for x in lesions] == [
                x.model_dump() for x in expected
            ]


def test_snapshot_leaves_out_rows_committed_while_the_tables_are_read(
    session: Session, db_url: str, store: PhotoStore, admin: Account, clinician: Account,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _populate(session, store, admin, clinician)
    visit_id = repo.list_visits(session=session, actor=clinician, patient_id=2)[0].id
    before = {name: len(rows) for name, rows in _all_rows(get_engine(db_url)).items()}
    real = backup_create.file_references
    late: list[int] = []

    def commit_a_photo_mid_backup(table: str, row: dict[str, Any]) -> list[tuple[str, str]]:
        # The first table is being read: another connection commits a whole new visit now.
        if not late:
            with new_session(get_engine(db_url)) as other:
                actor = other.get(Account, clinician.id)
                decoded = make_photo(4242)
                late.append(repo.store_photo(session=other, actor=actor, photo_store=store,
                                             visit_id=visit_id, photo=decoded,
                                             analysis=make_analysis(decoded)).id)
        return real(table, row)

    monkeypatch.setattr(backup_create, "file_references", commit_a_photo_mid_backup)
    summary = backup.create_backup(database_url=db_url, photo_store=store,
                                   destination=tmp_path / "backup")
    assert late, "the late photo was committed during the backup"
    assert {name: summary.rows.get(name, 0) for name in before} == before
    after = _all_rows(get_engine(db_url))
    assert len(after["photo"]) == before["photo"] + 1  # it is in the database, not the backup
    late_file = after["photo"][(late[0],)]["file_sha256"]
    assert not list((tmp_path / "backup" / "files").rglob(f"{late_file}*"))


def test_a_patient_deleted_during_the_backup_is_left_out_whole(
    session: Session, db_url: str, store: PhotoStore, admin: Account, clinician: Account,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _populate(session, store, admin, clinician)
    real, calls = backup_create._copy_files, []

    def delete_after_snapshot(*args: Any) -> int:
        # The rows were read; the patient and their files go before the files are copied.
        if not calls:
            repo.delete_patient(session=session, actor=clinician, photo_store=store,
                                patient_id=2)
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(backup_create, "_copy_files", delete_after_snapshot)
    summary = backup.create_backup(database_url=db_url, photo_store=store,
                                   destination=tmp_path / "backup")
    assert len(calls) == 2  # the first snapshot still had the patient: taken again
    url, target = _restore_target(tmp_path)
    backup.restore_backup(source=tmp_path / "backup", database_url=url, photo_store=target)
    with new_session(get_engine(url)) as fresh:
        codes = [p.code for p in repo.list_patients(session=fresh, actor=fresh.get(Account, 1))]
        assert codes == ["BK-1"]
        assert repo.check_integrity(session=fresh, photo_store=target).ok
    assert summary.rows["patient"] == 1


def test_a_missing_file_fails_the_backup_and_leaves_no_backup(
    session: Session, db_url: str, store: PhotoStore, admin: Account, clinician: Account,
    tmp_path: Path,
) -> None:
    _populate(session, store, admin, clinician)
    photo = repo.get_photo(session=session, actor=clinician, photo_id=1)
    store.delete(photo.file_sha256, photo.file_extension)
    with pytest.raises(backup.BackupError, match=f"{photo.file_sha256}.* is missing"):
        backup.create_backup(database_url=db_url, photo_store=store,
                             destination=tmp_path / "backup")
    assert not (tmp_path / "backup").exists() and not (tmp_path / "backup.tmp").exists()


def test_an_interrupted_backup_leaves_nothing_named_dest(
    session: Session, db_url: str, store: PhotoStore, admin: Account, clinician: Account,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _populate(session, store, admin, clinician)
    destination = tmp_path / "backup"

    def killed(*_args: Any) -> int:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(backup_create, "_copy_files", killed)
        with pytest.raises(KeyboardInterrupt):
            backup.create_backup(database_url=db_url, photo_store=store, destination=destination)
    assert not destination.exists()
    # A SIGKILL leaves DEST.tmp behind: the next backup replaces it.
    (destination.parent / "backup.tmp" / "tables").mkdir(parents=True)
    backup.create_backup(database_url=db_url, photo_store=store, destination=destination)
    assert (destination / backup.MANIFEST).is_file()
    assert not (destination.parent / "backup.tmp").exists()
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.create_backup(database_url=db_url, photo_store=store, destination=destination)


@pytest.fixture
def made_backup(
    session: Session, db_url: str, store: PhotoStore, admin: Account, clinician: Account,
    tmp_path: Path,
) -> Path:
    _populate(session, store, admin, clinician)
    destination = tmp_path / "backup"
    backup.create_backup(database_url=db_url, photo_store=store, destination=destination)
    return destination


def test_a_changed_row_is_refused(made_backup: Path, tmp_path: Path) -> None:
    rows = made_backup / "tables" / "patient.jsonl"
    rows.write_text(rows.read_text("utf-8").replace("BK-2", "BK-9"), "utf-8")
    url, target = _restore_target(tmp_path)
    with pytest.raises(backup.BackupError, match="patient.jsonl does not match its checksum"):
        backup.restore_backup(source=made_backup, database_url=url, photo_store=target)
    assert not list(target.root.rglob("*.*"))


def test_a_changed_photo_file_is_refused(made_backup: Path, tmp_path: Path) -> None:
    photo_file = sorted((made_backup / "files").rglob("*.png"))[0]
    photo_file.chmod(0o600)
    photo_file.write_bytes(photo_file.read_bytes()[:-1] + b"\x00")
    url, target = _restore_target(tmp_path)
    with pytest.raises(backup.BackupError, match=f"{photo_file.name} does not match"):
        backup.restore_backup(source=made_backup, database_url=url, photo_store=target)


def test_a_forged_manifest_does_not_get_rows_in(made_backup: Path, tmp_path: Path) -> None:
    # A row added AND its checksum updated: the row count in the manifest still disagrees.
    rows = made_backup / "tables" / "lesion.jsonl"
    extra = json.loads(rows.read_bytes().splitlines()[0])
    extra["id"] = 10_000
    rows.write_bytes(rows.read_bytes() + json.dumps(extra).encode() + b"\n")
    manifest = json.loads((made_backup / backup.MANIFEST).read_text())
    manifest["sha256"]["tables/lesion.jsonl"] = sha256_hex(rows.read_bytes())
    (made_backup / backup.MANIFEST).write_text(json.dumps(manifest))
    url, target = _restore_target(tmp_path)
    with pytest.raises(backup.BackupError, match="lesion has .* rows in the backup"):
        backup.restore_backup(source=made_backup, database_url=url, photo_store=target)
    assert not list(target.root.rglob("*.*")), "files copied first are removed again"
    with new_session(get_engine(url)) as fresh:
        assert repo.count_accounts(session=fresh) == 0


def test_a_backup_without_a_photo_file_is_refused(made_backup: Path, tmp_path: Path) -> None:
    # The file AND its checksum line removed: the photo row still points to it.
    manifest = json.loads((made_backup / backup.MANIFEST).read_text())
    relative = next(name for name in manifest["sha256"] if name.startswith("files/"))
    del manifest["sha256"][relative]
    (made_backup / relative).unlink()
    (made_backup / backup.MANIFEST).write_text(json.dumps(manifest))
    url, target = _restore_target(tmp_path)
    with pytest.raises(backup.BackupError, match=f"{Path(relative).name}, which the backup"):
        backup.restore_backup(source=made_backup, database_url=url, photo_store=target)
    assert not list(target.root.rglob("*.*"))


def test_a_non_empty_target_is_refused(
    made_backup: Path, db_url: str, store: PhotoStore, tmp_path: Path
) -> None:
    with pytest.raises(backup.BackupError, match="already holds rows .*patient"):
        backup.restore_backup(source=made_backup, database_url=db_url, photo_store=store)
    url, target = _restore_target(tmp_path)
    target.put(b"someone else's photo", ".jpg")
    with pytest.raises(backup.BackupError, match="photo folder .* is not empty"):
        backup.restore_backup(source=made_backup, database_url=url, photo_store=target)
    with pytest.raises(backup.BackupError, match="not a backup"):
        backup.restore_backup(source=tmp_path, database_url=url, photo_store=target)


def test_restore_into_an_empty_migrated_database_continues_ids(
    made_backup: Path, empty_db_url: str, tmp_path: Path
) -> None:
    # The new machine ran `make run` first: migrated, but still empty.
    upgrade_database(empty_db_url)
    target = PhotoStore(tmp_path / "new" / "photos")
    summary = backup.restore_backup(source=made_backup, database_url=empty_db_url,
                                    photo_store=target)
    with new_session(get_engine(empty_db_url)) as fresh:
        clinician = repo.get_account_by_username(session=fresh, username="dr_a")
        patient = make_patient(fresh, clinician, "BK-3")  # ids go on after the restored ones
        assert patient.id == summary.rows["patient"] + 1
        visit = make_visit(fresh, clinician, patient, date(2024, 5, 1))
        decoded = make_photo(77)
        photo = repo.store_photo(session=fresh, actor=clinician, photo_store=target,
                                 visit_id=visit.id, photo=decoded, analysis=make_analysis(decoded))
        assert photo.id == summary.rows["photo"] + 1
        assert repo.check_integrity(session=fresh, photo_store=target).ok


def test_command_line_create_and_restore(
    made_backup: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert backup_cli.main(["create", str(tmp_path / "cli-backup")]) == 0
    assert "backup written to" in capsys.readouterr().out
    assert backup_cli.main(["create", str(tmp_path / "cli-backup")]) == 1
    assert "already exists" in capsys.readouterr().err

    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "new-data"))
    monkeypatch.delenv("DATABASE_URL")
    assert backup_cli.main(["restore", str(tmp_path / "cli-backup")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("restored ") and "rows" in out
    assert backup_cli.main(["restore", str(made_backup)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the target database already holds rows")
    assert "Traceback" not in err
    assert (tmp_path / "new-data").stat().st_mode & 0o777 == 0o700


def test_command_line_reports_a_refused_row_without_its_values(
    made_backup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A forged backup: a patient row twice (same id), checksum and count made to agree.
    rows = made_backup / "tables" / "patient.jsonl"
    rows.write_bytes(rows.read_bytes() + rows.read_bytes().splitlines(keepends=True)[0])
    manifest = json.loads((made_backup / backup.MANIFEST).read_text())
    manifest["sha256"]["tables/patient.jsonl"] = sha256_hex(rows.read_bytes())
    manifest["rows"]["patient"] += 1
    (made_backup / backup.MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "new-data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert backup_cli.main(["restore", str(made_backup)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the database refused the restore: ")
    assert "Zoë" not in err and "BK-1" not in err and "Traceback" not in err
    assert not list((tmp_path / "new-data" / "photos").rglob("*.*"))


def test_a_table_file_swapped_after_the_check_is_not_restored(
    made_backup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24: the checksums were checked, then `tables/patient.jsonl` was read again after the
    photo copy; a file swapped in that window was restored. The rows now come from the bytes
    that were checked."""
    from db.backup import restore as restore_module

    rows = made_backup / "tables" / "patient.jsonl"
    original = rows.read_text("utf-8")
    real_restore_files = restore_module._restore_files

    def swap_then_copy_files(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        rows.write_text(original.replace("BK-2", "BK-9"), "utf-8")  # after the check
        return real_restore_files(*args, **kwargs)

    monkeypatch.setattr(restore_module, "_restore_files", swap_then_copy_files)
    url, target = _restore_target(tmp_path)
    backup.restore_backup(source=made_backup, database_url=url, photo_store=target)

    assert "BK-9" in rows.read_text("utf-8")  # the swap happened
    codes = {row["code"] for row in _all_rows(get_engine(url))["patient"].values()}
    assert codes == {"BK-1", "BK-2"}
