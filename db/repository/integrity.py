"""Do the rows and the photo folder agree? Orphan files, missing files, damaged files.

`python -m usecases.cli.check` runs this from the command line; `python -m usecases.cli.migrate` (start-up) runs
`repair_store` after upgrading, so files left by a crash are removed once they are old.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from db.access import load_principal
from db.errors import PermissionDenied
from db.models import Account
from db.photos import PhotoStore
from db.repository._common import add_audit, write_transaction
from db.repository.files import StoredFile, all_referenced_files

DEFAULT_MIN_AGE_S = 600.0
# A temporary file may belong to a `put` still writing on another process: wait longer.
DEFAULT_TEMP_MIN_AGE_S = 3600.0


@dataclass(frozen=True)
class MissingFile:
    """A row whose file is not in the photo store."""

    table: str  # "photo" or "analysis"
    row_id: int
    sha256: str
    extension: str


@dataclass(frozen=True)
class IntegrityReport:
    checked_files: int
    orphan_files: tuple[StoredFile, ...]  # files no row points to
    missing_files: tuple[MissingFile, ...]  # rows whose file is gone
    damaged_files: tuple[StoredFile, ...] = ()  # bytes no longer match the name (verify=True)

    @property
    def ok(self) -> bool:
        return not (self.orphan_files or self.missing_files or self.damaged_files)


def check_integrity(
    *, session: Session, photo_store: PhotoStore, verify_content: bool = False
) -> IntegrityReport:
    """Compare the rows with the files; `verify_content` also re-hashes every file (slow)."""
    references = all_referenced_files(session)
    stored = set(photo_store.iter_files())
    orphans = tuple(sorted(stored - references.keys()))
    missing = tuple(
        MissingFile(table, row_id, sha, ext)
        for (sha, ext), rows in sorted(references.items())
        if (sha, ext) not in stored
        for table, row_id in rows
    )
    damaged: tuple[StoredFile, ...] = ()
    if verify_content:
        damaged = tuple(f for f in sorted(stored) if not photo_store.verify(*f))
    return IntegrityReport(len(stored), orphans, missing, damaged)


@dataclass(frozen=True)
class RepairResult:
    """What `repair_store` found before repairing, and what it removed."""

    report: IntegrityReport
    removed_orphans: tuple[StoredFile, ...]
    removed_temp_files: int


def repair_integrity(
    *,
    session: Session,
    photo_store: PhotoStore,
    actor: Account | None = None,
    min_age_s: float = DEFAULT_MIN_AGE_S,
) -> list[StoredFile]:
    """Delete orphan files (and stale temporary files) older than `min_age_s`; return them.

    Missing files cannot be repaired here: they are reported by `check_integrity`.
    The age limit spares files of a store that is still under way on another database
    server; on SQLite the write lock held here already keeps writers out.
    """
    result = repair_store(session=session, photo_store=photo_store, actor=actor,
                          min_age_s=min_age_s)
    return list(result.removed_orphans)


def repair_store(
    *,
    session: Session,
    photo_store: PhotoStore,
    actor: Account | None = None,
    min_age_s: float = DEFAULT_MIN_AGE_S,
    temp_min_age_s: float | None = None,
) -> RepairResult:
    """`repair_integrity` that also says what it checked and how many temporary files went.

    Temporary files are removed when older than `temp_min_age_s`, by default the larger of
    `min_age_s` and one hour. An admin `actor` is required when one is given (the dashboard);
    command lines run by the machine's owner pass none.
    """
    if min_age_s < 0 or (temp_min_age_s is not None and temp_min_age_s < 0):
        raise ValueError(f"age limits must not be negative, not {min_age_s!r}/{temp_min_age_s!r}")
    actor_id = None
    if actor is not None:
        principal = load_principal(session, actor)
        if not principal.is_admin:
            raise PermissionDenied(f"account {principal.id} is not an admin: cannot repair files")
        actor_id = principal.id
    if temp_min_age_s is None:
        temp_min_age_s = max(min_age_s, DEFAULT_TEMP_MIN_AGE_S)
    removed: list[StoredFile] = []
    with write_transaction(session):
        report = check_integrity(session=session, photo_store=photo_store)
        for sha, ext in report.orphan_files:
            age = _age_or_none(photo_store, sha, ext)  # None: another repair removed it
            if age is not None and age >= min_age_s and photo_store.delete(sha, ext):
                removed.append((sha, ext))
        removed_temp = photo_store.remove_stale_temp_files(older_than_s=temp_min_age_s)
        if removed:
            add_audit(
                session, actor_id=actor_id, action="delete", target_type="stored_file",
                detail=f"removed {len(removed)} orphan files",
            )
    return RepairResult(report, tuple(removed), removed_temp)


def _age_or_none(photo_store: PhotoStore, sha: str, ext: str) -> float | None:
    try:
        return photo_store.age_seconds(sha, ext)
    except FileNotFoundError:
        return None
