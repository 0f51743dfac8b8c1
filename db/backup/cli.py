"""The command line: `python -m db.backup create DEST` and `python -m db.backup restore SRC`."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from db.backup.create import create_backup
from db.backup.restore import restore_backup
from db.engine import ensure_private_dir
from db.photos import PhotoStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m db.backup",
        description="Back up the database and photo files, or restore a backup into an empty "
        "data folder and database (DATABASE_URL / ACNE_DATA_DIR say which).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="write a backup to the new folder DEST")
    create.add_argument("destination", type=Path, metavar="DEST")
    restore = commands.add_parser("restore", help="restore the backup in SRC")
    restore.add_argument("source", type=Path, metavar="SRC")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from core.settings import load_settings

    args = _parser().parse_args(argv)
    settings = load_settings()
    url = settings.resolved_database_url
    try:
        if args.command == "create":
            store = PhotoStore(settings.photo_dir)
            summary = create_backup(database_url=url, photo_store=store,
                                    destination=args.destination)
            print(f"backup written to {summary.path}: {summary.line()}")
        else:
            ensure_private_dir(settings.data_dir)
            store = PhotoStore(settings.photo_dir)
            summary = restore_backup(source=args.source, database_url=url, photo_store=store)
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
