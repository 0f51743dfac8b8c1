"""Export a research training set: `python -m usecases.cli.export_training FOLDER --account ADMIN`.

What is exported and how it is de-identified: `usecases.research_export`. The folder is ready
for `python -m core.training.train_segmenter --extra-data FOLDER` and
`python -m core.training.evaluate --data FOLDER --split test`.
Exit codes: 0 written, 2 bad folder, account, option or setting.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from db.errors import PermissionDenied
from usecases.cli import settings_checked
from usecases.clinic import open_clinic
from usecases.folder_import import BatchImportError, check_account
from usecases.research_export import export_training_set
from usecases.settings import load_settings

EXIT_OK, EXIT_USAGE = 0, 2


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from usecases import research_export

    p = argparse.ArgumentParser(prog="python -m usecases.cli.export_training",
                                description=research_export.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, metavar="FOLDER", help="a new folder for the export")
    p.add_argument("--account", required=True, metavar="USERNAME", help="an administrator account")
    p.add_argument("--seed", type=int, default=0, help="fixes which subjects go to which split")
    p.add_argument("--valid-share", type=float, default=0.15, help="share of subjects in valid")
    p.add_argument("--test-share", type=float, default=0.15, help="share of subjects in test")
    return p.parse_args(argv)


@settings_checked
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    clinic = open_clinic(load_settings())
    try:
        actor = check_account(clinic, args.account)
        summary = export_training_set(clinic, actor, args.folder, seed=args.seed,
                                      valid_share=args.valid_share, test_share=args.test_share)
    except (BatchImportError, PermissionDenied, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    splits = ", ".join(f"{summary.photos_by_split.get(s, 0)} {s}" for s in ("train", "valid", "test"))
    print(f"{summary.folder}: {summary.photos} photos of {summary.subjects} subjects ({splits}), "
          f"{summary.lesions} lesions; {summary.uncorrected_left_out} photos without a clinician's "
          f"correction and {summary.other_faces_left_out} photos with more than the patient's face "
          "left out")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
