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
