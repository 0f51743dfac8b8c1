"""Bring a database to the newest schema: `upgrade_database(url)` (the command line is
`python -m usecases.cli.migrate`)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from db.engine import ensure_private_dir, get_engine, sqlite_file

_ROOT = Path(__file__).resolve().parent.parent
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` that works from any working directory."""
    ini = _ROOT / "alembic.ini"
    config = Config(str(ini)) if ini.is_file() else Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["url"] = url
    return config


def _prepare(url: str) -> None:
    database_file = sqlite_file(url)
    if database_file is not None:
        ensure_private_dir(database_file.resolve().parent)


def upgrade_database(url: str, revision: str = "head") -> None:
    """Run `alembic upgrade` (head by default) on the database at `url`."""
    _prepare(url)
    command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str, revision: str = "base") -> None:
    """Run `alembic downgrade` (to an empty database by default)."""
    command.downgrade(alembic_config(url), revision)


def database_is_migrated(url: str) -> bool:
    """True when the schema exists (the photo table is there)."""
    return inspect(get_engine(url)).has_table("photo")
