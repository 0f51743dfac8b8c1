"""Where a folder's photos go: patients and visits from the folder's layout, files refused
because of where they are, and the check that no file comes from outside the folder.

Folder layout (one folder per patient, one folder per visit date inside it):

    FOLDER/<patient code>/<YYYY-MM-DD>/<photos>     several patients
    FOLDER/<YYYY-MM-DD>/<photos>                    one patient: FOLDER's own name is the code

Photos may sit in subfolders of a visit folder (a camera's DCIM/100CANON export copied as is).
Close-ups (photos of skin without a whole face): a subfolder of the visit folder named
`close-up` (or `closeup`), or named by a body site (`left-cheek`, `chin`, `back`, ...; also
`close-up-left-cheek`), or a file whose name starts with `close-up` (`close-up-chin-1.jpg`)
makes its photos close-ups, with that body site when one is named (`capture_hint`). A photo in
which the model finds no face is a close-up whatever its place.
Hidden files (.DS_Store, ._IMG_0001.JPG) and Thumbs.db / desktop.ini are ignored; every other
file is read as a photo (`usecases.folder_import`), and one that is not is refused with the
reason. A symbolic link that leads out of FOLDER is refused (a link must not pull a file from
elsewhere on the machine into a patient's record); links to folders are not followed. A visit
folder named by a date that does not exist (2026-02-30) is told so.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from core.types import BODY_SITES, CLOSE_UP_VIEW
from db.models import check_patient_code
from db.repository.visits import check_visit_date
from usecases.visits import StoreStatus

IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OUTSIDE_LINK = "is a link to a place outside the imported folder; copy the photos into the folder"
FOLDER_LINK = "is a link to a folder; links to folders are not followed, copy the photos instead"
CHANGED_TO_LINK = ("became a link while it was imported (a link is never followed when a photo is "
                   "read); it was not read")
# The largest photo file read (core.imaging.decode_photo's own limit): refused from its size
# on disk before a byte of it is read.
MAX_FILE_BYTES = 60_000_000
_CHUNK = 1 << 20


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
    view: str | None = None  # "close-up" when its place says so (capture_hint), else unknown
    body_site: str | None = None  # the close-up's body site its place names (BODY_SITES)


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


_CLOSE_UP_WORDS = ("close-up", "closeup", "close_up", "close up")


def _site_of(text: str) -> str | None:
    """The body site a name spells ('Left-Cheek', 'left_cheek', 'left cheek' -> 'left_cheek')."""
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    return key if key in BODY_SITES else None


def capture_hint(parts: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(view, body site) that a photo's place below its visit folder gives: `parts` are the
    subfolder names and the file name. ("close-up", site or None) for a close-up, (None, None)
    when the place says nothing (the view then comes from the photo itself)."""
    view, site = None, None
    *folders, filename = parts or ("",)
    stem = Path(filename).stem.lower()
    names = [folder.lower() for folder in folders]
    for name in names:
        rest = next((name[len(word):] for word in _CLOSE_UP_WORDS if name.startswith(word)), None)
        if rest is not None:
            view = CLOSE_UP_VIEW
            site = _site_of(rest.strip(" -_")) or site
        elif _site_of(name):
            view, site = CLOSE_UP_VIEW, _site_of(name)
    rest = next((stem[len(word):] for word in _CLOSE_UP_WORDS if stem.startswith(word)), None)
    if rest is not None:
        view = CLOSE_UP_VIEW
        words = [w for w in re.split(r"[\s\-_]+", rest) if w and not w.isdigit()]
        for size in (2, 1):  # 'left-cheek' before 'left'
            found = _site_of("_".join(words[:size])) if len(words) >= size else None
            if found:
                site = found
                break
    return view, site


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
                    view, site = capture_hint(path.relative_to(child).parts)
                    self.planned.append(PlannedPhoto(path, self._name(path), code, visit_date,
                                                     self.root, view=view, body_site=site))

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


class RefusedFile(Exception):
    """A planned file that is not read; the message is the sentence for the import's list."""


def _open_planned(item: PlannedPhoto) -> int:
    """A descriptor of the planned file, opened once and without following any link: the
    file's place inside the folder is found first (a link within the folder leads to its
    target), then every folder on the way and the file itself are opened with O_NOFOLLOW, so
    a file or folder swapped for a link meanwhile is refused, never read. Named pipes,
    sockets and devices are refused, and so is a file over `MAX_FILE_BYTES`, from the open
    descriptor's fstat (nothing is read). Raises RefusedFile."""
    try:
        target = Path(os.path.realpath(item.path))
    except (OSError, RuntimeError):  # a link loop
        target = None
    if target is None or not target.is_relative_to(item.root) or target == item.root:
        raise RefusedFile(f"'{item.name}' {OUTSIDE_LINK}.")
    parts = target.relative_to(item.root).parts
    nofollow = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fds: list[int] = []
    try:
        fds.append(os.open(item.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        for part in parts[:-1]:
            fds.append(os.open(part, nofollow | os.O_DIRECTORY, dir_fd=fds[-1]))
        # O_NONBLOCK: opening a named pipe does not wait for a writer (it is refused below).
        fd = os.open(parts[-1], nofollow | os.O_NONBLOCK, dir_fd=fds[-1])
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise RefusedFile(f"'{item.name}' {CHANGED_TO_LINK}.") from None
        raise RefusedFile(f"'{item.name}' could not be read ({error.strerror or error}).") from None
    finally:
        for opened in fds:
            os.close(opened)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RefusedFile(f"'{item.name}' is {_kind_of(info.st_mode)}, not a photo file; it was skipped.")
        if info.st_size > MAX_FILE_BYTES:
            raise RefusedFile(_too_large(item.name, info.st_size))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a plain file"


def _too_large(name: str, size: int) -> str:
    return (f"'{name}' is {size / 1e6:.1f} MB; the largest photo accepted is "
            f"{MAX_FILE_BYTES / 1e6:.0f} MB.")


def sha256_planned(item: PlannedPhoto) -> str:
    """The SHA-256 of the planned file, read from one descriptor opened as `_open_planned`
    does (raises RefusedFile)."""
    fd = _open_planned(item)
    digest = hashlib.sha256()
    try:
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
    except OSError as error:
        raise RefusedFile(f"'{item.name}' could not be read ({error.strerror or error}).") from None
    finally:
        os.close(fd)
    return digest.hexdigest()


def read_planned(item: PlannedPhoto) -> bytes | str:
    """The file's bytes, or why it is not read. The bytes come from the one descriptor
    `_open_planned` checked (no link followed, a regular file, not over the size limit), so
    a file swapped for a link after planning, or between the check and the read, is refused."""
    try:
        fd = _open_planned(item)
    except RefusedFile as refused:
        return str(refused)
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := os.read(fd, _CHUNK):
            total += len(chunk)
            if total > MAX_FILE_BYTES:  # it grew after the fstat
                return _too_large(item.name, total)
            chunks.append(chunk)
    except OSError as error:
        return f"'{item.name}' could not be read ({error.strerror or error})."
    finally:
        os.close(fd)
    return b"".join(chunks)
