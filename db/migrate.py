"""Bring a database to the newest schema: `python -m db.migrate` or `upgrade_database(url)`."""
from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from db.engine import ensure_private_dir, sqlite_file

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


def main() -> int:
    from core.settings import load_settings

    from db.photos import PhotoStore

    settings = load_settings()
    ensure_private_dir(settings.data_dir)
    PhotoStore(settings.photo_dir)  # creates the private photo folder
    url = settings.resolved_database_url
    upgrade_database(url)
    print(f"database is up to date: {_redacted(url)}")
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
