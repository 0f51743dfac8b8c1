"""The command lines: `python -m usecases.cli.<command>` (import_folder, migrate, check, backup,
export_training).

Each reads and checks the settings first: a bad value prints one sentence naming the variable
and exits with code 2, never a traceback. None of them imports Streamlit.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence

from usecases.settings import EXIT_BAD_SETTINGS, SettingsError, load_settings, storage_sentence

Main = Callable[[Sequence[str] | None], int]


def settings_checked(main: Main) -> Main:
    """`main`, with a SettingsError raised anywhere in it printed as one sentence (exit 2); so
    is an error of the database or the disk met while working (a full disk, a file that is not
    a database, a database not migrated: `usecases.settings.storage_sentence`), never a
    traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    @functools.wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            return main(argv)
        except SettingsError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_SETTINGS
        except (SQLAlchemyError, OSError) as error:
            print(f"error: {_storage_sentence(error)}", file=sys.stderr)
            return EXIT_BAD_SETTINGS

    return wrapper


def _storage_sentence(error: BaseException) -> str:
    try:
        settings = load_settings()
    except SettingsError as problem:
        return str(problem)
    return storage_sentence(settings, error)
