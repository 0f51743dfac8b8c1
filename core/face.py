"""Face detection with five landmarks: facenet-pytorch's MTCNN networks run as ONNX files from the
weights folder by `core.mtcnn` (numpy, OpenCV and onnxruntime; torch is never imported here).

The detector runs on a copy downscaled by a whole factor to at most `DETECT_MAX_SIDE` pixels on
its long side (a 12 MP phone photo would otherwise take seconds) and maps the box and landmarks back to the
full-resolution photo. The largest face is the patient; other faces are only reported.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from core.manifest import DEFAULT_WEIGHTS_DIR
from core.mtcnn import Mtcnn, normalise
from core.types import FaceResult

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
# When the photo itself shows no face, MTCNN looks again at copies of it (the second look), in
# RETRY_VIEWS order; the first copy with a face wins. Each copy is (mirrored or not, turned by an
# angle in degrees, counter-clockwise, grey margins of a share of its long side, shrunk back to
# the same size) and looks only for faces of at least a share of its long side. A margin gives a
# face filling the frame some context; a turn puts a tilted head upright; a mirror gives the
# network (which is not left-right symmetric) a second chance at a profile. The first three
# copies are the original second look (7 of the 29 ACNE04 valid photos without a face on the
# first look); the six after them, looking only for large faces (which is what keeps each about
# 30 ms), find 9 more there, but none more on the test split (weights/MODEL_CARD.md, "Face
# found"). No copy finds a face in scikit-image's photos without one (coffee, cat, rocket, ...).
# Such a face is `rough`: it makes the photo assessable, but its landmarks are too rough to scale
# the photo by (measured on valid: using them cost 0.008 lesion F1 and 0.23 count MAE), so the
# pipeline measures as without a face. Its view comes from its landmarks mapped back onto the
# photo (a mirrored copy's left and right swapped back): on profiles these can be wrong.
RETRY_MARGIN = 0.5
RETRY_MIN_FACE_FRACTION = 0.15
RETRY_VIEWS: tuple[tuple[bool, float, float, float], ...] = (
    (False, 0.0, RETRY_MARGIN, DETECT_MIN_FACE_FRACTION),
    (False, 25.0, 0.0, DETECT_MIN_FACE_FRACTION),
    (False, -25.0, 0.0, DETECT_MIN_FACE_FRACTION),
    (True, 0.0, RETRY_MARGIN, RETRY_MIN_FACE_FRACTION),
    (False, 0.0, RETRY_MARGIN, RETRY_MIN_FACE_FRACTION),
    (True, 45.0, RETRY_MARGIN, RETRY_MIN_FACE_FRACTION),
    (False, 45.0, RETRY_MARGIN, RETRY_MIN_FACE_FRACTION),
    (True, -45.0, RETRY_MARGIN, RETRY_MIN_FACE_FRACTION),
    (False, -45.0, RETRY_MARGIN, RETRY_MIN_FACE_FRACTION),
)
# |yaw_ratio| above which the photo is a side view ("left"/"right") rather than "front".
# yaw_ratio = nose offset from the eye midpoint, along the eye line, over the inter-ocular
# distance: about 0 for a frontal face, near 0.5 for a three-quarter view.
SIDE_VIEW_YAW_RATIO = 0.15

# Landmark refinement: MTCNN's last network sees the face at 48 x 48 px, so one pass places a
# landmark only to about 5% of the eye distance, and worse on a tilted head. The main face is
# therefore re-measured on upright (de-rotated) crops, shifted by REFINE_SHIFTS (both axes) and
# scaled by REFINE_SCALES (fractions of the box side), each also mirrored: 16 extra 48 x 48
# network passes, averaged. On rotated and rescaled copies of a test photo this cut the
# registration error from up to 5% to under 1% of the eye distance (benchmarks/bench_face.py).
REFINE_SHIFTS: tuple[float, ...] = (-0.03, 0.03)
REFINE_SCALES: tuple[float, ...] = (0.96, 1.04)
# Face size (px) at which the refinement crops are cut, before the network's 48 px resize.
REFINE_WORK_PX = 96
_ONET_INPUT = 48
_MIN_DETECT_SIDE = 12  # MTCNN's smallest window
_MIRROR_ORDER = [1, 0, 2, 4, 3]  # landmark order after a horizontal flip
_NO_FACES = (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))

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


def _order_landmarks(points: np.ndarray) -> np.ndarray:
    """Eyes and mouth corners as image-left then image-right (MTCNN usually is, not always)."""
    out = points.copy()
    if out[0, 0] > out[1, 0]:
        out[[0, 1]] = out[[1, 0]]
    if out[3, 0] > out[4, 0]:
        out[[3, 4]] = out[[4, 3]]
    return out


def detection_factor(shape: tuple[int, ...]) -> int:
    """The whole factor the detector shrinks a photo of `shape` by (to DETECT_MAX_SIDE or less)."""
    return max(1, int(np.ceil(max(shape[:2]) / DETECT_MAX_SIDE)))


def scaled_face(face: FaceResult, k: int) -> FaceResult:
    """`face`, found in a copy of the photo `k` times smaller, in the photo's own pixels (boxes
    are pixel edges, landmarks pixel centres, as the detector gives them)."""
    if not face.found or k == 1:
        return face

    def box(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return tuple(float(v) * k for v in b)  # type: ignore[return-value]

    return replace(
        face,
        box=box(face.box) if face.box is not None else None,
        landmarks=tuple(((x + 0.5) * k - 0.5, (y + 0.5) * k - 0.5) for x, y in face.landmarks)
        if face.landmarks is not None else None,
        other_boxes=tuple(box(b) for b in face.other_boxes),
    )


class FaceDetector:
    """MTCNN face and landmark detector, loaded on first use from the weights folder's manifest
    (checksums checked), on `threads` CPU threads."""

    def __init__(self, refine_landmarks: bool = True, weights_dir: Path | str = DEFAULT_WEIGHTS_DIR,
                 threads: int = 2) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.refine_landmarks = refine_landmarks
        self.weights_dir = Path(weights_dir)
        self.threads = threads
        self._mtcnn: Mtcnn | None = None
        self._lock = threading.Lock()

    def _model(self) -> Mtcnn:
        with self._lock:
            if self._mtcnn is None:
                self._mtcnn = Mtcnn.from_weights(self.weights_dir, threads=self.threads)
            return self._mtcnn

    def detect(self, image: np.ndarray) -> FaceResult:
        """Find the largest face in an RGB uint8 photo; FaceResult(found=False) when none."""
        return self._detect(image)

    def _detect(
        self, image: np.ndarray, first_look: bool = True,
        retry_views: tuple[tuple[bool, float, float, float], ...] | None = None,
    ) -> FaceResult:
        """`detect`; without the first look and with other second-look copies for measurements
        (benchmarks/bench_face_acne04.py checks the second look's views on photos whose first
        look finds the face)."""
        _check_image(image)
        height, width = image.shape[:2]
        # A whole-number factor: OpenCV's area filter has a fast path for it (12 MP: ~14 ms, not
        # ~50 ms). Up to factor-1 pixels at the right and bottom edge are left out of the copy.
        factor = int(np.ceil(max(height, width) / DETECT_MAX_SIDE))
        if factor > 1:
            cropped = image[: height - height % factor, : width - width % factor]
            small_size = (cropped.shape[1] // factor, cropped.shape[0] // factor)
            small = cv2.resize(cropped, small_size, interpolation=cv2.INTER_AREA)
        else:
            small = np.ascontiguousarray(image)
        if min(small.shape[:2]) < _MIN_DETECT_SIDE:  # MTCNN cannot even look at it
            return FaceResult(found=False)
        boxes, scores, points = self._faces(small) if first_look else _NO_FACES
        frame, back, mirrored = small, None, False
        views = RETRY_VIEWS if retry_views is None else retry_views
        for copy, copy_back, copy_mirrored, min_face_fraction in _retry_views(small, views) if len(boxes) == 0 else ():
            boxes, scores, points = self._faces(copy, min_face_fraction)
            if len(boxes):
                frame, back, mirrored = copy, copy_back, copy_mirrored
                break
        if len(boxes) == 0:
            return FaceResult(found=False)

        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = np.argsort(-areas, kind="stable")
        main = int(order[0])
        # Ordered and refined where the face was found (upright there, even if the photo has it
        # lying on its side), then mapped back onto the photo.
        landmarks = _order_landmarks(points[main])
        if self.refine_landmarks:
            landmarks = self._refine(frame, boxes[main], landmarks)
        rough = back is not None
        if rough:
            boxes, landmarks = _map_back(boxes, landmarks, back)
            if mirrored:  # the copy's image-left eye is the photo's image-right one
                landmarks = landmarks[_MIRROR_ORDER]

        # Back to full resolution: boxes are pixel edges, landmarks pixel centres.
        factors = float(factor)
        full_boxes = (boxes.reshape(-1, 2, 2) * factors).reshape(-1, 4)
        full_landmarks = (landmarks + 0.5) * factors - 0.5
        landmark_tuple = tuple((float(x), float(y)) for x, y in full_landmarks)
        yaw = yaw_ratio_from_landmarks(landmark_tuple)
        return FaceResult(
            found=True,
            box=tuple(float(v) for v in full_boxes[main]),  # type: ignore[arg-type]
            landmarks=landmark_tuple,
            score=float(scores[main]),
            n_faces=len(boxes),
            other_boxes=tuple(
                tuple(float(v) for v in full_boxes[i]) for i in order[1:]  # type: ignore[misc]
            ),
            view=view_from_yaw(yaw),
            yaw_ratio=yaw,
            rough=rough,
        )

    def _faces(
        self, small: np.ndarray, min_face_fraction: float = DETECT_MIN_FACE_FRACTION
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidates of `_run` that score as faces."""
        boxes, scores, points = self._run(small, min_face_fraction)
        keep = scores >= MIN_FACE_SCORE
        return boxes[keep], scores[keep], points[keep]

    def _run(
        self, small: np.ndarray, min_face_fraction: float = DETECT_MIN_FACE_FRACTION
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """MTCNN on the detection copy: boxes (N x 4, edges), scores (N), points (N x 5 x 2)."""
        min_face = max(DETECT_MIN_FACE_PX, min_face_fraction * max(small.shape[:2]))
        found = self._model().detect(small, min_face)
        # MTCNN measures landmarks from pixel edges; the rest of the code uses pixel centres.
        return (found.boxes.astype(np.float64), found.scores.astype(np.float64),
                found.landmarks.astype(np.float64) - 0.5)

    def _refine(self, small: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Average MTCNN's last network over upright, shifted, scaled and mirrored face crops."""
        side = float(max(box[2] - box[0], box[3] - box[1]))
        if side < 12.0:
            return landmarks
        centre = np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])
        eye_axis = landmarks[1] - landmarks[0]
        angle = float(np.arctan2(eye_axis[1], eye_axis[0]))
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        # Crops are cut at REFINE_WORK_PX (not at photo size) so the warps stay cheap; the face
        # region is shrunk once with an area filter first, so nothing aliases.
        work_scale = min(1.0, REFINE_WORK_PX / side)
        margin = side * 0.9
        left, top = (max(0, int(np.floor(v - margin))) for v in centre)
        right = min(small.shape[1], int(np.ceil(centre[0] + margin)))
        bottom = min(small.shape[0], int(np.ceil(centre[1] + margin)))
        region = small[top:bottom, left:right]
        if work_scale < 1.0:
            size = (max(1, round(region.shape[1] * work_scale)), max(1, round(region.shape[0] * work_scale)))
            region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        to_region = np.array([region.shape[1] / (right - left), region.shape[0] / (bottom - top)])
        centre_r = (centre - [left, top] + 0.5) * to_region - 0.5

        crops, maps = [], []
        for dx in REFINE_SHIFTS:
            for dy in REFINE_SHIFTS:
                for crop_scale in REFINE_SCALES:
                    crop_side = max(12, round(side * work_scale * crop_scale))
                    crop_centre = centre_r + rotation @ np.array([dx, dy]) * side * work_scale
                    half = (crop_side - 1) / 2.0
                    # crop pixel u -> region pixel: crop_centre + R (u - half)
                    shift = crop_centre - rotation @ np.array([half, half])
                    crop_to_region = np.hstack([rotation, shift[:, None]])
                    crop = cv2.warpAffine(
                        region, crop_to_region, (crop_side, crop_side),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_CONSTANT,
                    )
                    crop = cv2.resize(crop, (_ONET_INPUT, _ONET_INPUT), interpolation=cv2.INTER_AREA)
                    for mirrored in (False, True):
                        crops.append(crop[:, ::-1] if mirrored else crop)
                        maps.append((crop_side, crop_to_region, mirrored))

        relative = self._model().onet(normalise(np.stack(crops)))[1].astype(np.float64)

        estimates = []
        for rel, (crop_side, crop_to_region, mirrored) in zip(relative, maps):
            rx, ry = rel[:5], rel[5:]
            if mirrored:
                rx, ry = (1.0 - rx)[_MIRROR_ORDER], ry[_MIRROR_ORDER]
            crop_points = np.stack([rx * crop_side - 0.5, ry * crop_side - 0.5], axis=1)
            region_points = crop_points @ crop_to_region[:, :2].T + crop_to_region[:, 2]
            estimates.append((region_points + 0.5) / to_region - 0.5 + [left, top])
        return _order_landmarks(np.mean(estimates, axis=0))


@dataclass(frozen=True)
class FaceCandidate:
    """A face-like region found by `FaceDetector.find_every_face`, in the photo's pixels: its box
    (edges), its five landmarks (pixel centres, in `LANDMARK_NAMES` order, in the face's own
    frame), MTCNN's score and the quarter turn (degrees, counter-clockwise) of the copy it was
    found on. `certain`: scored at least MIN_FACE_SCORE, the analysis' own bar for a face."""

    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    score: float
    turn: int

    @property
    def certain(self) -> bool:
        return self.score >= MIN_FACE_SCORE


# The photo turned by these angles (counter-clockwise) is searched for faces before it is shown
# de-identified (core.deidentify): MTCNN misses a face lying on its side or upside down.
FACE_SEARCH_TURNS: tuple[int, ...] = (0, 90, 180, 270)


def _unturn(points: np.ndarray, turn: int, height: int, width: int, edges: bool) -> np.ndarray:
    """(x, y) points of `np.rot90(image, turn // 90)` back in `image`'s (height x width) pixels;
    `edges`: the points are pixel edges (boxes), else pixel centres (landmarks)."""
    last_x, last_y = (width, height) if edges else (width - 1, height - 1)
    x, y = points[..., 0], points[..., 1]
    if turn == 0:
        back = (x, y)
    elif turn == 90:
        back = (last_x - y, x)
    elif turn == 180:
        back = (last_x - x, last_y - y)
    elif turn == 270:
        back = (y, last_y - x)
    else:
        raise ValueError(f"turn {turn!r} must be 0, 90, 180 or 270 degrees")
    return np.stack(back, axis=-1)


def find_every_face(detector: FaceDetector, image: np.ndarray,
                    turns: tuple[int, ...] = FACE_SEARCH_TURNS) -> tuple[FaceCandidate, ...]:
    """Every candidate MTCNN keeps (its last stage's score of 0.7 and above, so faces it is
    unsure of too) on the photo and on copies turned by `turns`, mapped back onto the photo.
    For de-identification, where a missed face must not stay visible: the analysis itself
    keeps only the largest face above MIN_FACE_SCORE (`FaceDetector.detect`)."""
    _check_image(image)
    height, width = image.shape[:2]
    factor = int(np.ceil(max(height, width) / DETECT_MAX_SIDE))
    small = image
    if factor > 1:
        cropped = image[: height - height % factor, : width - width % factor]
        small = cv2.resize(cropped, (cropped.shape[1] // factor, cropped.shape[0] // factor),
                           interpolation=cv2.INTER_AREA)
    if min(small.shape[:2]) < _MIN_DETECT_SIDE:
        return ()
    small_h, small_w = small.shape[:2]
    found: list[FaceCandidate] = []
    for turn in turns:
        copy = np.ascontiguousarray(np.rot90(small, (turn // 90) % 4)) if turn else small
        boxes, scores, points = detector._run(copy)  # noqa: SLF001 - the detector's own search
        for box, score, landmarks in zip(boxes, scores, points):
            corners = _unturn(box.reshape(2, 2), turn, small_h, small_w, edges=True)
            box_back = np.concatenate([corners.min(axis=0), corners.max(axis=0)]) * factor
            marks = (_unturn(_order_landmarks(landmarks), turn, small_h, small_w, edges=False)
                     + 0.5) * factor - 0.5
            found.append(FaceCandidate(
                box=tuple(float(v) for v in box_back),  # type: ignore[arg-type]
                landmarks=tuple((float(x), float(y)) for x, y in marks),
                score=float(score), turn=turn))
    return tuple(found)


_DETECTORS: dict[Path, FaceDetector] = {}
_DETECTOR_LOCK = threading.Lock()


def _retry_views(image: np.ndarray, views=RETRY_VIEWS):  # noqa: ANN001, ANN202
    """The copies of `image` for the second look (RETRY_VIEWS), each as (copy, the 2x3 affine that
    maps its pixel centres back onto the photo's, whether it is mirrored, its smallest face)."""
    height, width = image.shape[:2]
    for mirrored, angle, margin, min_face_fraction in views:
        copy = np.ascontiguousarray(image[:, ::-1]) if mirrored else image
        # photo -> copy, as a 3 x 3 matrix on pixel centres
        forward = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) if mirrored else np.eye(3)
        if angle:
            centre = ((width - 1) / 2.0, (height - 1) / 2.0)
            turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
            size = (width, height)
            if abs(angle) % 180 == 90:  # a quarter turn: a canvas that holds all of the photo
                size = (height, width)
                turn[:, 2] += ((height - width) / 2.0, (width - height) / 2.0)
            copy = cv2.warpAffine(copy, turn, size, borderMode=cv2.BORDER_REPLICATE)
            forward = np.vstack([turn, [0.0, 0.0, 1.0]]) @ forward
        if margin:
            copy_height, copy_width = copy.shape[:2]
            pad = int(round(margin * max(copy_height, copy_width)))
            padded = cv2.copyMakeBorder(copy, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
            scale = max(copy_height, copy_width) / max(padded.shape[:2])
            size = (round(padded.shape[1] * scale), round(padded.shape[0] * scale))
            copy = cv2.resize(padded, size, interpolation=cv2.INTER_AREA)
            sx, sy = size[0] / padded.shape[1], size[1] / padded.shape[0]
            # pixel centre x -> (x + pad + 0.5) * sx - 0.5
            shrink = np.array([[sx, 0.0, (pad + 0.5) * sx - 0.5], [0.0, sy, (pad + 0.5) * sy - 0.5], [0.0, 0.0, 1.0]])
            forward = shrink @ forward
        yield copy, np.linalg.inv(forward)[:2], mirrored, min_face_fraction


def _map_back(boxes: np.ndarray, points: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (as the axis-aligned box around their mapped corners) and landmarks (any shape
    ending in 2) of a retry copy, in the photo's pixels."""
    def apply(xy: np.ndarray) -> np.ndarray:
        return xy @ affine[:, :2].T + affine[:, 2]

    corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], axis=1)
    mapped = apply(corners.reshape(-1, 2)).reshape(-1, 4, 2)
    back = np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1)
    return back, apply(points.reshape(-1, 2)).reshape(points.shape)


def get_face_detector(weights_dir: Path | str = DEFAULT_WEIGHTS_DIR) -> FaceDetector:
    """The process-wide detector on a weights folder's face networks, the repository's unless
    told otherwise (MTCNN is loaded once per folder, on the first detection)."""
    key = Path(weights_dir).resolve()
    with _DETECTOR_LOCK:
        if key not in _DETECTORS:
            _DETECTORS[key] = FaceDetector(weights_dir=key)
        return _DETECTORS[key]
