"""Photo perturbations that stand in for other cameras and lighting, for measuring robustness.

The models will meet photos unlike ACNE04's clinic camera. `evaluate --perturb NAME,...` scores
each perturbed copy of a split against the clean photos, photo for photo. These are proxies
for exposure, white balance, focus, compression, sensor noise and resolution; they do not
simulate other skin tones (darkening a photo is not a darker skin).
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

# A perturbation returns the new photo and the factor its pixel frame was resized by (so the
# true boxes can follow).
Perturbation = Callable[[np.ndarray], tuple[np.ndarray, float]]


def _gain(rgb: tuple[float, float, float]) -> Perturbation:
    def apply(image: np.ndarray) -> tuple[np.ndarray, float]:
        out = image.astype(np.float32) * np.array(rgb, np.float32)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8), 1.0
    return apply


def _blur(image: np.ndarray) -> tuple[np.ndarray, float]:
    # Sigma relative to a 640 px photo: a slightly missed focus on a phone.
    sigma = 1.2 * max(image.shape[:2]) / 640
    return cv2.GaussianBlur(image, (0, 0), sigma), 1.0


def _jpeg(image: np.ndarray) -> tuple[np.ndarray, float]:
    # Quality 25: what messaging apps do to a photo a patient sends in.
    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 25])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]), 1.0


def _noise(image: np.ndarray) -> tuple[np.ndarray, float]:
    # Seeded by the photo's size so a rerun gives the same noise.
    rng = np.random.default_rng(image.shape[0] * 7919 + image.shape[1])
    out = image.astype(np.float32) + rng.normal(0.0, 6.0, image.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), 1.0


def _resize(factor: float) -> Perturbation:
    def apply(image: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        size = (round(w * factor), round(h * factor))
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        return cv2.resize(image, size, interpolation=interpolation), factor
    return apply


PERTURBATIONS: dict[str, Perturbation] = {
    "darker": _gain((0.6, 0.6, 0.6)),  # under-exposed, dim room
    "brighter": _gain((1.35, 1.35, 1.35)),  # over-exposed, flash
    "warm": _gain((1.12, 1.0, 0.85)),  # tungsten light / warm white balance
    "cool": _gain((0.88, 1.0, 1.12)),  # shade / cool white balance
    "blur": _blur,
    "jpeg": _jpeg,
    "noise": _noise,
    "high_res": _resize(2.5),  # the same face from a higher-resolution camera (1600 px)
    "low_res": _resize(0.5),  # a low-resolution webcam (320 px)
}


def get_perturbations(names: str) -> dict[str, Perturbation]:
    """Comma-separated names, or "all"; unknown names raise with the valid ones listed."""
    wanted = list(PERTURBATIONS) if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in PERTURBATIONS]
    if unknown or not wanted:
        raise ValueError(f"unknown perturbations {unknown or names!r}; valid: all, {', '.join(PERTURBATIONS)}")
    return {n: PERTURBATIONS[n] for n in wanted}
