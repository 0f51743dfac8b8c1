"""Back up or restore the clinic: `python -m usecases.cli.backup create DEST` and
`python -m usecases.cli.backup restore SRC` (what a backup holds: `db/backup/format.py`).

The manifest's SHA-256 checksums catch a damaged or incomplete backup; they do not prove who
made it: someone who can write the backup folder can change rows and checksums together. With
ACNE_BACKUP_KEY_FILE set (a key made once by `make-key`, kept outside the data folder), every
backup is signed (HMAC-SHA256 of its manifest) and a restore refuses a backup that is unsigned
or whose signature does not match."""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from db.backup.create import create_backup
from db.backup.restore import restore_backup
from usecases.cli import settings_checked
from usecases.clinic import open_clinic
from usecases.settings import backup_key, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m usecases.cli.backup",
        description="Back up the database and photo files, or restore a backup into an empty "
        "data folder and database (DATABASE_URL / ACNE_DATA_DIR say which).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="write a backup to the new folder DEST")
    create.add_argument("destination", type=Path, metavar="DEST")
    restore = commands.add_parser("restore", help="restore the backup in SRC")
    restore.add_argument("source", type=Path, metavar="SRC")
    make_key = commands.add_parser(
        "make-key", help="write a new backup signing key to the new file PATH (owner-only); "
        "then set ACNE_BACKUP_KEY_FILE=PATH")
    make_key.add_argument("path", type=Path, metavar="PATH")
    return parser


def make_key(path: Path) -> None:
    """32 random bytes as hex, in a new owner-only file (never overwrites a key)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def inside_data_folder_warning(destination: Path, data_dir: Path) -> str | None:
    """A warning when the backup would sit inside the data folder it backs up (a disk failure or
    a deleted data folder would take the backup with it)."""
    if destination.resolve().is_relative_to(data_dir.resolve()):
        return (f"warning: {destination} is inside the data folder {data_dir}; a backup there is "
                "lost with the data folder: keep backups on another disk")
    return None


@settings_checked
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "make-key":
        try:
            make_key(args.path)
        except OSError as error:
            print(f"error: {args.path}: {error.strerror or error}", file=sys.stderr)
            return 1
        print(f"backup key written to {args.path}: set ACNE_BACKUP_KEY_FILE={args.path} and keep a "
              "copy apart from the backups (without it a signed backup cannot be restored)")
        return 0
    settings = load_settings()
    clinic = open_clinic(settings)
    key = backup_key(settings)
    url = settings.resolved_database_url
    try:
        if args.command == "create":
            warning = inside_data_folder_warning(args.destination, settings.data_dir)
            if warning:
                print(warning, file=sys.stderr)
            summary = create_backup(database_url=url, photo_store=clinic.photo_store,
                                    destination=args.destination, signing_key=key)
            signed = ("signed with ACNE_BACKUP_KEY_FILE" if key else
                      "not signed (set ACNE_BACKUP_KEY_FILE to sign backups)")
            print(f"backup written to {summary.path}: {summary.line()}; {signed}")
        else:
            summary = restore_backup(source=args.source, database_url=url,
                                     photo_store=clinic.photo_store,
                                     signing_key=key)
            print(f"restored {summary.path}: {summary.line()}; schema upgraded to the newest")
    except (ValueError, OSError) as error:  # BackupError included
        print(f"error: {error}", file=sys.stderr)
        return 1
    except sa.exc.SQLAlchemyError as error:
        # The driver's first line only: SQLAlchemy's message carries the rows' values.
        reason = str(getattr(error, "orig", None) or type(error).__name__).splitlines()[0]
        print(f"error: the database refused the {args.command}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
