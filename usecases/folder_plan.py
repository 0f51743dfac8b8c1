"""Where a folder's photos go: patients and visits from the folder's layout, files refused
because of where they are, and the check that no file comes from outside the folder.

Folder layout (one folder per patient, one folder per visit date inside it):

    FOLDER/<patient code>/<YYYY-MM-DD>/<photos>     several patients
    FOLDER/<YYYY-MM-DD>/<photos>                    one patient: FOLDER's own name is the code

Photos may sit in subfolders of a visit folder (a camera's DCIM/100CANON export copied as is).
Hidden files (.DS_Store, ._IMG_0001.JPG) and Thumbs.db / desktop.ini are ignored; every other
file is read as a photo (`usecases.folder_import`), and one that is not is refused with the
reason. A symbolic link that leads out of FOLDER is refused (a link must not pull a file from
elsewhere on the machine into a patient's record); links to folders are not followed. A visit
folder named by a date that does not exist (2026-02-30) is told so.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from db.models import check_patient_code
from db.repository.visits import check_visit_date
from usecases.visits import StoreStatus

IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
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


def read_planned(item: PlannedPhoto) -> bytes | str:
    """The file's bytes, or why it cannot be read; checked again at reading time, so a file
    swapped for a link after planning is refused too."""
    if not _inside(item.path, item.root):
        return f"'{item.name}' {OUTSIDE_LINK}."
    try:
        return item.path.read_bytes()
    except OSError as error:
        return f"'{item.name}' could not be read ({error.strerror or error})."
