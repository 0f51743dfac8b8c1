"""Backups while the app runs, restorable onto SQLite or PostgreSQL.

    python -m db.backup create DEST     # DEST must not exist yet
    python -m db.backup restore SRC     # into the configured, empty database and photo folder

A backup is a folder (owner-only, like the data folder):

    manifest.json                  format, schema revision, row counts, SHA-256 of every file
    tables/<table>.jsonl           one JSON object per row, in primary-key order
    files/<sha[:2]>/<sha><ext>     every photo and mask file the rows point to

Every table is read in ONE read transaction (SQLite WAL snapshot; PostgreSQL REPEATABLE READ),
so the rows agree with each other whatever the app writes meanwhile. Files are copied after
the snapshot: they are named by content and never change, and files stored later are simply
not referenced. The backup is written to `DEST.tmp` and renamed at the end, so a killed backup
never leaves a half backup named DEST. Rows are plain JSON, so a backup taken on SQLite can be
restored onto PostgreSQL.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from core.manifest import sha256_of
from db.engine import ensure_private_dir, get_engine
from db.migrate import alembic_config, downgrade_database, upgrade_database
from db.photos import PhotoStore, fsync_dir, normalise_extension, sha256_hex
from db.repository.files import MASK_EXTENSION, StoredFile

FORMAT = "acne-tracker-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_VERSION_TABLE = "alembic_version"
_BATCH = 1000
_SNAPSHOT_ATTEMPTS = 3


class BackupError(ValueError):
    """A backup cannot be made or restored; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    revision: str
    rows: dict[str, int]  # per table
    files: int
    file_bytes: int

    def line(self) -> str:
        return (
            f"{sum(self.rows.values())} rows in {len(self.rows)} tables, {self.files} files "
            f"({self.file_bytes / 1e6:.1f} MB), schema revision {self.revision}"
        )


# --------------------------------------------------------------------- files and digests
def _file_references(table: str, row: dict[str, Any]) -> list[StoredFile]:
    """The stored files a row points to (the columns `db.repository.files` reads too)."""
    if table == "photo":
        return [(row["file_sha256"], normalise_extension(row["file_extension"]))]
    if table == "analysis":
        return [
            (row[name], MASK_EXTENSION)
            for name in ("kind_mask_sha256", "probability_sha256")
            if row.get(name)
        ]
    return []


def _relative_file_path(sha256: str, extension: str) -> str:
    return f"files/{sha256[:2]}/{sha256}{extension}"


def _write_private(path: Path, data: bytes) -> None:
    """Write an owner-only file and flush it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# -------------------------------------------------------------------- row <-> JSON values
def _encode(value: Any) -> Any:
    """JSON for the column values json cannot write itself (times are written in UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise BackupError(f"cannot write a {type(value).__name__} value to a backup")


def _decoder(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    """How to turn a JSON value back into what the target column takes (None: as it is)."""
    column_type = column.type
    if isinstance(column_type, sa.DateTime):
        aware = bool(column_type.timezone)

        def to_datetime(text: str) -> datetime:
            # Databases without time zones (SQLite) hold UTC without an offset.
            value = datetime.fromisoformat(text)
            if aware:
                return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
            if value.tzinfo is not None:
                return value.astimezone(timezone.utc).replace(tzinfo=None)
            return value

        return to_datetime
    if isinstance(column_type, sa.Date):
        return date.fromisoformat
    return None


def _prepare_target_table(table: sa.Table) -> dict[str, Callable[[Any], Any]]:
    for column in table.columns:
        if isinstance(column.type, sa.JSON):
            column.type.none_as_null = True  # a JSON null in the backup is an SQL NULL
    return {c.name: decoder for c in table.columns if (decoder := _decoder(c)) is not None}


# ------------------------------------------------------------------------------ create
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


def _revisions(connection: Connection) -> list[str]:
    """The schema revisions Alembic recorded ([] for a database without a schema)."""
    if not sa.inspect(connection).has_table(_VERSION_TABLE):
        return []
    query = sa.text(f"SELECT version_num FROM {_VERSION_TABLE}")
    return [str(revision) for revision in connection.execute(query).scalars()]


def _current_revision(connection: Connection) -> str:
    revisions = _revisions(connection)
    if not revisions:
        raise BackupError("the database has no schema yet: run `python -m db.migrate` first")
    if len(revisions) != 1:
        raise BackupError(f"the database has schema revisions {revisions!r}; expected exactly one")
    return revisions[0]


def _app_tables(connection: Connection) -> list[sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(bind=connection)
    return [t for t in metadata.sorted_tables if t.name != _VERSION_TABLE]


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
        streaming = connection.execution_options(stream_results=True, yield_per=_BATCH)
        for table in _app_tables(connection):
            relative = f"tables/{table.name}.jsonl"
            digest, count = hashlib.sha256(), 0
            fd = os.open(folder / relative, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                statement = sa.select(table).order_by(*table.primary_key.columns)
                for row in streaming.execute(statement).mappings():
                    values = dict(row)
                    dump.files.update(_file_references(table.name, values))
                    line = json.dumps(values, default=_encode, ensure_ascii=False,
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
                "run `python -m db.check --verify`"
            )
        relative = _relative_file_path(sha, ext)
        target = folder / relative
        target.parent.mkdir(mode=0o700, exist_ok=True)
        _write_private(target, data)
        dump.digests[relative] = sha
        total += len(data)
    return total


def _is_our_leftover(folder: Path) -> bool:
    return folder.is_dir() and {p.name for p in folder.iterdir()} <= {"tables", "files", MANIFEST}


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
                raise BackupError(f"stored file {error} is missing: run `python -m db.check`") \
                    from None
            vanished.add(error.stored)  # deleted after the snapshot: take a new one
    raise BackupError("files kept disappearing while the backup ran: try again")


def create_backup(*, database_url: str, photo_store: PhotoStore, destination: Path) -> BackupSummary:
    """Write a consistent backup of the database and its files to the new folder `destination`."""
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
    _write_private(temp / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
    fsync_dir(temp)
    os.rename(temp, destination)
    fsync_dir(destination.parent)
    return BackupSummary(destination, dump.revision, dump.rows, len(dump.files), file_bytes)


# ----------------------------------------------------------------------------- restore
def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest after checking every file against its SHA-256 (BackupError if not)."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} is not a backup: it has no {MANIFEST}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"{source / MANIFEST} is not readable JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source / MANIFEST} is not an acne-tracker backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"backup format version {manifest.get('format_version')!r} is not {FORMAT_VERSION}"
        )
    for key in ("schema_revision", "table_order", "rows", "sha256"):
        if key not in manifest:
            raise BackupError(f"{source / MANIFEST} lacks {key!r}")
    root = source.resolve()
    for relative, expected in manifest["sha256"].items():
        path = (source / relative).resolve()
        if root not in path.parents:
            raise BackupError(f"backup file {relative!r} lies outside the backup folder")
        if not path.is_file():
            raise BackupError(f"backup file {relative} is missing: the backup is incomplete")
        if sha256_of(path) != expected:
            raise BackupError(
                f"backup file {relative} does not match its checksum: the backup was changed "
                "or damaged, and is refused"
            )
    for table in manifest["table_order"]:
        if f"tables/{table}.jsonl" not in manifest["sha256"]:
            raise BackupError(f"backup lists table {table!r} but has no checksum for its rows")
    return manifest


def _backup_files(manifest: dict[str, Any]) -> list[tuple[str, StoredFile]]:
    """The photo and mask files of the backup, each named by its own checksum."""
    files = []
    for relative, digest in manifest["sha256"].items():
        if relative.startswith("files/"):
            name = Path(relative).name
            sha, ext = name[:64], name[64:]
            if relative != _relative_file_path(sha, ext) or digest != sha:
                raise BackupError(f"backup file {relative} is not named by its checksum")
            files.append((relative, (sha, normalise_extension(ext))))
    return files


def _database_rows(connection: Connection) -> dict[str, int]:
    return {
        table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        for table in _app_tables(connection)
    }


def _check_empty_target(engine: Engine, store: PhotoStore) -> str | None:
    """The target's schema revision (None: no schema); BackupError if it holds anything."""
    with engine.connect() as connection:
        revisions = _revisions(connection)
        filled = {name: n for name, n in _database_rows(connection).items() if n}
    if filled:
        tables = ", ".join(f"{n} in {name}" for name, n in sorted(filled.items()))
        raise BackupError(
            f"the target database already holds rows ({tables}): restore only into an empty "
            "database (set DATABASE_URL / ACNE_DATA_DIR to a new one)"
        )
    leftovers = [p for p in store.root.rglob("*") if p.is_file()]
    if leftovers:
        raise BackupError(
            f"the photo folder {store.root} is not empty ({len(leftovers)} files): restore only "
            "into an empty data folder (an interrupted restore leaves files: remove them first)"
        )
    if len(revisions) > 1:
        raise BackupError(f"the target database has schema revisions {revisions!r}")
    return revisions[0] if revisions else None


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
        tables = _app_tables(connection)  # parents before children
        names = sorted(table.name for table in tables)
        if names != sorted(manifest["table_order"]):
            raise BackupError(
                f"the backup's tables {sorted(manifest['table_order'])} differ from the "
                f"schema's {names} at revision {manifest['schema_revision']}"
            )
        for table in tables:
            decoders = _prepare_target_table(table)
            columns = {c.name for c in table.columns}
            count, batch = 0, []
            for row in _read_rows(source / f"tables/{table.name}.jsonl", decoders):
                if set(row) != columns:
                    raise BackupError(
                        f"a row of table {table.name} has columns {sorted(row)}, "
                        f"the schema has {sorted(columns)}"
                    )
                for stored in _file_references(table.name, row):
                    if stored not in available:
                        raise BackupError(
                            f"a row of table {table.name} points to {stored[0]}{stored[1]}, "
                            "which the backup does not hold: the backup is incomplete"
                        )
                batch.append(row)
                if len(batch) >= _BATCH:
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


def restore_backup(*, source: Path, database_url: str, photo_store: PhotoStore) -> BackupSummary:
    """Restore the backup at `source` into an empty database and an empty photo folder.

    Every checksum is verified before anything is written. Files go first and the rows in one
    transaction after them (a failure removes the files again), then the schema is upgraded
    to the newest revision.
    """
    source = Path(source)
    manifest = read_manifest(source)
    engine = get_engine(database_url)
    current = _check_empty_target(engine, photo_store)
    _migrate_to(database_url, current, manifest["schema_revision"])
    files = _backup_files(manifest)
    written, file_bytes = _restore_files(source, files, photo_store)
    try:
        rows = _insert_rows(engine, source, manifest, set(written))
    except BaseException:
        _remove_files(photo_store, written)
        raise
    upgrade_database(database_url)
    return BackupSummary(source, manifest["schema_revision"], rows, len(written), file_bytes)


# -------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m db.backup",
        description="Back up the database and photo files, or restore a backup into an empty "
        "data folder and database (DATABASE_URL / ACNE_DATA_DIR say which).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="write a backup to the new folder DEST")
    create.add_argument("destination", type=Path, metavar="DEST")
    restore = commands.add_parser("restore", help="restore the backup in SRC")
    restore.add_argument("source", type=Path, metavar="SRC")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from core.settings import load_settings

    args = _parser().parse_args(argv)
    settings = load_settings()
    url = settings.resolved_database_url
    try:
        if args.command == "create":
            store = PhotoStore(settings.photo_dir)
            summary = create_backup(database_url=url, photo_store=store,
                                    destination=args.destination)
            print(f"backup written to {summary.path}: {summary.line()}")
        else:
            ensure_private_dir(settings.data_dir)
            store = PhotoStore(settings.photo_dir)
            summary = restore_backup(source=args.source, database_url=url, photo_store=store)
            print(f"restored {summary.path}: {summary.line()}; schema upgraded to the newest")
    except (ValueError, OSError) as error:  # BackupError included
        print(f"error: {error}", file=sys.stderr)
        return 1
    except sa.exc.SQLAlchemyError as error:
        # The driver's first line only: SQLAlchemy's message carries the rows' values.
        reason = str(getattr(error, "orig", None) or type(error).__name__).splitlines()[0]
        print(f"error: the database refused the {args.command}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
