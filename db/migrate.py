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
    """Upgrade the configured database, then check the photo folder against it (start-up).

    Orphan files older than the age limit (left by a crash) are removed; missing files are
    reported on the same line but do not stop the app from starting.
    """
    from core.settings import load_settings

    from db.check import plural, summary_line
    from db.engine import get_engine, new_session
    from db.photos import PhotoStore
    from db.repository.integrity import repair_store

    settings = load_settings()
    ensure_private_dir(settings.data_dir)
    store = PhotoStore(settings.photo_dir)  # creates the private photo folder
    url = settings.resolved_database_url
    upgrade_database(url)
    print(f"database is up to date: {_redacted(url)}")
    with new_session(get_engine(url)) as session:
        result = repair_store(session=session, photo_store=store)
    line = f"photo files: {summary_line(result.report, verified=False)}; "
    line += f"removed {plural(len(result.removed_orphans), 'old orphan file')}"
    if result.report.missing_files:
        line += " - run `python -m db.check` to see which files are missing"
    print(line)
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
