"""Photo quality gate: is this photo good enough to count lesions and compare with other visits?

Each check has a module-level threshold; every measured value is returned in
`QualityResult.metrics`, and every failed check gives one reason a patient can act on.

Framing is judged by the view (issue 26): only a front view must hold the whole face. A left or
right view shows half a face by design (ACNE04 grades such photos as they are), and a close-up
(no face found, or one found only roughly because it fills the frame) is a photo of skin, so
neither is "cut off". A photo without a face is judged as a close-up: size, sharpness and
exposure of the whole photo (whether it can be assessed at all is core.assessment's question).
"""
from __future__ import annotations

import cv2
import numpy as np

from core.types import FaceResult, QualityResult

# Shorter photo side, px. The lesion model learns from 640 x 640 photos (ACNE04); much smaller
# photos lose the smallest lesions.
MIN_SHORT_SIDE_PX = 480
# Sharpness = variance of the Laplacian of the grey face crop resized to SHARPNESS_FACE_WIDTH px
# wide (so it does not depend on the photo's resolution) and scaled to a fixed contrast
# (SHARPNESS_REFERENCE_STD). Measured: public-domain astronaut photo 243, 2x upscaled 174 (bicubic)
# or 100 (bilinear), JPEG quality 50: 194; after a Gaussian blur of sigma 1 px: 25, sigma 2: 8.5.
# ACNE04 validation photos: 5th percentile 137, median 267.
SHARPNESS_FACE_WIDTH = 128
SHARPNESS_REFERENCE_STD = 50.0
MIN_SHARPNESS = 60.0
# Face-region luminance (Rec. 601 luma, 0-255), measured on the central part of the face box.
MIN_FACE_LUMA = 60.0
MAX_FACE_LUMA = 210.0
# Fraction of face pixels crushed to black (luma <= DARK_LUMA) or burnt to white
# (luma >= BRIGHT_LUMA): lesions cannot be seen there.
DARK_LUMA = 10
BRIGHT_LUMA = 250
MAX_CLIPPED_FRACTION = 0.10
# Central part of the face box used for exposure (keeps hair and background out).
EXPOSURE_BOX_FRACTION = 0.6
# Face width relative to the photo's shorter side, and in pixels. These are floors for finding
# landmarks and registering visits, set so the 512 px test photo (face 91 px wide) passes; they
# are far below what lesion counting needs: ACNE04 lesions are about 8% of the face width
# (median box 35 px on faces about 440 px wide), so on an 80 px face a lesion spans ~6 px.
MIN_FACE_WIDTH_FRACTION = 0.12
MIN_FACE_WIDTH_PX = 80
# Share of the face box area lying outside the photo before the face counts as cut off (MTCNN's
# box reaches a little past the brow and chin, so a face touching the border is tolerated).
# A landmark outside the photo always counts as cut off.
MAX_FACE_OUTSIDE_FRACTION = 0.10
# |yaw_ratio| (see core.face) beyond which the head is turned too far for the landmarks and
# regions to be trusted: about 0.5 x tan(turn angle), so 0.8 is close to a profile (~58 degrees).
# Three-quarter "left"/"right" views pass: ACNE04's side-view photos measure about 0.45-0.65.
MAX_YAW_RATIO = 0.8


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _crop(image: np.ndarray, box: tuple[float, float, float, float], keep: float) -> np.ndarray:
    """The central `keep` fraction of a box, clipped to the photo (whole photo if empty)."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half_w, half_h = (x1 - x0) * keep / 2.0, (y1 - y0) * keep / 2.0
    left = int(np.clip(np.floor(cx - half_w), 0, width))
    right = int(np.clip(np.ceil(cx + half_w), 0, width))
    top = int(np.clip(np.floor(cy - half_h), 0, height))
    bottom = int(np.clip(np.ceil(cy + half_h), 0, height))
    if right - left < 2 or bottom - top < 2:
        return image
    return image[top:bottom, left:right]


def sharpness(region: np.ndarray) -> float:
    """Variance of the Laplacian of `region` resized to SHARPNESS_FACE_WIDTH px wide."""
    grey = _luma(region) if region.ndim == 3 else region
    height, width = grey.shape[:2]
    new_height = max(3, round(height * SHARPNESS_FACE_WIDTH / width))
    interpolation = cv2.INTER_AREA if width > SHARPNESS_FACE_WIDTH else cv2.INTER_CUBIC
    resized = cv2.resize(grey, (SHARPNESS_FACE_WIDTH, new_height), interpolation=interpolation)
    resized = resized.astype(np.float64)
    # Contrast-normalised (to SHARPNESS_REFERENCE_STD): a dim but sharp face must not read as
    # blurred, since the Laplacian's variance grows with the square of the contrast.
    spread = float(resized.std())
    if spread < 1.0:  # a flat region has no detail at all
        return 0.0
    resized *= SHARPNESS_REFERENCE_STD / spread
    return float(cv2.Laplacian(resized, cv2.CV_64F).var())


def _outside_fraction(box: tuple[float, float, float, float], width: int, height: int) -> float:
    x0, y0, x1, y1 = box
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    if area == 0.0:
        return 0.0
    inside_w = max(min(x1, width) - max(x0, 0.0), 0.0)
    inside_h = max(min(y1, height) - max(y0, 0.0), 0.0)
    return float(1.0 - inside_w * inside_h / area)


def framing_view(face: FaceResult, view: str | None = None) -> str:
    """The view framing is judged by: `view` when given (the one the clinician chose), else
    the face's own; "close-up" without a face or with one found only roughly."""
    if view is not None:
        return view
    if not face.found or face.rough or face.box is None:
        return "close-up"
    return face.view or "front"


def assess_quality(image: np.ndarray, face: FaceResult, view: str | None = None, *,
                   pixel_size: int = 1, photo_shape: tuple[int, int] | None = None) -> QualityResult:
    """Run every check on an RGB uint8 photo and the face found in it; framing is judged by
    the view (`framing_view`: only a front view must hold the whole face). `pixel_size` > 1:
    `image` is the photo's reduced decode (each pixel a square of that many photo pixels a
    side) and `photo_shape` the photo's (height, width); sizes are judged in photo pixels, and
    sharpness and exposure (measured on the face scaled to a fixed width) from the reduced pixels."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image H x W x 3, got shape {getattr(image, 'shape', None)}")
    if pixel_size < 1:
        raise ValueError(f"pixel_size {pixel_size} must be a whole number of at least 1")
    height, width = photo_shape if photo_shape is not None else image.shape[:2]
    k = float(pixel_size)
    short_side = min(height, width)
    reasons: list[str] = []
    metrics: dict[str, float] = {"short_side_px": float(short_side)}

    if short_side < MIN_SHORT_SIDE_PX:
        reasons.append(
            f"The photo is too small ({width}x{height} pixels); use a photo at least "
            f"{MIN_SHORT_SIDE_PX} pixels on its shorter side."
        )

    if face.found and face.box is not None:
        box = tuple(v / k for v in face.box)
        sharp_region = _crop(image, box, 1.0)  # type: ignore[arg-type]
        exposure_region = _crop(image, box, EXPOSURE_BOX_FRACTION)  # type: ignore[arg-type]
    else:
        # A close-up: the whole photo is judged, so blur and darkness are still reported.
        sharp_region = image
        exposure_region = _crop(image, (0.0, 0.0, float(image.shape[1]), float(image.shape[0])),
                                EXPOSURE_BOX_FRACTION)

    sharp = sharpness(sharp_region)
    metrics["sharpness"] = sharp
    if sharp < MIN_SHARPNESS:
        reasons.append(
            "The photo is blurry: small lesions cannot be told apart. "
            "Hold the phone still and tap the skin to focus."
        )

    luma = _luma(exposure_region)
    mean_luma = float(luma.mean())
    dark = float((luma <= DARK_LUMA).mean())
    bright = float((luma >= BRIGHT_LUMA).mean())
    metrics.update(face_luma_mean=mean_luma, dark_fraction=dark, bright_fraction=bright)
    if not face.found:
        # Clipped pixels off the face are mostly background (a black wall, a window): only the
        # mean brightness of the photo's centre is judged then.
        dark = bright = 0.0
    if mean_luma < MIN_FACE_LUMA or dark > MAX_CLIPPED_FRACTION:
        reasons.append(
            "The skin is too dark to see lesions. "
            "Face a window or a lamp; avoid light from behind."
        )
    if mean_luma > MAX_FACE_LUMA or bright > MAX_CLIPPED_FRACTION:
        reasons.append(
            f"The face is over-exposed ({bright:.0%} of it is burnt white). "
            "Avoid direct sun and the flash."
        )

    if face.found and face.box is not None:
        x0, y0, x1, y1 = face.box
        face_width = x1 - x0
        fraction = face_width / short_side
        outside = _outside_fraction(face.box, width, height)
        metrics.update(
            face_width_px=face_width,
            face_width_fraction=fraction,
            face_outside_fraction=outside,
            face_score=face.score,
        )
        if face_width < MIN_FACE_WIDTH_PX or fraction < MIN_FACE_WIDTH_FRACTION:
            reasons.append(
                f"The face is too small in the photo ({face_width:.0f} pixels wide, "
                f"{fraction:.0%} of the photo). Come closer so the face fills the frame."
            )
        landmarks_outside = face.landmarks is not None and any(
            not (0.0 <= x < width and 0.0 <= y < height) for x, y in face.landmarks
        )
        # A side view shows half a face and a close-up shows skin: neither is "cut off".
        if framing_view(face, view) == "front" and (
                outside > MAX_FACE_OUTSIDE_FRACTION or landmarks_outside):
            reasons.append(
                f"The face is cut off ({outside:.0%} of it is outside the photo). "
                "Keep the whole face, forehead to chin, in the frame."
            )
        if face.yaw_ratio is not None:
            metrics["yaw_ratio"] = face.yaw_ratio
            if abs(face.yaw_ratio) > MAX_YAW_RATIO:
                reasons.append(
                    "The head is turned too far to the side. Turn towards the camera "
                    "(for a side view, turn about halfway)."
                )

    return QualityResult(passed=not reasons, reasons=tuple(reasons), metrics=metrics)
