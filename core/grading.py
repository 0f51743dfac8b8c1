"""Severity grade on the ACNE04 / Hayashi scale (0 mild, 1 moderate, 2 severe, 3 very severe).

The shipped grader is a multinomial logistic regression on what the segmenter found: the lesion
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
# Centre-heatmap peaks at least this high are kept as grading evidence (below every lesion
# threshold the calibration tries, so near-misses count a little).
SOFT_PEAK_FLOOR = 0.1


@dataclass(frozen=True)
class GradeEvidence:
    """What the grader sees of one photo."""

    counts: LesionCounts
    peak_heights: tuple[float, ...] = ()  # every centre peak >= SOFT_PEAK_FLOOR


def _soft_count(level: float) -> Callable[[GradeEvidence], float]:
    return lambda e: float(np.log1p(sum(h for h in e.peak_heights if h >= level)))


# Counts only: ACNE04 grades follow lesion counts (Hayashi), not lesion area.
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


@dataclass(frozen=True)
class CountGrader:
    """Multinomial logistic regression from count features to the four grades."""

    weights: np.ndarray  # n_grades x n_features (on standardised features)
    bias: np.ndarray  # n_grades
    mean: np.ndarray
    std: np.ndarray
    features: tuple[str, ...] = COUNT_FEATURES

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.std) @ self.weights.T + self.bias
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def grade(self, evidence: GradeEvidence) -> Grade:
        return grade_from_probabilities(self.probabilities(grade_features(evidence, self.features)),
                                        evidence.counts, source="learned")

    def to_json(self) -> str:
        return json.dumps({"kind": "count_logistic", "features": list(self.features),
                           "weights": self.weights.tolist(), "bias": self.bias.tolist(),
                           "mean": self.mean.tolist(), "std": self.std.tolist()}, indent=2)

    @classmethod
    def load(cls, path: Path) -> "CountGrader":
        data = json.loads(Path(path).read_text())
        features = tuple(data.get("features", ()))
        if data.get("kind") != "count_logistic" or not features:
            raise ValueError(f"{path} is not a count grader (kind 'count_logistic' with features)")
        grade_features(GradeEvidence(LesionCounts()), features)  # unknown names raise here
        weights = np.asarray(data["weights"])
        if weights.shape[1:] != (len(features),):
            raise ValueError(f"{path}: weights of shape {weights.shape} do not fit {len(features)} features")
        return cls(weights, np.asarray(data["bias"]), np.asarray(data["mean"]),
                   np.asarray(data["std"]), features)

    @classmethod
    def fit(cls, features: np.ndarray, grades: np.ndarray, names: tuple[str, ...] = COUNT_FEATURES,
            l2: float = 1e-4, n_grades: int = 4) -> "CountGrader":
        """Maximum likelihood with a small L2 penalty (L-BFGS); `names` label the columns."""
        from scipy.optimize import minimize

        if len(features) != len(grades) or len(features) == 0:
            raise ValueError(f"need matching, non-empty features and grades, got {len(features)} "
                             f"and {len(grades)}")
        if features.shape[1] != len(names):
            raise ValueError(f"{features.shape[1]} feature columns but {len(names)} names {names}")
        mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
        x = (features - mean) / std
        y = np.eye(n_grades)[np.asarray(grades, int)]
        n_feat = x.shape[1]

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w = theta[: n_grades * n_feat].reshape(n_grades, n_feat)
            b = theta[n_grades * n_feat:]
            z = x @ w.T + b
            z -= z.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            nll = -(y * log_p).sum() / len(x) + l2 * (w**2).sum()
            g = (np.exp(log_p) - y) / len(x)
            return nll, np.concatenate([(g.T @ x + 2 * l2 * w).ravel(), g.sum(axis=0)])

        theta0 = np.zeros(n_grades * n_feat + n_grades)
        result = minimize(loss, theta0, jac=True, method="L-BFGS-B")
        w = result.x[: n_grades * n_feat].reshape(n_grades, n_feat)
        return cls(w, result.x[n_grades * n_feat:], mean, std, tuple(names))


def hayashi_grade(counts: LesionCounts) -> int:
    """ACNE04's count-bin grade (0-4, 5-19, 20-49, 50+ lesions on the photo)."""
    return int(np.digitize(counts.total, HAYASHI_COUNT_BINS))
