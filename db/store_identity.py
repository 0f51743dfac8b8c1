"""Which database a photo folder belongs to, checked on every open (issue 24, item 1).

A photo folder named by ACNE_DATA_DIR can outlive its database, or be shared by mistake with
another one (a mistyped DATABASE_URL, a move to PostgreSQL that keeps the folder). Seen from the
wrong database every photo looks like an orphan. So the database gives itself an id
(`clinic_identity`) and the folder records it (`<photos>/store-identity`); a mismatch stops
the app and every command with one sentence before anything reads or moves a file.

A pair that has no ids yet (a new clinic, or one made before this check) is bound when that is
safe: the folder holds no photos, or the database points to photos that are in it.
"""
from __future__ import annotations

import uuid

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.models import ClinicIdentity
from db.photos import PhotoStore
from db.repository.files import all_referenced_files


class PhotoStoreMismatch(RuntimeError):
    """The photo folder belongs to another database; the message is one sentence."""


def database_identity(*, session: Session) -> str | None:
    """This database's id, or None when it has none yet (or no table: not migrated)."""
    if not inspect(session.get_bind()).has_table(ClinicIdentity.__tablename__):
        return None
    row = session.exec(select(ClinicIdentity)).first()
    return row.database_id if row is not None else None


def _claim_database_identity(session: Session, database_id: str) -> str:
    """Write `database_id` unless another process wrote one first; return the id in force."""
    session.add(ClinicIdentity(id=1, database_id=database_id))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
    found = database_identity(session=session)
    if found is None:
        raise RuntimeError("the database's id could not be written")
    return found


def _shares_photos(session: Session, store: PhotoStore) -> bool:
    """True when the database points to at least one file that is in the folder."""
    referenced = all_referenced_files(session)
    return any(store.exists(sha, ext) for sha, ext in referenced)


def _mismatch(store: PhotoStore, why: str) -> PhotoStoreMismatch:
    return PhotoStoreMismatch(
        f"The photo folder {store.root} {why}, so nothing was read or moved: check that "
        "ACNE_DATA_DIR and DATABASE_URL name the same clinic."
    )


def bind_photo_store(*, session: Session, photo_store: PhotoStore) -> str | None:
    """Check that `photo_store` belongs to this database, binding a new pair; return the id.

    Returns None without checking when the database is not migrated yet (the migrate command
    binds after upgrading). Raises PhotoStoreMismatch, reading and moving nothing."""
    if not inspect(session.get_bind()).has_table(ClinicIdentity.__tablename__):
        return None
    database_id = database_identity(session=session)
    store_id = photo_store.read_identity()
    if database_id is not None and store_id is not None:
        if database_id != store_id:
            raise _mismatch(photo_store, "belongs to another database")
        return database_id
    if store_id is not None:
        # A database without an id beside a folder that has one: the same clinic only when
        # the database points to photos in that folder (a restore of an older schema).
        if not _shares_photos(session, photo_store):
            raise _mismatch(photo_store, "belongs to another database")
        return _claim_database_identity(session, store_id)
    # The folder has no id yet: a new folder, or one made before this check.
    if photo_store.has_files() and not _shares_photos(session, photo_store):
        raise _mismatch(photo_store, "holds photos that this database does not know")
    database_id = database_id or _claim_database_identity(session, str(uuid.uuid4()))
    bound = photo_store.write_identity(database_id)
    if bound != database_id:
        raise _mismatch(photo_store, "was just bound to another database")
    return database_id
