"""The fast training data path (issue 18): each photo decoded and resized once into a uint8
cache, each crop warped straight out of it (flip, scale and rotation composed with the crop into
one affine matrix, so only the crop's own pixels are computed), and the targets drawn in the crop
from the transformed boxes. The photometric changes come later, on the whole batch in torch on
the training device (core.training.photometric). The loader then ships uint8 crops.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from core.training.data import Sample, TrueLesion, kind_value, scaled_sample


def _scaled(job: tuple[Sample, float]) -> tuple[np.ndarray, tuple[TrueLesion, ...]]:
    return scaled_sample(*job)


class PhotoCache:
    """Every photo decoded and resized once (`scaled_sample`: the working scale for ACNE04, an
    extra set's per-photo factor), kept as uint8 RGB arrays with its boxes at that size.

    Built in the training process before the loader's workers start: forked workers share the
    arrays' memory (numpy data is never written, so copy-on-write copies nothing). At scale 0.8
    a 640 px photo takes 0.79 MB: ACNE04's 2973 training photos 2.3 GB. Decoding runs on
    `threads` threads (OpenCV releases the GIL)."""

    def __init__(self, samples: list[Sample], scales: float | list[float] = 1.0, threads: int | None = None):
        scales = [scales] * len(samples) if isinstance(scales, (int, float)) else list(scales)
        if len(scales) != len(samples):
            raise ValueError(f"{len(scales)} scales for {len(samples)} samples")
        threads = threads or min(16, os.cpu_count() or 1)
        if threads > 1 and len(samples) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                done = list(pool.map(_scaled, zip(samples, scales), chunksize=8))
        else:
            done = [_scaled(job) for job in zip(samples, scales)]
        self.images = [image for image, _ in done]
        self.lesions = [lesions for _, lesions in done]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def nbytes(self) -> int:
        return sum(image.nbytes for image in self.images)


def random_geometry(rng: np.random.Generator, width: int, height: int, crop: int) -> np.ndarray:
    """The 2x3 matrix from a cached photo's pixels to one random crop's: the same distribution
    as `build_augmentation`'s geometry (horizontal flip p 0.5; p 0.8 an affine about the photo's
    centre, x and y scaled independently by 0.7-1.4 and rotated by up to 15 degrees, in a frame
    of the photo's size; padded centred to the crop if smaller; a uniform crop position)."""
    flip = rng.random() < 0.5
    affine = rng.random() < 0.8
    sx, sy = rng.uniform(0.7, 1.4, 2)
    angle = np.deg2rad(rng.uniform(-15.0, 15.0))
    fx, fy = rng.random(2)  # the crop's position in the frame
    linear = np.diag([-1.0, 1.0]) if flip else np.eye(2)
    if affine:
        cos, sin = np.cos(angle), np.sin(angle)
        linear = np.array([[cos, -sin], [sin, cos]]) @ np.diag([sx, sy]) @ linear
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    shift = centre - linear @ centre  # about the centre: the frame keeps the photo's size
    pad = np.array([max(crop - width, 0) // 2, max(crop - height, 0) // 2])
    origin = np.array([int(fx * (max(width, crop) - crop + 1)), int(fy * (max(height, crop) - crop + 1))])
    return np.hstack([linear, (shift + pad - origin)[:, None]])


def render_targets_affine(shape: tuple[int, int], lesions: tuple[TrueLesion, ...], matrix: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """`render_targets` of the boxes carried through `matrix` (2x3, photo pixels -> target
    pixels): each lesion's ellipse and Gaussian are transformed with the image (a rotated or
    stretched ellipse stays one), drawn directly at the target's size. With the identity it
    draws exactly what `render_targets` draws."""
    h, w = shape
    kind_map = np.zeros((h, w), np.uint8)
    heat = np.zeros((h, w), np.float32)
    linear, shift = np.asarray(matrix[:, :2], np.float64), np.asarray(matrix[:, 2], np.float64)
    order = sorted(lesions, key=lambda l: -(l.bbox[2] - l.bbox[0]) * (l.bbox[3] - l.bbox[1]))
    for lesion in order:
        x0, y0, x1, y1 = lesion.bbox
        cx, cy = linear @ ((x0 + x1) / 2, (y0 + y1) / 2) + shift
        ax, ay = max((x1 - x0) / 2, 1), max((y1 - y0) / 2, 1)
        axes = linear * (ax, ay)  # columns: the images of the box's two half-axes
        reach_x, reach_y = np.hypot(*axes[0]), np.hypot(*axes[1])
        sx, sy = max(ax / 3, 1.0), max(ay / 3, 1.0)
        cov = linear @ np.diag([sx * sx, sy * sy]) @ linear.T
        ex, ey = 3 * np.sqrt(cov[0, 0]), 3 * np.sqrt(cov[1, 1])
        if cx + max(reach_x, ex) < 0 or cy + max(reach_y, ey) < 0 or cx - max(reach_x, ex) > w or \
                cy - max(reach_y, ey) > h:
            continue  # wholly outside the crop
        u, v = axes[:, 0], axes[:, 1]
        if abs(u @ v) > 1e-6 * (u @ u + v @ v):  # a sheared ellipse: its own axes
            left, sides, _ = np.linalg.svd(axes)
            u, v = left[:, 0] * sides[0], left[:, 1] * sides[1]
        angle = float(np.degrees(np.arctan2(u[1], u[0])))
        cv2.ellipse(kind_map, (int(round(cx)), int(round(cy))),
                    (int(round(np.hypot(*u))), int(round(np.hypot(*v)))), angle, 0, 360, kind_value(lesion.kind), -1)
        xa, xb = max(int(cx - ex), 0), min(int(cx + ex) + 1, w)
        ya, yb = max(int(cy - ey), 0), min(int(cy + ey) + 1, h)
        if xa >= xb or ya >= yb:
            continue
        inv = np.linalg.inv(cov)

        def spread(dx, dy):
            return inv[0, 0] * dx * dx + 2 * inv[0, 1] * dy * dx + inv[1, 1] * dy * dy

        # Peak 1 at the pixel nearest the centre, as render_targets has it; that pixel may lie
        # outside the crop, and then no pixel of the crop is a peak.
        fx, fy = np.floor(cx) - cx, np.floor(cy) - cy
        peak = min(spread(fx + i, fy + j) for i in (0, 1) for j in (0, 1))
        q = spread(np.arange(xa, xb) - cx, (np.arange(ya, yb) - cy)[:, None])
        g = np.exp(-0.5 * (q - peak)).astype(np.float32)
        np.minimum(g, 1.0, out=g)
        np.maximum(heat[ya:yb, xa:xb], g, out=heat[ya:yb, xa:xb])
    return kind_map, heat


class CachedCropDataset:
    """Random crops warped from a `PhotoCache` with their kind map and heatmap (torch Dataset
    protocol): the geometric half of `build_augmentation`. Returns the crop as uint8 (3, crop,
    crop), the kind map as uint8 and the heatmap as float32; `PhotometricAugment` does the
    rest on the batch (colour, blur, compression, noise, then the normalisation)."""

    def __init__(self, samples: list[Sample], crop: int, scale: float | list[float] = 1.0, seed: int = 0,
                 cache: PhotoCache | None = None, threads: int | None = None) -> None:
        self.samples = samples
        self.crop = crop
        self.cache = cache if cache is not None else PhotoCache(samples, scale, threads)
        if len(self.cache) != len(samples):
            raise ValueError(f"a cache of {len(self.cache)} photos for {len(samples)} samples")
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.samples)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __getitem__(self, index: int):
        import torch

        image = self.cache.images[index]
        h, w = image.shape[:2]
        matrix = random_geometry(self.rng, w, h, self.crop)
        out = cv2.warpAffine(image, matrix, (self.crop, self.crop), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        kind_map, heat = render_targets_affine((self.crop, self.crop), self.cache.lesions[index], matrix)
        return (torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))), torch.from_numpy(kind_map),
                torch.from_numpy(heat))
