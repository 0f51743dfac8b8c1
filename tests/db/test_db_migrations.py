"""Alembic owns the schema: upgrade from empty, downgrade to empty, and no drift from models."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import db.models  # noqa: F401 - registers the tables
from db import migrate
from db.migrate import alembic_config, downgrade_database, upgrade_database

EXPECTED_TABLES = {
    "account", "patient", "visit", "photo", "analysis", "lesion", "review",
    "treatment_event", "study", "study_arm", "enrolment", "study_member", "audit_event",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_table_then_downgrade_removes_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'acne.db'}"
    upgrade_database(url)
    assert _tables(url) == EXPECTED_TABLES | {"alembic_version"}
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    engine.dispose()

    downgrade_database(url, "base")
    assert _tables(url) == {"alembic_version"}
    upgrade_database(url)  # and back up again: the downgrade left a usable database
    assert EXPECTED_TABLES <= _tables(url)


def test_migrations_match_the_models(tmp_path: Path) -> None:
    """A model changed without a new revision shows up here as a difference."""
    url = f"sqlite:///{tmp_path / 'acne.db'}"
    upgrade_database(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_the_data_folder_is_created_private(tmp_path: Path) -> None:
    folder = tmp_path / "fresh" / "data"
    upgrade_database(f"sqlite:///{folder / 'acne.db'}")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_command_line_migrates_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "appdata"
    monkeypatch.setenv("ACNE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert migrate.main() == 0
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "photos").stat().st_mode) == 0o700
    assert EXPECTED_TABLES <= _tables(f"sqlite:///{data_dir / 'acne.db'}")
    assert "up to date" in capsys.readouterr().out


def test_migrations_render_for_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    """The schema is not SQLite-only: Alembic writes it as PostgreSQL DDL (offline, no server)."""
    from alembic import command

    config = alembic_config("postgresql://acne@localhost/acne")
    command.upgrade(config, "head", sql=True)
    sql = capsys.readouterr().out
    for table in EXPECTED_TABLES:
        assert f"CREATE TABLE {table} (" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql and "JSON" in sql
    assert "CONSTRAINT ck_review_iga CHECK" in sql
