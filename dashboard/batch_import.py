"""Import a folder of photos into the database: `python -m dashboard.batch_import FOLDER --account NAME`.

Folder layout (one folder per patient, one folder per visit date inside it):

    FOLDER/<patient code>/<YYYY-MM-DD>/<photos>     several patients
    FOLDER/<YYYY-MM-DD>/<photos>                    one patient: FOLDER's own name is the code

Photos may sit in subfolders of a visit folder (a camera's DCIM/100CANON export copied as is).
Hidden files (.DS_Store, ._IMG_0001.JPG) and Thumbs.db / desktop.ini are ignored; every other
file is read as a photo, and one that is not is refused with the reason.

Missing patients (by code) and visits (by date) are created with the account's rights; each
photo is decoded (core.imaging), analysed once by the installed models and stored with
`db.repository.store_photo`, exactly as the dashboard's new-visit page does. A photo already
stored for that patient (the same file bytes, by SHA-256) is skipped before it is decoded, so
an interrupted import (Ctrl-C, kill) is resumed by running the same command again. A photo
that fails the quality gate is stored with its analysis, as "Store it anyway" on the page does
(the visit page shows the problems), and counted in the summary.

While one photo is analysed the next one is decoded in a background thread and the previous
one is stored in another (decoding, PNG encoding and torch all release the GIL).

Exit codes: 0 all photos stored or skipped, 1 some photo refused, 2 bad folder / account,
3 no usable model, 130 interrupted. This module is an entry point: it must never import streamlit.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ModelNotInstalledError, PhotoError, WeightsError
from core.imaging import decode_photo
from core.manifest import sha256_of
from core.types import VIEWS, Analysis, DecodedPhoto
from db.access import load_principal
from db.engine import new_session
from db.errors import DuplicateError, PermissionDenied
from db.models import Account, PatientCreate, check_patient_code
from db.photos import PhotoStore
from db.repository import (
    create_patient,
    create_visit,
    find_duplicate_photo,
    get_account_by_username,
    list_patients,
    list_visits,
    store_photo,
)
from db.repository.visits import check_visit_date

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Photos decoded ahead of the one being analysed, and analysed photos waiting to be stored:
# two each keeps both helper threads busy without holding many 12 MP images in memory.
DECODE_AHEAD = 2
STORE_BEHIND = 2

Status = Literal["stored", "skipped", "refused"]


class PhotoAnalyzer(Protocol):
    def analyze(self, photo: DecodedPhoto) -> Analysis: ...


class BatchImportError(Exception):
    """The import cannot start (bad folder, unknown account, no rights); the message says why."""


@dataclass(frozen=True)
class PlannedPhoto:
    """A file to import, with the patient and visit its place in the folder gives it."""

    path: Path
    name: str  # path relative to the imported folder, for messages
    patient_code: str
    visit_date: date


@dataclass(frozen=True)
class Outcome:
    name: str
    status: Status
    reason: str | None = None
    quality_passed: bool | None = None
    finished_at: float = field(default_factory=time.perf_counter)


@dataclass
class ImportReport:
    outcomes: list[Outcome] = field(default_factory=list)
    analysed: int = 0  # photos the analyzer was run on
    seconds: float = 0.0  # the whole import
    import_seconds: float = 0.0  # from the model loaded to the last photo stored

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def refused(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "refused"]

    def summary_line(self) -> str:
        stored = self.count("stored")
        poor = sum(1 for o in self.outcomes if o.status == "stored" and o.quality_passed is False)
        rate = (f", {self.analysed / self.import_seconds:.2f} photos/s analysed"
                if self.analysed and self.import_seconds else "")
        return (
            f"Stored {stored} photo(s) ({poor} with quality problems), "
            f"skipped {self.count('skipped')} already imported, refused {len(self.refused)}; "
            f"{self.seconds:.1f} s{rate}."
        )


# ---------------------------------------------------------------------------------- the folder
def _is_ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in IGNORED_NAMES


def _files_below(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(_is_ignored(Path(part)) for part in parts):
            yield path


def _visit_date(name: str) -> date | None:
    """The date of a `YYYY-MM-DD` folder name, or None for any other name."""
    if not _DATE_RE.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def _plan_patient(folder: Path, code: str, root: Path) -> tuple[list[PlannedPhoto], list[Outcome]]:
    planned: list[PlannedPhoto] = []
    refused: list[Outcome] = []

    def refuse_all(below: Path, reason: str) -> None:
        for path in _files_below(below) if below.is_dir() else [below]:
            refused.append(Outcome(str(path.relative_to(root)), "refused", reason))

    try:
        code = check_patient_code(code)
    except ValueError as error:
        refuse_all(folder, f"{error} (the folder name is used as the patient code)")
        return planned, refused
    for child in sorted(folder.iterdir()):
        if _is_ignored(child):
            continue
        visit_date = _visit_date(child.name) if child.is_dir() else None
        if visit_date is None:
            refuse_all(child, f"not inside a visit folder named by its date (YYYY-MM-DD) "
                              f"in the folder of patient {code}")
            continue
        try:
            check_visit_date(visit_date)
        except ValueError as error:
            refuse_all(child, str(error))
            continue
        planned.extend(
            PlannedPhoto(path, str(path.relative_to(root)), code, visit_date)
            for path in _files_below(child)
        )
    return planned, refused


def plan_folder(folder: Path) -> tuple[list[PlannedPhoto], list[Outcome]]:
    """The photos of `folder` with their patient code and visit date, and the files refused
    because of where they are. A folder with `YYYY-MM-DD` subfolders is one patient's folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BatchImportError(f"'{folder}' is not a folder.")
    children = [child for child in sorted(folder.iterdir()) if not _is_ignored(child)]
    if any(child.is_dir() and _visit_date(child.name) for child in children):
        return _plan_patient(folder, folder.resolve().name, folder)
    planned: list[PlannedPhoto] = []
    refused: list[Outcome] = []
    for child in children:
        if child.is_dir():
            more_planned, more_refused = _plan_patient(child, child.name, folder)
            planned += more_planned
            refused += more_refused
        else:
            refused.append(Outcome(child.name, "refused",
                                   "not inside a patient folder (FOLDER/<patient code>/<YYYY-MM-DD>/)"))
    return planned, refused


# ------------------------------------------------------------------------------------ the import
class _Records:
    """Patients and visits found or created, cached by code and date (one query each)."""

    def __init__(self, engine: Engine, actor: Account) -> None:
        self.engine, self.actor = engine, actor
        self.patients: dict[str, int | None] = {}
        self.visits: dict[tuple[int, date], int] = {}

    def find_patient(self, code: str) -> int | None:
        if code not in self.patients:
            with new_session(self.engine) as session:
                found = [p for p in list_patients(session=session, actor=self.actor, search=code)
                         if p.code == code]
            self.patients[code] = found[0].id if found else None
        return self.patients[code]

    def patient(self, code: str) -> int:
        patient_id = self.find_patient(code)
        if patient_id is None:
            with new_session(self.engine) as session:
                try:
                    patient_id = create_patient(session=session, actor=self.actor,
                                                data=PatientCreate(code=code)).id
                except DuplicateError as error:
                    # The code exists, but among patients this account may not see.
                    raise PermissionDenied(f"{error}, by a patient this account may not see") from None
            self.patients[code] = patient_id
        return patient_id

    def visit(self, patient_id: int, visit_date: date) -> int:
        key = (patient_id, visit_date)
        if key not in self.visits:
            with new_session(self.engine) as session:
                existing = [v for v in list_visits(session=session, actor=self.actor, patient_id=patient_id)
                            if v.visit_date == visit_date]
                self.visits[key] = existing[0].id if existing else create_visit(
                    session=session, actor=self.actor, patient_id=patient_id, visit_date=visit_date,
                    treatment_notes="",
                ).id
        return self.visits[key]

    def already_stored(self, code: str, sha256: str) -> bool:
        patient_id = self.find_patient(code)
        if patient_id is None:
            return False
        with new_session(self.engine) as session:
            return find_duplicate_photo(session=session, actor=self.actor, patient_id=patient_id,
                                        upload_sha256=sha256) is not None


def _decode(item: PlannedPhoto) -> DecodedPhoto | str:
    """The decoded photo, or the sentence saying why it cannot be used."""
    try:
        return decode_photo(item.path.read_bytes(), filename=item.path.name)
    except PhotoError as error:
        return str(error)
    except OSError as error:
        return f"'{item.name}' could not be read ({error.strerror or error})."


def check_account(engine: Engine, username: str) -> Account:
    """The account to import as; raises BatchImportError when it is unknown or may not add photos."""
    try:
        with new_session(engine) as session:
            account = get_account_by_username(session=session, username=username)
            if account is None:
                raise BatchImportError(f"There is no account named '{username}'.")
            principal = load_principal(session, account)
    except SQLAlchemyError as error:
        raise BatchImportError(
            f"The database cannot be read ({type(error).__name__}); run `python -m db.migrate` "
            "and create an account in the app first."
        ) from error
    if not principal.is_active:
        raise BatchImportError(f"The account '{username}' is deactivated.")
    if not principal.can_write:
        raise BatchImportError(
            f"The account '{username}' ({principal.role}) may not add patients or photos; "
            "use a clinician or administrator account."
        )
    return account


class _Importer:
    def __init__(self, engine: Engine, photo_store: PhotoStore, actor: Account, progress: bool) -> None:
        self.records = _Records(engine, actor)
        self.engine, self.store, self.actor = engine, photo_store, actor
        self.progress = progress
        self.report = ImportReport()

    def check(self, planned: list[PlannedPhoto]) -> list[PlannedPhoto]:
        """Skip photos already stored (hash and one query each, nothing decoded)."""
        todo: list[PlannedPhoto] = []
        seen: dict[tuple[str, str], str] = {}
        for item in self._bar(planned, "checking"):
            try:
                sha = sha256_of(item.path)
            except OSError as error:
                self.report.outcomes.append(
                    Outcome(item.name, "refused", f"'{item.name}' could not be read ({error.strerror or error})."))
                continue
            if (item.patient_code, sha) in seen:
                self.report.outcomes.append(
                    Outcome(item.name, "skipped", f"the same file as {seen[item.patient_code, sha]}"))
            elif self.records.already_stored(item.patient_code, sha):
                self.report.outcomes.append(Outcome(item.name, "skipped", "already imported"))
            else:
                todo.append(item)
            seen.setdefault((item.patient_code, sha), item.name)
        return todo

    def with_patients(self, todo: list[PlannedPhoto]) -> list[PlannedPhoto]:
        """Find or create each patient before any photo of theirs is analysed, so a patient
        this account may not create costs no analysis; their photos are refused."""
        problems: dict[str, str] = {}
        for code in dict.fromkeys(item.patient_code for item in todo):
            try:
                self.records.patient(code)
            except (PermissionDenied, ValueError, SQLAlchemyError) as error:
                problems[code] = f"patient {code} cannot be created: {error}"
        self.report.outcomes += [Outcome(item.name, "refused", problems[item.patient_code])
                                 for item in todo if item.patient_code in problems]
        return [item for item in todo if item.patient_code not in problems]

    def _bar(self, items: list[PlannedPhoto], what: str):  # noqa: ANN202 - a tqdm iterator
        from tqdm import tqdm

        return tqdm(items, desc=what, unit="photo", file=sys.stderr, disable=not self.progress,
                    dynamic_ncols=True)

    def _store(self, item: PlannedPhoto, photo: DecodedPhoto, analysis: Analysis) -> Outcome:
        """Runs in the store thread: the only thread that writes during the import."""
        try:
            patient_id = self.records.patient(item.patient_code)  # found or created already
            visit_id = self.records.visit(patient_id, item.visit_date)
            view = analysis.face.view if analysis.face.view in VIEWS else "front"
            with new_session(self.engine) as session:
                store_photo(session=session, actor=self.actor, photo_store=self.store,
                            visit_id=visit_id, photo=photo, analysis=analysis, view=view,
                            refuse_duplicate=True)
        except DuplicateError:
            return Outcome(item.name, "skipped", "already imported")
        except (PermissionDenied, ValueError, OSError, SQLAlchemyError) as error:
            return Outcome(item.name, "refused", f"not stored: {error}")
        return Outcome(item.name, "stored", quality_passed=analysis.quality.passed)

    def run(self, todo: list[PlannedPhoto], analyzer: PhotoAnalyzer) -> None:
        """Decode ahead, analyse here, store behind; on Ctrl-C the analysed photos are stored."""
        if not todo:
            return
        started = time.perf_counter()
        bar = self._bar(todo, "importing")
        decoder = ThreadPoolExecutor(1, thread_name_prefix="decode")
        writer = ThreadPoolExecutor(1, thread_name_prefix="store")
        decoded: deque[Future] = deque(decoder.submit(_decode, item) for item in todo[:DECODE_AHEAD])
        stores: deque[Future] = deque()

        def finish(outcome: Outcome) -> None:
            self.report.outcomes.append(outcome)
            bar.update(1)

        try:
            for index, item in enumerate(todo):
                photo = decoded.popleft().result()
                if index + DECODE_AHEAD < len(todo):
                    decoded.append(decoder.submit(_decode, todo[index + DECODE_AHEAD]))
                if isinstance(photo, str):
                    finish(Outcome(item.name, "refused", photo))
                    continue
                self.report.analysed += 1
                try:
                    analysis = analyzer.analyze(photo)
                except (ValueError, RuntimeError) as error:
                    finish(Outcome(item.name, "refused", f"analysis failed: {error}"))
                    continue
                stores.append(writer.submit(self._store, item, photo, analysis))
                while stores and (stores[0].done() or len(stores) > STORE_BEHIND):
                    finish(stores.popleft().result())
        finally:
            for future in decoded:
                future.cancel()
            decoder.shutdown(wait=True)
            while stores:  # each store is one unit: let the started ones finish
                finish(stores.popleft().result())
            writer.shutdown(wait=True)
            bar.close()
            self.report.import_seconds = time.perf_counter() - started


def import_folder(
    folder: Path,
    *,
    engine: Engine,
    photo_store: PhotoStore,
    actor: Account,
    get_analyzer: Callable[[], PhotoAnalyzer],
    limit: int | None = None,
    progress: bool = False,
) -> ImportReport:
    """Import `folder` (layout in the module docstring); `get_analyzer` is called only when a
    photo needs analysing, so a rerun over an imported folder loads no model.

    `limit` caps the photos analysed in this run (skipped ones do not count). On
    KeyboardInterrupt the photos analysed so far are stored, then the interrupt propagates.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit {limit} must be at least 1")
    started = time.perf_counter()
    planned, misplaced = plan_folder(folder)
    importer = _Importer(engine, photo_store, actor, progress)
    importer.report.outcomes += misplaced
    try:
        todo = importer.check(planned)[:limit]
        if todo:
            # The model first: when it cannot be loaded, no patient is created.
            analyzer = get_analyzer()
            importer.run(importer.with_patients(todo), analyzer)
    finally:
        importer.report.seconds = time.perf_counter() - started
    return importer.report


# ------------------------------------------------------------------------------------ command
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dashboard.batch_import", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.add_argument("--account", required=True, metavar="USERNAME",
                   help="the clinician or administrator account the photos are stored as")
    p.add_argument("--weights", type=Path, metavar="DIR", help="weights folder (default: settings)")
    p.add_argument("--limit", type=int, metavar="N", help="analyse and store at most N new photos")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.limit is not None and args.limit < 1:
        print(f"--limit {args.limit} must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    from core.settings import load_settings
    from db.engine import get_engine

    settings = load_settings()
    weights_dir = args.weights or settings.weights_dir
    engine = get_engine(settings.resolved_database_url)

    def get_analyzer() -> PhotoAnalyzer:
        import torch

        from core.pipeline import load_analyzer

        torch.set_num_threads(args.threads)
        return load_analyzer(weights_dir)

    try:
        actor = check_account(engine, args.account)
        report = import_folder(args.folder, engine=engine, photo_store=PhotoStore(settings.photo_dir),
                               actor=actor, get_analyzer=get_analyzer, limit=args.limit,
                               progress=not args.no_progress)
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
