"""Measure the shipped models on a split of ACNE04, or of a data set in its layout (the clinic's
research export, web_acne), through the real `analyze` path.

    python -m core.training.evaluate --data ../shared/data/acne04 --split test --json
    python -m core.training.evaluate --data ../shared/data/web_acne --split valid --limit 5

Prints lesion precision / recall / F1 (a predicted lesion matches a true box when their IoU is at
least 0.3 or the true box's centre lies inside it, one-to-one), count MAE and Pearson correlation
(all lesions and inflammatory ones), grade accuracy, within-one accuracy and confusion matrix,
the grade confidence's calibration error (expected calibration error, 10 bins), and lesion-class
IoU and Dice against the box-derived ellipse masks, with 95% bootstrap intervals
over photos.

It measures the product: the same `Analyzer.analyze` as `core.analyze` and the app, its
assessable decision included (`core.assessment`). A photo the product refuses is counted as
finding nothing (no lesion, count 0, no grade): the headline metrics are over ALL photos so;
`over_assessed` repeats them over the photos the product assessed, and `assessed` gives the
share assessed, by true grade, the close-ups among them and the refusal reasons.
`count_error_by_view` splits the count error into faces (from the front, turned to one side) and
close-ups without a face, and
`typicality` shows how the count error grows as the photo's typicality falls (Spearman rank
correlation and a table by typicality band; only with a typicality model in the weights).
`--baseline OTHER_WEIGHTS` also scores another weights folder on the same photos and
prints the paired difference of each headline metric with its interval. The count error is also
broken down by true grade, and `--per-photo FILE.csv` writes each photo's numbers (file name,
lesions, counts, grades; never pixels) for looking at the worst errors. `--perturb all` (or
names, see `core/training/perturb.py`) also scores copies of the photos with other exposure,
white balance, focus, compression, noise and resolution, each with its paired difference to the
clean photos.

Data sets with less in their labels: photos with no label at all (no box and no grade) are left
out (counted in `unlabelled_photos_left_out`). Lesions labelled `acne` (type unknown) count for
detection, counts and masks, but type metrics use typed lesions only (a prediction matched to an
untyped lesion is left out of its type's precision) and the inflammatory count only photos whose
every lesion is typed. Grade metrics use the photos with a grade. What a data set cannot give is
listed under `skipped`, with the reason.
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

from core.colour import COLOUR_CONSTANCY
from core.manifest import DEFAULT_WEIGHTS_DIR
from core.training.data import labelled_only, read_rgb, read_split, render_targets
from core.training.perturb import Perturbation, get_perturbations
from core.training.metrics import (bootstrap_intervals, calibration_error, count_summary, detection_summary,
                                   grade_summary, iou_dice, kind_pairs, kind_tally, match_lesions,
                                   type_summary)
from core.types import INFLAMMATORY_KINDS, LesionCounts

# The predicted grade of a photo the product refused (it shows none): wrong for every true grade.
NO_GRADE = -1


@dataclass(frozen=True)
class PhotoScore:
    """What one photo contributes to the metrics, so they can be recomputed on resamples."""

    tp: int
    n_pred: int
    n_true: int
    pred_count: int
    true_count: int
    pred_inflammatory: int
    true_inflammatory: int  # -1: some lesion's type is not labelled
    kind_correct: int  # of the matches to a typed lesion
    typed_matches: int  # matches to a lesion whose type is labelled
    pred_grade: int
    true_grade: int  # -1: not known
    grade_confidence: float
    intersection: int
    pred_px: int
    true_px: int
    seconds: float
    assessable: int  # 1 when the app reports counts for this photo (core.assessment)
    closeup: int  # 1 when assessed without a face (a close-up)
    typicality: float  # core.typicality's score; NaN when the weights carry no typicality model
    kind_pairs: tuple[int, ...]  # matched lesions, labelled x predicted type (metrics.kind_pairs)
    pred_kinds: tuple[int, ...]  # predicted lesions per type
    true_kinds: tuple[int, ...]  # labelled lesions per type
    side: int = 0  # 1 when a face was found turned to one side (core.face.view_from_yaw)


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
    # What the product reports: a refused photo finds nothing and has no grade.
    reported = analysis.lesions if analysis.assessable else ()
    matches = match_lesions([l.bbox for l in reported], [l.score for l in reported],
                            [l.bbox for l in truth])
    typed = [(p, t) for p, t in matches if truth[t].kind is not None]
    # A prediction matched to a lesion of unknown type is neither right nor wrong about its type.
    matched_untyped = {p for p, t in matches if truth[t].kind is None}
    types_known = all(l.kind is not None for l in truth)
    true_mask = render_targets(image.shape[:2], truth)[0] > 0
    pred_mask = analysis.kind_mask > 0 if analysis.assessable else np.zeros_like(true_mask)
    counts = analysis.counts if analysis.assessable else LesionCounts()
    return PhotoScore(
        tp=len(matches), n_pred=len(reported), n_true=len(truth),
        pred_count=counts.total, true_count=len(truth),
        pred_inflammatory=counts.inflammatory,
        true_inflammatory=sum(l.kind in INFLAMMATORY_KINDS for l in truth) if types_known else -1,
        kind_correct=sum(reported[p].kind == truth[t].kind for p, t in typed), typed_matches=len(typed),
        pred_grade=analysis.grade.value if analysis.assessable else NO_GRADE,
        true_grade=-1 if sample.grade is None else sample.grade,
        grade_confidence=analysis.grade.confidence if analysis.assessable else 0.0,
        intersection=int((pred_mask & true_mask).sum()), pred_px=int(pred_mask.sum()),
        true_px=int(true_mask.sum()), seconds=seconds, assessable=int(analysis.assessable),
        closeup=int(analysis.is_closeup),
        typicality=float("nan") if analysis.typicality is None else analysis.typicality,
        kind_pairs=kind_pairs([(truth[t].kind, reported[p].kind) for p, t in typed]),
        pred_kinds=kind_tally([l.kind for i, l in enumerate(reported) if i not in matched_untyped]),
        true_kinds=kind_tally([l.kind for l in truth if l.kind is not None]),
        side=int(analysis.face.found and analysis.face.view in ("left", "right")))


def _columns(photos: list[PhotoScore]) -> dict[str, np.ndarray]:
    """The photos' scores as one array per field, so resamples are plain indexing."""
    return {f.name: np.array([getattr(p, f.name) for p in photos]) for f in fields(PhotoScore)}


def headline_metrics(c: dict[str, np.ndarray]) -> dict[str, float]:
    """Detection, count, grade and pixel metrics pooled over the photos in `c` (lesions and
    pixels are summed over photos); what the bootstrap recomputes on every resample. Grade
    accuracy is over the photos with a grade (NaN when none has one)."""
    graded = c["true_grade"] >= 0  # a refused photo's grade (NO_GRADE) counts as wrong
    return {
        **detection_summary(int(c["tp"].sum()), int(c["n_pred"].sum()), int(c["n_true"].sum())),
        **count_summary(c["pred_count"], c["true_count"]),
        "grade_accuracy": float((c["pred_grade"][graded] == c["true_grade"][graded]).mean())
        if graded.any() else float("nan"),
        **iou_dice(int(c["intersection"].sum()), int(c["pred_px"].sum()), int(c["true_px"].sum())),
    }


def interval_metrics(c: dict[str, np.ndarray]) -> tuple[str, ...]:
    """The headline metrics these photos can give (no grade accuracy when none has a grade)."""
    graded = bool((c["true_grade"] >= 0).any())
    return tuple(m for m in INTERVAL_METRICS if graded or m != "grade_accuracy")


def _graded(photos: list[PhotoScore]) -> list[PhotoScore]:
    """The graded photos the product gave a grade (a refused photo has none)."""
    return [p for p in photos if p.true_grade >= 0 and p.pred_grade >= 0]


def summarise(photos: list[PhotoScore]) -> dict:
    """Every metric of a set of photos. Type metrics need typed lesions and grade metrics
    graded photos; what the photos cannot give is left out and named under "skipped"."""
    c = _columns(photos)
    out: dict = {"n_photos": len(photos), **headline_metrics(c)}
    skipped: dict[str, str] = {}
    typed_photos = c["true_inflammatory"] >= 0 if photos else np.zeros(0, bool)
    if typed_photos.any():
        infl = count_summary(c["pred_inflammatory"][typed_photos], c["true_inflammatory"][typed_photos])
        out.update(n_photos_types_known=int(typed_photos.sum()), inflammatory_count_mae=infl["count_mae"],
                   inflammatory_count_pearson=infl["count_pearson"])
    else:
        skipped["inflammatory_count"] = "no photo has every lesion's type labelled"
    if photos and c["true_kinds"].sum() > 0:
        typed_tp = int(c["typed_matches"].sum())
        out["lesion_kind_accuracy_of_matches"] = int(c["kind_correct"].sum()) / typed_tp if typed_tp else 0.0
        out.update(type_summary(c["kind_pairs"], c["pred_kinds"], c["true_kinds"]))
    else:
        skipped["type"] = "no lesion has a labelled type (class 'acne' only)"
    graded = _graded(photos)
    if graded:
        # The grade the product shows (the photos it graded); the headline grade_accuracy above
        # counts a refused photo as wrong.
        g = _columns(graded)
        shown = grade_summary(g["pred_grade"], g["true_grade"])
        out.update(n_photos_graded=len(graded), grade_within_one=shown["grade_within_one"],
                   grade_confusion=shown["grade_confusion"],
                   grade_accuracy_of_graded_photos=shown["grade_accuracy"],
                   grade_mean_confidence=float(g["grade_confidence"].mean()),
                   grade_calibration_error=calibration_error(g["grade_confidence"],
                                                             g["pred_grade"] == g["true_grade"]))
    if any(p.true_grade >= 0 for p in photos):
        out["count_error_by_true_grade"] = count_error_by_grade(photos)
    else:
        del out["grade_accuracy"]
        skipped["grade"] = "no photo has a grade"
    out.update(
        # Of the photos, the share the app reports numbers for (core.assessment).
        assessable_share=float(c["assessable"].mean()) if photos else 0.0,
        seconds_per_photo_median=float(np.median(c["seconds"])) if photos else 0.0,
        skipped=skipped)
    return out


def assessed_summary(photos: list[PhotoScore]) -> dict:
    """How many photos the product measured: overall, close-ups among them, by true grade."""
    c = _columns(photos)
    by_grade = {}
    for grade in sorted({p.true_grade for p in photos if p.true_grade >= 0}):
        of_grade = c["assessable"][c["true_grade"] == grade]
        by_grade[str(grade)] = {"n_photos": int(of_grade.size), "n_assessed": int(of_grade.sum()),
                                "share": float(of_grade.mean())}
    return {"n_photos": len(photos), "n_assessed": int(c["assessable"].sum()) if photos else 0,
            "share": float(c["assessable"].mean()) if photos else 0.0,
            "n_closeups": int(c["closeup"].sum()) if photos else 0, "by_true_grade": by_grade}


def count_error_by_view(photos: list[PhotoScore]) -> dict[str, dict[str, float]]:
    """Count MAE and bias of the assessed photos by view: every photo with a face ("face"), split
    into faces seen from the front and turned to one side, and close-ups without a face."""
    views = {"face": lambda p: not p.closeup, "front": lambda p: not p.closeup and not p.side,
             "side": lambda p: not p.closeup and p.side, "closeup": lambda p: p.closeup}
    out = {}
    for view, member in views.items():
        errors = np.array([p.pred_count - p.true_count for p in photos if p.assessable and member(p)], float)
        if errors.size:
            out[view] = {"n_photos": int(errors.size), "count_mae": float(np.abs(errors).mean()),
                         "count_bias": float(errors.mean())}
    return out


# Typicality bands of the report (core.typicality: the share of valid photos less typical).
TYPICALITY_BANDS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0)


def typicality_report(photos: list[PhotoScore]) -> dict | None:
    """How the count error of the assessed photos grows as typicality falls: the Spearman rank
    correlation of typicality with the absolute count error (negative: less typical, larger
    error) and the count MAE by typicality band. None without typicality scores."""
    from scipy.stats import spearmanr

    rows = [p for p in photos if p.assessable and not np.isnan(p.typicality)]
    if len(rows) < 3:
        return None
    typ = np.array([p.typicality for p in rows])
    err = np.array([abs(p.pred_count - p.true_count) for p in rows], float)
    if np.ptp(typ) > 0 and np.ptp(err) > 0:
        rho, pvalue = (float(v) for v in spearmanr(typ, err))
    else:  # a rank correlation of a constant is not defined
        rho = pvalue = None
    bands = []
    for low, high in zip(TYPICALITY_BANDS[:-1], TYPICALITY_BANDS[1:]):
        inside = (typ >= low) & ((typ < high) | (high == TYPICALITY_BANDS[-1]))
        if inside.any():
            bands.append({"typicality_from": low, "typicality_to": high, "n_photos": int(inside.sum()),
                          "count_mae": float(err[inside].mean())})
    return {"n_photos": len(rows), "spearman_typicality_vs_count_error": rho,
            "spearman_p_value": pvalue, "by_band": bands}


def product_summary(photos: list[PhotoScore]) -> dict:
    """Every metric over all photos (a refused photo finds nothing), then over the photos the
    product assessed, the share assessed, the count error by view and the typicality report."""
    out = summarise(photos)
    assessed = [p for p in photos if p.assessable]
    over = summarise(assessed) if assessed else {"n_photos": 0}
    over.pop("assessable_share", None)
    out.update(assessed=assessed_summary(photos), over_assessed=over,
               count_error_by_view=count_error_by_view(photos))
    report = typicality_report(photos)
    if report is not None:
        out["typicality"] = report
    return out


def count_error_by_grade(photos: list[PhotoScore]) -> dict[str, dict[str, float]]:
    """Count MAE and bias (predicted minus true) per true grade: where the counting goes wrong."""
    out = {}
    for grade in sorted({p.true_grade for p in photos if p.true_grade >= 0}):
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
        out[name] = {**_headline(columns, slice(None), interval_metrics(columns)),
                     "mean_count": float(columns["pred_count"].mean())}
        if len(clean) >= 2:
            out[name]["versus_clean"] = paired_difference(columns, clean_columns)
    return out


def _headline(c: dict[str, np.ndarray], idx, names: tuple[str, ...] = INTERVAL_METRICS) -> dict[str, float]:
    """The headline metrics `names` of the photos at `idx` (a resample)."""
    metrics = headline_metrics({name: column[idx] for name, column in c.items()})
    return {m: metrics[m] for m in names}


def paired_difference(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict:
    """Each headline metric's difference (ours minus theirs, scored on the same photos) and its
    95% bootstrap interval, resampling the photos together."""
    n, n_theirs = len(ours["tp"]), len(theirs["tp"])
    if n != n_theirs:
        raise ValueError(f"the baseline scored {n_theirs} photos, these weights {n}")

    names = interval_metrics(ours)

    def difference(idx) -> dict[str, float]:
        a, b = _headline(ours, idx, names), _headline(theirs, idx, names)
        return {m: a[m] - b[m] for m in names}

    ci = bootstrap_intervals(n, difference)
    return {m: {"difference": d, "ci95": ci[m]} for m, d in difference(np.arange(n)).items()}


def intervals(photos: list[PhotoScore], baseline: list[PhotoScore] | None = None) -> dict:
    """95% bootstrap intervals of the headline metrics; with a baseline scored on the same
    photos, also the paired difference (these weights minus the baseline) and its interval."""
    ours = _columns(photos)
    names = interval_metrics(ours)
    out: dict = {"ci95": bootstrap_intervals(len(photos), lambda idx: _headline(ours, idx, names))}
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
    p.add_argument("--colour-constancy", choices=COLOUR_CONSTANCY,
                   help="score with this colour constancy instead of the weights' own (core.colour)")
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
        if args.colour_constancy:
            analyzer.config = replace(analyzer.config, colour_constancy=args.colour_constancy)
        baseline = load_analyzer(args.baseline) if args.baseline else None
    except (ModelNotInstalledError, WeightsError) as exc:
        print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
        return 3
    every = read_split(args.data, args.split)
    samples = labelled_only(every)[: args.limit]
    if not samples:
        print(json.dumps({"error": "no labelled photo"}) if args.json else "error: no labelled photo")
        return 2
    photos = score_photos(analyzer, samples, progress=not args.json)
    baseline_photos = score_photos(baseline, samples, progress=not args.json) if baseline else None
    if args.per_photo:
        write_per_photo(args.per_photo, samples, photos)
    metrics = {"data": str(args.data), "split": args.split, "model_version": analyzer.model_version,
               "colour_constancy": analyzer.config.colour_constancy,
               "unlabelled_photos_left_out": len(every) - len(labelled_only(every)), **product_summary(photos)}
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
            if k != "skipped":
                print(f"{k:40s} {v}")
        for name, reason in metrics["skipped"].items():
            print(f"skipped: {name} metrics - {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
