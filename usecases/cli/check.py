"""Rows against photo files: `python -m usecases.cli.check [--repair] [--verify]
[--empty-quarantine [--older-than-days N]]`.

Prints a short report (files checked, orphan, missing and, with --verify, damaged files) and
exits 1 when a file is missing or damaged: those need a backup (`python -m usecases.cli.backup`).
Orphan files (left by a crash between writing a file and committing its rows) are harmless;
`--repair` moves those older than `--min-age-s`, and stale temporary files, to the photo
folder's quarantine (`<photos>/quarantine/<UTC time>/`), and puts back a missing file whose copy
waits there. Only `--empty-quarantine` deletes, and only what is in quarantine.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.words import plural
from db.repository.integrity import (
    DEFAULT_MIN_AGE_S,
    IntegrityReport,
    RepairResult,
    check_integrity,
    quarantined_missing,
    repair_store,
)
from usecases.cli import settings_checked
from usecases.clinic import open_clinic
from usecases.settings import check_migrated, load_settings

EXIT_OK = 0
EXIT_PROBLEM = 1


def summary_line(report: IntegrityReport, *, verified: bool) -> str:
    """One line: how many files were checked and what is wrong with them."""
    parts = [
        plural(len(report.orphan_files), "orphan file"),
        plural(len(report.missing_files), "missing file"),
    ]
    if verified:
        parts.append(plural(len(report.damaged_files), "damaged file"))
    return f"{plural(report.checked_files, 'file')} checked: " + ", ".join(parts)


def detail_lines(report: IntegrityReport) -> list[str]:
    """One line per missing or damaged file (row ids and digests only, never patient data)."""
    lines = [
        f"missing: {m.table} {m.row_id} points to {m.sha256}{m.extension}"
        for m in report.missing_files
    ]
    lines += [f"damaged: {sha}{ext} no longer matches its SHA-256" for sha, ext in report.damaged_files]
    return lines


def repair_line(result: RepairResult) -> str:
    line = (
        f"repaired: moved {plural(len(result.quarantined), 'orphan file')} and "
        f"{plural(result.quarantined_temp_files, 'stale temporary file')} to quarantine"
    )
    if result.released:
        line += f", put back {plural(len(result.released), 'missing file')} from quarantine"
    return line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m usecases.cli.check",
        description="Check that every photo and mask row has its file, and the other way round.",
    )
    parser.add_argument("--repair", action="store_true",
                        help="move orphan files and stale temporary files to the photo folder's "
                        "quarantine, and put back missing files found there (deletes nothing)")
    parser.add_argument("--verify", action="store_true",
                        help="also re-hash every file to find damaged ones (reads every byte)")
    parser.add_argument("--min-age-s", type=float, default=DEFAULT_MIN_AGE_S,
                        help="--repair spares orphan files younger than this "
                        f"(default {DEFAULT_MIN_AGE_S:.0f}: a store may still be under way)")
    parser.add_argument("--empty-quarantine", action="store_true",
                        help="delete the files --repair moved to quarantine (the only deletion)")
    parser.add_argument("--older-than-days", type=float, default=0.0,
                        help="--empty-quarantine keeps quarantine folders younger than this")
    return parser


@settings_checked
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.min_age_s < 0 or args.older_than_days < 0:
        print("error: --min-age-s and --older-than-days must not be negative", file=sys.stderr)
        return EXIT_PROBLEM
    settings = load_settings()
    clinic = open_clinic(settings)
    check_migrated(settings)  # one sentence and exit 2 before any query
    store = clinic.photo_store
    with clinic.session() as session:
        # Re-hashing every file takes long: done outside the repair's write lock, so the
        # running app can keep storing photos meanwhile.
        report = check_integrity(session=session, photo_store=store, verify_content=args.verify)
        session.commit()  # ends the read transaction
        repaired = (
            repair_store(session=session, photo_store=store, min_age_s=args.min_age_s)
            if args.repair else None
        )
    print(f"photo folder {store.root}: {summary_line(report, verified=args.verify)}")
    for line in detail_lines(report):
        print(line)
    waiting = quarantined_missing(report, store)
    if waiting and repaired is None:
        print(f"{plural(len(waiting), 'missing file')} waiting in quarantine: `--repair` puts "
              "them back")
    still_missing = report.missing_files
    if repaired is not None:
        print(repair_line(repaired))
        still_missing = tuple(m for m in still_missing
                              if (m.sha256, m.extension) not in repaired.released)
    if args.empty_quarantine:
        removed = store.empty_quarantine(older_than_s=args.older_than_days * 86400)
        print(f"quarantine emptied: {plural(removed, 'file')} deleted")
    if still_missing or report.damaged_files:
        print("some files are missing or damaged: restore them from a backup "
              "(python -m usecases.cli.backup)", file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
