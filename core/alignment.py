"""A canonical face frame, so that photos from different visits can be laid over each other.

Each photo gets a similarity transform (rotation, uniform scale, shift: no shear, so skin is not
distorted) fitted from its 5 landmarks onto a fixed 5-point template in a
`CANONICAL_SIZE` x `CANONICAL_SIZE` frame. Matrices are 2x3, row-major, as 6 floats:
(a, b, tx, c, d, ty) maps (x, y) to (a*x + b*y + tx, c*x + d*y + ty).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

CANONICAL_SIZE = 512
# Eye distance in the canonical frame: leaves room for the forehead above and the chin below.
CANONICAL_INTER_OCULAR = 128.0
# Where the eye midpoint sits in the canonical frame.
CANONICAL_EYE_CENTRE = (256.0, 200.0)

# The widely used 5-point face template of ArcFace / InsightFace (112 x 112 crops): eyes, nose
# tip, mouth corners, image-left first. It is rescaled to CANONICAL_INTER_OCULAR and moved so
# the eye midpoint lands on CANONICAL_EYE_CENTRE.
_ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)


def _canonical_template() -> np.ndarray:
    eye_mid = _ARCFACE_TEMPLATE_112[:2].mean(axis=0)
    eye_distance = float(np.linalg.norm(_ARCFACE_TEMPLATE_112[1] - _ARCFACE_TEMPLATE_112[0]))
    scale = CANONICAL_INTER_OCULAR / eye_distance
    return (_ARCFACE_TEMPLATE_112 - eye_mid) * scale + np.array(CANONICAL_EYE_CENTRE)


# Left eye, right eye, nose, mouth left, mouth right (image left/right) in the canonical frame.
CANONICAL_LANDMARKS: np.ndarray = _canonical_template()
CANONICAL_LANDMARKS.setflags(write=False)

Matrix = tuple[float, float, float, float, float, float]


def _as_points(points: Sequence[Sequence[float]] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must be N x 2 (x, y) points, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contain a non-finite coordinate: {array.tolist()}")
    return array


def _as_matrix(matrix: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(matrix, dtype=np.float64).reshape(-1)
    if array.shape != (6,) or not np.all(np.isfinite(array)):
        raise ValueError(f"an alignment is 6 finite floats (2x3 row-major), got {matrix!r}")
    return array.reshape(2, 3)


def _to_tuple(matrix: np.ndarray) -> Matrix:
    return tuple(float(v) for v in matrix.reshape(-1))  # type: ignore[return-value]


def estimate_similarity(source: np.ndarray, target: np.ndarray) -> Matrix:
    """Least-squares similarity transform mapping `source` points onto `target` (Umeyama 1991)."""
    src = _as_points(source, "source points")
    dst = _as_points(target, "target points")
    if len(src) != len(dst) or len(src) < 2:
        raise ValueError(f"need >= 2 matching point pairs, got {len(src)} and {len(dst)}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float((src_c**2).sum() / len(src))
    if src_var <= 1e-12:
        raise ValueError(f"the source points all coincide at {src_mean.tolist()}")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # no mirroring: a face is never flipped
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum() / src_var)
    linear = scale * rotation
    shift = dst_mean - linear @ src_mean
    return _to_tuple(np.hstack([linear, shift[:, None]]))


def estimate_alignment(landmarks: Sequence[Sequence[float]] | np.ndarray) -> Matrix:
    """Similarity transform photo -> canonical frame from the 5 landmarks (FaceResult order)."""
    points = _as_points(landmarks, "landmarks")
    if points.shape != (5, 2):
        raise ValueError(f"expected 5 landmarks, got {points.shape[0]}")
    return estimate_similarity(points, CANONICAL_LANDMARKS)


def transform_points(points: Sequence[Sequence[float]] | np.ndarray, matrix: Sequence[float]) -> np.ndarray:
    """Apply a 2x3 alignment to N x 2 points; returns an N x 2 float array."""
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 2))
    array = _as_points(array, "points")
    m = _as_matrix(matrix)
    return array @ m[:, :2].T + m[:, 2]


def invert_alignment(matrix: Sequence[float]) -> Matrix:
    """The inverse transform (canonical frame -> photo)."""
    m = _as_matrix(matrix)
    linear = m[:, :2]
    if abs(np.linalg.det(linear)) < 1e-12:
        raise ValueError(f"alignment {tuple(matrix)!r} is singular and cannot be inverted")
    inverse = np.linalg.inv(linear)
    return _to_tuple(np.hstack([inverse, (-inverse @ m[:, 2])[:, None]]))


def compose_alignments(first: Sequence[float], then: Sequence[float]) -> Matrix:
    """The transform applying `first`, then `then`."""
    a = np.vstack([_as_matrix(first), [0.0, 0.0, 1.0]])
    b = np.vstack([_as_matrix(then), [0.0, 0.0, 1.0]])
    return _to_tuple((b @ a)[:2])


def alignment_scale(matrix: Sequence[float]) -> float:
    """Canonical pixels per photo pixel."""
    return float(np.sqrt(abs(np.linalg.det(_as_matrix(matrix)[:, :2]))))


def alignment_at_size(matrix: Sequence[float], size: int) -> Matrix:
    """The photo -> canonical matrix for the canonical frame drawn `size` x `size` pixels (pixel
    centres kept in place), as `warp_to_canonical` draws it: marks made with it fall on the
    warped photo's pixels."""
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    output_scale = size / CANONICAL_SIZE
    scaling = (output_scale, 0.0, 0.5 * output_scale - 0.5, 0.0, output_scale, 0.5 * output_scale - 0.5)
    return compose_alignments(matrix, scaling)


def native_canonical_size(matrices: Sequence[Sequence[float]], *, largest: int = 3072) -> int:
    """The side at which the canonical frame keeps every photo pixel of the sharpest of these
    photos (one canonical pixel per photo pixel), between CANONICAL_SIZE and `largest`."""
    sides = [CANONICAL_SIZE / alignment_scale(matrix) for matrix in matrices]
    wanted = max(sides, default=float(CANONICAL_SIZE))
    return int(min(max(CANONICAL_SIZE, np.ceil(wanted)), max(largest, CANONICAL_SIZE)))


def warp_to_canonical(image: np.ndarray, matrix: Sequence[float], size: int = CANONICAL_SIZE) -> np.ndarray:
    """The photo resampled into the canonical frame, `size` x `size` pixels.

    `size` other than CANONICAL_SIZE gives the same frame at another resolution (thumbnails).
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f"expected an image array, got shape {getattr(image, 'shape', None)}")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    to_output = alignment_at_size(matrix, size)
    scale = alignment_scale(to_output)
    source = image
    if scale < 0.5:
        # warpAffine samples without averaging: shrink first (area filter) so a 12 MP photo does
        # not alias into a noisy thumbnail, then warp from the smaller copy.
        height, width = image.shape[:2]
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        source = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        fx, fy = width / new_w, height / new_h
        # small pixel (u, v) -> photo pixel ((u + 0.5) * fx - 0.5, (v + 0.5) * fy - 0.5)
        small_to_photo = (fx, 0.0, 0.5 * fx - 0.5, 0.0, fy, 0.5 * fy - 0.5)
        to_output = compose_alignments(small_to_photo, to_output)
    return cv2.warpAffine(
        np.ascontiguousarray(source),
        np.asarray(to_output, dtype=np.float64).reshape(2, 3),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
