"""Severity grade on the ACNE04 / Hayashi scale (0 mild, 1 moderate, 2 severe, 3 very severe).

The shipped grader is an ordinal logistic regression on what the segmenter found: the lesion
counts and "soft counts" (the summed heights of the centre-heatmap peaks above a few levels, so a
lesion the model was unsure of still weighs a little). It is fitted on the training photos'
predictions and its feature set is chosen on valid by `core.training.calibrate`, so its
probabilities follow this segmenter's own counting errors. "clear" is reported when no lesion is
found at all.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.types import GRADE_LABELS, Grade, LesionCounts

# ACNE04's own mapping of a whole-photo lesion count to its grade (CLINICAL.md).
HAYASHI_COUNT_BINS: tuple[int, ...] = (5, 20, 50)
# Centre-heatmap peaks at least this high are kept as grading evidence (below every peak
# threshold the calibration tries, so near-misses count a little).
SOFT_PEAK_FLOOR = 0.1


@dataclass(frozen=True)
class GradeEvidence:
    """What the grader sees of one photo."""

    counts: LesionCounts
    peak_heights: tuple[float, ...] = ()  # every centre peak >= SOFT_PEAK_FLOOR


def _soft_count(level: float) -> Callable[[GradeEvidence], float]:
    return lambda e: float(np.log1p(sum(h for h in e.peak_heights if h >= level)))


# Every feature counts lesions, hard or soft: ACNE04 grades follow counts (Hayashi), not area.
FEATURE_FUNCTIONS: dict[str, Callable[[GradeEvidence], float]] = {
    "log_total": lambda e: float(np.log1p(e.counts.total)),
    "log_inflammatory": lambda e: float(np.log1p(e.counts.inflammatory)),
    "log_comedone": lambda e: float(np.log1p(e.counts.comedone)),
    "log_nodule": lambda e: float(np.log1p(e.counts.nodule)),
    **{f"soft_{level:.2f}": _soft_count(level) for level in (0.10, 0.15, 0.20, 0.30)},
}
COUNT_FEATURES: tuple[str, ...] = ("log_total", "log_inflammatory", "log_comedone", "log_nodule")
SOFT_FEATURES: tuple[str, ...] = ("soft_0.10", "soft_0.15", "soft_0.20", "soft_0.30")
# The candidates calibration compares on valid.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "total": ("log_total",),
    "counts": COUNT_FEATURES,
    "soft_counts": SOFT_FEATURES,
    "counts_and_soft_counts": COUNT_FEATURES + SOFT_FEATURES,
}


def grade_features(evidence: GradeEvidence, names: tuple[str, ...] = COUNT_FEATURES) -> np.ndarray:
    unknown = [n for n in names if n not in FEATURE_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown grade features {unknown}; valid: {sorted(FEATURE_FUNCTIONS)}")
    return np.array([FEATURE_FUNCTIONS[n](evidence) for n in names], dtype=np.float64)


def grade_from_probabilities(probabilities: np.ndarray, counts: LesionCounts, source: str) -> Grade:
    value = int(np.argmax(probabilities))
    label = "clear" if counts.total == 0 else GRADE_LABELS[value]
    return Grade(value=value, label=label, confidence=float(probabilities[value]),
                 probabilities=tuple(float(p) for p in probabilities), source=source)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


@dataclass(frozen=True)
class CountGrader:
    """Ordinal (cumulative-logit) regression from lesion features to the four grades.

    One severity score, a weighted sum of the standardised features with non-negative weights,
    is cut at three increasing thresholds: P(grade <= k) = sigmoid(cut_k - score). Weights are
    kept >= 0 so that more lesions can never lower the grade (an unconstrained multinomial model
    fitted here sent some 50-lesion photos to "moderate" and never said "very severe" for
    papules alone). Fitted by `core.training.grader_fit.fit_count_grader`."""

    weights: np.ndarray  # n_features, >= 0 (on standardised features)
    cuts: np.ndarray  # n_grades - 1, increasing
    mean: np.ndarray
    std: np.ndarray
    features: tuple[str, ...] = COUNT_FEATURES

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        score = ((features - self.mean) / self.std) @ self.weights
        below = _sigmoid(self.cuts - np.asarray(score)[..., None])  # P(grade <= k), k < last
        zeros, ones = np.zeros_like(below[..., :1]), np.ones_like(below[..., :1])
        return np.diff(np.concatenate([zeros, below, ones], axis=-1), axis=-1)

    def grade(self, evidence: GradeEvidence) -> Grade:
        return grade_from_probabilities(self.probabilities(grade_features(evidence, self.features)),
                                        evidence.counts, source="learned")

    def to_json(self) -> str:
        return json.dumps({"kind": "ordinal_logistic", "features": list(self.features),
                           "weights": self.weights.tolist(), "cuts": self.cuts.tolist(),
                           "mean": self.mean.tolist(), "std": self.std.tolist()}, indent=2)

    @classmethod
    def load(cls, path: Path, raw: bytes | None = None) -> "CountGrader":
        """The grader of the file `path`; `raw`: its bytes as checked against the manifest
        (then `path` only names it in messages)."""
        data = json.loads(raw.decode("utf-8") if raw is not None else Path(path).read_text())
        features = tuple(data.get("features", ()))
        if data.get("kind") != "ordinal_logistic" or not features:
            raise ValueError(f"{path} is not an ordinal grader (kind 'ordinal_logistic' with "
                             f"features); rebuild it with python -m core.training.calibrate")
        grade_features(GradeEvidence(LesionCounts()), features)  # unknown names raise here
        weights, cuts = np.asarray(data["weights"], float), np.asarray(data["cuts"], float)
        if weights.shape != (len(features),) or (weights < 0).any():
            raise ValueError(f"{path}: weights {weights.tolist()} must be {len(features)} values >= 0")
        if cuts.ndim != 1 or len(cuts) < 1 or (np.diff(cuts) <= 0).any():
            raise ValueError(f"{path}: cuts {cuts.tolist()} must increase")
        return cls(weights, cuts, np.asarray(data["mean"]), np.asarray(data["std"]), features)


def hayashi_grade(counts: LesionCounts) -> int:
    """ACNE04's count-bin grade (0-4, 5-19, 20-49, 50+ lesions on the photo)."""
    return int(np.digitize(counts.total, HAYASHI_COUNT_BINS))
