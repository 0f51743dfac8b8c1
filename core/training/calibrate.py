"""Turn a training run into shipped weights: choose thresholds on valid, fit the grader on
train (one per candidate feature set, the best on valid ships), write weights/ and the manifest.

    python -m core.training.calibrate --data ../shared/data/acne04 --run runs/segmenter --out weights

Everything is chosen on train and valid; the test split is never read here.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.face import get_face_detector
from core.grading import (FEATURE_SETS, SOFT_PEAK_FLOOR, CountGrader, GradeEvidence, grade_features,
                          hayashi_grade)
from core.lesions import extract_lesions, lesions_from_maps, peak_heights
from core.pipeline import Analyzer
from core.segmentation import TorchEngine, build_model
from core.training.data import read_rgb, read_split
from core.training.export import read_run_config, save_grader, save_segmenter, write_manifest
from core.training.export_face import add_to_manifest, export_face_detector
from core.training.grader_fit import fit_count_grader
from core.training.metrics import (choose_type_threshold, count_summary, detection_summary,
                                   grade_summary, match_lesions)
from core.types import INFLAMMATORY_KINDS, LesionCounts

log = logging.getLogger("calibrate")
LESION_THRESHOLDS = (0.5, 0.6)
PEAK_THRESHOLDS = (0.15, 0.18, 0.2, 0.22, 0.25, 0.28, 0.3)
# Closer peaks split dense clusters of lesions (very severe photos are under-counted); farther
# ones merge a lesion's double peak.
PEAK_DISTANCES = (4, 6, 8)
GRADER_L2 = (1e-4, 1e-3, 1e-2)


def cached_maps(analyzer: Analyzer, samples, desc: str) -> list:
    """(sample, frame, maps) for each photo through the shipped path (face, scale, segmenter)."""
    out = []
    for sample in tqdm(samples, desc=desc, mininterval=10):
        image = read_rgb(sample.image_path)
        face = analyzer.face_detector.detect(image)
        frame, _, maps = analyzer.segment(image, face)
        out.append((sample, frame, maps))
    return out


def score_thresholds(cache, lesion_t: float, peak_t: float, min_dist: int) -> dict:
    tp = n_pred = n_true = 0
    pred_counts, true_counts = [], []
    for sample, frame, maps in cache:
        lesions, _ = extract_lesions(maps, lesion_threshold=lesion_t, peak_threshold=peak_t,
                                     min_peak_distance=min_dist)
        boxes = [frame.to_photo(l.bbox) for l in lesions]
        tp += len(match_lesions(boxes, [l.score for l in lesions], [l.bbox for l in sample.lesions]))
        n_pred += len(lesions)
        n_true += len(sample.lesions)
        pred_counts.append(len(lesions))
        true_counts.append(len(sample.lesions))
    return {**detection_summary(tp, n_pred, n_true), **count_summary(pred_counts, true_counts)}


def type_threshold(cache, config) -> float:
    """The type-confidence threshold chosen on valid (metrics.choose_type_threshold) for the
    matched lesions that the chosen thresholds find and call inflammatory."""
    confidence, right = [], []
    for sample, frame, maps in cache:
        lesions, _ = lesions_from_maps(maps, config)
        boxes = [frame.to_photo(l.bbox) for l in lesions]
        for p, t in match_lesions(boxes, [l.score for l in lesions], [l.bbox for l in sample.lesions]):
            if lesions[p].kind in INFLAMMATORY_KINDS:
                confidence.append(lesions[p].type_confidence)
                right.append(lesions[p].kind == sample.lesions[t].kind)
    return choose_type_threshold(confidence, right)


def grade_evidence(maps, config) -> GradeEvidence:
    """The grader's input for one photo, exactly as `Analyzer.analyze` builds it."""
    lesions, _ = lesions_from_maps(maps, config)
    return GradeEvidence(LesionCounts.from_lesions(lesions, split_uncertain=False),
                         peak_heights(maps.centre, SOFT_PEAK_FLOOR, config.min_peak_distance_px))


def train_evidence(analyzer: Analyzer, samples) -> list[tuple[GradeEvidence, int]]:
    """(evidence, true grade) of training photos, without keeping their maps."""
    out = []
    for sample in tqdm(samples, desc="train", mininterval=10):
        image = read_rgb(sample.image_path)
        _, _, maps = analyzer.segment(image, analyzer.face_detector.detect(image))
        out.append((grade_evidence(maps, analyzer.config), sample.grade))
    return out


def choose_grader(train: list[tuple[GradeEvidence, int]], valid: list[tuple[GradeEvidence, int]]
                  ) -> tuple[CountGrader, dict, list[dict]]:
    """Fit one grader per candidate feature set and L2 penalty on train and score each on valid.
    The smallest feature set within one valid photo of the best accuracy wins (then the more
    accurate, then the stronger penalty): a difference of one photo is noise, and fewer
    features generalise better to other cameras. Returns it, its valid scores and every
    candidate's."""
    y_train = np.array([g for _, g in train])
    y_valid = [g for _, g in valid]
    candidates = []
    for name, names in FEATURE_SETS.items():
        x_train = np.array([grade_features(e, names) for e, _ in train])
        x_valid = np.array([grade_features(e, names) for e, _ in valid])
        for l2 in GRADER_L2:
            grader = fit_count_grader(x_train, y_train, names, l2=l2)
            scores = grade_summary(grader.probabilities(x_valid).argmax(axis=1), y_valid)
            candidates.append((grader, {"features": name, "l2": l2, **scores}))
            log.info("grader %s l2=%g: valid accuracy %.4f", name, l2, scores["grade_accuracy"])
    top = max(scores["grade_accuracy"] for _, scores in candidates)
    close = [c for c in candidates if c[1]["grade_accuracy"] >= top - 1.0 / len(valid) - 1e-9]
    best = max(close, key=lambda c: (-len(c[0].features), c[1]["grade_accuracy"], c[1]["l2"]))
    return best[0], best[1], [scores for _, scores in candidates]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--run", type=Path, default=Path("runs/segmenter"))
    p.add_argument("--out", type=Path, default=Path("weights"))
    p.add_argument("--checkpoint", default="best.pt",
                   help="best.pt (best F1 on the run's valid subset) or last.pt (end of schedule)")
    p.add_argument("--train-every", type=int, default=3, help="use every n-th train photo for the grader")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--typicality-data", type=Path, nargs="*",
                   help="data sets (ACNE04 layout) whose train and valid photos fit the skin check "
                        "(core.typicality); default: --data alone. The shipped weights use ACNE04 "
                        "and web_acne")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    config = read_run_config(args.run)
    model = build_model(config)
    best = torch.load(args.run / args.checkpoint, map_location="cpu", weights_only=False)
    model.load_state_dict(best["model"])
    model.eval()
    engine = TorchEngine(model)  # calibration keeps PyTorch; the export checks ONNX against it

    detector = get_face_detector()
    valid_samples = read_split(args.data, "valid")
    caches, results = {}, []
    # Both with and without mirror-image averaging: it costs segmentation time, so it ships
    # only where it measures better on valid.
    for flip_tta in (False, True):
        analyzer = Analyzer(engine, replace(config, flip_tta=flip_tta), grader=None,
                            model_version="calibration", face_detector=detector)
        caches[flip_tta] = cached_maps(analyzer, valid_samples, f"valid flip_tta={flip_tta}")
        for lt in LESION_THRESHOLDS:
            for pt in PEAK_THRESHOLDS:
                for dist in PEAK_DISTANCES:
                    m = score_thresholds(caches[flip_tta], lt, pt, dist)
                    results.append({"flip_tta": flip_tta, "lesion_threshold": lt, "peak_threshold": pt,
                                    "min_peak_distance_px": dist, **m})
                    log.info("flip %s lesion %.2f peak %.2f distance %d -> %s", flip_tta, lt, pt, dist,
                             json.dumps({k: round(v, 4) for k, v in m.items()}))
    chosen = max(results, key=lambda r: r["f1"])
    config = replace(config, lesion_threshold=chosen["lesion_threshold"],
                     peak_threshold=chosen["peak_threshold"], flip_tta=chosen["flip_tta"],
                     min_peak_distance_px=chosen["min_peak_distance_px"])
    log.info("chosen on valid: %s", chosen)
    valid = caches[config.flip_tta]
    config = replace(config, type_confidence_threshold=type_threshold(valid, replace(
        config, type_confidence_threshold=0.0)))
    log.info("type confidence threshold chosen on valid: %.2f", config.type_confidence_threshold)
    analyzer = Analyzer(engine, config, grader=None, model_version="calibration", face_detector=detector)

    train = train_evidence(analyzer, read_split(args.data, "train")[:: args.train_every])
    valid_evidence = [(grade_evidence(maps, config), s.grade) for s, _, maps in valid]
    grader, learned, grader_scores = choose_grader(train, valid_evidence)
    feature_set = learned["features"]
    bins = grade_summary([hayashi_grade(e.counts) for e, _ in valid_evidence],
                         [g for _, g in valid_evidence])
    log.info("valid grade accuracy: learned (%s) %.4f, Hayashi count bins %.4f",
             feature_set, learned["grade_accuracy"], bins["grade_accuracy"])

    # Minutes in the version: two calibrations on one day must not share a model version.
    version = f"{datetime.now(timezone.utc):%Y.%m.%d.%H%M}-{config.encoder}"
    args.out.mkdir(parents=True, exist_ok=True)
    seg = save_segmenter(model, config, args.out)
    grd = save_grader(grader, args.out)
    valid_metrics = {**{k: round(v, 4) if isinstance(v, float) else v for k, v in chosen.items()},
                     "grade_accuracy_learned": round(learned["grade_accuracy"], 4),
                     "grader_features": feature_set,
                     "grade_accuracy_hayashi_bins": round(bins["grade_accuracy"], 4)}
    write_manifest(args.out, {
        "segmenter": {**seg, "version": f"seg-{version}", "metrics": {"valid": valid_metrics}},
        "grader": {**grd, "version": f"grader-{version}", "metrics": {"valid": learned}},
    })
    # The face detector ships in every weights folder: without it the folder cannot analyse.
    add_to_manifest(args.out, export_face_detector(args.out))
    # So does the skin check: without it a close-up without a face is not assessable.
    from core.training import fit_typicality

    fit_typicality.main(["--data", *map(str, args.typicality_data or [args.data]),
                         "--weights", str(args.out)])
    (args.run / f"calibration-{Path(args.checkpoint).stem}.json").write_text(json.dumps(
        {"thresholds": results, "chosen": chosen, "grade_valid_learned": learned,
         "grade_valid_bins": bins, "grader_feature_set": feature_set,
         "grader_candidates_valid": grader_scores}, indent=2))
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
