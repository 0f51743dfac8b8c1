"""Lesion matching and the model metrics of `core.training.evaluate`."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.types import LESION_KINDS

Box = tuple[float, float, float, float]
MATCH_IOU = 0.3


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_inside(true_box: Box, pred_box: Box) -> bool:
    cx, cy = (true_box[0] + true_box[2]) / 2, (true_box[1] + true_box[3]) / 2
    return pred_box[0] <= cx <= pred_box[2] and pred_box[1] <= cy <= pred_box[3]


def match_lesions(pred: Sequence[Box], scores: Sequence[float], true: Sequence[Box]) -> list[tuple[int, int]]:
    """One-to-one matches (pred index, true index). A prediction matches a true box when their
    IoU is at least 0.3 or the true box's centre lies inside it; higher scores pick first, and
    among eligible true boxes the one with the highest IoU wins."""
    matches: list[tuple[int, int]] = []
    taken: set[int] = set()
    for p in np.argsort(-np.asarray(scores, dtype=float), kind="stable"):
        best, best_iou = -1, -1.0
        for t, tbox in enumerate(true):
            if t in taken:
                continue
            iou = box_iou(pred[p], tbox)
            if (iou >= MATCH_IOU or _centre_inside(tbox, pred[p])) and iou > best_iou:
                best, best_iou = t, iou
        if best >= 0:
            taken.add(best)
            matches.append((int(p), best))
    return matches


def detection_summary(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def count_summary(pred_counts: Sequence[int], true_counts: Sequence[int]) -> dict[str, float]:
    p, t = np.asarray(pred_counts, float), np.asarray(true_counts, float)
    mae = float(np.abs(p - t).mean()) if len(p) else 0.0
    pearson = float(np.corrcoef(p, t)[0, 1]) if len(p) > 1 and p.std() > 0 and t.std() > 0 else 0.0
    return {"count_mae": mae, "count_pearson": pearson}


def grade_summary(pred: Sequence[int], true: Sequence[int], n_grades: int = 4) -> dict[str, object]:
    p, t = np.asarray(pred, int), np.asarray(true, int)
    confusion = np.zeros((n_grades, n_grades), int)
    np.add.at(confusion, (t, p), 1)
    return {
        "grade_accuracy": float((p == t).mean()) if len(p) else 0.0,
        "grade_within_one": float((np.abs(p - t) <= 1).mean()) if len(p) else 0.0,
        "grade_confusion": confusion.tolist(),  # rows = true grade, columns = predicted
    }


def iou_dice(intersection: int, pred_pixels: int, true_pixels: int) -> dict[str, float]:
    union = pred_pixels + true_pixels - intersection
    return {
        "lesion_iou": intersection / union if union else 0.0,
        "lesion_dice": 2 * intersection / (pred_pixels + true_pixels) if pred_pixels + true_pixels else 0.0,
    }


def bootstrap_intervals(n_photos: int, statistic: Callable[[np.ndarray], dict[str, float]],
                        n_resamples: int = 1000, level: float = 0.95, seed: int = 0
                        ) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of each value of `statistic(photo indices)` over photos drawn
    with replacement. With 142 test photos one photo is 0.7 points of grade accuracy, so a
    difference between two models means little unless its interval excludes zero."""
    if n_photos < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 photos, got {n_photos}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level {level} must lie between 0 and 1")
    rng = np.random.default_rng(seed)
    draws = [statistic(rng.integers(0, n_photos, n_photos)) for _ in range(n_resamples)]
    tail = (1.0 - level) / 2 * 100
    out = {}
    for name in draws[0]:
        values = np.array([d[name] for d in draws], float)
        # A resample may lack what a metric needs (grade accuracy of photos with a grade: NaN).
        low, high = np.nanpercentile(values, [tail, 100 - tail]) if not np.isnan(values).all() else (np.nan,) * 2
        out[name] = (float(low), float(high))
    return out


def calibration_error(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """Expected calibration error: the photo-weighted mean gap between the stated confidence and
    the observed accuracy in equal-width confidence bins. 0 means "70% sure" is right 70% of
    the time."""
    conf, hit = np.asarray(confidences, float), np.asarray(correct, float)
    if len(conf) != len(hit):
        raise ValueError(f"{len(conf)} confidences but {len(hit)} outcomes")
    if len(conf) == 0:
        return 0.0
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    gap = 0.0
    for b in np.unique(bins):
        inside = bins == b
        gap += inside.sum() * abs(conf[inside].mean() - hit[inside].mean())
    return float(gap / len(conf))


def kind_tally(kinds: Sequence[str]) -> tuple[int, ...]:
    """How many of each lesion kind, in LESION_KINDS order."""
    return tuple(sum(kind == name for kind in kinds) for name in LESION_KINDS)


def kind_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[int, ...]:
    """Matched (true kind, predicted kind) pairs as a flattened K x K table, rows true."""
    k = len(LESION_KINDS)
    table = [0] * (k * k)
    for true_kind, pred_kind in pairs:
        table[LESION_KINDS.index(true_kind) * k + LESION_KINDS.index(pred_kind)] += 1
    return tuple(table)


def type_summary(pairs: np.ndarray, pred_kinds: np.ndarray, true_kinds: np.ndarray) -> dict:
    """The type confusion matrix of matched lesions (rows: the labelled type, columns: the
    predicted type) and each type's precision (of the lesions predicted as that type, the share
    matched to a labelled lesion of that type) and recall (of the labelled lesions of that type,
    the share found with that type). Inputs are per-photo rows (kind_pairs, kind_tally), summed."""
    k = len(LESION_KINDS)
    matrix = np.asarray(pairs, dtype=np.int64).reshape(-1, k, k).sum(axis=0)
    predicted = np.asarray(pred_kinds, dtype=np.int64).reshape(-1, k).sum(axis=0)
    labelled = np.asarray(true_kinds, dtype=np.int64).reshape(-1, k).sum(axis=0)
    per_type = {}
    for i, kind in enumerate(LESION_KINDS):
        right = int(matrix[i, i])
        per_type[kind] = {
            "precision": right / int(predicted[i]) if predicted[i] else 0.0,
            "recall": right / int(labelled[i]) if labelled[i] else 0.0,
            "n_predicted": int(predicted[i]), "n_labelled": int(labelled[i]),
        }
    return {
        "type_confusion": {"rows_labelled": list(LESION_KINDS), "columns_predicted": list(LESION_KINDS),
                           "matrix": matrix.tolist()},
        "type_precision_recall": per_type,
    }


TYPE_THRESHOLDS = tuple(round(0.30 + 0.01 * i, 2) for i in range(31))  # 0.30 .. 0.60


def choose_type_threshold(confidence: Sequence[float], typed_right: Sequence[bool],
                          min_accuracy: float = 0.70) -> float:
    """The smallest type-confidence threshold at which the matched inflammatory lesions that
    keep their type (confidence at or above it) are typed right at least `min_accuracy` of the
    time; 1.0 (every inflammatory type uncertain) when no threshold gets there. Inputs: one
    entry per matched lesion predicted inflammatory, on valid."""
    conf = np.asarray(confidence, dtype=float)
    right = np.asarray(typed_right, dtype=bool)
    for threshold in TYPE_THRESHOLDS:
        kept = conf >= threshold
        if kept.any() and right[kept].mean() >= min_accuracy:
            return threshold
    return 1.0
