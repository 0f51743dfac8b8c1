"""Bring the configured database to the newest schema, then check the photo folder against it:
`python -m usecases.cli.migrate` (what `make run` does before starting the app).

The photo folder must belong to this database (db.store_identity): a folder written for another
database stops the command with one sentence (exit 2) before any file is read. Nothing is ever
deleted here: orphan and missing files are only reported, and `python -m usecases.cli.check
--repair` moves orphans to the folder's quarantine.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

from db.migrate import upgrade_database
from db.repository.integrity import check_integrity
from usecases.cli import settings_checked
from usecases.cli.check import summary_line
from usecases.clinic import check_photo_folder, open_clinic
from usecases.settings import database_location, load_settings


@settings_checked
def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    # No options; --help says what the command does (`acne migrate --help`).
    argparse.ArgumentParser(prog="python -m usecases.cli.migrate", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv or [])
    settings = load_settings()
    clinic = open_clinic(settings)  # the data folder and a database that answers, or one sentence
    upgrade_database(settings.resolved_database_url)
    print(f"{database_location(settings)} is up to date")
    check_photo_folder(clinic)  # a folder of another database stops here, untouched
    with clinic.session() as session:
        report = check_integrity(session=session, photo_store=clinic.photo_store)
    line = f"photo files: {summary_line(report, verified=False)}"
    if report.orphan_files:
        line += ("; orphan files are kept (`python -m usecases.cli.check --repair` moves them to "
                 "the photo folder's quarantine)")
    if report.missing_files:
        line += " - run `python -m usecases.cli.check` to see which files are missing"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
