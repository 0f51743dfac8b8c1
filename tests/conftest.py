"""Fresh databases for every data-layer and page test, on SQLite or on PostgreSQL.

By default each test gets its own SQLite file. With `ACNE_TEST_POSTGRES_URL` set to a server's
admin URL (`.ci/start-postgres` prints one), each test gets its own PostgreSQL database instead,
created from a template migrated once per run, and tests marked `sqlite_only` are skipped:

    ACNE_TEST_POSTGRES_URL=$(.ci/start-postgres) .venv/bin/python -m pytest tests/db tests/dashboard
"""
from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

POSTGRES_ADMIN_URL = os.environ.get("ACNE_TEST_POSTGRES_URL") or None


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_ADMIN_URL is None:
        return "databases: SQLite (set ACNE_TEST_POSTGRES_URL to run on PostgreSQL)"
    from sqlalchemy.engine import make_url

    return f"databases: PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_ADMIN_URL is None:
        return
    skip = pytest.mark.skip(reason="SQLite-specific behaviour; this run uses PostgreSQL")
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


class Databases:
    """Makes fresh databases, migrated to head or empty, and removes them after the test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.postgres = POSTGRES_ADMIN_URL is not None
        self._numbers = itertools.count()
        self._template: str | None = None  # SQLite file path or PostgreSQL database name
        self._created: list[str] = []

    # -- PostgreSQL helpers -------------------------------------------------------------
    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine, pool, text

        from db.engine import database_url

        engine = create_engine(database_url(POSTGRES_ADMIN_URL), poolclass=pool.NullPool,
                               isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()

    def _pg_url(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        from db.engine import database_url

        url = make_url(database_url(POSTGRES_ADMIN_URL)).set(database=name)
        return url.render_as_string(hide_password=False)

    def _pg_name(self, kind: str) -> str:
        return f"acne_{kind}_{os.getpid()}_{next(self._numbers)}"

    # -- public -------------------------------------------------------------------------
    def migrated_template(self) -> str:
        """Migrate one database per run; tests get copies (a migration per test is slow)."""
        from db.migrate import upgrade_database

        if self._template is None:
            if self.postgres:
                name = self._pg_name("template")
                self._admin(f'CREATE DATABASE "{name}"')
                self._created.append(name)
                upgrade_database(self._pg_url(name))
                self._template = name
            else:
                path = self.workdir / "template" / "acne.db"
                upgrade_database(f"sqlite:///{path}")
                self._template = str(path)
        return self._template

    def new(self, folder: Path, *, migrated: bool = True) -> str:
        """A new database URL; for SQLite the file is `folder/acne.db`."""
        if self.postgres:
            name = self._pg_name("test")
            template = self.migrated_template() if migrated else "template0"
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            self._created.append(name)
            return self._pg_url(name)
        path = folder / "acne.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        if migrated:
            shutil.copyfile(self.migrated_template(), path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        """Remove a database made by `new` (PostgreSQL; SQLite files go with tmp_path)."""
        from sqlalchemy.engine import make_url

        from db.engine import dispose_engines

        dispose_engines()
        name = make_url(url).database
        if self.postgres and name in self._created:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._created.remove(name)

    def drop_all(self) -> None:
        for name in list(reversed(self._created)):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    provider = Databases(tmp_path_factory.mktemp("databases"))
    yield provider
    if provider.postgres:
        provider.drop_all()


@pytest.fixture
def empty_db_url(databases: Databases, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all (for migration tests)."""
    url = databases.new(tmp_path / "empty", migrated=False)
    yield url
    databases.drop(url)


@pytest.fixture
def on_postgresql(databases: Databases) -> bool:
    return databases.postgres


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 HTTP endpoint (moto's server) on 127.0.0.1 for the whole run."""
    from tests.s3_server import moto_available, s3_server

    if not moto_available():
        pytest.skip("moto's S3 server is not installed (the dev extra installs it)")
    with s3_server(tmp_path_factory.mktemp("s3")) as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The AWS variables point at the test endpoint, with a new bucket per test."""
    from tests.s3_server import TEST_ENV, make_bucket

    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    bucket = f"acne-test-{next(_BUCKETS)}-{os.getpid()}"
    make_bucket(s3_endpoint, bucket)
    return bucket


_BUCKETS = itertools.count()
