"""`weights/manifest.json`: the one place that says which model files are installed.

Code never hard-codes a weight file name: it asks the manifest, which names each file with its
SHA-256 so a missing or corrupt file is a clear error naming the file, never a silent fallback.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelNotInstalledError, WeightsError

MANIFEST_NAME = "manifest.json"
# The repository's own weights folder: where `analyze` and `evaluate` look unless told otherwise.
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
# face_*: the face detector's three networks (core.mtcnn), one file each.
# typicality: core.typicality's parameters (file) and encoder graph (onnx).
ROLES: tuple[str, ...] = ("segmenter", "grader", "hf_grader", "face_pnet", "face_rnet", "face_onet",
                          "typicality")


@dataclass(frozen=True)
class ModelEntry:
    role: str
    name: str
    version: str
    path: Path  # a file, or a folder for a Hugging Face model
    sha256: str | None
    config_path: Path | None
    metrics: dict
    use: str = "grader"  # hf_grader only: "grader" (replaces the count grader) or "second_opinion"
    # segmenter: the same network as an ONNX graph (core.onnx_engine), with its own checksum;
    # typicality: its encoder graph
    onnx_path: Path | None = None
    onnx_sha256: str | None = None
    config_sha256: str | None = None  # the config file's (segmenter.json) own checksum


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def weights_file(weights_dir: Path | str, name: object, role: str = "") -> Path:
    """The file `name` (a manifest's "file", "config" or "onnx") inside `weights_dir`: a plain
    relative name, no `..`, not absolute, and no link that leads out of the folder. Anything
    else is refused with a WeightsError naming it, so a manifest cannot make a model read a file
    from elsewhere on the machine."""
    weights_dir = Path(weights_dir)
    what = f"model {role!r}'s file" if role else "file"
    if not isinstance(name, str) or not name.strip():
        raise WeightsError(f"The manifest in {weights_dir} names {what} {name!r}, which is not a file "
                           "name; it is refused.")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or "\\" in name:
        raise WeightsError(f"The manifest in {weights_dir} names {what} {name!r} outside the weights "
                           "folder; only files inside the folder are loaded.")
    path = weights_dir / relative
    try:
        inside = path.resolve().is_relative_to(weights_dir.resolve())
    except (OSError, RuntimeError):  # a link loop
        inside = False
    if not inside:
        raise WeightsError(f"The model file {path} is a link that leads out of the weights folder; "
                           "only files inside the folder are loaded.")
    return path


def _checksum(item: dict, field: str, checksum: str, role: str, manifest: Path) -> str | None:
    """The SHA-256 the manifest gives for `item[field]` (None when the entry names no such file
    or gives no checksum: such a file is refused when a model would load it, `verified_file`);
    a WeightsError sentence when the checksum is not one."""
    if not item.get(field) or item.get(checksum) is None:
        return None
    value = item.get(checksum)
    if not isinstance(value, str) or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise WeightsError(
            f"The model file {item[field]} (model {role!r}) has no valid SHA-256 ({checksum}) in "
            f"{manifest}, so it cannot be checked and is not loaded; list it with its checksum."
        )
    return value


def read_manifest(weights_dir: Path | str) -> dict[str, ModelEntry]:
    """Entries by role. Raises ModelNotInstalledError when no model is installed at all."""
    weights_dir = Path(weights_dir)
    path = weights_dir / MANIFEST_NAME
    if not path.is_file():
        raise ModelNotInstalledError(
            f"No model is installed: {path} does not exist. Train one (see weights/MODEL_CARD.md) "
            "or copy a release's weights folder there."
        )
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON: {exc}") from exc
    models = raw.get("models") if isinstance(raw, dict) else None
    if not isinstance(models, dict) or not models:
        raise ModelNotInstalledError(f"No model is installed: {path} lists no models.")
    entries: dict[str, ModelEntry] = {}
    for role, item in models.items():
        if role not in ROLES:
            raise WeightsError(f"{path}: unknown model role {role!r}; valid roles: {', '.join(ROLES)}")
        try:
            entries[role] = ModelEntry(
                role=role,
                name=str(item["name"]),
                version=str(item["version"]),
                path=weights_file(weights_dir, item["file"], role),
                sha256=_checksum(item, "file", "sha256", role, path),
                config_path=weights_file(weights_dir, item["config"], role) if item.get("config") else None,
                metrics=dict(item.get("metrics", {})),
                use=str(item.get("use", "second_opinion" if role == "hf_grader" else "grader")),
                onnx_path=weights_file(weights_dir, item["onnx"], role) if item.get("onnx") else None,
                onnx_sha256=_checksum(item, "onnx", "onnx_sha256", role, path),
                config_sha256=_checksum(item, "config", "config_sha256", role, path),
            )
        except (KeyError, TypeError) as exc:
            raise WeightsError(f"{path}: model {role!r} lacks field {exc}") from exc
        if entries[role].use not in ("grader", "second_opinion"):
            raise WeightsError(f"{path}: model {role!r} has use {entries[role].use!r}; valid: "
                               "grader, second_opinion")
    return entries


def _no_checksum(path: Path) -> WeightsError:
    return WeightsError(f"Weight file {path} has no SHA-256 in the manifest, so it cannot be "
                        "checked and is not loaded; list it with its checksum.")


def _mismatch(path: Path, actual: str, sha256: str) -> WeightsError:
    return WeightsError(
        f"Weight file {path} is corrupt: SHA-256 {actual[:12]}... does not match "
        f"the manifest's {sha256[:12]}..."
    )


def folder_sha256(folder: Path) -> str:
    """One SHA-256 for a model folder (a Hugging Face model): of every file's relative name and
    SHA-256, in name order. A link inside the folder is refused."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if not p.is_dir()):
        if path.is_symlink() or not path.is_file():
            raise WeightsError(f"{path} in the model folder {folder} is not a plain file; it is refused.")
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_of(path)}\n".encode())
    return digest.hexdigest()


def verified_file(path: Path, sha256: str | None) -> Path:
    """`path` after checking it exists and matches `sha256` (required: a file without a
    checksum is refused). A folder (a Hugging Face model) is checked by `folder_sha256`."""
    if not path.exists():
        raise WeightsError(f"Weight file {path} named in the manifest is missing.")
    if not sha256:
        raise _no_checksum(path)
    actual = folder_sha256(path) if path.is_dir() else sha256_of(path)
    if actual != sha256:
        raise _mismatch(path, actual, sha256)
    return path


def verified_bytes(path: Path, sha256: str | None) -> bytes:
    """The bytes of the file `path`, read once, after checking them against `sha256`
    (required): the bytes checked are the bytes a model is built from, so a file changed
    between a check and a load cannot slip in."""
    if not sha256:
        raise _no_checksum(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise WeightsError(f"Weight file {path} named in the manifest is missing.") from None
    except OSError as exc:
        raise WeightsError(f"Weight file {path} cannot be read ({exc.strerror or exc}).") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WeightsError(f"Weight file {path} is not a plain file; it is not loaded.")
        data = handle.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise _mismatch(path, actual, sha256)
    return data


def verified_path(entry: ModelEntry) -> Path:
    """The entry's file after checking it exists and matches its checksum."""
    return verified_file(entry.path, entry.sha256)


def verified_onnx(entry: ModelEntry) -> Path | None:
    """The entry's ONNX graph after the same checks; None when the manifest lists none."""
    return verified_file(entry.onnx_path, entry.onnx_sha256) if entry.onnx_path else None


@dataclass(frozen=True)
class WeightsAbout:
    """What the manifest's optional "about" block says of the installed weights, for people:
    when the test numbers (each model's `metrics["test"]`) were measured, what each test set
    is, the licence and the known limits, each a sentence or a short phrase."""

    measured_on: str | None = None  # ISO date
    test_sets: tuple[tuple[str, str], ...] = ()  # (key in metrics["test"], what its photos are)
    licence: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()


def read_about(weights_dir: Path | str) -> WeightsAbout:
    """The manifest's "about" block; an empty one when there is no manifest or no block."""
    path = Path(weights_dir) / MANIFEST_NAME
    if not path.is_file():
        return WeightsAbout()
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON: {exc}") from exc
    about = raw.get("about") if isinstance(raw, dict) else None
    if not isinstance(about, dict):
        return WeightsAbout()

    def texts(name: str) -> tuple[str, ...]:
        value = about.get(name, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise WeightsError(f"{path}: about.{name} must be a sentence or a list of sentences")
        return tuple(value)

    sets = about.get("test_sets", {})
    if not isinstance(sets, dict) or not all(isinstance(v, str) for v in sets.values()):
        raise WeightsError(f"{path}: about.test_sets must map each test set to a description")
    measured = about.get("measured_on")
    return WeightsAbout(measured_on=str(measured) if measured else None,
                        test_sets=tuple((str(k), v) for k, v in sets.items()),
                        licence=texts("licence"), limits=texts("limits"))
