"""Restoring a backup into an empty database and photo folder (`restore_backup`)."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from db.backup.format import (
    BATCH,
    BackupError,
    BackupSummary,
    app_tables,
    file_references,
    prepare_target_table,
    read_manifest,
    relative_file_path,
    revisions,
)
from db.engine import get_engine
from db.migrate import alembic_config, downgrade_database, upgrade_database
from db.photos import PhotoStore, normalise_extension
from db.repository.files import StoredFile
from db.store_identity import bind_photo_store


def _backup_files(manifest: dict[str, Any]) -> list[tuple[str, StoredFile]]:
    """The photo and mask files of the backup, each named by its own checksum."""
    files = []
    for relative, digest in manifest["sha256"].items():
        if relative.startswith("files/"):
            name = Path(relative).name
            sha, ext = name[:64], name[64:]
            if relative != relative_file_path(sha, ext) or digest != sha:
                raise BackupError(f"backup file {relative} is not named by its checksum")
            files.append((relative, (sha, normalise_extension(ext))))
    return files


def _database_rows(connection: Connection) -> dict[str, int]:
    return {
        table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        for table in app_tables(connection)
    }


def _check_empty_target(engine: Engine, store: PhotoStore) -> str | None:
    """The target's schema revision (None: no schema); BackupError if it holds anything."""
    with engine.connect() as connection:
        found = revisions(connection)
        filled = {name: n for name, n in _database_rows(connection).items() if n}
    if filled:
        tables = ", ".join(f"{n} in {name}" for name, n in sorted(filled.items()))
        raise BackupError(
            f"the target database already holds rows ({tables}): restore only into an empty "
            "database (set DATABASE_URL / ACNE_DATA_DIR to a new one)"
        )
    leftovers = store.leftover_count()
    if leftovers:
        raise BackupError(
            f"the photo folder {store.root} is not empty ({leftovers} files): restore only "
            "into an empty data folder (an interrupted restore leaves files: remove them first)"
        )
    if len(found) > 1:
        raise BackupError(f"the target database has schema revisions {found!r}")
    return found[0] if found else None


def _migrate_to(url: str, current: str | None, revision: str) -> None:
    try:
        ScriptDirectory.from_config(alembic_config(url)).get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown revision
        raise BackupError(
            f"the backup has schema revision {revision!r}, which this version of the app does "
            "not know: restore it with the app version that made it (or a newer one)"
        ) from None
    if current is not None and current != revision:
        downgrade_database(url, "base")  # the tables are empty: nothing is lost
    upgrade_database(url, revision)


def _read_rows(path: Path, decoders: dict[str, Callable[[Any], Any]]) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            row = json.loads(line)
            for name, decode in decoders.items():
                if row.get(name) is not None:
                    row[name] = decode(row[name])
            yield row


def _reset_sequences(connection: Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL: make the next generated id follow the restored ones."""
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            name, key = quote(table.name), quote(column.name)
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{name}', '{column.name}'), "
                f"COALESCE((SELECT MAX({key}) FROM {name}), 1), "
                f"(SELECT MAX({key}) FROM {name}) IS NOT NULL)"
            )


def _insert_rows(
    engine: Engine, source: Path, manifest: dict[str, Any], available: set[StoredFile]
) -> dict[str, int]:
    """Insert every row in one transaction; BackupError if a row points to a file not there."""
    inserted: dict[str, int] = {}
    with engine.begin() as connection:
        tables = app_tables(connection)  # parents before children
        names = sorted(table.name for table in tables)
        if names != sorted(manifest["table_order"]):
            raise BackupError(
                f"the backup's tables {sorted(manifest['table_order'])} differ from the "
                f"schema's {names} at revision {manifest['schema_revision']}"
            )
        for table in tables:
            decoders = prepare_target_table(table)
            columns = {c.name for c in table.columns}
            count, batch = 0, []
            for row in _read_rows(source / f"tables/{table.name}.jsonl", decoders):
                if set(row) != columns:
                    raise BackupError(
                        f"a row of table {table.name} has columns {sorted(row)}, "
                        f"the schema has {sorted(columns)}"
                    )
                for stored in file_references(table.name, row):
                    if stored not in available:
                        raise BackupError(
                            f"a row of table {table.name} points to {stored[0]}{stored[1]}, "
                            "which the backup does not hold: the backup is incomplete"
                        )
                batch.append(row)
                if len(batch) >= BATCH:
                    connection.execute(table.insert(), batch)
                    count, batch = count + len(batch), []
            if batch:
                connection.execute(table.insert(), batch)
                count += len(batch)
            if count != manifest["rows"].get(table.name):
                raise BackupError(
                    f"table {table.name} has {count} rows in the backup, the manifest says "
                    f"{manifest['rows'].get(table.name)}"
                )
            inserted[table.name] = count
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection, tables)
    return inserted


def _restore_files(
    source: Path, files: list[tuple[str, StoredFile]], store: PhotoStore
) -> tuple[list[StoredFile], int]:
    written: list[StoredFile] = []
    total = 0
    try:
        for relative, (sha, ext) in files:
            data = (source / relative).read_bytes()
            if store.put(data, ext) != sha:  # checked by read_manifest too; never store junk
                raise BackupError(f"backup file {relative} does not match its name")
            written.append((sha, normalise_extension(ext)))
            total += len(data)
    except BaseException:
        _remove_files(store, written)
        raise
    return written, total


def _remove_files(store: PhotoStore, files: list[StoredFile]) -> None:
    for sha, ext in files:
        store.delete(sha, ext)


def restore_backup(*, source: Path, database_url: str, photo_store: PhotoStore,
                   signing_key: bytes | None = None) -> BackupSummary:
    """Restore the backup at `source` into an empty database and an empty photo folder.

    With `signing_key`, the backup must carry this clinic's signature (a backup changed together
    with its checksums is refused). Every checksum is verified before anything is written.
    Files go first and the rows in one transaction after them (a failure removes the files
    again), then the schema is upgraded to the newest revision.
    """
    source = Path(source)
    # The table files are copied into a private folder (owner-only, removed at the end) as
    # their checksums are checked, and the rows come from that copy: the bytes checked are the
    # bytes restored. (Photo files are read once each and stored only if that read matches.)
    with tempfile.TemporaryDirectory(prefix="acne-restore-") as private:
        checked = Path(private)
        manifest = read_manifest(source, signing_key, copy_tables_to=checked)
        engine = get_engine(database_url)
        current = _check_empty_target(engine, photo_store)
        _migrate_to(database_url, current, manifest["schema_revision"])
        files = _backup_files(manifest)
        written, file_bytes = _restore_files(source, files, photo_store)
        try:
            rows = _insert_rows(engine, checked, manifest, set(written))
        except BaseException:
            _remove_files(photo_store, written)
            raise
    upgrade_database(database_url)
    # The target was empty, so the restored database and folder are a new pair: bind them again
    # (a downgrade above may have dropped the database's id).
    photo_store.forget_identity()
    with Session(engine) as session:
        bind_photo_store(session=session, photo_store=photo_store)
    return BackupSummary(source, manifest["schema_revision"], rows, len(written), file_bytes)
