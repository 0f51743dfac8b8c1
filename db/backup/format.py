"""What a backup is: its folder layout, its manifest, and how rows and files are written in it.

A backup is a folder (owner-only, like the data folder):

    manifest.json                  format, schema revision, row counts, SHA-256 of every file
    manifest.sig                   HMAC-SHA256 of manifest.json under the clinic's key (optional)
    tables/<table>.jsonl           one JSON object per row, in primary-key order
    files/<sha[:2]>/<sha><ext>     every photo and mask file the rows point to

Rows are plain JSON, so a backup taken on SQLite can be restored onto PostgreSQL.
Shared by `db.backup.create` and `db.backup.restore`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from db.photos import file_sha256, normalise_extension
from db.repository.files import MASK_EXTENSION, StoredFile

FORMAT = "acne-tracker-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MIN_KEY_BYTES = 32
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
            for name in ("kind_mask_sha256", "probability_sha256", "colour_mask_sha256")
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


# Not clinic data: the schema's version, and the id a database gives its photo folder (a restore
# makes a new pair of database and folder, with an id of its own), and the browsers' sign-ins
# (a restored database starts with everyone signed out).
_NOT_BACKED_UP = frozenset({_VERSION_TABLE, "clinic_identity", "signin_session"})


def app_tables(connection: Connection) -> list[sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(bind=connection)
    return [t for t in metadata.sorted_tables if t.name not in _NOT_BACKED_UP]


# ------------------------------------------------------------------------------ manifest
def check_key(key: bytes) -> bytes:
    """The key, if long enough to sign with (BackupError otherwise)."""
    if len(key) < MIN_KEY_BYTES:
        raise BackupError(f"a backup key must have at least {MIN_KEY_BYTES} bytes, not {len(key)}")
    return key


def manifest_signature(manifest: bytes, key: bytes) -> str:
    """The HMAC-SHA256 of the manifest's bytes under the clinic's key (hex). The manifest holds
    every file's SHA-256, so the signature covers every row and file of the backup."""
    return hmac.new(check_key(key), manifest, hashlib.sha256).hexdigest()


def check_signature(source: Path, manifest: bytes, key: bytes) -> None:
    """BackupError unless `manifest.sig` is the manifest's signature under `key`: checksums alone
    catch damage, the signature catches a backup changed together with its checksums."""
    try:
        stored = (source / SIGNATURE).read_text("ascii").strip()
    except FileNotFoundError:
        raise BackupError(f"{source} is not signed ({SIGNATURE} is missing), but this clinic signs "
                          "its backups: it is refused") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BackupError(f"{source / SIGNATURE} cannot be read: {error}") from None
    if not hmac.compare_digest(stored, manifest_signature(manifest, key)):
        raise BackupError(f"{source} was not signed with this clinic's backup key, or was changed "
                          "after it was signed: it is refused")


def _copy_and_hash(path: Path, copy: Path) -> str:
    """Copy `path` to `copy` (a new file) in one read; the SHA-256 of the bytes copied."""
    digest = hashlib.sha256()
    copy.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as source, copy.open("xb") as target:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest()


def read_manifest(source: Path, signing_key: bytes | None = None,
                  copy_tables_to: Path | None = None) -> dict[str, Any]:
    """The backup's manifest after checking its signature (with `signing_key`) and every file
    against its SHA-256 (BackupError if not).

    `copy_tables_to`: a private folder that receives `tables/*.jsonl` as they are checked: the
    checksum is taken of the copied bytes, and a restore reads its rows from that copy, never
    again from the backup (a table file changed after the check cannot slip in)."""
    source = Path(source)
    try:
        raw = (source / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise BackupError(f"{source} is not a backup: it has no {MANIFEST}") from None
    if signing_key is not None:
        check_signature(source, raw, signing_key)
    try:
        manifest = json.loads(raw.decode("utf-8"))
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
        if copy_tables_to is not None and relative.startswith("tables/"):
            actual = _copy_and_hash(path, Path(copy_tables_to) / relative)
        else:
            actual = file_sha256(path)
        if actual != expected:
            raise BackupError(
                f"backup file {relative} does not match its checksum: the backup was changed "
                "or damaged, and is refused"
            )
    for table in manifest["table_order"]:
        if f"tables/{table}.jsonl" not in manifest["sha256"]:
            raise BackupError(f"backup lists table {table!r} but has no checksum for its rows")
    return manifest
