"""Engine set-up: SQLite pragmas, one engine per URL, sessions, UTC timestamps."""
from __future__ import annotations

import stat
from datetime import date, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from db.engine import (
    database_url,
    dispose_engines,
    get_engine,
    is_postgresql,
    new_session,
    sqlite_file,
)
from db.models import Account, Visit


@pytest.mark.sqlite_only
def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_one_engine_per_url(db_url: str, tmp_path: Path) -> None:
    assert get_engine(db_url) is get_engine(db_url)
    other = f"sqlite:///{tmp_path / 'other' / 'x.db'}"
    assert get_engine(other) is not get_engine(db_url)


def test_the_database_folder_is_created_private(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'acne.db'}"
    try:
        with get_engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        dispose_engines()
    assert stat.S_IMODE((tmp_path / "deep" / "er").stat().st_mode) == 0o700


def test_bare_postgresql_urls_get_the_installed_driver() -> None:
    assert database_url("postgresql://u:p@db:5432/acne") == "postgresql+psycopg://u:p@db:5432/acne"
    assert database_url("postgresql+psycopg://u@db/acne") == "postgresql+psycopg://u@db/acne"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert is_postgresql("postgresql://u@db/acne") and not is_postgresql("sqlite:///x.db")


def test_sqlite_file_recognises_urls(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://u:p@localhost/acne") is None


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(Visit(patient_id=999, visit_date=date(2024, 1, 1), created_by_id=999))
    with pytest.raises(IntegrityError):
        session.commit()


def test_new_session_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError):
        with new_session(engine) as session:
            session.add(Account(username="ghost", password_hash="x"))
            session.flush()
            raise RuntimeError("boom")
    with new_session(engine) as session:
        assert session.exec(text("SELECT count(*) FROM account")).scalar() == 0


def test_timestamps_come_back_as_utc(session: Session, admin: Account) -> None:
    with new_session(session.get_bind()) as fresh:
        stored = fresh.get(Account, admin.id)
        assert stored is not None
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.utcoffset() == timezone.utc.utcoffset(None)
        assert stored.created_at == admin.created_at


@pytest.mark.parametrize("role", ["admin", "clinician", "researcher"])
def test_access_and_timeline_queries_compile_for_postgresql(role: str) -> None:
    """Repository SQL is built from SQLAlchemy constructs only, so it renders for PostgreSQL."""
    from sqlalchemy.dialects import postgresql
    from sqlmodel import select

    from db.access import Principal, visible_patients, visible_studies
    from db.models import Patient, Study
    from db.repository.measurements import photo_measure_rows

    principal = Principal(id=1, role=role, team="north", is_active=True)
    statements = [
        photo_measure_rows(select(Patient.id).where(visible_patients(principal)),
                           include_visits_without_photos=True),
        select(Study).where(visible_studies(principal)),
        select(Patient).where(Patient.code.ilike("%a%")),
    ]
    for statement in statements:
        sql = str(statement.compile(dialect=postgresql.dialect()))
        assert sql.startswith("SELECT")
    assert "ILIKE" in sql  # PostgreSQL's case-insensitive match, not SQLite's LIKE
