"""Fixtures for the data layer: a fresh migrated database (SQLite, or PostgreSQL: see
tests/conftest.py) and photo store per test,
and accounts of each role. Builders of rows and inputs live in db_factories.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.db.db_factories import make_account
from sqlalchemy import Engine
from sqlmodel import Session

from db.engine import get_engine, new_session
from db.models import Account
from db.photos import PhotoStore
from db.repository import accounts as accounts_module


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    # The lowest bcrypt cost: the production cost (12) would make each test take seconds.
    monkeypatch.setattr(accounts_module, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def db_url(databases, tmp_path: Path) -> Iterator[str]:  # noqa: ANN001 - tests/conftest.py
    """A fresh database migrated to head (SQLite file under tmp_path/data, or PostgreSQL)."""
    url = databases.new(tmp_path / "data")
    yield url
    databases.drop(url)  # also disposes this process's engines


@pytest.fixture
def engine(db_url: str) -> Engine:
    return get_engine(db_url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with new_session(engine) as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> PhotoStore:
    return PhotoStore(tmp_path / "data" / "photos")


@pytest.fixture
def admin(session: Session) -> Account:
    return make_account(session, "admin", role="admin")


@pytest.fixture
def clinician(session: Session, admin: Account) -> Account:
    return make_account(session, "dr_a", team="north")


@pytest.fixture
def other_clinician(session: Session, admin: Account) -> Account:
    return make_account(session, "dr_b", team="south")


@pytest.fixture
def researcher(session: Session, admin: Account) -> Account:
    return make_account(session, "res", role="researcher")
