"""Measure the shipped models on an ACNE04 split through the real `analyze` path.

    python -m core.training.evaluate --data ../shared/data/acne04 --split test --json

Prints lesion precision / recall / F1 (a predicted lesion matches a true box when their IoU is at
least 0.3 or the true box's centre lies inside it, one-to-one), count MAE and Pearson correlation
(all lesions and inflammatory ones), grade accuracy, within-one accuracy and confusion matrix,
and lesion-class IoU and Dice against the box-derived ellipse masks.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.training.data import read_rgb, read_split, render_targets
from core.training.metrics import count_summary, detection_summary, grade_summary, iou_dice, match_lesions


def evaluate(analyzer, samples, progress: bool = True) -> dict:
    tp = n_pred = n_true = inter = pred_px = true_px = 0
    pred_counts, true_counts, pred_infl, true_infl = [], [], [], []
    pred_grades, true_grades, seconds = [], [], []
    per_kind_tp = {}
    for sample in tqdm(samples, desc="evaluate", disable=not progress, mininterval=10):
        image = read_rgb(sample.image_path)
        started = time.perf_counter()
        analysis = analyzer.analyze(image)
        seconds.append(time.perf_counter() - started)
        true_boxes = [l.bbox for l in sample.lesions]
        matches = match_lesions([l.bbox for l in analysis.lesions], [l.score for l in analysis.lesions], true_boxes)
        tp += len(matches)
        for p, t in matches:
            key = "kind_correct" if analysis.lesions[p].kind == sample.lesions[t].kind else "kind_wrong"
            per_kind_tp[key] = per_kind_tp.get(key, 0) + 1
        n_pred += len(analysis.lesions)
        n_true += len(true_boxes)
        pred_counts.append(analysis.counts.total)
        true_counts.append(len(true_boxes))
        pred_infl.append(analysis.counts.inflammatory)
        true_infl.append(sum(l.kind in ("papule", "pustule") for l in sample.lesions))
        pred_grades.append(analysis.grade.value)
        true_grades.append(sample.grade)
        true_mask = render_targets(image.shape[:2], sample.lesions)[0] > 0
        pred_mask = analysis.kind_mask > 0
        inter += int((pred_mask & true_mask).sum())
        pred_px += int(pred_mask.sum())
        true_px += int(true_mask.sum())
    infl = count_summary(pred_infl, true_infl)
    matched = sum(per_kind_tp.values())
    return {
        "n_photos": len(samples),
        **detection_summary(tp, n_pred, n_true),
        **count_summary(pred_counts, true_counts),
        "inflammatory_count_mae": infl["count_mae"],
        "inflammatory_count_pearson": infl["count_pearson"],
        "lesion_kind_accuracy_of_matches": per_kind_tp.get("kind_correct", 0) / matched if matched else 0.0,
        **grade_summary(pred_grades, true_grades),
        **iou_dice(inter, pred_px, true_px),
        "seconds_per_photo_median": float(np.median(seconds)) if seconds else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--weights", type=Path, help="weights folder (default: settings)")
    p.add_argument("--limit", type=int, help="only the first N photos (smoke runs)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from core.errors import ModelNotInstalledError, WeightsError
    from core.pipeline import load_analyzer
    from core.settings import load_settings

    try:
        analyzer = load_analyzer(args.weights or load_settings().weights_dir)
    except (ModelNotInstalledError, WeightsError) as exc:
        print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
        return 3
    samples = read_split(args.data, args.split)[: args.limit]
    metrics = {"split": args.split, "model_version": analyzer.model_version,
               **evaluate(analyzer, samples, progress=not args.json)}
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:40s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
