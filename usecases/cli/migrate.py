"""Bring the configured database to the newest schema, then check the photo folder against it:
`python -m usecases.cli.migrate` (what `make run` does before starting the app).

Orphan files older than the age limit (left by a crash) are removed; missing files are reported
on the same line but do not stop the app from starting.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

from core.words import plural
from db.migrate import upgrade_database
from db.repository.integrity import repair_store
from usecases.cli import settings_checked
from usecases.cli.check import summary_line
from usecases.clinic import open_clinic
from usecases.settings import database_location, load_settings


@settings_checked
def main(argv: Sequence[str] | None = None) -> int:
    del argv  # no options
    settings = load_settings()
    clinic = open_clinic(settings)  # the data folder and a database that answers, or one sentence
    upgrade_database(settings.resolved_database_url)
    print(f"{database_location(settings)} is up to date")
    with clinic.session() as session:
        result = repair_store(session=session, photo_store=clinic.photo_store)
    line = f"photo files: {summary_line(result.report, verified=False)}; "
    line += f"removed {plural(len(result.removed_orphans), 'old orphan file')}"
    if result.report.missing_files:
        line += " - run `python -m usecases.cli.check` to see which files are missing"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
