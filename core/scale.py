"""Scale normalisation: the face's size in pixels decides the working resolution, so a
12-megapixel phone photo and a small crop of the same face are segmented at the same scale."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.types import FaceResult

# Never enlarge a tiny face more than this: upsampled pixels carry no new detail.
MAX_UPSCALE = 3.0


@dataclass(frozen=True)
class WorkingFrame:
    """The part of the photo the segmenter sees and the factor it is resized by.

    Working pixel (u, v) corresponds to photo pixel (x0 + u / scale, y0 + v / scale)."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float

    def to_photo(self, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        bx0, by0, bx1, by1 = box
        s = self.scale
        return (int(np.floor(self.x0 + bx0 / s)), int(np.floor(self.y0 + by0 / s)),
                int(np.ceil(self.x0 + bx1 / s)), int(np.ceil(self.y0 + by1 / s)))

    def crop(self, image: np.ndarray, pixel_size: int = 1) -> np.ndarray:
        """The working image: the frame's region resized by `scale`. `pixel_size`: each pixel of
        `image` stands for a square of that many photo pixels a side (a reduced decode); the
        region is then cut at the whole pixels around it (at most one photo pixel wider)."""
        if pixel_size < 1:
            raise ValueError(f"pixel_size {pixel_size} must be a whole number of at least 1")
        k = pixel_size
        region = image[self.y0 // k:-(-self.y1 // k), self.x0 // k:-(-self.x1 // k)]
        w = max(int(round((self.x1 - self.x0) * self.scale)), 1)
        h = max(int(round((self.y1 - self.y0) * self.scale)), 1)
        interpolation = cv2.INTER_AREA if self.scale * k < 1 else cv2.INTER_LINEAR
        return cv2.resize(region, (w, h), interpolation=interpolation)

    def paste(self, plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """A working-resolution plane put back at photo size (nearest neighbour, zeros outside)."""
        out = np.zeros(shape, plane.dtype)
        size = (self.x1 - self.x0, self.y1 - self.y0)
        out[self.y0:self.y1, self.x0:self.x1] = cv2.resize(plane, size, interpolation=cv2.INTER_NEAREST)
        return out


def working_frame(shape: tuple[int, int], face: FaceResult, face_width_px: float,
                  context: float, fallback_side: int) -> WorkingFrame:
    """Crop around the face (a square `context` face widths wide, as in the training photos) and
    resize so the face is `face_width_px` wide. Without a face, the whole photo is resized so its
    long side is `fallback_side`."""
    if face_width_px <= 0 or context <= 0 or fallback_side <= 0:
        raise ValueError(f"face width {face_width_px}, context {context} and side {fallback_side} "
                         "must be positive")
    h, w = shape
    if not face.found or face.box is None:
        return WorkingFrame(0, 0, w, h, min(fallback_side / max(h, w), MAX_UPSCALE))
    fx0, fy0, fx1, fy1 = face.box
    face_w = max(fx1 - fx0, 1.0)
    half = context * face_w / 2
    cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
    x0, x1 = max(int(cx - half), 0), min(int(np.ceil(cx + half)), w)
    y0, y1 = max(int(cy - half), 0), min(int(np.ceil(cy + half)), h)
    return WorkingFrame(x0, y0, x1, y1, min(face_width_px / face_w, MAX_UPSCALE))
