"""Each quality check fires on a degraded copy of a real face photo and stays silent on the
original (skimage's public-domain astronaut) and on a 2x upscaled original."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from skimage import data

from core import quality
from core.face import get_face_detector
from core.quality import assess_quality, sharpness
from core.types import FaceResult

# A phrase of each check's reason.
LOW_RESOLUTION = "photo is too small"
NO_FACE = "No face was found"
BLUR = "blurry"
DARK = "too dark"
BRIGHT = "over-exposed"
SMALL_FACE = "face is too small"
CUT_OFF = "cut off"
TURNED = "turned too far"
ALL_CHECKS = (LOW_RESOLUTION, NO_FACE, BLUR, DARK, BRIGHT, SMALL_FACE, CUT_OFF, TURNED)


def fired(result) -> set[str]:
    return {check for check in ALL_CHECKS if any(check in reason for reason in result.reasons)}


@pytest.fixture(scope="module")
def detector():
    return get_face_detector()  # one MTCNN for the whole session


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def upscaled(astronaut) -> np.ndarray:
    return cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)


def check(detector, image: np.ndarray):
    return assess_quality(image, detector.detect(image))


@pytest.mark.parametrize("which", ["original", "upscaled 2x"])
def test_silent_on_a_good_photo(detector, astronaut, upscaled, which):
    image = astronaut if which == "original" else upscaled
    result = check(detector, image)
    assert result.passed and result.reasons == (), result.reasons
    expected_metrics = {
        "short_side_px", "sharpness", "face_luma_mean", "dark_fraction", "bright_fraction",
        "face_width_px", "face_width_fraction", "face_outside_fraction", "face_score", "yaw_ratio",
    }
    assert set(result.metrics) == expected_metrics
    assert result.metrics["sharpness"] >= quality.MIN_SHARPNESS
    assert result.to_dict()["passed"] is True


def test_blur_fires(detector, astronaut):
    result = check(detector, cv2.GaussianBlur(astronaut, (0, 0), 2.0))
    assert fired(result) == {BLUR}
    assert result.metrics["sharpness"] < quality.MIN_SHARPNESS


def test_blur_does_not_depend_on_photo_size(detector, upscaled):
    # The same blur relative to the face, on a photo twice as large.
    result = check(detector, cv2.GaussianBlur(upscaled, (0, 0), 4.0))
    assert fired(result) == {BLUR}


def test_dark_photo_fires_under_exposure_only(detector, astronaut):
    result = check(detector, (astronaut * 0.3).astype(np.uint8))
    assert fired(result) == {DARK}  # a dim photo is not mistaken for a blurred one
    assert result.metrics["face_luma_mean"] < quality.MIN_FACE_LUMA


def test_bright_photo_fires_over_exposure(detector, astronaut):
    result = check(detector, np.clip(astronaut * 1.6, 0, 255).astype(np.uint8))
    assert fired(result) == {BRIGHT}
    assert result.metrics["bright_fraction"] > quality.MAX_CLIPPED_FRACTION


def test_shrunk_photo_fires_resolution_and_face_size(detector, astronaut):
    result = check(detector, cv2.resize(astronaut, (205, 205), interpolation=cv2.INTER_AREA))
    assert {LOW_RESOLUTION, SMALL_FACE} <= fired(result)
    assert result.metrics["face_width_px"] < quality.MIN_FACE_WIDTH_PX


def test_face_small_in_a_large_photo_fires(detector, astronaut):
    canvas = np.full((1536, 1536, 3), 128, np.uint8)
    canvas[512:1024, 512:1024] = astronaut
    result = check(detector, canvas)
    assert fired(result) == {SMALL_FACE}
    assert result.metrics["face_width_fraction"] < quality.MIN_FACE_WIDTH_FRACTION


def test_face_cut_off_fires(detector, upscaled):
    cropped = np.ascontiguousarray(upscaled[190:])  # through the eyes of the 2x photo
    result = check(detector, cropped)
    assert fired(result) == {CUT_OFF}
    assert result.metrics["face_outside_fraction"] > quality.MAX_FACE_OUTSIDE_FRACTION


def test_strong_head_turn_fires(detector, astronaut):
    face = detector.detect(astronaut)
    for yaw in (quality.MAX_YAW_RATIO + 0.05, -quality.MAX_YAW_RATIO - 0.05):
        result = assess_quality(astronaut, replace(face, yaw_ratio=yaw))
        assert fired(result) == {TURNED}
    # A three-quarter side view, inside the limit, passes.
    assert assess_quality(astronaut, replace(face, yaw_ratio=0.5)).passed


def test_no_face_is_judged_as_a_close_up_not_as_a_failure(detector):
    """A photo of skin without a face is a close-up (issue 25): no 'no face' quality reason
    (whether it can be assessed is core.assessment's question)."""
    result = check(detector, data.coffee())
    assert NO_FACE not in fired(result)
    assert "face_width_px" not in result.metrics  # nothing measured that does not exist


def test_no_face_keeps_judging_the_whole_photo():
    dark = np.full((600, 600, 3), 20, np.uint8)
    result = assess_quality(dark, FaceResult(found=False))
    assert fired(result) == {DARK, BLUR}  # flat and dark: judged, but not for a missing face


def test_framing_is_judged_by_the_view(detector, upscaled):
    """Issue 26: ACNE04's half-face side views were stopped as 'face cut off'. Only a front
    view must hold the whole face; a side view or a close-up is not cut off."""
    cropped = np.ascontiguousarray(upscaled[190:])  # through the eyes of the 2x photo
    face = detector.detect(cropped)
    assert CUT_OFF in fired(assess_quality(cropped, replace(face, view="front")))
    for view in ("left", "right"):
        assert CUT_OFF not in fired(assess_quality(cropped, replace(face, view=view)))
    assert CUT_OFF not in fired(assess_quality(cropped, face, view="close-up"))
    assert CUT_OFF not in fired(assess_quality(cropped, replace(face, rough=True)))
    assert CUT_OFF in fired(assess_quality(cropped, replace(face, view="left"), view="front"))


def test_reasons_speak_without_raw_measurements(detector, astronaut):
    """'sharpness 41, needs 60' read as code (issue 26): the reason says what is wrong."""
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 3)
    [reason] = [r for r in check(detector, blurred).reasons if BLUR in r]
    assert "sharpness" not in reason and not any(ch.isdigit() for ch in reason)
    dark = (astronaut * 0.15).astype(np.uint8)
    [reason] = [r for r in check(detector, dark).reasons if DARK in r]
    assert "255" not in reason


def test_sharpness_ignores_contrast_and_brightness():
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (200, 200)).astype(np.float32), (0, 0), 1.5)
    texture = cv2.normalize(texture, None, 40, 200, cv2.NORM_MINMAX).astype(np.uint8)
    dim = (texture * 0.4).astype(np.uint8)
    assert sharpness(dim) == pytest.approx(sharpness(texture), rel=0.1)
    assert sharpness(cv2.GaussianBlur(texture, (0, 0), 3.0)) < 0.2 * sharpness(texture)
    assert sharpness(np.full((50, 50), 128, np.uint8)) == 0.0


def test_rejects_a_non_rgb_image():
    with pytest.raises(ValueError, match="shape"):
        assess_quality(np.zeros((10, 10), np.uint8), FaceResult(found=False))
