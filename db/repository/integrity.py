"""Do the rows and the photo folder agree? Orphan files, missing files, damaged files.

`python -m usecases.cli.check` runs this from the command line; `python -m usecases.cli.migrate`
(start-up) only reports. Nothing here deletes a file: `check --repair` moves orphans to the
photo folder's quarantine, and a later, explicit `check --empty-quarantine` removes them.
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
    """What `repair_store` found before repairing, and what it moved."""

    report: IntegrityReport
    quarantined: tuple[StoredFile, ...]  # orphans moved to the quarantine folder
    quarantined_temp_files: int  # stale temporary files moved there too
    released: tuple[StoredFile, ...] = ()  # missing files put back from quarantine

    @property
    def removed_orphans(self) -> tuple[StoredFile, ...]:
        """Orphans taken out of the store (into quarantine, never deleted)."""
        return self.quarantined


def repair_integrity(
    *,
    session: Session,
    photo_store: PhotoStore,
    actor: Account | None = None,
    min_age_s: float = DEFAULT_MIN_AGE_S,
) -> list[StoredFile]:
    """Move orphan files older than `min_age_s` to quarantine; return them (see repair_store)."""
    result = repair_store(session=session, photo_store=photo_store, actor=actor,
                          min_age_s=min_age_s)
    return list(result.quarantined)


def repair_store(
    *,
    session: Session,
    photo_store: PhotoStore,
    actor: Account | None = None,
    min_age_s: float = DEFAULT_MIN_AGE_S,
    temp_min_age_s: float | None = None,
) -> RepairResult:
    """Put missing files back from quarantine, and move orphans and stale temporary files in.

    Nothing is deleted: `<photos>/quarantine/<UTC time>/` keeps what was moved until
    `empty_quarantine` (`check --empty-quarantine`). The age limits spare files of a store still
    under way on another database server (on SQLite the write lock held here keeps writers
    out); temporary files wait at least an hour. An admin `actor` is required when one is
    given (the dashboard); command lines run by the machine's owner pass none.
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
    moved: list[StoredFile] = []
    released: list[StoredFile] = []
    with write_transaction(session):
        report = check_integrity(session=session, photo_store=photo_store)
        for missing in report.missing_files:
            key = (missing.sha256, missing.extension)
            if key not in released and photo_store.release_from_quarantine(*key):
                released.append(key)
        old_orphans = [f for f in report.orphan_files
                       if (age := _age_or_none(photo_store, *f)) is not None and age >= min_age_s]
        stale = photo_store.stale_temp_files(older_than_s=temp_min_age_s)
        batch = photo_store.new_quarantine_batch() if (old_orphans or stale) else None
        if batch is not None:
            moved = [f for f in old_orphans if photo_store.quarantine(*f, batch)]
            moved_temp = sum(photo_store.quarantine_path(path, batch) for path in stale)
        else:
            moved_temp = 0
        if moved or released:
            add_audit(
                session, actor_id=actor_id, action="update", target_type="stored_file",
                detail=f"moved {len(moved)} orphan files to quarantine, "
                       f"put back {len(released)} files from quarantine",
            )
    return RepairResult(report, tuple(moved), moved_temp, tuple(released))


def quarantined_missing(report: IntegrityReport, photo_store: PhotoStore) -> list[MissingFile]:
    """The missing files whose copy waits in quarantine (`check --repair` puts them back)."""
    waiting = photo_store.quarantined_files()
    return [m for m in report.missing_files if (m.sha256, m.extension) in waiting]


def _age_or_none(photo_store: PhotoStore, sha: str, ext: str) -> float | None:
    try:
        return photo_store.age_seconds(sha, ext)
    except FileNotFoundError:
        return None
