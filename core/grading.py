"""Severity grade on the ACNE04 / Hayashi scale (0 mild, 1 moderate, 2 severe, 3 very severe).

The shipped grader is a multinomial logistic regression on the lesion counts the segmenter
found, fitted on the training photos' predicted counts, so its probabilities are calibrated to
this segmenter's own counting errors. "clear" is reported when no lesion is found at all.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.types import GRADE_LABELS, Grade, LesionCounts

# Counts only: ACNE04 grades follow lesion counts (Hayashi), not lesion area.
FEATURES: tuple[str, ...] = ("log_total", "log_inflammatory", "log_comedone", "log_nodule")
# ACNE04's own mapping of a whole-photo lesion count to its grade (CLINICAL.md).
HAYASHI_COUNT_BINS: tuple[int, ...] = (5, 20, 50)


def grade_features(counts: LesionCounts) -> np.ndarray:
    return np.log1p(np.array([counts.total, counts.inflammatory, counts.comedone, counts.nodule],
                             dtype=np.float64))


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

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.std) @ self.weights.T + self.bias
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def grade(self, counts: LesionCounts) -> Grade:
        return grade_from_probabilities(self.probabilities(grade_features(counts)),
                                        counts, source="learned")

    def to_json(self) -> str:
        return json.dumps({"kind": "count_logistic", "features": list(FEATURES),
                           "weights": self.weights.tolist(), "bias": self.bias.tolist(),
                           "mean": self.mean.tolist(), "std": self.std.tolist()}, indent=2)

    @classmethod
    def load(cls, path: Path) -> "CountGrader":
        data = json.loads(Path(path).read_text())
        if data.get("kind") != "count_logistic" or tuple(data.get("features", ())) != FEATURES:
            raise ValueError(f"{path} is not a count grader with features {FEATURES}")
        return cls(np.asarray(data["weights"]), np.asarray(data["bias"]),
                   np.asarray(data["mean"]), np.asarray(data["std"]))

    @classmethod
    def fit(cls, features: np.ndarray, grades: np.ndarray, l2: float = 1e-4,
            n_grades: int = 4) -> "CountGrader":
        """Maximum likelihood with a small L2 penalty (L-BFGS)."""
        from scipy.optimize import minimize

        if len(features) != len(grades) or len(features) == 0:
            raise ValueError(f"need matching, non-empty features and grades, got {len(features)} "
                             f"and {len(grades)}")
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
        return cls(w, result.x[n_grades * n_feat:], mean, std)


def hayashi_grade(counts: LesionCounts) -> int:
    """ACNE04's count-bin grade (0-4, 5-19, 20-49, 50+ lesions on the photo)."""
    return int(np.digitize(counts.total, HAYASHI_COUNT_BINS))
