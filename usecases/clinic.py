"""Where a use case reads and writes: one database engine and one photo store.

Built once per process from the settings (the dashboard caches it; a command line builds it at
start) and handed to every use-case function, which opens a new session per action.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from db.engine import get_engine, new_session
from db.photos import PhotoStore
from usecases.settings import Settings, check_storage


@dataclass(frozen=True)
class Clinic:
    """The clinic's database and photo files."""

    engine: Engine
    photo_store: PhotoStore

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A new database session for one action."""
        with new_session(self.engine) as session:
            yield session


def open_clinic(settings: Settings, *, check: bool = True) -> Clinic:
    """The clinic the settings name; with `check`, the data folder is created and the database
    reached first (SettingsError names the variable otherwise)."""
    if check:
        check_storage(settings)
    return Clinic(
        engine=get_engine(settings.resolved_database_url),
        photo_store=PhotoStore(settings.photo_dir),
    )
