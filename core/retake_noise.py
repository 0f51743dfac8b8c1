"""How much a retaken photo would change: the retake-noise table for trends, compare and studies.

A table made by `python -m core.training.retakes` (photos of the valid splits retaken in
simulation: shift and crop, scale, rotation, exposure, white balance, JPEG quality; each retake
run through the product's own analysis) lies in the weights folder as `retake_noise.json`. The
manifest lists it with its SHA-256 under `"tables"`:

    "tables": {"retake_noise": {"file": "retake_noise.json", "sha256": "...", "version": "..."}}

so a changed or missing table is refused (`WeightsError`), never used silently. A folder whose
manifest lists no table has none: `load_retake_noise` returns None.

For each measure the table holds, by level (the photo's value: a lesion count, the lesion area
as a fraction of the skin, or the grade), the within-photo standard deviation across retakes
(`sd`; the standard error of measurement, SEM = sqrt of the within-photo mean square). Between
levels the SD is interpolated linearly; beyond the first and last level it stays flat.

- `band(measure, value)`: half-width of the range a single retaken photo would land within,
  1.96 * SD at that level.
- `mdc95(measure, value)`: the smallest real change between two photos at that level,
  1.96 * sqrt(2) * SEM.
- `change_threshold(measure, before, after)`: 1.96 * sqrt(SEM(before)^2 + SEM(after)^2), which is
  `mdc95` when both photos lie at one level.
- `beyond_noise(measure, before, after)`: whether |after - before| exceeds that threshold.

Numpy only (no torch), small enough for a page to load on every run.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import WeightsError
from core.manifest import MANIFEST_NAME, verified_file, weights_file

TABLE_KEY = "retake_noise"
TABLE_FILE = "retake_noise.json"
# The measures the table covers, and what a value of each is.
MEASURES: dict[str, str] = {
    "total": "lesions",
    "inflammatory": "lesions",
    "non_inflammatory": "lesions",
    "lesion_area": "fraction of the skin",
    "grade": "grade (0-3)",
}
Z95 = 1.96


@dataclass(frozen=True)
class NoiseCurve:
    """One measure's retake SD by level: `levels` increasing, `sds` the SD at each."""

    levels: tuple[float, ...]
    sds: tuple[float, ...]
    icc: float | None = None

    def sd(self, value: float) -> float:
        return float(np.interp(value, self.levels, self.sds))


@dataclass(frozen=True)
class RetakeNoise:
    """The retake-noise table: per measure, how much a retaken photo's value varies."""

    curves: dict[str, NoiseCurve]
    simulated: bool
    source: str
    version: str = ""
    # The share of photos whose every retake got the same grade (None when the table lacks it).
    same_grade_share: float | None = None
    # The models whose analyses were retaken (`Analysis.model_version`); "" when not recorded.
    model_version: str = ""

    def _curve(self, measure: str, value: float) -> NoiseCurve:
        if measure not in MEASURES:
            raise ValueError(f"unknown measure {measure!r}; valid measures: {', '.join(MEASURES)}")
        if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value) \
                or value < 0:
            raise ValueError(f"{measure} value {value!r} is not a finite number of at least 0")
        if measure not in self.curves:
            raise ValueError(f"the retake table has no {measure!r}; it has: {', '.join(self.curves)}")
        return self.curves[measure]

    def sem(self, measure: str, value: float) -> float:
        """The standard error of measurement (the within-photo SD) at `value`."""
        return self._curve(measure, value).sd(float(value))

    def band(self, measure: str, value: float) -> float:
        """Half-width of the band a retaken photo would land within (1.96 * SD at `value`)."""
        return Z95 * self.sem(measure, value)

    def mdc95(self, measure: str, value: float) -> float:
        """The smallest real change between two photos at `value` (1.96 * sqrt(2) * SEM)."""
        return Z95 * math.sqrt(2.0) * self.sem(measure, value)

    def change_threshold(self, measure: str, before: float, after: float) -> float:
        """The change two photos at `before` and `after` must exceed to be more than retake noise."""
        return Z95 * math.hypot(self.sem(measure, before), self.sem(measure, after))

    def beyond_noise(self, measure: str, before: float, after: float) -> bool:
        """Whether the change from `before` to `after` is larger than a retaken photo makes."""
        return abs(float(after) - float(before)) > self.change_threshold(measure, before, after)


def table_entry(weights_dir: Path | str) -> tuple[Path, str, str] | None:
    """(path, sha256, version) of the table the manifest lists; None when it lists none."""
    manifest = Path(weights_dir) / MANIFEST_NAME
    if not manifest.is_file():
        return None
    try:
        raw = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{manifest} is not valid JSON: {exc}") from exc
    tables = raw.get("tables") if isinstance(raw, dict) else None
    item = tables.get(TABLE_KEY) if isinstance(tables, dict) else None
    if item is None:
        return None
    if not isinstance(item, dict) or not item.get("file") or not item.get("sha256"):
        raise WeightsError(f"{manifest}: tables.{TABLE_KEY} needs a file and its sha256")
    # weights_file: inside the weights folder only (no `..`, absolute path or link out).
    return (weights_file(weights_dir, item["file"], TABLE_KEY), str(item["sha256"]),
            str(item.get("version", "")))


def parse_table(raw: object, where: str = TABLE_FILE, version: str = "") -> RetakeNoise:
    """A RetakeNoise from the table's JSON object; WeightsError naming what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("measures"), dict):
        raise WeightsError(f"{where}: no 'measures' in the retake table")
    curves: dict[str, NoiseCurve] = {}
    for measure, item in raw["measures"].items():
        if measure not in MEASURES:
            raise WeightsError(f"{where}: unknown measure {measure!r}; valid: {', '.join(MEASURES)}")
        bins = item.get("bins") if isinstance(item, dict) else None
        try:
            levels = tuple(float(b["level"]) for b in bins)
            sds = tuple(float(b["sd"]) for b in bins)
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsError(f"{where}: {measure} bins need a level and an sd ({exc})") from exc
        if not levels or any(not math.isfinite(v) or v < 0 for v in levels + sds) \
                or any(b <= a for a, b in zip(levels, levels[1:])):
            raise WeightsError(f"{where}: {measure} needs bins with increasing levels and SDs of "
                               "at least 0")
        icc = item.get("icc")
        curves[measure] = NoiseCurve(levels, sds, float(icc) if icc is not None else None)
    missing = [m for m in MEASURES if m not in curves]
    if missing:
        raise WeightsError(f"{where}: the retake table lacks {', '.join(missing)}")
    same = raw["measures"].get("grade", {}).get("same_grade_every_retake")
    return RetakeNoise(curves=curves, simulated=bool(raw.get("simulated", True)),
                       source=str(raw.get("source", "")), version=version,
                       same_grade_share=float(same) if same is not None else None,
                       model_version=str((raw.get("made") or {}).get("model_version", "")))


def load_retake_noise(weights_dir: Path | str) -> RetakeNoise | None:
    """The folder's retake-noise table, checked against the manifest's SHA-256; None when the
    manifest lists none. Raises WeightsError for a missing, changed or malformed table."""
    entry = table_entry(weights_dir)
    if entry is None:
        return None
    path, sha256, version = entry
    if not path.is_file():
        verified_file(path, sha256)  # raises, naming the missing file
    data = path.read_bytes()  # check and use the same bytes
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise WeightsError(f"Retake table {path} is changed: SHA-256 {actual[:12]}... does not "
                           f"match the manifest's {sha256[:12]}...")
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON: {exc}") from exc
    return parse_table(raw, str(path), version)
