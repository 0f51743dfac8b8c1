"""The one settings object, from environment variables, validated at start-up.

Read by entry points only (the dashboard, the command lines); everything below them takes plain
arguments. A bad value never ends in a traceback: `load_settings` and `check_storage` raise
`SettingsError`, whose message is one sentence naming the variable, and every entry point
prints it (exit code 2) or shows it on the page.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "acne-tracker"


def default_data_dir() -> Path:
    """Where the data lives unless ACNE_DATA_DIR says: `data/` in a checkout (a folder holding
    pyproject.toml); installed from a wheel, $XDG_DATA_HOME/acne-tracker, by default
    ~/.local/share/acne-tracker (never the current folder, never site-packages). The weights
    default to the installed package's own `weights/` either way."""
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "data"
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".local" / "share") / APP_NAME


EXIT_BAD_SETTINGS = 2

# Field name -> the environment variable a person sets.
VARIABLES: dict[str, str] = {
    "data_dir": "ACNE_DATA_DIR",
    "weights_dir": "ACNE_WEIGHTS_DIR",
    "database_url": "DATABASE_URL",
    "session_minutes": "ACNE_SESSION_MINUTES",
    "max_failed_logins": "ACNE_MAX_FAILED_LOGINS",
    "lockout_minutes": "ACNE_LOCKOUT_MINUTES",
    "backup_key_file": "ACNE_BACKUP_KEY_FILE",
    "engine": "ACNE_ENGINE",
    "photo_store": "ACNE_PHOTO_STORE",
}
# Never echoed in a message: they may hold a password or a key.
_SECRET_VARIABLES = frozenset({"DATABASE_URL", "ACNE_PHOTO_STORE"})
DATABASE_SCHEMES = ("sqlite", "postgresql")


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one sentence naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACNE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="database and photo folder")
    weights_dir: Path = Field(default=PROJECT_ROOT / "weights")
    # DATABASE_URL is the conventional name, so it is read without the prefix.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    session_minutes: int = Field(default=60, ge=1, le=24 * 60)
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The clinic's backup signing key (HMAC-SHA256), kept outside the data folder.
    backup_key_file: Path | None = None
    # What runs the lesion segmenter: ONNX Runtime when the weights carry its graph ("auto"),
    # or always ONNX Runtime / PyTorch (same weights, same numbers; PyTorch is the fallback).
    engine: Literal["auto", "onnx", "torch"] = "auto"
    # Where photos live: empty for the data folder's photos/, or s3://BUCKET/PREFIX in an
    # S3-compatible object store (endpoint, region and credentials from the AWS variables).
    photo_store: str | None = None

    @field_validator("data_dir", "weights_dir", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        # An empty value would silently mean the current folder (issue 24).
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; name a folder, or leave the variable unset for the default")
        return value

    @field_validator("backup_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in DATABASE_SCHEMES or "://" not in value:
            raise ValueError(
                "must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME"
            )
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(value)
            parsed.port  # noqa: B018 - a port that is not a number fails here
        except Exception:  # noqa: BLE001 - SQLAlchemy raises ValueError, ArgumentError, ...
            raise ValueError("is not a database URL: its host, port (a number) or name cannot be read; "
                             "it must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME") from None
        if scheme == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:") or "mode=memory" in value:
                raise ValueError("names a database in memory, which is lost when the process ends and "
                                 "is not shared by the app and the commands; name a file "
                                 "(sqlite:///PATH/acne.db)")
        elif not parsed.database:
            raise ValueError("names no database (postgresql://USER:PASSWORD@HOST:PORT/NAME)")
        return value

    @field_validator("engine")
    @classmethod
    def _torch_installed(cls, value: str) -> str:
        # PyTorch comes with the training extra only; the run time runs ONNX Runtime.
        if value == "torch" and not _importable("torch"):
            raise ValueError(
                "the PyTorch engine needs the training extra, which is not installed: install "
                "the training extra (pip install 'acne-tracker[train]') or set ACNE_ENGINE=auto"
            )
        return value

    @field_validator("photo_store")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from db.object_store import parse_store_url

        parse_store_url(value.strip())
        return value.strip()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'acne.db').resolve()}"

    @property
    def photo_dir(self) -> Path:
        return self.data_dir / "photos"


def _importable(module: str) -> bool:
    """Whether `module` is installed, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _sentence(error: ValidationError) -> str:
    """The first problem as one sentence: the variable, its value and what it must be."""
    problem = error.errors()[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    variable = VARIABLES.get(field, field.upper() or "a setting")
    reason = str(problem["msg"]).removeprefix("Value error, ")
    value = problem.get("input")
    shown = f" ({value!r})" if isinstance(value, str) and variable not in _SECRET_VARIABLES else ""
    return f"{variable}{shown} is not valid: {reason[:1].lower()}{reason[1:]}."


def load_settings() -> Settings:
    """Build the settings from the environment; an invalid value raises SettingsError at once."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(_sentence(error)) from None


def database_location(settings: Settings) -> str:
    """Where the database is, in words (a SQLite file outside the data folder is said so)."""
    from db.engine import redacted_url, sqlite_file

    url = settings.resolved_database_url
    database_file = sqlite_file(url)
    if database_file is None:
        return f"database {redacted_url(url)}"
    where = database_file.resolve()
    data_dir = settings.data_dir.resolve()
    if not where.is_relative_to(data_dir):
        return (f"database file {where} (from DATABASE_URL; outside the data folder {data_dir}, "
                "so back it up and protect it on its own)")
    return f"database file {where}"


def check_storage(settings: Settings) -> None:
    """Make sure the data folder can be created and the database reached.

    Raises SettingsError naming ACNE_DATA_DIR or DATABASE_URL; never a traceback.
    """
    from db.engine import check_connection, ensure_private_dir, sqlite_file

    try:
        ensure_private_dir(settings.data_dir, restrict_existing=True)
        if settings.photo_store is None:
            ensure_private_dir(settings.photo_dir)
    except OSError as error:
        raise SettingsError(
            f"ACNE_DATA_DIR ({settings.data_dir}) cannot be used as the data folder: "
            f"{error.strerror or error}."
        ) from None
    url = settings.resolved_database_url
    database_file = sqlite_file(url)
    if database_file is not None:
        try:
            ensure_private_dir(database_file.resolve().parent)
        except OSError as error:
            raise SettingsError(
                f"DATABASE_URL names a SQLite file in {database_file.parent}, which cannot be "
                f"created: {error.strerror or error}."
            ) from None
    problem = check_connection(url)
    if problem is not None:
        variable = "DATABASE_URL" if settings.database_url else "ACNE_DATA_DIR"
        raise SettingsError(f"{variable}: {problem}.")
    if settings.photo_store is not None:
        from db.object_store import ObjectStoreError, S3PhotoStore

        try:
            S3PhotoStore(settings.photo_store).check_reachable()
        except ObjectStoreError as error:
            raise SettingsError(f"ACNE_PHOTO_STORE: {error}.") from None


def storage_sentence(settings: Settings, error: BaseException) -> str:
    """One sentence for an error the database or the disk raised while working (a full disk,
    a file that is not a database, a database not migrated): never a traceback, never the
    password."""
    from db.engine import storage_problem

    problem = storage_problem(error, settings.resolved_database_url, [settings.data_dir])
    return f"{problem[:1].upper()}{problem[1:]}."


def check_migrated(settings: Settings) -> None:
    """SettingsError unless the database has its tables (migrate has run): the app and the
    commands that read the database say so in one sentence instead of failing on a query."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from db.engine import get_engine

    try:
        with get_engine(settings.resolved_database_url).connect() as connection:
            migrated = inspect(connection).has_table("alembic_version") and inspect(connection).has_table("account")
    except SQLAlchemyError as error:
        raise SettingsError(storage_sentence(settings, error)) from None
    if not migrated:
        variable = "DATABASE_URL" if settings.database_url else "ACNE_DATA_DIR"
        raise SettingsError(f"{variable}: the database has no tables yet: run "
                            "`python -m usecases.cli.migrate` first.")


def backup_key(settings: Settings) -> bytes | None:
    """The clinic's backup signing key from ACNE_BACKUP_KEY_FILE, or None when none is set.

    The key must live outside the data folder (a key beside the data it protects protects
    nothing) and hold at least 32 bytes; SettingsError names the variable otherwise."""
    from db.backup.format import MIN_KEY_BYTES

    path = settings.backup_key_file
    if path is None:
        return None
    if path.resolve().is_relative_to(settings.data_dir.resolve()):
        raise SettingsError(f"ACNE_BACKUP_KEY_FILE ({path}) lies inside the data folder "
                            f"{settings.data_dir}: keep the key elsewhere, where the backups are not.")
    try:
        key = path.read_bytes().strip()
    except OSError as error:
        raise SettingsError(f"ACNE_BACKUP_KEY_FILE ({path}) cannot be read: "
                            f"{error.strerror or error}.") from None
    if len(key) < MIN_KEY_BYTES:
        raise SettingsError(f"ACNE_BACKUP_KEY_FILE ({path}) holds {len(key)} bytes; a key needs at "
                            f"least {MIN_KEY_BYTES} (make one with "
                            "`python -m usecases.cli.backup make-key PATH`).")
    return key
