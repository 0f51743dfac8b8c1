"""Making a backup while the app runs (`create_backup`).

Every table is read in ONE read transaction (SQLite WAL snapshot; PostgreSQL REPEATABLE READ),
so the rows agree with each other whatever the app writes meanwhile. Files are copied after
the snapshot: they are named by content and never change, and files stored later are simply
not referenced. The backup is written to `DEST.tmp` and renamed at the end, so a killed backup
never leaves a half backup named DEST.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from db.backup.format import (
    BATCH,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    SIGNATURE,
    BackupError,
    BackupSummary,
    app_tables,
    check_key,
    encode,
    file_references,
    manifest_signature,
    relative_file_path,
    revisions,
)
from db.engine import get_engine
from db.photos import PhotoStore, fsync_dir, sha256_hex
from db.repository.files import StoredFile

_SNAPSHOT_ATTEMPTS = 3


def _write_private(path: Path, data: bytes) -> None:
    """Write an owner-only file and flush it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction that sees the database as it was at its first read."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            # SQLite (WAL): BEGIN DEFERRED, and the snapshot is taken at this first read.
            yield connection


def _current_revision(connection: Connection) -> str:
    found = revisions(connection)
    if not found:
        raise BackupError("the database has no schema yet: run `python -m usecases.cli.migrate` first")
    if len(found) != 1:
        raise BackupError(f"the database has schema revisions {found!r}; expected exactly one")
    return found[0]


@dataclass
class _Dump:
    revision: str
    order: list[str]
    rows: dict[str, int]
    digests: dict[str, str]  # relative path -> SHA-256
    files: set[StoredFile]


def _dump_tables(engine: Engine, folder: Path) -> _Dump:
    tables_dir = folder / "tables"
    tables_dir.mkdir(mode=0o700)
    dump = _Dump("", [], {}, {}, set())
    with _snapshot(engine) as connection:
        dump.revision = _current_revision(connection)
        streaming = connection.execution_options(stream_results=True, yield_per=BATCH)
        for table in app_tables(connection):
            relative = f"tables/{table.name}.jsonl"
            digest, count = hashlib.sha256(), 0
            fd = os.open(folder / relative, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                statement = sa.select(table).order_by(*table.primary_key.columns)
                for row in streaming.execute(statement).mappings():
                    values = dict(row)
                    dump.files.update(file_references(table.name, values))
                    line = json.dumps(values, default=encode, ensure_ascii=False,
                                      separators=(",", ":")).encode("utf-8") + b"\n"
                    handle.write(line)
                    digest.update(line)
                    count += 1
                handle.flush()
                os.fsync(handle.fileno())
            dump.order.append(table.name)
            dump.rows[table.name] = count
            dump.digests[relative] = digest.hexdigest()
    return dump


class _FileVanished(Exception):
    """A file the snapshot references was deleted since (its patient deleted meanwhile?)."""

    def __init__(self, stored: StoredFile) -> None:
        super().__init__(f"{stored[0]}{stored[1]}")
        self.stored = stored


def _copy_files(store: PhotoStore, files: set[StoredFile], folder: Path, dump: _Dump) -> int:
    """Copy and check every referenced file; return the number of bytes copied."""
    total = 0
    for sha, ext in sorted(files):
        try:
            data = store.read(sha, ext)
        except FileNotFoundError:
            raise _FileVanished((sha, ext)) from None
        if sha256_hex(data) != sha:
            raise BackupError(
                f"stored file {sha}{ext} is damaged (its bytes no longer match its name): "
                "run `python -m usecases.cli.check --verify`"
            )
        relative = relative_file_path(sha, ext)
        target = folder / relative
        target.parent.mkdir(mode=0o700, exist_ok=True)
        _write_private(target, data)
        dump.digests[relative] = sha
        total += len(data)
    return total


def _is_our_leftover(folder: Path) -> bool:
    return folder.is_dir() and {p.name for p in folder.iterdir()} <= {"tables", "files", MANIFEST, SIGNATURE}


def _temp_folder(destination: Path) -> Path:
    return destination.with_name(destination.name + ".tmp")


def _dump_and_copy(engine: Engine, store: PhotoStore, temp: Path) -> tuple[_Dump, int]:
    """Rows from one snapshot and the files they point to; a new snapshot if files vanished."""
    vanished: set[StoredFile] = set()
    for _attempt in range(_SNAPSHOT_ATTEMPTS):
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(mode=0o700)
        os.chmod(temp, 0o700)
        dump = _dump_tables(engine, temp)
        (temp / "files").mkdir(mode=0o700)
        try:
            return dump, _copy_files(store, dump.files, temp, dump)
        except _FileVanished as error:
            if error.stored in vanished:  # still referenced and still gone: really missing
                raise BackupError(f"stored file {error} is missing: run `python -m usecases.cli.check`") \
                    from None
            vanished.add(error.stored)  # deleted after the snapshot: take a new one
    raise BackupError("files kept disappearing while the backup ran: try again")


def create_backup(*, database_url: str, photo_store: PhotoStore, destination: Path,
                  signing_key: bytes | None = None) -> BackupSummary:
    """Write a consistent backup of the database and its files to the new folder `destination`,
    signed with `signing_key` when one is given (`manifest.sig`)."""
    if signing_key is not None:
        check_key(signing_key)
    destination = Path(destination)
    if destination.exists():
        raise BackupError(f"{destination} already exists: choose a new backup folder")
    temp = _temp_folder(destination)
    if temp.exists():
        if not _is_our_leftover(temp):
            raise BackupError(f"{temp} exists and is not a backup left over: move it away")
        shutil.rmtree(temp)  # a backup killed earlier
    destination.parent.mkdir(parents=True, exist_ok=True)  # the backup itself is 0700
    engine = get_engine(database_url)
    try:
        dump, file_bytes = _dump_and_copy(engine, photo_store, temp)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "schema_revision": dump.revision,
        "source_database": engine.dialect.name,
        "table_order": dump.order,
        "rows": dump.rows,
        "sha256": dict(sorted(dump.digests.items())),
    }
    manifest_bytes = json.dumps(manifest, indent=1).encode("utf-8")
    _write_private(temp / MANIFEST, manifest_bytes)
    if signing_key is not None:
        _write_private(temp / SIGNATURE, manifest_signature(manifest_bytes, signing_key).encode("ascii"))
    fsync_dir(temp)
    os.rename(temp, destination)
    fsync_dir(destination.parent)
    return BackupSummary(destination, dump.revision, dump.rows, len(dump.files), file_bytes)
