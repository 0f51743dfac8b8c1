"""What a backup is: its folder layout, its manifest, and how rows and files are written in it.

A backup is a folder (owner-only, like the data folder):

    manifest.json                  format, schema revision, row counts, SHA-256 of every file
    tables/<table>.jsonl           one JSON object per row, in primary-key order
    files/<sha[:2]>/<sha><ext>     every photo and mask file the rows point to

Rows are plain JSON, so a backup taken on SQLite can be restored onto PostgreSQL.
Shared by `db.backup.create` and `db.backup.restore`.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from core.manifest import sha256_of
from db.photos import normalise_extension
from db.repository.files import MASK_EXTENSION, StoredFile

FORMAT = "acne-tracker-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH = 1000  # rows read or inserted at a time
_VERSION_TABLE = "alembic_version"


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


# --------------------------------------------------------------------------------- files
def file_references(table: str, row: dict[str, Any]) -> list[StoredFile]:
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


def relative_file_path(sha256: str, extension: str) -> str:
    return f"files/{sha256[:2]}/{sha256}{extension}"


# -------------------------------------------------------------------- row <-> JSON values
def encode(value: Any) -> Any:
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


def prepare_target_table(table: sa.Table) -> dict[str, Callable[[Any], Any]]:
    for column in table.columns:
        if isinstance(column.type, sa.JSON):
            column.type.none_as_null = True  # a JSON null in the backup is an SQL NULL
    return {c.name: decoder for c in table.columns if (decoder := _decoder(c)) is not None}


# -------------------------------------------------------------------------------- schema
def revisions(connection: Connection) -> list[str]:
    """The schema revisions Alembic recorded ([] for a database without a schema)."""
    if not sa.inspect(connection).has_table(_VERSION_TABLE):
        return []
    query = sa.text(f"SELECT version_num FROM {_VERSION_TABLE}")
    return [str(revision) for revision in connection.execute(query).scalars()]


def app_tables(connection: Connection) -> list[sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(bind=connection)
    return [t for t in metadata.sorted_tables if t.name != _VERSION_TABLE]


# ------------------------------------------------------------------------------ manifest
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
