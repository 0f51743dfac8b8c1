"""Alembic environment: the schema is SQLModel.metadata (db.models).

The URL comes from the config it is given: `config.attributes["url"]` (db.migrate.upgrade_database,
which `python -m usecases.cli.migrate` calls with the settings' URL), else `alembic -x url=...`,
else `sqlalchemy.url` in alembic.ini. The settings are the application's, not read here.
"""
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Engine, create_engine, event, pool
from sqlmodel import SQLModel

import db.models  # noqa: F401 - registers the tables on SQLModel.metadata

config = context.config
target_metadata = SQLModel.metadata

# Called from code, the host application owns logging; only the alembic CLI configures it.
if config.config_file_name is not None and "url" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    from db.engine import database_url

    url = (config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
           or config.get_main_option("sqlalchemy.url"))
    if not url:
        raise SystemExit("No database URL: run `python -m usecases.cli.migrate` (it reads "
                         "DATABASE_URL and ACNE_DATA_DIR), or `alembic -x url=... upgrade head`.")
    return database_url(url)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER tables by copying them
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _transactional_sqlite(engine: Engine) -> None:
    """Run each SQLite migration in one real transaction: all of it applies, or none.

    The sqlite3 module commits before every DDL statement by itself; taking BEGIN over from
    it makes a failed migration roll back whole (and avoids one disk sync per statement).
    """

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, _record):  # noqa: ANN001, ANN202
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # noqa: ANN001, ANN202
        connection.exec_driver_sql("BEGIN")


def run_migrations_online() -> None:
    # A plain engine without the app's foreign-key pragma: batch mode recreates tables, which
    # enforced foreign keys would refuse.
    engine = create_engine(_url(), poolclass=pool.NullPool)
    is_sqlite = engine.dialect.name == "sqlite"
    if is_sqlite:
        _transactional_sqlite(engine)
    try:
        with engine.connect() as connection:
            _configure(connection=connection, transactional_ddl=True if is_sqlite else None)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
