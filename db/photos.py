"""Content-addressed photo store on disk: `<root>/<sha[:2]>/<sha><ext>`.

A file is named by the SHA-256 of its bytes, so storing the same bytes twice is free and a
file is never changed once written. Writes go to a temporary file that is fsynced and then
linked into place, so a reader never sees half a photo. Nothing is written outside `root`.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

ALLOWED_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp"})
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_TEMP_PREFIX = ".tmp-"


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

    def remove_stale_temp_files(self, older_than_s: float) -> int:
        """Delete temporary files left by a crash during `put`; return how many."""
        removed = 0
        now = time.time()
        for path in self.root.glob(f"??/{_TEMP_PREFIX}*"):
            if path.is_file() and now - path.stat().st_mtime > older_than_s:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
