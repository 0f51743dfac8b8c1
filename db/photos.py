"""Content-addressed photo store on disk: `<root>/<sha[:2]>/<sha><ext>`.

A file is named by the SHA-256 of its bytes, so storing the same bytes twice is free and a
file is never changed once written. Writes go to a temporary file that is fsynced and then
linked into place, so a reader never sees half a photo. Nothing is written outside `root`.

The store never deletes a photo on its own. Files no row points to are moved to
`<root>/quarantine/<UTC time>/` (`quarantine`), from where they can be put back
(`release_from_quarantine`) or, by an explicit command, removed (`empty_quarantine`).
`<root>/store-identity` names the database the store belongs to (db.store_identity).
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

ALLOWED_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp"})
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_TEMP_PREFIX = ".tmp-"
QUARANTINE_DIR = "quarantine"
IDENTITY_FILE = "store-identity"
_QUARANTINE_BATCH_RE = re.compile(r"^\d{8}T\d{6}(\.\d+)?Z$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (photo and backup files may be large)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def encode_mask(mask: np.ndarray) -> bytes:
    """A uint8 mask (lesion types, probabilities) as lossless PNG bytes, the stored form."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask)).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def decode_mask(data: bytes) -> np.ndarray:
    """Inverse of `encode_mask`."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image).copy()


def _check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise ValueError(f"{sha256!r} is not a SHA-256 hex digest (64 lowercase hex digits)")
    return sha256


def normalise_extension(extension: str) -> str:
    normalised = extension.lower() if isinstance(extension, str) else extension
    if normalised not in ALLOWED_EXTENSIONS:
        allowed = ", ".join(sorted(ALLOWED_EXTENSIONS))
        raise ValueError(f"file extension {extension!r} is not one of {allowed}")
    return normalised


def fsync_dir(folder: Path) -> None:
    # Makes the new directory entry itself durable, not only the file's bytes.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PhotoStore:
    """Photo and mask files, named by content, under one private folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)  # patient photos: owner only, whatever the umask

    def path_for(self, sha256: str, extension: str) -> Path:
        """Where the file with this digest and extension lives (it may not exist)."""
        sha256 = _check_sha(sha256)
        return self.root / sha256[:2] / f"{sha256}{normalise_extension(extension)}"

    def put(self, data: bytes, extension: str) -> str:
        """Store `data` (idempotent) and return its SHA-256."""
        return self.put_checked(data, extension)[0]

    def put_checked(self, data: bytes, extension: str) -> tuple[str, bool]:
        """Store `data`; return its SHA-256 and whether this call created the file."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"photo data must be bytes, not {type(data).__name__}")
        sha256 = sha256_hex(bytes(data))
        target = self.path_for(sha256, extension)
        if target.exists():
            return sha256, False
        folder = target.parent
        folder.mkdir(exist_ok=True, mode=0o700)
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=target.suffix, dir=folder)
        temp_path = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            created = self._link_into_place(temp_path, target)
            fsync_dir(folder)
        finally:
            temp_path.unlink(missing_ok=True)
        return sha256, created

    @staticmethod
    def _link_into_place(temp_path: Path, target: Path) -> bool:
        # A hard link fails if the target exists, which tells us exactly who created the file.
        try:
            os.link(temp_path, target)
            return True
        except FileExistsError:
            return False
        except OSError:
            # File systems without hard links: rename is atomic too, and the bytes are equal.
            existed = target.exists()
            os.replace(temp_path, target)
            return not existed

    def read(self, sha256: str, extension: str) -> bytes:
        path = self.path_for(sha256, extension)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"stored file {sha256}{extension} is missing") from None

    def exists(self, sha256: str, extension: str) -> bool:
        return self.path_for(sha256, extension).is_file()

    def delete(self, sha256: str, extension: str) -> bool:
        """Remove a file; return False when it was already gone."""
        path = self.path_for(sha256, extension)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def age_seconds(self, sha256: str, extension: str) -> float:
        """Seconds since the file was written."""
        return time.time() - self.path_for(sha256, extension).stat().st_mtime

    def iter_files(self) -> Iterator[tuple[str, str]]:
        """Every stored file as (sha256, extension); temporary and foreign files are skipped."""
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for path in sorted(folder.iterdir()):
                stem, extension = path.stem, path.suffix.lower()
                if (
                    path.is_file()
                    and _SHA256_RE.match(stem)
                    and stem[:2] == folder.name
                    and extension in ALLOWED_EXTENSIONS
                ):
                    yield stem, extension

    def verify(self, sha256: str, extension: str) -> bool:
        """True when the file's bytes still hash to its name."""
        return sha256_hex(self.read(sha256, extension)) == sha256

    def stale_temp_files(self, older_than_s: float) -> list[Path]:
        """Temporary files left by a crash during `put`, older than `older_than_s`."""
        now = time.time()
        return sorted(
            path for path in self.root.glob(f"??/{_TEMP_PREFIX}*")
            if path.is_file() and now - path.stat().st_mtime > older_than_s
        )

    # ----------------------------------------------------------------- quarantine
    @property
    def quarantine_root(self) -> Path:
        return self.root / QUARANTINE_DIR

    def new_quarantine_batch(self) -> Path:
        """A new folder for one repair's files, named by the UTC time (sortable)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        for folder in (self.quarantine_root, self.quarantine_root / stamp):
            folder.mkdir(exist_ok=folder == self.quarantine_root, mode=0o700)
            os.chmod(folder, 0o700)  # patient photos: owner only, whatever the umask
        return self.quarantine_root / stamp

    def quarantine(self, sha256: str, extension: str, batch: Path) -> bool:
        """Move a stored file into the quarantine folder `batch`; False when already gone."""
        return self._move(self.path_for(sha256, extension), batch)

    def quarantine_path(self, path: Path, batch: Path) -> bool:
        """Move a file of the store (a stale temporary file) into `batch`."""
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"{path} is not inside the photo folder {self.root}")
        return self._move(path, batch)

    @staticmethod
    def _move(source: Path, batch: Path) -> bool:
        try:
            # Same file system: an atomic rename, never a copy and a delete.
            os.rename(source, batch / source.name)
        except FileNotFoundError:
            return False
        fsync_dir(batch)
        return True

    def quarantined_files(self) -> dict[tuple[str, str], Path]:
        """Every photo or mask file in quarantine, by (sha256, extension), newest batch first."""
        found: dict[tuple[str, str], Path] = {}
        for batch in self.quarantine_batches():
            for path in sorted(batch.iterdir()):
                stem, extension = path.stem, path.suffix.lower()
                if path.is_file() and _SHA256_RE.match(stem) and extension in ALLOWED_EXTENSIONS:
                    found.setdefault((stem, extension), path)
        return found

    def quarantine_batches(self) -> list[Path]:
        """The quarantine folders, newest first."""
        if not self.quarantine_root.is_dir():
            return []
        batches = [p for p in self.quarantine_root.iterdir()
                   if p.is_dir() and _QUARANTINE_BATCH_RE.match(p.name)]
        return sorted(batches, reverse=True)

    def release_from_quarantine(self, sha256: str, extension: str) -> bool:
        """Put a quarantined file back in the store when its bytes still match its name."""
        source = self.quarantined_files().get((sha256, normalise_extension(extension)))
        if source is None or file_sha256(source) != sha256:
            return False
        target = self.path_for(sha256, extension)
        target.parent.mkdir(exist_ok=True, mode=0o700)
        try:
            os.link(source, target)
        except FileExistsError:
            pass
        source.unlink()
        fsync_dir(target.parent)
        return True

    def empty_quarantine(self, older_than_s: float = 0.0) -> int:
        """Delete quarantine folders older than `older_than_s`; return how many files went.

        The only place the store deletes a photo file, and only on an explicit command."""
        removed = 0
        now = datetime.now(timezone.utc)
        for batch in self.quarantine_batches():
            made = datetime.strptime(batch.name.split(".")[0], "%Y%m%dT%H%M%S").replace(
                tzinfo=timezone.utc)
            if (now - made).total_seconds() < older_than_s:
                continue
            for path in batch.iterdir():
                if path.is_file():
                    path.unlink()
                    removed += 1
            batch.rmdir()
        return removed

    # ----------------------------------------------------------------- identity
    @property
    def identity_path(self) -> Path:
        return self.root / IDENTITY_FILE

    def read_identity(self) -> str | None:
        """The id of the database this store belongs to, or None when not yet bound."""
        try:
            return self.identity_path.read_text(encoding="ascii").strip() or None
        except FileNotFoundError:
            return None

    def write_identity(self, database_id: str) -> str:
        """Bind the store to `database_id` unless it is bound already; return the bound id.

        Created exclusively, so two processes binding at once agree on one id."""
        try:
            fd = os.open(self.identity_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.read_identity() or ""
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(database_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(self.root)
        return database_id

    def forget_identity(self) -> None:
        """Remove the binding (a restore into an empty store makes a new pair)."""
        self.identity_path.unlink(missing_ok=True)

    def has_files(self) -> bool:
        """True when the store holds at least one photo or mask file."""
        return next(self.iter_files(), None) is not None

    def leftover_count(self) -> int:
        """Files of any kind under the folder other than the identity (a restore needs none)."""
        return sum(1 for p in self.root.rglob("*") if p.is_file() and p != self.identity_path)
