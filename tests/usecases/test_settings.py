"""Bad settings end in one sentence naming the variable (exit code 2), never a traceback:
the settings object, every command line, and the app's first page."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from usecases.cli import backup, check, import_folder, migrate
from usecases.settings import (
    EXIT_BAD_SETTINGS,
    SettingsError,
    check_storage,
    database_location,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]
# Nothing listens on port 1: the connection is refused at once.
UNREACHABLE_POSTGRES = "postgresql://acne:secret@127.0.0.1:1/acne"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "ACNE_SESSION_MINUTES", "ACNE_MAX_FAILED_LOGINS",
                 "ACNE_LOCKOUT_MINUTES", "ACNE_WEIGHTS_DIR", "ACNE_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def test_the_segmenter_engine_setting(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings().engine == "auto"
    clean_env.setenv("ACNE_ENGINE", "torch")
    assert load_settings().engine == "torch"


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("DATABASE_URL", "mysql://x/y", "DATABASE_URL is not valid: must be sqlite:///PATH or postgresql://"),
    ("DATABASE_URL", "acne.db", "DATABASE_URL is not valid"),
    ("ACNE_SESSION_MINUTES", "0", "ACNE_SESSION_MINUTES ('0') is not valid: input should be greater than or equal to 1."),
    ("ACNE_MAX_FAILED_LOGINS", "many", "ACNE_MAX_FAILED_LOGINS ('many') is not valid"),
    ("ACNE_ENGINE", "tensorrt", "ACNE_ENGINE ('tensorrt') is not valid: input should be 'auto', 'onnx' or 'torch'."),
])
def test_an_invalid_value_is_one_sentence_naming_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(expected), message
    assert "\n" not in message and "Traceback" not in message


def test_a_data_folder_that_cannot_be_made_names_acne_data_dir(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    for bad in (tmp_path / "a-file" / "data", Path("/proc/acne-data")):
        clean_env.setenv("ACNE_DATA_DIR", str(bad))
        with pytest.raises(SettingsError, match=rf"^ACNE_DATA_DIR \({bad}\) cannot be used as the data folder: "):
            check_storage(load_settings())


def test_an_unreachable_postgresql_names_database_url_without_the_password(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("DATABASE_URL", UNREACHABLE_POSTGRES)
    with pytest.raises(SettingsError) as raised:
        check_storage(load_settings())
    message = str(raised.value)
    assert message.startswith("DATABASE_URL: the database postgresql://acne:***@127.0.0.1:1/acne "
                              "cannot be reached"), message
    assert "secret" not in message


def test_a_sqlite_file_outside_the_data_folder_is_said_where(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere" / "acne.db"
    clean_env.setenv("DATABASE_URL", f"sqlite:///{elsewhere}")
    settings = load_settings()
    check_storage(settings)
    assert database_location(settings).startswith(
        f"database file {elsewhere} (from DATABASE_URL; outside the data folder {tmp_path / 'data'}")
    clean_env.delenv("DATABASE_URL")
    assert database_location(load_settings()) == f"database file {tmp_path / 'data' / 'acne.db'}"


@pytest.mark.parametrize("command", [
    lambda: migrate.main([]),
    lambda: check.main([]),
    lambda: backup.main(["create", "/tmp/never-written"]),
    lambda: import_folder.main(["/tmp", "--account", "anyone"]),
], ids=["migrate", "check", "backup", "import_folder"])
@pytest.mark.parametrize(("variable", "value", "says"), [
    ("DATABASE_URL", "mysql://x/y", "DATABASE_URL is not valid"),
    ("DATABASE_URL", UNREACHABLE_POSTGRES, "DATABASE_URL: the database"),
    ("ACNE_SESSION_MINUTES", "0", "ACNE_SESSION_MINUTES ('0') is not valid"),
    ("ACNE_DATA_DIR", "/proc/acne-data", "ACNE_DATA_DIR (/proc/acne-data) cannot be used"),
])
def test_every_command_line_prints_the_sentence_and_exits_2(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command, variable: str,  # noqa: ANN001
    value: str, says: str,
) -> None:
    clean_env.setenv(variable, value)
    assert command() == EXIT_BAD_SETTINGS
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {says}"), captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.slow  # a fresh interpreter
def test_the_migrate_command_in_a_fresh_process(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "ACNE_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "mysql://x/y"}
    result = subprocess.run([sys.executable, "-m", "usecases.cli.migrate"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: DATABASE_URL is not valid"), result.stderr
    assert "Traceback" not in result.stderr


def test_the_app_shows_the_sentence_instead_of_a_stack_trace(env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from streamlit.testing.v1 import AppTest

    for variable, value, says in (
        ("ACNE_SESSION_MINUTES", "0", "ACNE_SESSION_MINUTES ('0') is not valid"),
        ("DATABASE_URL", UNREACHABLE_POSTGRES, "DATABASE_URL: the database"),
        ("ACNE_DATA_DIR", "/proc/acne-data", "ACNE_DATA_DIR (/proc/acne-data) cannot be used"),
    ):
        with monkeypatch.context() as patch:
            patch.setenv(variable, value)
            at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
        assert not at.exception, at.exception
        assert [e.value for e in at.error] and at.error[0].value.startswith(
            f"The app cannot start: {says}"), [e.value for e in at.error]
        assert "secret" not in at.error[0].value
        assert not at.text_input  # no sign-in form


# ------------------------------------------------------------------------ issue 24: settings
BAD_PORT = "postgresql://u:pw@127.0.0.1:abc/acne"
COMMANDS = {
    "migrate": lambda: migrate.main([]),
    "check": lambda: check.main([]),
    "backup": lambda: backup.main(["create", "/tmp/never-written"]),
    "import_folder": lambda: import_folder.main(["/tmp", "--account", "anyone"]),
}


def _not_a_database(tmp_path: Path) -> str:
    path = tmp_path / "notes.db"
    path.write_text("these are notes, not a database\n" * 100)
    return f"sqlite:///{path}"


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", ["bad port", "not a database", "in memory", "empty data folder"])
def test_issue24_settings_give_one_sentence_and_exit_2_in_every_command(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    command: str, case: str,
) -> None:
    variable, value, says = {
        "bad port": ("DATABASE_URL", BAD_PORT, "DATABASE_URL is not valid: is not a database URL"),
        "not a database": ("DATABASE_URL", _not_a_database(tmp_path),
                           f"DATABASE_URL: the database file {tmp_path / 'notes.db'} is not a database"),
        "in memory": ("DATABASE_URL", "sqlite:///:memory:",
                      "DATABASE_URL is not valid: names a database in memory"),
        "empty data folder": ("ACNE_DATA_DIR", "", "ACNE_DATA_DIR ('') is not valid: is empty"),
    }[case]
    clean_env.setenv(variable, value)
    assert COMMANDS[command]() == EXIT_BAD_SETTINGS
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {says}"), captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err + captured.out and ":pw@" not in captured.err


def test_an_empty_data_folder_setting_never_means_the_current_folder(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("ACNE_DATA_DIR", "  ")
    with pytest.raises(SettingsError, match=r"^ACNE_DATA_DIR \('  '\) is not valid: is empty"):
        load_settings()
    clean_env.setenv("ACNE_WEIGHTS_DIR", "")
    clean_env.setenv("ACNE_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SettingsError, match=r"^ACNE_WEIGHTS_DIR \(''\) is not valid: is empty"):
        load_settings()
    clean_env.delenv("ACNE_WEIGHTS_DIR")
    clean_env.setenv("ACNE_BACKUP_KEY_FILE", "")  # empty: no key, not the current folder
    assert load_settings().backup_key_file is None


def test_a_database_in_a_shared_folder_leaves_that_folder_as_it_was(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DATABASE_URL=sqlite:///<folder>/acne.db chmodded <folder> to 0700: /tmp would lose its
    sticky bit. Only folders the product creates are restricted."""
    import stat

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    clean_env.setenv("DATABASE_URL", f"sqlite:///{shared / 'acne.db'}")
    assert migrate.main([]) == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    created = tmp_path / "data"  # made by the product: owner only
    assert stat.S_IMODE(created.stat().st_mode) == 0o700
    assert stat.S_IMODE((created / "photos").stat().st_mode) == 0o700
    # The shared folder named as the data folder itself: refused, and left as it was.
    clean_env.delenv("DATABASE_URL")
    clean_env.setenv("ACNE_DATA_DIR", str(shared))
    with pytest.raises(SettingsError, match=r"is a folder shared with other users"):
        check_storage(load_settings())
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_a_database_not_migrated_is_one_sentence_in_the_import(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    (tmp_path / "export").mkdir()
    assert import_folder.main([str(tmp_path / "export"), "--account", "anyone"]) == EXIT_BAD_SETTINGS
    err = capsys.readouterr().err
    assert err.strip() == ("The database file " + str(tmp_path / "fresh.db") +
                           " has no tables yet: run `python -m usecases.cli.migrate` first."), err


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk reports no free space (as `df` would on a full disk)."""
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 0))


def test_after_a_full_disk_the_import_says_the_disk_is_full(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A full disk made SQLite fail to open its shared-memory file ("disk I/O error"); the
    import said "run migrate and create an account"."""
    import sqlite3

    from sqlalchemy import event

    from db.engine import dispose_engines, get_engine

    assert migrate.main([]) == 0
    settings = load_settings()
    dispose_engines()
    engine = get_engine(settings.resolved_database_url)

    def full(dbapi_connection, record) -> None:  # noqa: ANN001
        raise sqlite3.OperationalError("disk I/O error")

    event.listen(engine, "connect", full, insert=True)
    _full_disk(clean_env)
    (tmp_path / "export").mkdir()
    try:
        code = import_folder.main([str(tmp_path / "export"), "--account", "anyone"])
    finally:
        event.remove(engine, "connect", full)
        dispose_engines()
    err = capsys.readouterr().err
    assert code == EXIT_BAD_SETTINGS
    assert "disk is full" in err and "run `python -m usecases.cli.migrate`" not in err, err
    assert "create an account" not in err


def test_every_command_answers_a_full_disk_with_one_sentence(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A write that meets a full disk anywhere under a command (here, the schema upgrade
    inside migrate) ends in one sentence and exit 2, not a traceback."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    clean_env.setattr(migrate, "upgrade_database", full)
    assert migrate.main([]) == EXIT_BAD_SETTINGS
    err = capsys.readouterr().err
    assert err.startswith("error: The disk is full: free some space"), err
    assert len(err.strip().splitlines()) == 1


def test_the_app_says_why_for_each_bad_database(env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: ANN001
    from streamlit.testing.v1 import AppTest

    import streamlit as st

    for value, says in (
        (BAD_PORT, "DATABASE_URL is not valid: is not a database URL"),
        (_not_a_database(tmp_path), "DATABASE_URL: the database file"),
        ("sqlite:///:memory:", "DATABASE_URL is not valid: names a database in memory"),
        (f"sqlite:///{tmp_path / 'fresh.db'}", "DATABASE_URL: the database has no tables yet"),
    ):
        st.cache_resource.clear()
        with monkeypatch.context() as patch:
            patch.setenv("DATABASE_URL", value)
            at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
        assert not at.exception, at.exception
        assert [e.value for e in at.error] and at.error[0].value.startswith(
            f"The app cannot start: {says}"), [e.value for e in at.error]
        assert ":pw@" not in at.error[0].value
        assert not at.text_input  # no sign-in form
    st.cache_resource.clear()


def test_a_full_disk_under_a_page_is_one_sentence(dash, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The database fails with SQLite's "database or disk is full" while the sign-in page reads."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    dash.make_account("boss", role="admin")

    def full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("database or disk is full"))

    at = dash.app().run()  # settings checked and cached
    monkeypatch.setattr("db.repository.count_accounts", full, raising=False)
    monkeypatch.setattr("db.repository.accounts.count_accounts", full, raising=False)
    at.run()
    assert not at.exception, at.exception
    assert any(str(e.value).startswith("The page cannot go on: The disk is full") for e in at.error), \
        [e.value for e in at.error]
