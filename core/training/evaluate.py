"""Measure the shipped models on an ACNE04 split through the real `analyze` path.

    python -m core.training.evaluate --data ../shared/data/acne04 --split test --json

Prints lesion precision / recall / F1 (a predicted lesion matches a true box when their IoU is at
least 0.3 or the true box's centre lies inside it, one-to-one), count MAE and Pearson correlation
(all lesions and inflammatory ones), grade accuracy, within-one accuracy and confusion matrix,
the grade confidence's calibration error (expected calibration error, 10 bins), and lesion-class
IoU and Dice against the box-derived ellipse masks, with 95% bootstrap intervals
over photos. `--baseline OTHER_WEIGHTS` also scores another weights folder on the same photos and
prints the paired difference of each headline metric with its interval. The count error is also
broken down by true grade, and `--per-photo FILE.csv` writes each photo's numbers (file name,
lesions, counts, grades; never pixels) for looking at the worst errors. `--perturb all` (or
names, see `core/training/perturb.py`) also scores copies of the photos with other exposure,
white balance, focus, compression, noise and resolution, each with its paired difference to the
clean photos.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.manifest import DEFAULT_WEIGHTS_DIR
from core.training.data import read_rgb, read_split, render_targets
from core.training.perturb import Perturbation, get_perturbations
from core.training.metrics import (bootstrap_intervals, calibration_error, count_summary, detection_summary,
                                   grade_summary, iou_dice, kind_pairs, kind_tally, match_lesions,
                                   type_summary)
from core.types import INFLAMMATORY_KINDS


@dataclass(frozen=True)
class PhotoScore:
    """What one photo contributes to the metrics, so they can be recomputed on resamples."""

    tp: int
    n_pred: int
    n_true: int
    pred_count: int
    true_count: int
    pred_inflammatory: int
    true_inflammatory: int
    kind_correct: int
    pred_grade: int
    true_grade: int
    grade_confidence: float
    intersection: int
    pred_px: int
    true_px: int
    seconds: float
    assessable: int  # 1 when the app would report counts for this photo (core.assessment)
    kind_pairs: tuple[int, ...]  # matched lesions, labelled x predicted type (metrics.kind_pairs)
    pred_kinds: tuple[int, ...]  # predicted lesions per type
    true_kinds: tuple[int, ...]  # labelled lesions per type


# The headline metrics that get a bootstrap interval (and a paired difference to a baseline).
INTERVAL_METRICS = ("f1", "count_mae", "count_pearson", "grade_accuracy", "lesion_iou")


def score_photo(analyzer, sample, perturbation: Perturbation | None = None) -> PhotoScore:
    image = read_rgb(sample.image_path)
    truth = sample.lesions
    if perturbation is not None:
        image, factor = perturbation(image)
        truth = tuple(replace(l, bbox=tuple(v * factor for v in l.bbox)) for l in truth)
    started = time.perf_counter()
    analysis = analyzer.analyze(image)
    seconds = time.perf_counter() - started
    matches = match_lesions([l.bbox for l in analysis.lesions], [l.score for l in analysis.lesions],
                            [l.bbox for l in truth])
    true_mask = render_targets(image.shape[:2], truth)[0] > 0
    pred_mask = analysis.kind_mask > 0
    return PhotoScore(
        tp=len(matches), n_pred=len(analysis.lesions), n_true=len(truth),
        pred_count=analysis.counts.total, true_count=len(truth),
        pred_inflammatory=analysis.counts.inflammatory,
        true_inflammatory=sum(l.kind in INFLAMMATORY_KINDS for l in truth),
        kind_correct=sum(analysis.lesions[p].kind == truth[t].kind for p, t in matches),
        pred_grade=analysis.grade.value, true_grade=sample.grade, grade_confidence=analysis.grade.confidence,
        intersection=int((pred_mask & true_mask).sum()), pred_px=int(pred_mask.sum()),
        true_px=int(true_mask.sum()), seconds=seconds, assessable=int(analysis.assessable),
        kind_pairs=kind_pairs([(truth[t].kind, analysis.lesions[p].kind) for p, t in matches]),
        pred_kinds=kind_tally([l.kind for l in analysis.lesions]),
        true_kinds=kind_tally([l.kind for l in truth]))


def _columns(photos: list[PhotoScore]) -> dict[str, np.ndarray]:
    """The photos' scores as one array per field, so resamples are plain indexing."""
    return {f.name: np.array([getattr(p, f.name) for p in photos]) for f in fields(PhotoScore)}


def headline_metrics(c: dict[str, np.ndarray]) -> dict[str, float]:
    """Detection, count, grade and pixel metrics pooled over the photos in `c` (lesions and
    pixels are summed over photos); what the bootstrap recomputes on every resample."""
    grades = grade_summary(c["pred_grade"], c["true_grade"])
    return {
        **detection_summary(int(c["tp"].sum()), int(c["n_pred"].sum()), int(c["n_true"].sum())),
        **count_summary(c["pred_count"], c["true_count"]),
        "grade_accuracy": grades["grade_accuracy"],
        **iou_dice(int(c["intersection"].sum()), int(c["pred_px"].sum()), int(c["true_px"].sum())),
    }


def summarise(photos: list[PhotoScore]) -> dict:
    """Every metric of a set of photos."""
    c = _columns(photos)
    infl = count_summary(c["pred_inflammatory"], c["true_inflammatory"])
    tp = int(c["tp"].sum())
    return {
        "n_photos": len(photos),
        **headline_metrics(c),
        "inflammatory_count_mae": infl["count_mae"],
        "inflammatory_count_pearson": infl["count_pearson"],
        "lesion_kind_accuracy_of_matches": int(c["kind_correct"].sum()) / tp if tp else 0.0,
        **grade_summary(c["pred_grade"], c["true_grade"]),
        "grade_mean_confidence": float(c["grade_confidence"].mean()) if photos else 0.0,
        "grade_calibration_error": calibration_error(c["grade_confidence"], c["pred_grade"] == c["true_grade"]),
        "count_error_by_true_grade": count_error_by_grade(photos),
        # Of the photos, the share the app reports numbers for (a face and enough facial skin).
        "assessable_share": float(c["assessable"].mean()) if photos else 0.0,
        **type_summary(c["kind_pairs"], c["pred_kinds"], c["true_kinds"]),
        "seconds_per_photo_median": float(np.median(c["seconds"])) if photos else 0.0,
    }


def count_error_by_grade(photos: list[PhotoScore]) -> dict[str, dict[str, float]]:
    """Count MAE and bias (predicted minus true) per true grade: where the counting goes wrong."""
    out = {}
    for grade in sorted({p.true_grade for p in photos}):
        errors = np.array([p.pred_count - p.true_count for p in photos if p.true_grade == grade], float)
        out[str(grade)] = {"n_photos": len(errors), "count_mae": float(np.abs(errors).mean()),
                           "count_bias": float(errors.mean())}
    return out


def write_per_photo(path: Path, samples, photos: list[PhotoScore]) -> None:
    """One CSV row per photo (its file name, no pixels), for looking at the worst errors."""
    columns = [f.name for f in fields(PhotoScore) if f.type in ("int", "float")]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", *columns])
        for sample, photo in zip(samples, photos):
            writer.writerow([sample.image_path.name, *(getattr(photo, name) for name in columns)])


def score_photos(analyzer, samples, progress: bool = True, perturbation: Perturbation | None = None,
                 desc: str = "evaluate") -> list[PhotoScore]:
    return [score_photo(analyzer, s, perturbation)
            for s in tqdm(samples, desc=desc, disable=not progress, mininterval=10)]


def robustness(analyzer, samples, clean: list[PhotoScore], perturbations: dict[str, Perturbation],
               progress: bool = True) -> dict:
    """Each perturbation's headline metrics and their paired difference to the clean photos."""
    clean_columns = _columns(clean)
    out = {}
    for name, perturbation in perturbations.items():
        columns = _columns(score_photos(analyzer, samples, progress, perturbation, desc=name))
        out[name] = {**_headline(columns, slice(None)), "mean_count": float(columns["pred_count"].mean())}
        if len(clean) >= 2:
            out[name]["versus_clean"] = paired_difference(columns, clean_columns)
    return out


def _headline(c: dict[str, np.ndarray], idx) -> dict[str, float]:
    """The headline metrics of the photos at `idx` (a resample)."""
    metrics = headline_metrics({name: column[idx] for name, column in c.items()})
    return {m: metrics[m] for m in INTERVAL_METRICS}


def paired_difference(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict:
    """Each headline metric's difference (ours minus theirs, scored on the same photos) and its
    95% bootstrap interval, resampling the photos together."""
    n, n_theirs = len(ours["tp"]), len(theirs["tp"])
    if n != n_theirs:
        raise ValueError(f"the baseline scored {n_theirs} photos, these weights {n}")

    def difference(idx) -> dict[str, float]:
        a, b = _headline(ours, idx), _headline(theirs, idx)
        return {m: a[m] - b[m] for m in INTERVAL_METRICS}

    ci = bootstrap_intervals(n, difference)
    return {m: {"difference": d, "ci95": ci[m]} for m, d in difference(np.arange(n)).items()}


def intervals(photos: list[PhotoScore], baseline: list[PhotoScore] | None = None) -> dict:
    """95% bootstrap intervals of the headline metrics; with a baseline scored on the same
    photos, also the paired difference (these weights minus the baseline) and its interval."""
    ours = _columns(photos)
    out: dict = {"ci95": bootstrap_intervals(len(photos), lambda idx: _headline(ours, idx))}
    if baseline is not None:
        out["versus_baseline"] = paired_difference(ours, _columns(baseline))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR,
                   help="weights folder (default: the project's weights/)")
    p.add_argument("--limit", type=int, help="only the first N photos (smoke runs)")
    p.add_argument("--baseline", type=Path,
                   help="another weights folder scored on the same photos: prints the paired difference")
    p.add_argument("--per-photo", type=Path, help="also write one CSV row per photo to this file")
    p.add_argument("--perturb", help='"all" or comma-separated perturbation names (robustness)')
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        perturbations = get_perturbations(args.perturb) if args.perturb else {}
    except ValueError as exc:
        p.error(str(exc))
    from core.errors import ModelNotInstalledError, WeightsError
    from core.pipeline import load_analyzer

    try:
        analyzer = load_analyzer(args.weights)
        baseline = load_analyzer(args.baseline) if args.baseline else None
    except (ModelNotInstalledError, WeightsError) as exc:
        print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
        return 3
    samples = read_split(args.data, args.split)[: args.limit]
    photos = score_photos(analyzer, samples, progress=not args.json)
    baseline_photos = score_photos(baseline, samples, progress=not args.json) if baseline else None
    if args.per_photo:
        write_per_photo(args.per_photo, samples, photos)
    metrics = {"split": args.split, "model_version": analyzer.model_version, **summarise(photos)}
    if len(photos) >= 2:  # an interval needs at least two photos (--limit 1 is a smoke run)
        metrics.update(intervals(photos, baseline_photos))
    if baseline:
        metrics["baseline_version"] = baseline.model_version
    if perturbations:
        metrics["perturbed"] = robustness(analyzer, samples, photos, perturbations, progress=not args.json)
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:40s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
