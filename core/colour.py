"""Colour constancy before segmentation: take out the colour cast of the light and camera.

Photos from other cameras and rooms carry a colour cast (warm bulbs, cool daylight, a phone's
white balance) that the segmenter never saw in one hospital's photos. These estimate the
light's colour from the image itself and divide it out, keeping the overall brightness:
- "grey_world": the scene averages to grey (Buchsbaum 1980);
- "shades_of_grey": the same with a Minkowski p-norm (p = 6), less swayed by large flat areas
  (Finlayson and Trezzi 2004).
Whether one ships is decided by measurement (weights/MODEL_CARD.md): `SegmenterConfig.colour_constancy`.
"""
from __future__ import annotations

import numpy as np

COLOUR_CONSTANCY: tuple[str, ...] = ("none", "grey_world", "shades_of_grey")
SHADES_OF_GREY_P = 6.0
# A channel is never scaled by more than this (a photo of one colour must not explode).
MAX_GAIN = 2.5


def light_estimate(image: np.ndarray, method: str) -> np.ndarray:
    """The light's colour (3 values, mean 1) that `method` sees in an RGB uint8 image."""
    if method not in COLOUR_CONSTANCY[1:]:
        raise ValueError(f"colour constancy {method!r} must be one of {', '.join(COLOUR_CONSTANCY)}")
    pixels = image.reshape(-1, 3).astype(np.float32) / 255.0
    if pixels.shape[0] > 65536:  # every 16th pixel is plenty to estimate three numbers
        pixels = pixels[:: max(1, pixels.shape[0] // 65536)]
    if method == "grey_world":
        light = pixels.mean(axis=0)
    else:
        light = np.power(np.power(pixels, SHADES_OF_GREY_P).mean(axis=0), 1.0 / SHADES_OF_GREY_P)
    light = np.maximum(light, 1e-3)
    return light / light.mean()


def balance_colours(image: np.ndarray, method: str) -> np.ndarray:
    """`image` with the light's colour divided out ("none": the image itself)."""
    if method == "none":
        return image
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} {image.dtype}")
    gain = np.clip(1.0 / light_estimate(image, method), 1.0 / MAX_GAIN, MAX_GAIN)
    balanced = image.astype(np.float32) * gain.astype(np.float32)
    return np.clip(balanced + 0.5, 0, 255).astype(np.uint8)
