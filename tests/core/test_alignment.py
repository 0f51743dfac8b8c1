"""The canonical face frame: exact geometry on synthetic points, and registration accuracy of
detected landmarks on rotated, rescaled and shifted copies of a real face photo."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from core.alignment import (
    CANONICAL_INTER_OCULAR,
    CANONICAL_LANDMARKS,
    CANONICAL_SIZE,
    alignment_scale,
    compose_alignments,
    estimate_alignment,
    estimate_similarity,
    invert_alignment,
    transform_points,
    warp_to_canonical,
)
from core.face import get_face_detector


def similarity(angle_deg: float, scale: float, tx: float, ty: float) -> tuple[float, ...]:
    a = np.deg2rad(angle_deg)
    c, s = scale * np.cos(a), scale * np.sin(a)
    return (c, -s, tx, s, c, ty)


def transformed_copy(image: np.ndarray, angle: float, scale: float, margin: tuple[int, int]):
    """Rotated and scaled about the centre, on a canvas holding all of it, shifted by `margin`."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, scale)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], float) @ matrix[:, :2].T + matrix[:, 2]
    low, high = corners.min(axis=0), corners.max(axis=0)
    matrix[:, 2] += -low + np.asarray(margin, float)
    size = (int(np.ceil(high[0] - low[0] + 2 * margin[0])), int(np.ceil(high[1] - low[1] + 2 * margin[1])))
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR), tuple(matrix.reshape(-1))


def test_template_geometry():
    left, right = CANONICAL_LANDMARKS[0], CANONICAL_LANDMARKS[1]
    assert np.linalg.norm(right - left) == pytest.approx(CANONICAL_INTER_OCULAR)
    np.testing.assert_allclose((left + right) / 2, (256.0, 200.0))
    assert np.all((CANONICAL_LANDMARKS > 0) & (CANONICAL_LANDMARKS < CANONICAL_SIZE))
    assert estimate_alignment(CANONICAL_LANDMARKS) == pytest.approx((1, 0, 0, 0, 1, 0), abs=1e-9)


@pytest.mark.parametrize("angle, scale, tx, ty", [(0, 1, 0, 0), (13, 0.6, 40, -25), (-11, 2.0, 300, 120), (170, 3.5, -8, 9)])
def test_exact_similarity_is_recovered(angle, scale, tx, ty):
    to_photo = similarity(angle, scale, tx, ty)
    landmarks = transform_points(CANONICAL_LANDMARKS, to_photo)
    alignment = estimate_alignment(landmarks)
    assert len(alignment) == 6
    np.testing.assert_allclose(alignment, invert_alignment(to_photo), atol=1e-9)
    np.testing.assert_allclose(transform_points(landmarks, alignment), CANONICAL_LANDMARKS, atol=1e-9)
    assert alignment_scale(alignment) == pytest.approx(1.0 / scale)


def test_inverse_and_composition():
    m = similarity(20, 1.7, 12, -4)
    identity = compose_alignments(m, invert_alignment(m))
    np.testing.assert_allclose(identity, (1, 0, 0, 0, 1, 0), atol=1e-12)
    shift = (1, 0, 5, 0, 1, 7)
    points = np.array([[1.0, 2.0], [30.0, -4.0]])
    np.testing.assert_allclose(
        transform_points(points, compose_alignments(shift, m)), transform_points(transform_points(points, shift), m)
    )
    assert transform_points([], m).shape == (0, 2)


def test_a_mirror_image_is_never_fitted():
    mirrored = CANONICAL_LANDMARKS * [-1.0, 1.0]
    matrix = np.asarray(estimate_similarity(mirrored, CANONICAL_LANDMARKS)).reshape(2, 3)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="5 landmarks"):
        estimate_alignment(CANONICAL_LANDMARKS[:4])
    with pytest.raises(ValueError, match="non-finite"):
        estimate_alignment([[np.nan, 0.0]] + CANONICAL_LANDMARKS[1:].tolist())
    with pytest.raises(ValueError, match="coincide"):
        estimate_alignment([[3.0, 4.0]] * 5)
    with pytest.raises(ValueError, match="6 finite floats"):
        transform_points([[0.0, 0.0]], (1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="singular"):
        invert_alignment((0.0, 0.0, 1.0, 0.0, 0.0, 2.0))


def _blob_centres(image: np.ndarray, expected: np.ndarray, radius: float) -> np.ndarray:
    """Intensity-weighted centre of the bright pixels near each expected point."""
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    centres = []
    for ex, ey in expected:
        near = ((xs - ex) ** 2 + (ys - ey) ** 2 < radius**2) * image.astype(float)
        centres.append((float((xs * near).sum() / near.sum()), float((ys * near).sum() / near.sum())))
    return np.array(centres)


@pytest.mark.parametrize("photo_scale, size", [(1.3, CANONICAL_SIZE), (1.3, 256), (6.0, CANONICAL_SIZE)])
def test_warp_puts_the_landmarks_on_the_template(photo_scale, size):
    # A synthetic photo with a disc at each landmark; photo_scale 6 takes the shrink-first path.
    to_photo = similarity(-12, photo_scale, 50, 30)
    landmarks = transform_points(CANONICAL_LANDMARKS, to_photo)
    side = int(np.ceil(landmarks.max() + 200 * photo_scale))
    photo = np.zeros((side, side), np.uint8)
    for x, y in landmarks:
        cv2.circle(photo, (round(x * 16), round(y * 16)), round(5 * photo_scale * 16), 255, -1, cv2.LINE_AA, shift=4)
    warped = warp_to_canonical(photo, estimate_alignment(landmarks), size=size)
    assert warped.shape == (size, size)
    expected = (CANONICAL_LANDMARKS + 0.5) * size / CANONICAL_SIZE - 0.5
    found = _blob_centres(warped, expected, radius=10 * size / CANONICAL_SIZE)
    np.testing.assert_allclose(found, expected, atol=0.5)


def test_detected_landmarks_register_rotated_rescaled_shifted_copies():
    """The README's registration numbers: canonical -> copy -> original -> canonical."""
    detector = get_face_detector()
    original = data.astronaut()
    reference = detector.detect(original)
    ref_points = np.asarray(reference.landmarks)
    ref_alignment = estimate_alignment(ref_points)
    inter_ocular = np.linalg.norm(ref_points[1] - ref_points[0])
    for angle, scale, margin in ((12, 0.6, (30, 20)), (-15, 0.6, (10, 40)), (10, 2.0, (60, 30)), (-13, 2.0, (20, 80))):
        copy, to_copy = transformed_copy(original, angle, scale, margin)
        face = detector.detect(copy)
        assert face.found
        points = np.asarray(face.landmarks)
        back = invert_alignment(to_copy)
        landmark_error = np.linalg.norm(transform_points(points, back) - ref_points, axis=1) / inter_ocular
        in_copy = transform_points(CANONICAL_LANDMARKS, invert_alignment(estimate_alignment(points)))
        round_trip = transform_points(transform_points(in_copy, back), ref_alignment)
        registration = np.linalg.norm(round_trip - CANONICAL_LANDMARKS, axis=1) / CANONICAL_INTER_OCULAR
        print(
            f"rotation {angle:+d} deg, scale {scale}: registration error mean {registration.mean():.2%} "
            f"max {registration.max():.2%}; landmark error mean {landmark_error.mean():.2%} "
            f"max {landmark_error.max():.2%} of the eye distance"
        )
        assert registration.max() < 0.02
        assert landmark_error.mean() < 0.02
