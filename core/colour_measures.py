"""Redness and dark marks on a photo's skin, measured against the patient's own clear skin.

Per photo, over the skin the pipeline measures (the face-skin mask; the whole frame of a
close-up, of which only skin-coloured pixels count here):
- erythema as the erythema index EI = 100 log10(R / G) of linear light (which pixels are red)
  and CIELAB a* (how red: delta-a*), pigmentation as L* (lightness) and ITA (skin tone);
- the REFERENCE is the patient's own clear skin in the same photo: the median colour of skin
  away from lesions, red areas, dark marks, shadows and glare. Measures are differences from
  it, so a camera's colour cast, which moves the reference with the marks, largely cancels;
- red area: skin whose EI is at least `RED_DELTA_EI` above the reference (lesions included, as
  in VISIA's red areas); dark-mark area: skin at least `DARK_DELTA_L` darker than the clear skin
  around it (a smooth background of the clear skin, so that the face's own shading is not a
  mark) and browner than the clear skin (b* against lightness, which shading leaves alone),
  lesions and red areas excluded: a brown mark, not a red one. Both as shares of the
  measured skin, with mean delta-a* and delta-L* inside them.
Skin that cannot be measured is left out of every share: shadow (the smoothed lightness far
under the reference), glare, hair and nostrils (far darker than the skin around), clipped
pixels, and colours that are not skin (hue outside the skin range, no chroma).
A colour card, when `core.colour_card` finds one, corrects the photo first: the measures are
then "colour-referenced", else "self-referenced". Thresholds are the constants below, each with
its reason; the validation (`core.training.colour_validation`) is in weights/MODEL_CARD.md,
"Redness and dark marks".
Why the erythema index decides and a* reports: a difference of erythema indices is exactly
unchanged by a per-channel camera gain (white balance, exposure), a difference of a* only nearly
so (the red area moved 2-6 times less under the validation's white balance shifts with EI); a*
is the scale that colour-card correction, CIEDE2000 and the photo-based erythema trials
(delta-a*) speak, so the mean delta-a* inside the red area is reported.
"""
from __future__ import annotations

import cv2
import numpy as np

from core.colour_card import ColourCard
from core.colour_space import ita_degrees, srgb_to_lab, srgb_to_linear
from core.types import ColourMeasures

# --- Thresholds (the one place they live) -------------------------------------------------------
# Red area: the erythema index EI = 100 log10(R / G) (linear light; Dawson 1980) at least this
# far above the clear skin's. A camera's white balance and exposure multiply R and G, so a
# difference of EIs does not move with them (a difference of a* moves a little: with a delta-a*
# threshold the red area moved by a median 0.09-0.49 percentage points under +-8% white balance,
# with EI 0.03-0.11; weights/MODEL_CARD.md). 14 is, on ACNE04 skin, a delta-a* of about 6
# (delta-a* = 0.42 delta-EI,
# median over 15 valid photos, 0.31-0.54): twice the just-visible 2-3 units (CIEDE2000,
# CLINICAL.md); and 3 times the pixel spread of measured skin without lesions (robust SD of
# EI 4.6, range 3.1-8.2).
RED_DELTA_EI = 14.0
# Dark mark: L* at least this far under the skin around it (its background lightness): as for
# redness, about twice a just-visible difference. PIH is typically 5-15 L* units darker than
# the skin beside it; shading and hair are kept out by the rules below, not by this threshold.
DARK_DELTA_L = 6.0
# ... and browner: b*/(L* + 16) at least this far above the clear skin's. Shading scales a*,
# b* and L* + 16 alike (all follow the cube root of the light), so this ratio ignores the face's
# own shading and shadows, and hair (dark, little chroma) lowers it; melanin darkens the skin
# and keeps or raises its b*, so the ratio rises (0.03 is 12% of clear skin's, about 0.25).
DARK_MIN_BROWNING = 0.03
# Darker than this under the surroundings is hair, a nostril or a deep shadow, not a mark; so
# is the rim around it (NOT_SKIN_MARGIN of the skin's size).
NOT_SKIN_DELTA_L = 25.0
NOT_SKIN_MARGIN = 0.02
# Dark marks are looked for this far (share of the skin's size) inside the skin's edge: at the
# jaw line, the hairline and the sides of the nose the face turns away from the light, and hair
# and background blend in.
DARK_EDGE_MARGIN = 0.06
# Shadow: the smoothed lightness this far under the clear-skin reference (L* units).
SHADOW_DELTA_L = 15.0
# Glare: this far above the reference lightness.
GLARE_DELTA_L = 15.0
# Skin colours: hue angle h_ab (degrees) and chroma C*ab of a pixel that may be skin.
SKIN_HUE_DEGREES = (-20.0, 100.0)
SKIN_MIN_CHROMA = 4.0
CLIPPED = 250  # any channel at or above this: clipped, not measured
# Lesions grow by this share of the skin's size (square root of its pixel count) before they are
# kept out of the reference and of the dark marks (their red rim).
LESION_MARGIN = 0.01
# The skin's background lightness, against which dark marks are found: the median of a window
# of this share of the skin's size (about 2 cm on a face: larger than most marks, smaller than
# the face's shading), over the skin without lesions, red areas and the marks found by the pass
# before (filled in from the skin around), then smoothed. A median ignores marks covering less
# than half the window, where a mean would sink under a cluster of them.
BACKGROUND_WINDOW = 0.15
BACKGROUND_PASSES = 2
# The shadow test smooths the lightness more (a shadow is larger than a mark).
SHADOW_SIGMA = 0.12
# Pixel noise is smoothed with this Gaussian (pixels) before the thresholds.
NOISE_SIGMA = 1.0
# Fewer measured skin pixels than this: no colour measures.
MIN_MEASURED_PX = 500

# The change between two photos that a retaken photo stays within (MDC95, percentage points
# of the measured skin): 30 ACNE04 valid photos x 5 simulated retakes (framing, exposure, white
# balance, JPEG; benchmarks/results/colour_validation.json). For the red area one photo, whose
# clear-skin reference flipped between two skin colours, is left out (with it: 14.2).
RETAKE_MDC95_PP: dict[str, float] = {"red": 2.9, "dark": 3.1}

COLOUR_REFERENCED = "colour-referenced"
SELF_REFERENCED = "self-referenced"
# Mask values of `core.types.ColourMeasures.mask` (bits): the viewer's "Redness" and
# "Dark marks" layers.
RED_BIT, DARK_BIT = 1, 2
MEASURED_BIT = 4  # the skin that was measured (the areas' denominator)


def _blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur; a wide one is done on a copy shrunk by up to sigma / 3 and enlarged back
    (the same result to well under the noise, at a fraction of the cost)."""
    factor = int(sigma // 3)
    if factor < 2:
        return cv2.GaussianBlur(plane, (0, 0), sigma)
    h, w = plane.shape
    small = cv2.resize(plane, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _smooth_within(values: np.ndarray, weight: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(weighted Gaussian mean of `values` over `weight`, the Gaussian mass of `weight`)."""
    w = weight.astype(np.float32)
    mass = _blur(w, sigma)
    total = _blur(values.astype(np.float32) * w, sigma)
    return total / np.maximum(mass, 1e-6), mass


def _median_background(lightness: np.ndarray, weight: np.ndarray, window: int, fallback: float) -> np.ndarray:
    """The median lightness of the `weight` pixels in a `window`-wide square around each pixel
    (pixels outside `weight` filled in from a Gaussian mean of those around), then smoothed."""
    filled, mass = _smooth_within(lightness, weight, window / 2.0)
    filled = np.where(mass > 1e-3, filled, fallback)
    values = np.where(weight, lightness, filled)
    # 8-bit for OpenCV's constant-time median of large windows: 0.4 L* steps.
    coded = np.clip(np.round(values * 2.55), 0, 255).astype(np.uint8)
    median = cv2.medianBlur(coded, min(window, 255)).astype(np.float32) / 2.55
    return _blur(median, max(window / 6.0, 1.0))


def _open(mask: np.ndarray) -> np.ndarray:
    """`mask` without isolated pixels (opening with a 3 x 3 cross)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)


def measure_colour(image: np.ndarray, skin: np.ndarray, lesions: np.ndarray,
                   card: ColourCard | None = None) -> ColourMeasures | None:
    """Redness and dark marks of `image` (RGB uint8) over `skin` (bool mask, same size), with
    `lesions` (bool mask) kept out of the reference and of the dark marks; `card` corrects the
    colours first. None when too little skin can be measured."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} {image.dtype}")
    if skin.shape != image.shape[:2] or lesions.shape != image.shape[:2]:
        raise ValueError(f"skin {skin.shape} and lesion {lesions.shape} masks must match the "
                         f"image {image.shape[:2]}")
    skin = skin.astype(bool)
    size = float(np.sqrt(max(int(skin.sum()), 1)))
    if card is not None:
        image = card.correct(image)
    clipped = image.max(axis=2) >= CLIPPED
    smooth = cv2.GaussianBlur(image, (0, 0), NOISE_SIGMA)
    lab = srgb_to_lab(smooth)
    lightness, a_star, b_star = lab[..., 0], lab[..., 1], lab[..., 2]
    browning = b_star / (lightness + 16.0)
    linear = srgb_to_linear(smooth)
    erythema = 100.0 * np.log10(np.maximum(linear[..., 0], 1e-4) / np.maximum(linear[..., 1], 1e-4))
    hue = np.degrees(np.arctan2(b_star, a_star))
    chroma = np.hypot(a_star, b_star)
    skin_like = (hue >= SKIN_HUE_DEGREES[0]) & (hue <= SKIN_HUE_DEGREES[1]) & (chroma >= SKIN_MIN_CHROMA)
    valid = skin & ~clipped & skin_like
    if valid.sum() < MIN_MEASURED_PX:
        return None

    margin = max(1, int(round(LESION_MARGIN * size)))
    grown = cv2.dilate(lesions.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)).astype(bool)
    first = valid & ~grown
    if first.sum() < MIN_MEASURED_PX:
        first = valid
    ref_l = float(np.median(lightness[first]))
    window = 2 * int(round(BACKGROUND_WINDOW * size / 2)) + 1
    shade, _ = _smooth_within(lightness, valid, SHADOW_SIGMA * size)
    measured = valid & (shade > ref_l - SHADOW_DELTA_L) & (lightness < ref_l + GLARE_DELTA_L)
    if measured.sum() < MIN_MEASURED_PX:
        return None

    # The clear skin: no lesion, neither red nor dark against a first reference; then its median.
    ref_ei = float(np.median(erythema[first]))
    clear = measured & ~grown & (erythema - ref_ei < RED_DELTA_EI) & (lightness - ref_l > -DARK_DELTA_L)
    if clear.sum() < MIN_MEASURED_PX:
        clear = measured & ~grown if (measured & ~grown).sum() >= MIN_MEASURED_PX else measured
    ref_l, ref_a, ref_b = (float(np.median(c[clear])) for c in (lightness, a_star, b_star))
    ref_browning = float(np.median(browning[clear]))
    ref_ei = float(np.median(erythema[clear]))

    delta_a = a_star - ref_a
    red = _open(measured & (erythema - ref_ei >= RED_DELTA_EI))
    # Dark marks against the skin's background lightness, recomputed once without them.
    background_weight = measured & ~grown & ~red
    edge = max(1, int(round(DARK_EDGE_MARGIN * size)))
    inner = cv2.erode(skin.astype(np.uint8), np.ones((2 * edge + 1,) * 2, np.uint8),
                      borderType=cv2.BORDER_REPLICATE).astype(bool)
    delta_l = np.zeros_like(lightness)
    dark = np.zeros_like(measured)
    for _ in range(BACKGROUND_PASSES):
        background = _median_background(lightness, background_weight, window, ref_l)
        delta_l = lightness - background
        dark = (measured & inner & ~grown & ~red & (delta_l <= -DARK_DELTA_L)
                & (browning - ref_browning >= DARK_MIN_BROWNING))
        background_weight = measured & ~grown & ~red & ~dark
    rim = max(1, int(round(NOT_SKIN_MARGIN * size)))
    not_skin = cv2.dilate((measured & (delta_l <= -NOT_SKIN_DELTA_L)).astype(np.uint8),
                          np.ones((2 * rim + 1,) * 2, np.uint8)).astype(bool) & measured
    measured &= ~not_skin
    red &= measured
    dark = _open(dark & ~not_skin)
    n = int(measured.sum())
    if n < MIN_MEASURED_PX:
        return None
    mask = (np.where(red, RED_BIT, 0) | np.where(dark, DARK_BIT, 0)
            | np.where(measured, MEASURED_BIT, 0)).astype(np.uint8)
    return ColourMeasures(
        reference=COLOUR_REFERENCED if card is not None else SELF_REFERENCED,
        red_area_fraction=float(red.sum()) / n,
        dark_area_fraction=float(dark.sum()) / n,
        red_mean_delta_a=float(delta_a[red].mean()) if red.any() else None,
        dark_mean_delta_l=float(delta_l[dark].mean()) if dark.any() else None,
        skin_l=ref_l, skin_a=ref_a, skin_b=ref_b, skin_ita=float(ita_degrees(ref_l, ref_b)),
        measured_fraction=n / max(int(skin.sum()), 1),
        card_delta_e=card.residual_delta_e if card is not None else None,
        mask=mask,
    )


def layer_outlines(mask: np.ndarray, bit: int, *, min_area_px: int = 4,
                   epsilon_px: float = 1.0) -> tuple[np.ndarray, ...]:
    """The outlines (N x 2 float arrays of x, y photo pixels, closed) of the regions of the
    colour mask holding `bit` (RED_BIT or DARK_BIT), simplified to `epsilon_px`, for the viewer's
    "Redness" and "Dark marks" layers; regions under `min_area_px` pixels are left out."""
    if bit not in (RED_BIT, DARK_BIT, MEASURED_BIT):
        raise ValueError(f"bit {bit} is not a colour layer; expected {RED_BIT}, {DARK_BIT} or {MEASURED_BIT}")
    plane = ((np.asarray(mask) & bit) > 0).astype(np.uint8)
    contours, _ = cv2.findContours(plane, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outlines = []
    for contour in contours:
        if cv2.contourArea(contour) < min_area_px:
            continue
        points = cv2.approxPolyDP(contour, epsilon_px, True).reshape(-1, 2).astype(np.float64)
        outlines.append(np.vstack([points, points[:1]]))
    return tuple(outlines)
