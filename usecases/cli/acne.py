"""`acne`: the clinic's one command (a console script, pyproject.toml [project.scripts]).

    acne serve                        the app, on http://127.0.0.1:8501
    acne analyze PHOTO... [--json]    analyse photos, print counts and grade
    acne import FOLDER --account NAME photos of a folder into patients and visits
    acne migrate                      bring the database up to date, check the photo files
    acne check [--verify] [--repair]  rows against photo files
    acne backup create|restore|make-key
    acne export-training FOLDER --account ADMIN
    acne train / acne evaluate        with the training extra only

Each subcommand is the module's own command line (`acne import --help` is
`python -m usecases.cli.import_folder --help`); the `python -m ...` forms keep working. A
subcommand's module is imported only when it runs, so `acne --help` is instant and nothing here
imports torch: the training code (core.training) is looked up by name only for `acne train` and
`acne evaluate`, and only when the training extra is installed.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

EXIT_USAGE = 2
TRAIN_EXTRA_SENTENCE = (
    "acne {command} needs the training extra (PyTorch and the training libraries), which is not "
    "installed: install the training extra with `pip install 'acne-tracker[train]'` "
    "(in a checkout, `make test` installs it)."
)


@dataclass(frozen=True)
class Subcommand:
    name: str
    module: str  # the module whose main(argv) runs it
    summary: str  # what it does, in the clinic's words
    needs_training: bool = False


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("serve", "", "start the app in the browser (http://127.0.0.1:8501)"),
    Subcommand("analyze", "core.analyze", "analyse photos: lesions by type, counts and grade"),
    Subcommand("import", "usecases.cli.import_folder",
               "import a folder of photos into patients and visits"),
    Subcommand("migrate", "usecases.cli.migrate",
               "bring the database up to date and check the photo files"),
    Subcommand("check", "usecases.cli.check", "check the records against the photo files"),
    Subcommand("backup", "usecases.cli.backup",
               "back up or restore the clinic's data (create, restore, make-key)"),
    Subcommand("export-training", "usecases.cli.export_training",
               "export corrected photos, de-identified, as a training set"),
    Subcommand("train", "core.training.train_segmenter", "train the lesion model (training extra)",
               needs_training=True),
    Subcommand("evaluate", "core.training.evaluate",
               "measure a model on a labelled photo set (training extra)", needs_training=True),
)
BY_NAME = {command.name: command for command in SUBCOMMANDS}

# The app's server options (the same as the checkout's .streamlit/config.toml, which an
# installed wheel does not have): local, private, no usage statistics, phone-sized uploads.
SERVE_OPTIONS: dict[str, str] = {
    "server.address": "127.0.0.1",
    "server.headless": "true",
    "server.maxUploadSize": "60",
    "server.enableXsrfProtection": "true",
    "browser.gatherUsageStats": "false",
    "client.showSidebarNavigation": "true",
    "client.toolbarMode": "minimal",
    # No full garbage collection after every script run (see .streamlit/config.toml).
    "runner.postScriptGC": "false",
}


def overview() -> str:
    width = max(len(command.name) for command in SUBCOMMANDS)
    lines = ["usage: acne COMMAND [options]   (acne COMMAND --help for a command's options)", "",
             "commands:"]
    lines += [f"  {command.name:<{width}}  {command.summary}" for command in SUBCOMMANDS]
    return "\n".join(lines)


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (a blocked name counts as not)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def training_installed() -> bool:
    return all(installed(name) for name in ("torch", "segmentation_models_pytorch"))


def app_path() -> Path:
    """dashboard/app.py wherever the package is installed (a checkout or site-packages),
    found without importing the dashboard (only the dashboard imports Streamlit)."""
    spec = importlib.util.find_spec("dashboard")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "app.py"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the app (dashboard/app.py) is not installed with this package")


def serve_command(argv: Sequence[str]) -> list[str]:
    """The streamlit command line `acne serve` runs; `--port N` and streamlit's own
    `--server.x=y` options pass through."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="acne serve",
        description="Start the app (the settings are read from the environment: ACNE_DATA_DIR, "
                    "DATABASE_URL, ...). Run `acne migrate` first on a new or upgraded "
                    "installation.")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument("--address", default=SERVE_OPTIONS["server.address"],
                        help="address to listen on (default 127.0.0.1: this machine only)")
    args, extra = parser.parse_known_args(list(argv))
    options = {**SERVE_OPTIONS, "server.address": args.address, "server.port": str(args.port)}
    command = [sys.executable, "-m", "streamlit", "run", str(app_path())]
    command += [f"--{key}={value}" for key, value in options.items()]
    return command + extra


def run_module(module: str, argv: Sequence[str]) -> int:
    main: Callable[[list[str]], int | None] = importlib.import_module(module).main
    code = main(list(argv))
    return int(code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(overview())
        return 0 if args else EXIT_USAGE
    name, rest = args[0], args[1:]
    command = BY_NAME.get(name)
    if command is None:
        print(f"acne: there is no command '{name}'.\n\n{overview()}", file=sys.stderr)
        return EXIT_USAGE
    if command.needs_training and not training_installed():
        print(TRAIN_EXTRA_SENTENCE.format(command=name), file=sys.stderr)
        return EXIT_USAGE
    if name == "serve":
        line = serve_command(rest)
        sys.stdout.flush()
        os.execv(line[0], line)  # the app replaces this process: Ctrl-C and signals reach it
    return run_module(command.module, rest)


if __name__ == "__main__":
    sys.exit(main())
