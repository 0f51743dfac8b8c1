"""`weights/manifest.json`: the one place that says which model files are installed.

Code never hard-codes a weight file name: it asks the manifest, which names each file with its
SHA-256 so a missing or corrupt file is a clear error naming the file, never a silent fallback.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelNotInstalledError, WeightsError

MANIFEST_NAME = "manifest.json"
# The repository's own weights folder: where `analyze` and `evaluate` look unless told otherwise.
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
# face_*: the face detector's three networks (core.mtcnn), one file each.
ROLES: tuple[str, ...] = ("segmenter", "grader", "hf_grader", "face_pnet", "face_rnet", "face_onet")


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
    # segmenter only: the same network as an ONNX graph (core.onnx_engine), with its own checksum
    onnx_path: Path | None = None
    onnx_sha256: str | None = None


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


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
                path=weights_dir / item["file"],
                sha256=item.get("sha256"),
                config_path=weights_dir / item["config"] if item.get("config") else None,
                metrics=dict(item.get("metrics", {})),
                use=str(item.get("use", "second_opinion" if role == "hf_grader" else "grader")),
                onnx_path=weights_dir / item["onnx"] if item.get("onnx") else None,
                onnx_sha256=item.get("onnx_sha256"),
            )
        except (KeyError, TypeError) as exc:
            raise WeightsError(f"{path}: model {role!r} lacks field {exc}") from exc
        if entries[role].use not in ("grader", "second_opinion"):
            raise WeightsError(f"{path}: model {role!r} has use {entries[role].use!r}; valid: "
                               "grader, second_opinion")
    return entries


def verified_file(path: Path, sha256: str | None) -> Path:
    """`path` after checking it exists and matches `sha256` (when the manifest gives one)."""
    if not path.exists():
        raise WeightsError(f"Weight file {path} named in the manifest is missing.")
    if sha256 and path.is_file():
        actual = sha256_of(path)
        if actual != sha256:
            raise WeightsError(
                f"Weight file {path} is corrupt: SHA-256 {actual[:12]}... does not match "
                f"the manifest's {sha256[:12]}..."
            )
    return path


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
