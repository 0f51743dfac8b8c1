"""Benchmark of the comparable-photo steps: face detection + quality gate + alignment, per photo,
on 2 CPU threads, and the alignment error on transformed copies (not a timed test).

    python -m benchmarks.bench_face [--repeats 15] [--threads 2]

Photos: scikit-image's public-domain astronaut photo at 640x640 and upscaled to 12 MP
(3464x3464). Prints one JSON object: median / p95 wall milliseconds per photo (target: under
150 ms at 12 MP) and the median CPU milliseconds, the same without landmark refinement, and the
alignment errors (fractions of the eye distance) on rotated, rescaled and shifted copies.
"""
from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
from skimage import data

from core.alignment import (
    CANONICAL_INTER_OCULAR,
    CANONICAL_LANDMARKS,
    estimate_alignment,
    invert_alignment,
    transform_points,
)
from core.face import FaceDetector
from core.quality import assess_quality

SIZES = {"640x640": 640, "12MP": 3464}
# (rotation degrees, scale, extra margin x/y in px) of the transformed copies.
COPIES = ((12.0, 0.6, (30, 20)), (-15.0, 0.6, (10, 40)), (10.0, 2.0, (60, 30)), (-13.0, 2.0, (20, 80)))


def transformed_copy(image: np.ndarray, angle: float, scale: float, margin: tuple[int, int]):
    """The photo rotated and scaled about its centre on a canvas that holds all of it, shifted by
    `margin`; returns (copy, 2x3 matrix original -> copy)."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, scale)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], float) @ matrix[:, :2].T + matrix[:, 2]
    low, high = corners.min(axis=0), corners.max(axis=0)
    matrix[:, 2] += -low + np.asarray(margin, float)
    size = (int(np.ceil(high[0] - low[0] + 2 * margin[0])), int(np.ceil(high[1] - low[1] + 2 * margin[1])))
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR), tuple(matrix.reshape(-1))


def alignment_errors(detector: FaceDetector, image: np.ndarray) -> list[dict[str, object]]:
    """Per copy: `registration` = where the copy's canonical frame lands on the original's, and
    `landmarks` = the copy's landmarks mapped back onto the original's, each as mean and max
    over the 5 points, in eye distances."""
    reference = detector.detect(image)
    ref_points = np.asarray(reference.landmarks)
    ref_alignment = estimate_alignment(ref_points)
    inter_ocular = float(np.linalg.norm(ref_points[1] - ref_points[0]))
    rows = []
    for angle, scale, margin in COPIES:
        copy, to_copy = transformed_copy(image, angle, scale, margin)
        face = detector.detect(copy)
        if not face.found:
            rows.append({"angle": angle, "scale": scale, "found": False})
            continue
        points = np.asarray(face.landmarks)
        alignment = estimate_alignment(points)
        back = invert_alignment(to_copy)
        landmark_error = np.linalg.norm(transform_points(points, back) - ref_points, axis=1) / inter_ocular
        # canonical -> copy -> original -> canonical should be the identity
        in_copy = transform_points(CANONICAL_LANDMARKS, invert_alignment(alignment))
        round_trip = transform_points(transform_points(in_copy, back), ref_alignment)
        registration = np.linalg.norm(round_trip - CANONICAL_LANDMARKS, axis=1) / CANONICAL_INTER_OCULAR
        rows.append({
            "angle": angle, "scale": scale, "found": True,
            "registration_mean": round(float(registration.mean()), 4),
            "registration_max": round(float(registration.max()), 4),
            "landmarks_mean": round(float(landmark_error.mean()), 4),
            "landmarks_max": round(float(landmark_error.max()), 4),
        })
    return rows


def time_per_photo(detector: FaceDetector, image: np.ndarray, repeats: int) -> dict[str, float]:
    def once() -> None:
        face = detector.detect(image)
        assess_quality(image, face)
        if face.found:
            estimate_alignment(face.landmarks)

    once()  # warm-up (model load, allocator)
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        once()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    ms = np.asarray(wall) * 1000.0
    return {
        "median_ms": round(float(np.median(ms)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        # CPU time of this process, all threads: on a busy machine the wall time above is
        # inflated by other work, this is not (with 1 thread it estimates an idle run).
        "cpu_median_ms": round(float(np.median(cpu)) * 1000.0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    astronaut = data.astronaut()
    photos = {
        name: cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_CUBIC) for name, side in SIZES.items()
    }
    refined = FaceDetector(refine_landmarks=True, threads=args.threads)
    plain = FaceDetector(refine_landmarks=False, threads=args.threads)
    result = {
        "threads": args.threads,
        "repeats": args.repeats,
        "per_photo": {name: time_per_photo(refined, photo, args.repeats) for name, photo in photos.items()},
        "per_photo_without_refinement": {
            name: time_per_photo(plain, photo, args.repeats) for name, photo in photos.items()
        },
        "alignment_error": alignment_errors(refined, astronaut),
        "alignment_error_without_refinement": alignment_errors(plain, astronaut),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
