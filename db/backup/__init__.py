"""Backups while the app runs, restorable onto SQLite or PostgreSQL.

    python -m usecases.cli.backup create DEST   # DEST must not exist yet
    python -m usecases.cli.backup restore SRC   # into the configured, empty database and photo folder

`format` says what a backup folder holds, `create` makes one from a consistent snapshot and
`restore` fills an empty database and photo folder from one; the command line is the
application layer's (`usecases/cli/backup.py`).
"""
from db.backup.create import create_backup
from db.backup.format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    BackupError,
    BackupSummary,
    read_manifest,
)
from db.backup.restore import restore_backup

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "BackupError",
    "BackupSummary",
    "create_backup",
    "read_manifest",
    "restore_backup",
]
