"""Where a use case reads and writes: one database engine and one photo store.

Built once per process from the settings (the dashboard caches it; a command line builds it at
start) and handed to every use-case function, which opens a new session per action.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from db.engine import get_engine, new_session
from db.photos import PhotoStore
from db.store_identity import PhotoStoreMismatch, bind_photo_store
from usecases.settings import Settings, SettingsError, check_storage


@dataclass(frozen=True)
class Clinic:
    """The clinic's database and photo files."""

    engine: Engine
    photo_store: PhotoStore
    # The models' folder: its face networks search a photo for every face before a researcher
    # sees it (usecases.photos). The repository's own weights unless the settings name others.
    weights_dir: Path = Path(__file__).resolve().parent.parent / "weights"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A new database session for one action."""
        with new_session(self.engine) as session:
            yield session


def open_clinic(settings: Settings, *, check: bool = True) -> Clinic:
    """The clinic the settings name; with `check`, the data folder is created, the database
    reached and the photo folder found to belong to it first (SettingsError otherwise)."""
    if check:
        check_storage(settings)
    clinic = Clinic(
        engine=get_engine(settings.resolved_database_url),
        photo_store=open_photo_store(settings),
        weights_dir=Path(settings.weights_dir),
    )
    if check:
        check_photo_folder(clinic)
    return clinic


def open_photo_store(settings: Settings) -> PhotoStore:
    """The data folder's photo store, or the object store ACNE_PHOTO_STORE names."""
    if settings.photo_store is not None:
        from db.object_store import S3PhotoStore

        return S3PhotoStore(settings.photo_store)  # type: ignore[return-value] - same methods
    return PhotoStore(settings.photo_dir)


def check_photo_folder(clinic: Clinic) -> None:
    """The photo folder belongs to this database (binding a new pair); SettingsError otherwise.

    A database not migrated yet is not checked here: `migrate` checks right after upgrading."""
    try:
        with clinic.session() as session:
            bind_photo_store(session=session, photo_store=clinic.photo_store)
    except PhotoStoreMismatch as error:
        raise SettingsError(str(error)) from None


def check_clinic(settings: Settings) -> None:
    """Everything `open_clinic(check=True)` checks, for an entry point that opens later."""
    open_clinic(settings, check=True)
