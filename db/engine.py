"""One engine per database URL, and a new short session for each action.

SQLite is set up for several Streamlit sessions and batch jobs writing at once: WAL journal
(readers never block the writer), a 30 s busy timeout, foreign keys enforced, and write
transactions that take the write lock at BEGIN (see `begin_write`), so that a transaction
that read first never fails with "database is locked" when it starts to write.
"""
from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

BUSY_TIMEOUT_S = 30
_BEGIN_OPTION = "acne_sqlite_begin"  # connection execution option: "DEFERRED" or "IMMEDIATE"

_engines: dict[tuple[int, str], Engine] = {}
_lock = threading.Lock()


def database_url(url: str) -> str:
    """`url` with the PostgreSQL driver this project installs (psycopg 3) when none is named.

    SQLAlchemy reads a bare `postgresql://` as psycopg2, which is not installed.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def redacted_url(url: str) -> str:
    """The URL as it may be printed: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def check_connection(url: str, timeout_s: int = 10) -> str | None:
    """None when the database at `url` answers, else why not, in a few words (no traceback;
    the password never appears)."""
    from sqlalchemy import pool, text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        shown = redacted_url(url)
        connect_args = {"connect_timeout": timeout_s} if is_postgresql(url) else {}
        engine = create_engine(database_url(url), poolclass=pool.NullPool, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        return f"it is not a database URL this app can use ({error})"
    try:
        with engine.connect() as connection:
            # SQLite opens any file lazily: reading the schema is what finds one that is not a
            # database (or is damaged).
            query = "SELECT count(*) FROM sqlite_master" if not is_postgresql(url) else "SELECT 1"
            connection.execute(text(query))
    except SQLAlchemyError as error:
        problem = storage_problem(error, url)
        if "cannot be used (" not in problem:  # a full disk, not a database, read-only
            return problem
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return f"the database {shown} cannot be reached ({reason})"
    finally:
        engine.dispose()
    return None


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or None (other databases, in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


class SharedFolderError(OSError):
    """A folder named for patient data is shared with other users (sticky or not ours)."""


def ensure_private_dir(folder: Path, *, restrict_existing: bool = False) -> None:
    """Create `folder` (and parents) readable by the owner only; patient data lives there.

    A folder made here is restricted. One that exists already is left as it was set up (a
    database placed straight into /tmp must not strip /tmp's sticky bit; issue 24), unless
    `restrict_existing` (the data folder itself): then a folder of this user is closed to
    others, and a shared one (sticky, like /tmp, or another user's) raises SharedFolderError."""
    folder = Path(folder)
    if folder.is_dir():
        if restrict_existing:
            info = folder.stat()
            if info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid():
                raise SharedFolderError(
                    0, "it is a folder shared with other users; name a folder of the clinic's "
                    "data alone (it is created owner-only)")
            if stat.S_IMODE(info.st_mode) & 0o077:
                os.chmod(folder, 0o700)
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:  # made meanwhile by another process: theirs to set up
        return
    os.chmod(folder, 0o700)  # mkdir's mode is reduced by the umask


# The free space under which a failed write is put down to a full disk.
FULL_DISK_BYTES = 1 << 20


def _error_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return chain


def disk_is_full(folders: list[Path]) -> bool:
    """Whether the disk holding any of `folders` (or their nearest existing parent) has less
    than FULL_DISK_BYTES free."""
    import shutil

    for folder in folders:
        path = Path(folder)
        while not path.exists() and path != path.parent:
            path = path.parent
        try:
            if shutil.disk_usage(path).free < FULL_DISK_BYTES:
                return True
        except OSError:
            continue
    return False


DISK_FULL = ("the disk is full: free some space on it (or move the data folder to a larger "
             "disk) and try again")


def disk_full_error(error: BaseException, folders: list[Path] = ()) -> bool:
    """Whether `error` comes from a full disk: ENOSPC, SQLite's "database or disk is full",
    PostgreSQL's "could not extend file", or an I/O error while `folders` have no space left."""
    import errno

    chain = _error_chain(error)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in chain):
        return True
    if any(phrase in text for phrase in ("database or disk is full", "no space left on device",
                                          "could not extend file", "disk full")):
        return True
    io_error = any(isinstance(e, OSError) for e in chain) or "disk i/o error" in text or (
        "unable to open database file" in text)
    return io_error and disk_is_full(list(folders))


def storage_problem(error: BaseException, url: str, folders: list[Path] = ()) -> str:
    """What went wrong with the database or the disk, in a few words without a traceback (the
    password never appears): a full disk, a file that is not a database, a database without
    its tables, a read-only one, else the driver's first line. `folders`: where the data lives
    besides the database file (the data folder), for the free-space check."""
    chain = _error_chain(error)
    text = " ".join(str(e) for e in chain).lower()
    database_file = sqlite_file(url) if _parses(url) else None
    where = f"the database file {database_file}" if database_file else (
        f"the database {redacted_url(url)}" if _parses(url) else "the database")
    places = [*(folders or []), *([database_file.parent] if database_file else [])]
    if disk_full_error(error, places):
        return DISK_FULL
    if "file is not a database" in text or "file is encrypted" in text:
        return f"{where} is not a database (it holds something else): name another file"
    if "no such table" in text or "undefinedtable" in text.replace("_", "") or (
            "relation" in text and "does not exist" in text):
        return f"{where} has no tables yet: run `python -m usecases.cli.migrate` first"
    if "readonly" in text or "read-only" in text:
        return f"{where} cannot be written (it is read-only)"
    first = next((e for e in reversed(chain) if str(e).strip()), error)
    return f"{where} cannot be used ({type(first).__name__}: {str(first).strip().splitlines()[0][:200]})"


def _parses(url: str) -> bool:
    try:
        make_url(url)
    except Exception:  # noqa: BLE001 - any malformed URL
        return False
    return True


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (the `begin` hook): the sqlite3 module's own
    # transaction handling never begins a transaction for SELECT and cannot BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL, much faster
    cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _build_engine(url: str) -> Engine:
    url = database_url(url)
    database_file = sqlite_file(url)
    if make_url(url).get_backend_name() != "sqlite":
        # READ COMMITTED (PostgreSQL's default); pre-ping replaces connections a server restart
        # or an idle timeout has closed.
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                             hide_parameters=True)
    if database_file is not None:
        ensure_private_dir(database_file.resolve().parent)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
        hide_parameters=True,  # SQL logs and errors never show values: names are patient data
    )
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def get_engine(url: str) -> Engine:
    """The engine for `url`, built once per process (a forked child builds its own)."""
    key = (os.getpid(), url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _build_engine(url)
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests, shutdown)."""
    with _lock:
        for (pid, _url), engine in list(_engines.items()):
            if pid == os.getpid():
                engine.dispose()
        _engines.clear()


@contextmanager
def new_session(engine: Engine) -> Iterator[Session]:
    """A session for one action; rows it returns stay readable after commit and close."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def begin_write(session: Session) -> None:
    """Start the session's transaction as a write transaction.

    On SQLite this is BEGIN IMMEDIATE: the write lock is taken (waiting up to the busy
    timeout) before anything is read, because a transaction that read first and writes later
    fails at once if another writer committed in between. Any read-only transaction still open
    in the session is ended first. Other databases need nothing special.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
