"""Decode, validate, orient, re-encode and hash uploads."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_png(array: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 gray (H x W) or RGB (H x W x 3) array."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """Inverse of `encode_png`."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image).copy()
