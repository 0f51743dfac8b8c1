"""Import a folder of photos: patients and visits from the folder's layout, each photo through
the same route as the new-visit page (`usecases.visits`).

Folder layout (one folder per patient, one folder per visit date inside it):

    FOLDER/<patient code>/<YYYY-MM-DD>/<photos>     several patients
    FOLDER/<YYYY-MM-DD>/<photos>                    one patient: FOLDER's own name is the code

Photos may sit in subfolders of a visit folder (a camera's DCIM/100CANON export copied as is).
Hidden files (.DS_Store, ._IMG_0001.JPG) and Thumbs.db / desktop.ini are ignored; every other
file is read as a photo, and one that is not is refused with the reason. A symbolic link that
leads out of FOLDER is refused (a link must not pull a file from elsewhere on the machine into
a patient's record); links to folders are not followed.

Missing patients (by code) and visits (by date) are created with the account's rights. A photo
already stored for that patient (the same file bytes, by SHA-256) is skipped before it is
decoded, so an interrupted import (Ctrl-C, kill) is resumed by running it again. A photo that
fails the quality gate is stored with its analysis, as "Store it anyway" on the page does (the
visit page shows the problems), and counted in the summary.

While one photo is analysed the next one is decoded in a background thread and the previous
one is stored in another (decoding, PNG encoding and torch all release the GIL).
"""
from __future__ import annotations

import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from core.types import DecodedPhoto
from db.access import load_principal
from db.errors import DuplicateError, PermissionDenied
from db.models import Account, PatientCreate, check_patient_code
from db.photos import file_sha256
from db.repository import (
    create_patient,
    create_visit,
    find_duplicate_photo,
    get_account_by_username,
    list_patients,
    list_visits,
)
from db.repository.visits import check_visit_date
from usecases.clinic import Clinic
from usecases.visits import (
    CaptureDetails,
    CheckedPhoto,
    PhotoAnalyzer,
    StoreResult,
    StoreStatus,
    check_photo,
    decode_upload,
    store_checked_photo,
)

IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Photos decoded ahead of the one being analysed, and analysed photos waiting to be stored:
# two each keeps both helper threads busy without holding many 12 MP images in memory.
DECODE_AHEAD = 2
STORE_BEHIND = 2
OUTSIDE_LINK = "is a link to a place outside the imported folder; copy the photos into the folder"
FOLDER_LINK = "is a link to a folder; links to folders are not followed, copy the photos instead"


class BatchImportError(Exception):
    """The import cannot start (bad folder, unknown account, no rights); the message says why."""


@dataclass(frozen=True)
class PlannedPhoto:
    """A file to import, with the patient and visit its place in the folder gives it."""

    path: Path
    name: str  # path relative to the imported folder, for messages
    patient_code: str
    visit_date: date
    root: Path  # the imported folder, resolved: the file must still be inside it when read


@dataclass(frozen=True)
class Outcome:
    name: str
    status: StoreStatus
    reason: str | None = None
    quality_passed: bool | None = None
    finished_at: float = field(default_factory=time.perf_counter)


@dataclass
class ImportReport:
    outcomes: list[Outcome] = field(default_factory=list)
    analysed: int = 0  # photos the analyzer was run on
    seconds: float = 0.0  # the whole import
    import_seconds: float = 0.0  # from the model loaded to the last photo stored

    def count(self, status: StoreStatus) -> int:
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


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every link followed, is still inside `root` (resolved)."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop
        return False


def _link_problem(path: Path, root: Path) -> str | None:
    """Why a link may not be imported, or None for a plain file or a link within the folder."""
    if not path.is_symlink():
        return None
    if not _inside(path, root):
        return OUTSIDE_LINK
    if path.is_dir():
        return FOLDER_LINK
    return None


def _entries_below(folder: Path) -> list[Path]:
    """Files and links below `folder` in path order, hidden ones left out; links to folders
    are listed, never entered."""
    entries: list[Path] = []
    for base, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not _is_ignored(Path(d))]
        linked_dirs = [d for d in dirs if (Path(base) / d).is_symlink()]
        entries += [Path(base) / name for name in files + linked_dirs if not _is_ignored(Path(name))]
    return sorted(entries)


def _visit_date(name: str) -> date | str | None:
    """The date of a `YYYY-MM-DD` folder name; a sentence when it has that shape but names no
    day that exists (2026-02-30); None for any other name."""
    if not _DATE_RE.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return f"the visit folder {name} names a date that does not exist (YYYY-MM-DD)"


class _Planner:
    """Turns the folder into planned photos and the files refused because of where they are."""

    def __init__(self, root: Path) -> None:
        self.original = root
        self.root = root.resolve()
        self.planned: list[PlannedPhoto] = []
        self.refused: list[Outcome] = []

    def _name(self, path: Path) -> str:
        return str(path.relative_to(self.original))

    def refuse_all(self, below: Path, reason: str) -> None:
        entries = _entries_below(below) if below.is_dir() and not below.is_symlink() else [below]
        for path in entries:
            self.refused.append(Outcome(self._name(path), "refused", reason))

    def refuse_link(self, path: Path) -> bool:
        problem = _link_problem(path, self.root)
        if problem is not None:
            self.refused.append(Outcome(self._name(path), "refused", f"'{self._name(path)}' {problem}."))
        return problem is not None

    def patient(self, folder: Path, code: str) -> None:
        try:
            code = check_patient_code(code)
        except ValueError as error:
            self.refuse_all(folder, f"{error} (the folder name is used as the patient code)")
            return
        for child in sorted(folder.iterdir()):
            if _is_ignored(child) or self.refuse_link(child):
                continue
            visit_date = _visit_date(child.name) if child.is_dir() else None
            if visit_date is None:
                self.refuse_all(child, f"not inside a visit folder named by its date (YYYY-MM-DD) "
                                       f"in the folder of patient {code}")
                continue
            if isinstance(visit_date, str):
                self.refuse_all(child, visit_date)
                continue
            try:
                check_visit_date(visit_date)
            except ValueError as error:
                self.refuse_all(child, str(error))
                continue
            for path in _entries_below(child):
                if not self.refuse_link(path):
                    self.planned.append(
                        PlannedPhoto(path, self._name(path), code, visit_date, self.root))

    def plan(self) -> None:
        children = [child for child in sorted(self.original.iterdir()) if not _is_ignored(child)]
        if any(child.is_dir() and _visit_date(child.name) for child in children):
            self.patient(self.original, self.root.name)
            return
        for child in children:
            if self.refuse_link(child):
                continue
            if child.is_dir():
                self.patient(child, child.name)
            else:
                self.refused.append(Outcome(
                    child.name, "refused",
                    "not inside a patient folder (FOLDER/<patient code>/<YYYY-MM-DD>/)"))


def plan_folder(folder: Path) -> tuple[list[PlannedPhoto], list[Outcome]]:
    """The photos of `folder` with their patient code and visit date, and the files refused
    because of where they are. A folder with `YYYY-MM-DD` subfolders is one patient's folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BatchImportError(f"'{folder}' is not a folder.")
    planner = _Planner(folder)
    planner.plan()
    return planner.planned, planner.refused


def _read(item: PlannedPhoto) -> bytes | str:
    """The file's bytes, or why it cannot be read; checked again at reading time, so a file
    swapped for a link after planning is refused too."""
    if not _inside(item.path, item.root):
        return f"'{item.name}' {OUTSIDE_LINK}."
    try:
        return item.path.read_bytes()
    except OSError as error:
        return f"'{item.name}' could not be read ({error.strerror or error})."


def _read_and_decode(item: PlannedPhoto) -> DecodedPhoto | str:
    data = _read(item)
    return data if isinstance(data, str) else decode_upload(data, item.path.name)


# ------------------------------------------------------------------------------------ the import
class _Records:
    """Patients and visits found or created, cached by code and date (one query each)."""

    def __init__(self, clinic: Clinic, actor: Account) -> None:
        self.clinic, self.actor = clinic, actor
        self.patients: dict[str, int | None] = {}
        self.visits: dict[tuple[int, date], int] = {}

    def _find_patient(self, code: str) -> int | None:
        with self.clinic.session() as session:
            found = [p for p in list_patients(session=session, actor=self.actor, search=code)
                     if p.code == code]
        return found[0].id if found else None

    def find_patient(self, code: str) -> int | None:
        if code not in self.patients:
            self.patients[code] = self._find_patient(code)
        return self.patients[code]

    def patient(self, code: str) -> int:
        patient_id = self.find_patient(code)
        if patient_id is None:
            with self.clinic.session() as session:
                try:
                    patient_id = create_patient(session=session, actor=self.actor,
                                                data=PatientCreate(code=code)).id
                except DuplicateError as error:
                    # Another import (or a person) created it since we looked: use theirs when
                    # this account may see it; otherwise the code belongs to someone else.
                    patient_id = self._find_patient(code)
                    if patient_id is None:
                        raise PermissionDenied(f"{error}, by a patient this account may not see") from None
            self.patients[code] = patient_id
        return patient_id

    def visit(self, patient_id: int, visit_date: date) -> int:
        key = (patient_id, visit_date)
        if key not in self.visits:
            with self.clinic.session() as session:
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
        with self.clinic.session() as session:
            return find_duplicate_photo(session=session, actor=self.actor, patient_id=patient_id,
                                        upload_sha256=sha256) is not None


def check_account(clinic: Clinic, username: str) -> Account:
    """The account to import as; raises BatchImportError when it is unknown or may not add photos."""
    try:
        with clinic.session() as session:
            account = get_account_by_username(session=session, username=username)
            if account is None:
                raise BatchImportError(f"There is no account named '{username}'.")
            principal = load_principal(session, account)
    except SQLAlchemyError as error:
        raise BatchImportError(
            f"The database cannot be read ({type(error).__name__}); run "
            "`python -m usecases.cli.migrate` and create an account in the app first."
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
    def __init__(self, clinic: Clinic, actor: Account, progress: bool) -> None:
        self.records = _Records(clinic, actor)
        self.clinic, self.actor = clinic, actor
        self.progress = progress
        self.report = ImportReport()

    def check(self, planned: list[PlannedPhoto]) -> list[PlannedPhoto]:
        """Skip photos already stored (hash and one query each, nothing decoded)."""
        todo: list[PlannedPhoto] = []
        seen: dict[tuple[str, str], str] = {}
        for item in self._bar(planned, "checking"):
            try:
                sha = file_sha256(item.path)
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

    def _store(self, item: PlannedPhoto, checked: CheckedPhoto) -> Outcome:
        """Runs in the store thread: the only thread that writes during the import."""
        try:
            visit_id = self.records.visit(self.records.patient(item.patient_code), item.visit_date)
        except (PermissionDenied, ValueError, SQLAlchemyError) as error:
            return Outcome(item.name, "refused", f"not stored: {error}")
        result: StoreResult = store_checked_photo(
            self.clinic, self.actor, visit_id=visit_id, checked=checked,
            details=CaptureDetails.from_photo(checked))
        reason = "already imported" if result.status == "skipped" else result.reason
        return Outcome(item.name, result.status, reason, quality_passed=result.quality_passed)

    def run(self, todo: list[PlannedPhoto], analyzer: PhotoAnalyzer) -> None:
        """Decode ahead, check and analyse here, store behind; on Ctrl-C the analysed photos
        are stored."""
        if not todo:
            return
        started = time.perf_counter()
        bar = self._bar(todo, "importing")
        decoder = ThreadPoolExecutor(1, thread_name_prefix="decode")
        writer = ThreadPoolExecutor(1, thread_name_prefix="store")
        decoded: deque[Future] = deque(decoder.submit(_read_and_decode, item) for item in todo[:DECODE_AHEAD])
        stores: deque[Future] = deque()

        def finish(outcome: Outcome) -> None:
            self.report.outcomes.append(outcome)
            bar.update(1)

        try:
            for index, item in enumerate(todo):
                photo = decoded.popleft().result()
                if index + DECODE_AHEAD < len(todo):
                    decoded.append(decoder.submit(_read_and_decode, todo[index + DECODE_AHEAD]))
                if isinstance(photo, str):
                    finish(Outcome(item.name, "refused", photo))
                    continue
                checked = check_photo(
                    self.clinic, self.actor, patient_id=self.records.patient(item.patient_code),
                    filename=item.path.name, photo=photo, analyzer=analyzer)
                if checked.duplicate is not None:
                    finish(Outcome(item.name, "skipped", "already imported"))
                    continue
                self.report.analysed += 1
                if checked.error is not None:
                    finish(Outcome(item.name, "refused", checked.error))
                    continue
                stores.append(writer.submit(self._store, item, checked))
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
    clinic: Clinic,
    actor: Account,
    folder: Path,
    *,
    get_analyzer: Callable[[], PhotoAnalyzer],
    limit: int | None = None,
    progress: bool = False,
) -> ImportReport:
    """Import `folder` (layout in the module docstring) as `actor`; `get_analyzer` is called
    only when a photo needs analysing, so a rerun over an imported folder loads no model.

    `limit` caps the photos analysed in this run (skipped ones do not count). On
    KeyboardInterrupt the photos analysed so far are stored, then the interrupt propagates.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit {limit} must be at least 1")
    started = time.perf_counter()
    planned, misplaced = plan_folder(folder)
    importer = _Importer(clinic, actor, progress)
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
