"""Face detection with five landmarks (MTCNN from facenet-pytorch, CPU, weights in the wheel).

The detector runs on a copy downscaled to at most `DETECT_MAX_SIDE` pixels on its long side
(a 12 MP phone photo would otherwise take seconds) and maps the box and landmarks back to the
full-resolution photo. The largest face is the patient; other faces are only reported.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.types import FaceResult

if TYPE_CHECKING:  # torch is imported lazily: `import core.face` stays cheap
    from facenet_pytorch import MTCNN

# Long side of the copy the detector sees; beyond this detection gets slower, not better.
DETECT_MAX_SIDE = 800
# Smallest face searched for, as a fraction of the detection copy's long side. Faces this small
# fail the quality gate anyway (core.quality.MIN_FACE_WIDTH_FRACTION is larger); skipping the
# finest pyramid levels makes detection about twice as fast.
DETECT_MIN_FACE_FRACTION = 0.05
# MTCNN's own floor: its first network looks at 12 px windows, 20 px faces is its default.
DETECT_MIN_FACE_PX = 20
# Below this score a candidate is not a face (MTCNN's last-stage threshold is 0.7).
MIN_FACE_SCORE = 0.9
# |yaw_ratio| above which the photo is a side view ("left"/"right") rather than "front".
# yaw_ratio = nose offset from the eye midpoint, along the eye line, over the inter-ocular
# distance: about 0 for a frontal face, near 0.5 for a three-quarter view.
SIDE_VIEW_YAW_RATIO = 0.15

LANDMARK_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

Points = tuple[tuple[float, float], ...]


def yaw_ratio_from_landmarks(landmarks: Points) -> float:
    """Signed head turn from the 5 landmarks (eyes and nose), independent of in-plane tilt.

    Positive when the nose points to the image right, i.e. the patient turned to their left and
    shows their right cheek (for an unmirrored photo).
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (5, 2):
        raise ValueError(f"expected 5 (x, y) landmarks, got an array of shape {pts.shape}")
    left_eye, right_eye, nose = pts[0], pts[1], pts[2]
    eye_axis = right_eye - left_eye
    inter_ocular = float(np.hypot(*eye_axis))
    if inter_ocular <= 0.0:
        raise ValueError(f"the two eye landmarks coincide at {tuple(left_eye)}")
    offset = nose - (left_eye + right_eye) / 2.0
    # Project on the eye line so a tilted (rolled) head does not read as turned.
    return float(np.dot(offset, eye_axis) / inter_ocular**2)


def view_from_yaw(yaw_ratio: float) -> str:
    """"front", or the side of the patient's face that is shown ("left"/"right")."""
    if yaw_ratio > SIDE_VIEW_YAW_RATIO:
        return "right"
    if yaw_ratio < -SIDE_VIEW_YAW_RATIO:
        return "left"
    return "front"


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected an RGB image array H x W x 3, got shape {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image, got dtype {image.dtype}")
    if min(image.shape[:2]) < 12:
        raise ValueError(f"image {image.shape[1]}x{image.shape[0]} is too small to hold a face")


def _order_landmarks(points: np.ndarray) -> np.ndarray:
    """Eyes and mouth corners as image-left then image-right (MTCNN usually is, not always)."""
    out = points.copy()
    if out[0, 0] > out[1, 0]:
        out[[0, 1]] = out[[1, 0]]
    if out[3, 0] > out[4, 0]:
        out[[3, 4]] = out[[4, 3]]
    return out


class FaceDetector:
    """MTCNN face and landmark detector, built on first use, on the CPU."""

    def __init__(self) -> None:
        self._mtcnn: MTCNN | None = None
        self._lock = threading.Lock()

    def _model(self) -> "MTCNN":
        with self._lock:
            if self._mtcnn is None:
                from facenet_pytorch import MTCNN

                self._mtcnn = MTCNN(keep_all=True, device="cpu")
            return self._mtcnn

    def detect(self, image: np.ndarray) -> FaceResult:
        """Find the largest face in an RGB uint8 photo; FaceResult(found=False) when none."""
        _check_image(image)
        height, width = image.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
        if scale < 1.0:
            small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
        else:
            small = np.ascontiguousarray(image)
        boxes, scores, points = self._run(small)
        keep = scores >= MIN_FACE_SCORE
        boxes, scores, points = boxes[keep], scores[keep], points[keep]
        if len(boxes) == 0:
            return FaceResult(found=False)

        # Back to full resolution, with pixel centres aligned (cv2.resize convention).
        fx = width / small.shape[1]
        fy = height / small.shape[0]
        factors = np.array([fx, fy], dtype=np.float64)
        boxes = (boxes.reshape(-1, 2, 2) + 0.5) * factors - 0.5
        boxes = boxes.reshape(-1, 4)
        points = (points + 0.5) * factors - 0.5

        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = np.argsort(-areas, kind="stable")
        main = int(order[0])
        landmarks = _order_landmarks(points[main])
        landmark_tuple = tuple((float(x), float(y)) for x, y in landmarks)
        yaw = yaw_ratio_from_landmarks(landmark_tuple)
        return FaceResult(
            found=True,
            box=tuple(float(v) for v in boxes[main]),  # type: ignore[arg-type]
            landmarks=landmark_tuple,
            score=float(scores[main]),
            n_faces=len(boxes),
            other_boxes=tuple(
                tuple(float(v) for v in boxes[i]) for i in order[1:]  # type: ignore[misc]
            ),
            view=view_from_yaw(yaw),
            yaw_ratio=yaw,
        )

    def _run(self, small: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw MTCNN output on the detection copy: boxes (N x 4), scores (N), points (N x 5 x 2)."""
        import torch
        from facenet_pytorch.models.utils.detect_face import detect_face

        mtcnn = self._model()
        min_face = max(DETECT_MIN_FACE_PX, DETECT_MIN_FACE_FRACTION * max(small.shape[:2]))
        with torch.no_grad():
            # Called directly (not MTCNN.detect) to pass a per-photo minimum face size without
            # mutating the shared detector.
            batch_boxes, batch_points = detect_face(
                small, min_face, mtcnn.pnet, mtcnn.rnet, mtcnn.onet,
                mtcnn.thresholds, mtcnn.factor, mtcnn.device,
            )
        raw_boxes = np.asarray(batch_boxes[0], dtype=np.float32).reshape(-1, 5)
        raw_points = np.asarray(batch_points[0], dtype=np.float32).reshape(-1, 5, 2)
        return (
            raw_boxes[:, :4].astype(np.float64),
            raw_boxes[:, 4].astype(np.float64),
            raw_points.astype(np.float64),
        )


_DETECTOR: FaceDetector | None = None
_DETECTOR_LOCK = threading.Lock()


def get_face_detector() -> FaceDetector:
    """The process-wide detector (MTCNN is loaded once, on the first detection)."""
    global _DETECTOR
    with _DETECTOR_LOCK:
        if _DETECTOR is None:
            _DETECTOR = FaceDetector()
        return _DETECTOR
