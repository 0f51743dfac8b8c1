"""Where the shipped weights do well and badly, by kind of photo (weights/MODEL_CARD.md).

`python -m benchmarks.subgroups --data DIR --split test --per-photo CSV` reads the per-photo CSV
that `core.training.evaluate --per-photo` wrote and groups its photos by what the image shows:
- skin tone, from the Individual Typology Angle (ITA, Chardon 1991) of the photo's central half
  in CIELAB: light > 41 deg, intermediate 28-41, tan 10-28, brown or dark < 10. It is measured on
  the whole central region (skin with some hair and background), so it is a rough grouping;
- lighting, from the mean CIELAB lightness L* of that region: dim < 45, normal 45-70, bright > 70;
- framing: a whole face (MTCNN finds a face on its first look) or a close-up / partial face.
It prints lesion F1, count MAE and mean true count per group, with the number of photos.
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from core.training.data import read_rgb, read_split


def ita_and_lightness(image: np.ndarray) -> tuple[float, float]:
    h, w = image.shape[:2]
    centre = image[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    lab = cv2.cvtColor(centre, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    lightness = float(np.median(lab[:, 0])) * 100.0 / 255.0
    b = float(np.median(lab[:, 2])) - 128.0
    return float(np.degrees(np.arctan2(lightness - 50.0, b))), lightness


def tone(ita: float) -> str:
    return "light" if ita > 41 else "intermediate" if ita > 28 else "tan" if ita > 10 else "brown or dark"


def light(lightness: float) -> str:
    return "dim" if lightness < 45 else "bright" if lightness > 70 else "normal"


def summary(rows: list[dict]) -> str:
    tp = sum(int(r["tp"]) for r in rows)
    pred = sum(int(r["n_pred"]) for r in rows)
    true = sum(int(r["n_true"]) for r in rows)
    f1 = 2 * tp / (pred + true) if pred + true else float("nan")
    mae = np.mean([abs(int(r["pred_count"]) - int(r["true_count"])) for r in rows])
    return f"{len(rows):4d} photos  F1 {f1:.3f}  count MAE {mae:5.2f}  mean true count {np.mean([int(r['true_count']) for r in rows]):5.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.subgroups", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--per-photo", type=Path, required=True)
    args = p.parse_args(argv)
    from core.face import get_face_detector

    detector = get_face_detector()
    paths = {s.image_path.name: s.image_path for s in read_split(args.data, args.split)}
    groups: dict[str, list[dict]] = defaultdict(list)
    with args.per_photo.open(newline="") as handle:
        for row in csv.DictReader(handle):
            image = read_rgb(paths[row["image"]])
            ita, lightness = ita_and_lightness(image)
            face = detector.detect(image)
            groups[f"skin tone: {tone(ita)}"].append(row)
            groups[f"lighting: {light(lightness)}"].append(row)
            groups["framing: " + ("whole face" if face.found and not face.rough else "close-up or partial face")].append(row)
            groups["all"].append(row)
    for name in sorted(groups):
        print(f"{name:40s} {summary(groups[name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
