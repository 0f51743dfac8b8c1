"""`python -m db.backup create DEST` / `python -m db.backup restore SRC` (see `db.backup.cli`)."""
import sys

from db.backup.cli import main

if __name__ == "__main__":
    sys.exit(main())
