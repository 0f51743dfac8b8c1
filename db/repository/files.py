"""Which stored files rows still point to, and removal of the ones nothing points to."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_
from sqlmodel import Session, col, select

from db.models import MASK_COLUMNS, Analysis, Photo
from db.photos import PhotoStore
from db.repository._common import write_transaction

MASK_EXTENSION = ".png"
_CHUNK = 500  # keeps IN lists far below every database's parameter limit

StoredFile = tuple[str, str]  # (sha256, extension)


def referenced_files(session: Session, files: Iterable[StoredFile]) -> set[StoredFile]:
    """The subset of `files` that some photo or analysis row still points to."""
    wanted = set(files)
    shas = sorted({sha for sha, _ext in wanted})
    found: set[StoredFile] = set()
    for start in range(0, len(shas), _CHUNK):
        chunk = shas[start : start + _CHUNK]
        found.update(
            (sha, ext)
            for sha, ext in session.exec(
                select(Photo.file_sha256, Photo.file_extension).where(
                    col(Photo.file_sha256).in_(chunk)
                )
            ).all()
        )
        for shas in session.exec(
            select(*(getattr(Analysis, name) for name in MASK_COLUMNS)).where(
                or_(*(col(getattr(Analysis, name)).in_(chunk) for name in MASK_COLUMNS))
            )
        ).all():
            found.update((sha, MASK_EXTENSION) for sha in shas if sha)
    return found & wanted


def delete_unreferenced_files(
    session: Session, photo_store: PhotoStore, files: Iterable[StoredFile]
) -> list[StoredFile]:
    """Delete those of `files` that no row references; return the ones deleted.

    Runs as a write transaction: on SQLite no other writer can add a row pointing to one
    of these files between the check and the removal (writers put files under that lock too).
    """
    candidates = set(files)
    if not candidates:
        return []
    removed = []
    with write_transaction(session):
        keep = referenced_files(session, candidates)
        for sha, ext in sorted(candidates - keep):
            if photo_store.delete(sha, ext):
                removed.append((sha, ext))
    return removed


def all_referenced_files(session: Session) -> dict[StoredFile, list[tuple[str, int]]]:
    """Every file rows point to, with the rows pointing to it as (table, id)."""
    refs: dict[StoredFile, list[tuple[str, int]]] = {}
    for photo_id, sha, ext in session.exec(
        select(Photo.id, Photo.file_sha256, Photo.file_extension)
    ).all():
        refs.setdefault((sha, ext), []).append(("photo", photo_id))
    for analysis_id, *shas in session.exec(
        select(Analysis.id, *(getattr(Analysis, name) for name in MASK_COLUMNS))
    ).all():
        for sha in shas:
            if sha:
                refs.setdefault((sha, MASK_EXTENSION), []).append(("analysis", analysis_id))
    return refs
