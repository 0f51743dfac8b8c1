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
ROLES: tuple[str, ...] = ("segmenter", "grader", "hf_grader")


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
            )
        except (KeyError, TypeError) as exc:
            raise WeightsError(f"{path}: model {role!r} lacks field {exc}") from exc
        if entries[role].use not in ("grader", "second_opinion"):
            raise WeightsError(f"{path}: model {role!r} has use {entries[role].use!r}; valid: "
                               "grader, second_opinion")
    return entries


def verified_path(entry: ModelEntry) -> Path:
    """The entry's file after checking it exists and matches its checksum."""
    if not entry.path.exists():
        raise WeightsError(f"Weight file {entry.path} named in the manifest is missing.")
    if entry.sha256 and entry.path.is_file():
        actual = sha256_of(entry.path)
        if actual != entry.sha256:
            raise WeightsError(
                f"Weight file {entry.path} is corrupt: SHA-256 {actual[:12]}... does not match "
                f"the manifest's {entry.sha256[:12]}..."
            )
    return entry.path
