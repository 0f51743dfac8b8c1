"""Calibrate close-ups on close-ups: choose the long side a photo without a usable face is
segmented at and its peak threshold, on the valid close-ups of every data set, and write them
into an installed weights folder (segmenter.json and the manifest's checksum and version).

    python -m core.training.calibrate_closeups --data ../shared/data/acne04 \
        --data ../shared/data/web_acne --weights weights

A whole face is scaled by its width; a close-up (no face found at all) has none to scale by, so the
product resizes it to one long side. A rough face (a half face, a face filling the frame) keeps the
whole-face settings: on the valid photos they measured best for it. Close-ups differ between data sets (ACNE04's are half faces of dense severe
acne, web_acne's are zoomed cheeks), so the choice minimises the mean of the data sets' own
close-up count MAE: each set has one vote however many close-ups it holds. Only valid photos are
read; the test split is never opened here.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from core.lesions import lesions_from_maps
from core.manifest import MANIFEST_NAME, sha256_of
from core.pipeline import Analyzer, load_analyzer
from core.types import FaceResult

log = logging.getLogger("calibrate_closeups")
SIDES = (256, 288, 320, 352, 384)
PEAK_THRESHOLDS = (0.18, 0.2, 0.22, 0.24, 0.26, 0.28, 0.3, 0.34)


@dataclass(frozen=True)
class CloseupCounts:
    """One valid close-up: its data set, its labelled count, and the count at each candidate
    (side, peak threshold)."""

    data_set: str
    true_count: int
    counts: dict[tuple[int, float], int]


def valid_closeups(analyzer: Analyzer, data: Path, sides=SIDES, thresholds=PEAK_THRESHOLDS
                   ) -> list[CloseupCounts]:
    """Counts of every labelled valid photo of `data` in which no face is found (a close-up)."""
    from core.training.data import labelled_only, read_rgb, read_split

    base, out = analyzer.config, []
    for sample in labelled_only(read_split(data, "valid")):
        image = read_rgb(sample.image_path)
        if analyzer.face_detector.detect(image).found:  # a face, even a rough one: not a close-up
            continue
        counts = {}
        for side in sides:
            config = replace(base, closeup_image_side=side, closeup_peak_threshold=None)
            analyzer.config = config
            try:
                _, _, maps = analyzer.segment(image, FaceResult(found=False))
            finally:
                analyzer.config = base
            for threshold in thresholds:
                counts[(side, threshold)] = len(lesions_from_maps(
                    maps, replace(config.for_closeup(), peak_threshold=threshold))[0])
        out.append(CloseupCounts(data.name, len(sample.lesions), counts))
    return out


def score(closeups: list[CloseupCounts], key: tuple[int, float]) -> dict:
    """Count MAE and bias per data set at one candidate, and their mean (the objective)."""
    by_set = {}
    for name in sorted({c.data_set for c in closeups}):
        errors = np.array([c.counts[key] - c.true_count for c in closeups if c.data_set == name], float)
        by_set[name] = {"n": int(errors.size), "count_mae": round(float(np.abs(errors).mean()), 3),
                        "count_bias": round(float(errors.mean()), 3)}
    mean_mae = float(np.mean([s["count_mae"] for s in by_set.values()])) if by_set else float("nan")
    return {"side": key[0], "peak_threshold": key[1], "mean_mae": round(mean_mae, 3), "by_set": by_set}


def choose(closeups: list[CloseupCounts]) -> tuple[dict, list[dict]]:
    """The candidate with the lowest mean per-set MAE (ties: the larger side, then the lower
    threshold, the nearer to a whole face's settings), and every candidate's score."""
    if not closeups:
        raise ValueError("no valid close-ups to calibrate on: a face was found in every valid photo")
    scores = [score(closeups, key) for key in closeups[0].counts]
    best = min(scores, key=lambda s: (s["mean_mae"], -s["side"], s["peak_threshold"]))
    return best, scores


def install(weights: Path, side: int, threshold: float) -> str:
    """Write the chosen close-up settings into the folder's segmenter.json and its manifest
    (config checksum, and a segmenter version that says the close-ups were calibrated)."""
    manifest_path = weights / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["models"]["segmenter"]
    config_path = weights / entry["config"]
    config = json.loads(config_path.read_text())
    config.update(closeup_image_side=side, closeup_peak_threshold=threshold)
    tmp = config_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(config_path)
    entry["config_sha256"] = sha256_of(config_path)
    version = entry["version"].split("+closeups-")[0]
    entry["version"] = f"{version}+closeups-{datetime.now(timezone.utc):%Y.%m.%d.%H%M}"
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(manifest_path)
    return entry["version"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, action="append", required=True,
                   help="a data set in ACNE04's layout (repeat: ACNE04 and web_acne)")
    p.add_argument("--weights", type=Path, required=True, help="the installed weights folder to calibrate")
    p.add_argument("--dry-run", action="store_true", help="print the choice, change nothing")
    p.add_argument("--report", type=Path, help="also write every candidate's score to this JSON file")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    analyzer = load_analyzer(args.weights)
    closeups = [c for data in args.data for c in valid_closeups(analyzer, data)]
    best, scores = choose(closeups)
    current = analyzer.config.for_closeup()
    before_key = (current.train_image_side, current.peak_threshold)
    before = score(closeups, before_key) if before_key in closeups[0].counts else None
    print(json.dumps({"chosen": best, "before": before}, indent=2))
    if args.report:
        args.report.write_text(json.dumps({"chosen": best, "before": before, "candidates": scores},
                                          indent=2) + "\n")
    if not args.dry_run:
        version = install(args.weights, best["side"], best["peak_threshold"])
        log.info("close-ups: side %d, peak threshold %.2f; segmenter version %s",
                 best["side"], best["peak_threshold"], version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
