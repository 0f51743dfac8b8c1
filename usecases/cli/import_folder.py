"""Import a folder of photos: `python -m usecases.cli.import_folder FOLDER --account USERNAME`.

The folder's layout and what happens to each photo: `usecases.folder_import`.
Exit codes: 0 all photos stored or skipped, 1 some photo refused, 2 bad folder, account or
setting, 3 no usable model, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import ModelNotInstalledError, WeightsError
from usecases.cli import settings_checked
from usecases.clinic import open_clinic
from usecases.folder_import import BatchImportError, check_account, import_folder
from usecases.settings import load_settings
from usecases.visits import PhotoAnalyzer

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from usecases import folder_import

    p = argparse.ArgumentParser(prog="python -m usecases.cli.import_folder",
                                description=folder_import.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.add_argument("--account", required=True, metavar="USERNAME",
                   help="the clinician or administrator account the photos are stored as")
    p.add_argument("--weights", type=Path, metavar="DIR",
                   help="weights folder (default: ACNE_WEIGHTS_DIR)")
    p.add_argument("--limit", type=int, metavar="N", help="analyse and store at most N new photos")
    # Two photos are analysed at once (usecases.folder_import.ANALYSES_AT_ONCE), each on one
    # thread: at 4 MP 6.00 photos/s against 5.55 with two threads each (oversubscribed cores).
    p.add_argument("--threads", type=int, default=1,
                   help="threads of each analysis; two photos are analysed at once (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p.parse_args(argv)


@settings_checked
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.limit is not None and args.limit < 1:
        print(f"--limit {args.limit} must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings()
    weights_dir = args.weights or settings.weights_dir
    clinic = open_clinic(settings)

    def get_analyzer() -> PhotoAnalyzer:
        from core.pipeline import load_analyzer

        # The threads reach whichever engine runs the segmenter (ONNX Runtime needs no torch).
        return load_analyzer(weights_dir, engine=settings.engine, threads=args.threads)

    try:
        actor = check_account(clinic, args.account)
        report = import_folder(clinic, actor, args.folder, get_analyzer=get_analyzer,
                               limit=args.limit, progress=not args.no_progress)
    except BatchImportError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except (ModelNotInstalledError, WeightsError) as error:
        print(f"No usable model in {weights_dir}: {error}", file=sys.stderr)
        return EXIT_MODEL
    except KeyboardInterrupt:
        print("Interrupted; the photos analysed so far are stored. Run the same command again "
              "to import the rest.", file=sys.stderr)
        return EXIT_INTERRUPTED
    for outcome in report.refused:
        print(f"refused {outcome.name}: {outcome.reason}")
    print(report.summary_line())
    return EXIT_REFUSED if report.refused else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
