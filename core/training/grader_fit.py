"""Fitting the count grader (`core.grading.CountGrader`) on training photos' lesion features."""
from __future__ import annotations

import numpy as np

from core.grading import COUNT_FEATURES, CountGrader


def fit_count_grader(features: np.ndarray, grades: np.ndarray, names: tuple[str, ...] = COUNT_FEATURES,
                     l2: float = 1e-4, n_grades: int = 4) -> CountGrader:
    """Maximum likelihood with a small L2 penalty on the weights (L-BFGS-B, weights >= 0,
    cuts kept increasing by fitting the first and the log gaps)."""
    from scipy.optimize import minimize

    if len(features) != len(grades) or len(features) == 0:
        raise ValueError(f"need matching, non-empty features and grades, got {len(features)} "
                         f"and {len(grades)}")
    if features.shape[1] != len(names):
        raise ValueError(f"{features.shape[1]} feature columns but {len(names)} names {names}")
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = (features - mean) / std
    y = np.asarray(grades, int)
    n_feat = x.shape[1]

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cuts = theta[n_feat] + np.concatenate([[0.0], np.cumsum(np.exp(theta[n_feat + 1:]))])
        return theta[:n_feat], cuts

    def loss(theta: np.ndarray) -> float:
        w, cuts = unpack(theta)
        p = CountGrader(w, cuts, np.zeros(n_feat), np.ones(n_feat), tuple(names)).probabilities(x)
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean() + l2 * (w**2).sum())

    theta0 = np.concatenate([np.full(n_feat, 1.0 / n_feat), [-1.0], np.zeros(n_grades - 2)])
    bounds = [(0.0, None)] * n_feat + [(None, None)] * (n_grades - 1)
    result = minimize(loss, theta0, method="L-BFGS-B", bounds=bounds)
    w, cuts = unpack(result.x)
    return CountGrader(w, cuts, mean, std, tuple(names))
