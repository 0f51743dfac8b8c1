"""Import a folder of photos (the layout and what is refused: `usecases.folder_plan`): missing
patients (by code) and visits (by date) are created with the account's rights, and each photo
goes through the same route as the new-visit page (`usecases.visits`).

A photo already stored for that patient (the same file bytes, by SHA-256) is skipped before it
is decoded, so an interrupted import (Ctrl-C, kill) is resumed by running it again. A photo that
fails the quality gate is stored with its analysis, as "Store it anyway" on the page does (the
visit page shows the problems), and counted in the summary. Two imports of overlapping folders
at once both finish: a patient the other one created meanwhile is found, not refused.

While one photo is analysed the next one is decoded in a background thread and the previous
one is stored in another (decoding, PNG encoding and torch all release the GIL).
"""
from __future__ import annotations

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
from core.words import plural
from db.access import load_principal
from db.errors import DuplicateError, PermissionDenied
from db.models import Account, PatientCreate
from db.repository import (
    create_patient,
    create_visit,
    find_duplicate_photo,
    get_account_by_username,
    list_patients,
    list_visits,
)
from usecases.clinic import Clinic
from usecases.folder_plan import (
    BatchImportError,
    Outcome,
    PlannedPhoto,
    RefusedFile,
    plan_folder,
    read_planned,
    sha256_planned,
)
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

__all__ = ["BatchImportError", "ImportReport", "Outcome", "check_account", "import_folder", "plan_folder"]

# Photos decoded ahead of the one being analysed, and analysed photos waiting to be stored:
# two each keeps both helper threads busy without holding many 12 MP images in memory.
DECODE_AHEAD = 2
STORE_BEHIND = 2
# Two photos analysed at once: one analysis leaves a core idle between its network runs (face
# search, lesions, colour run on one core), so one at a time used 1.6 of the 2 cores.
ANALYSES_AT_ONCE = 2


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
            f"Stored {plural(stored, 'photo')} ({poor} with quality problems), "
            f"skipped {self.count('skipped')} already imported, refused {len(self.refused)}; "
            f"{self.seconds:.1f} s{rate}."
        )


def _read_and_decode(item: PlannedPhoto) -> DecodedPhoto | str:
    data = read_planned(item)
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
        # Why, in words: a full disk is not a missing migration (issue 24).
        from db.engine import storage_problem

        url = clinic.engine.url.render_as_string(hide_password=False)
        root = getattr(clinic.photo_store, "root", None)
        problem = storage_problem(error, url, [Path(root)] if root is not None else [])
        raise BatchImportError(f"{problem[:1].upper()}{problem[1:]}.") from error
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
            try:  # one descriptor, no link followed, no pipe waited on, size from its fstat
                sha = sha256_planned(item)
            except RefusedFile as refused:
                self.report.outcomes.append(Outcome(item.name, "refused", str(refused)))
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
                from db.engine import DISK_FULL, disk_full_error

                reason = DISK_FULL if disk_full_error(error) else error  # issue 24
                problems[code] = f"patient {code} cannot be created: {reason}"
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
            details=CaptureDetails.from_photo(checked, item.body_site, view=item.view))
        reason = "already imported" if result.status == "skipped" else result.reason
        return Outcome(item.name, result.status, reason, quality_passed=result.quality_passed)

    def run(self, todo: list[PlannedPhoto], analyzer: PhotoAnalyzer) -> None:
        """Decode ahead, analyse ANALYSES_AT_ONCE at a time, store behind, in the folder's order;
        on Ctrl-C the analysed photos are stored."""
        if not todo:
            return
        started = time.perf_counter()
        bar = self._bar(todo, "importing")
        decoder = ThreadPoolExecutor(1, thread_name_prefix="decode")
        analysts = ThreadPoolExecutor(ANALYSES_AT_ONCE, thread_name_prefix="analyse")
        writer = ThreadPoolExecutor(1, thread_name_prefix="store")
        decoded: deque[Future] = deque(decoder.submit(_read_and_decode, item) for item in todo[:DECODE_AHEAD])
        # In the folder's order: (photo, its analysis) or (photo, why it cannot be read).
        analysing: deque[tuple[PlannedPhoto, Future | str]] = deque()
        stores: deque[Future] = deque()

        def finish(outcome: Outcome) -> None:
            self.report.outcomes.append(outcome)
            bar.update(1)

        def analysed(item: PlannedPhoto, checking: Future | str) -> None:
            if isinstance(checking, str):
                finish(Outcome(item.name, "refused", checking))
                return
            checked: CheckedPhoto = checking.result()
            self.report.analysed += 1
            if checked.error is not None:
                finish(Outcome(item.name, "refused", checked.error))
                return
            stores.append(writer.submit(self._store, item, checked))
            while stores and (stores[0].done() or len(stores) > STORE_BEHIND):
                finish(stores.popleft().result())

        try:
            for index, item in enumerate(todo):
                photo = decoded.popleft().result()
                if index + DECODE_AHEAD < len(todo):
                    decoded.append(decoder.submit(_read_and_decode, todo[index + DECODE_AHEAD]))
                if isinstance(photo, str):
                    analysing.append((item, photo))
                else:
                    # No duplicate query here: `check` looked every file up already, and the
                    # store looks again inside its write (a photo another import stored meanwhile).
                    analysing.append((item, analysts.submit(
                        check_photo, self.clinic, self.actor, patient_id=None,
                        filename=item.path.name, photo=photo, analyzer=analyzer,
                        analyses_at_once=ANALYSES_AT_ONCE)))
                while analysing and (len(analysing) > ANALYSES_AT_ONCE or isinstance(analysing[0][1], str)
                                     or analysing[0][1].done()):
                    analysed(*analysing.popleft())
            while analysing:
                analysed(*analysing.popleft())
        finally:
            for future in decoded:
                future.cancel()
            decoder.shutdown(wait=True)
            # Photos whose analysis finished are stored; one interrupted is not.
            while analysing:
                item, checking = analysing.popleft()
                try:
                    analysed(item, checking)
                except BaseException:  # noqa: BLE001 - the interruption itself is re-raised above
                    continue
            analysts.shutdown(wait=True)
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
