"""MTCNN face detection in numpy with onnxruntime: a port of facenet-pytorch's `detect_face`.

The three networks are facenet-pytorch's (exported by `core.training.export_face`, MIT licence);
this module runs them without torch. Every step follows facenet-pytorch 2.6.0 in float32 and in
the same order, so boxes and landmarks agree with it up to the networks' own rounding: the image
pyramid and the 24 / 48 px crops are resampled like torch's `interpolate(mode="area")` (an
adaptive average pool, not OpenCV's INTER_AREA, which weights partly covered pixels), and the
NMS steps keep torchvision's `batched_nms` ("Union", boxes as edges) and facenet's `nms_numpy`
("Min", boxes as inclusive pixel ranges) semantics.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import WeightsError
from core.manifest import DEFAULT_WEIGHTS_DIR, read_manifest, verified_bytes
from core.onnx_engine import cpu_session, session_options

# Manifest roles of the three networks, and the file names the export writes.
ROLE_FILES: dict[str, str] = {
    "face_pnet": "mtcnn_pnet.onnx",
    "face_rnet": "mtcnn_rnet.onnx",
    "face_onet": "mtcnn_onet.onnx",
}
INPUT_NAME = "image"
PNET_OUTPUTS = ("regression", "probability")
RNET_OUTPUTS = ("regression", "probability")
ONET_OUTPUTS = ("regression", "landmarks", "probability")
RNET_INPUT = 24
ONET_INPUT = 48
# facenet-pytorch's MTCNN defaults: per-stage score thresholds and the pyramid's scale step.
THRESHOLDS: tuple[float, float, float] = (0.6, 0.7, 0.7)
PYRAMID_FACTOR = 0.709
_PNET_CELL = 12  # PNet looks at 12 x 12 windows with a stride of 2
_PNET_STRIDE = 2
_F32 = np.float32


@dataclass(frozen=True)
class Detections:
    """Faces of one image: boxes (N x 4, pixel edges), scores (N), landmarks (N x 5 x 2, MTCNN's
    own convention: pixel edges, eyes / nose / mouth corners), all float32 as facenet returns."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray


def normalise(images: np.ndarray) -> np.ndarray:
    """N x H x W x 3 pixel values (uint8 or float32) -> MTCNN's N x 3 x H x W input in [-1, 1]."""
    return (np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=_F32) - _F32(127.5)) * _F32(0.0078125)


def _pool_edges(size_in: np.ndarray | int, size_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Window [start, end) of each output pixel of an adaptive average pool (torch's integer
    formulas: start = floor(i * in / out), end = ceil((i + 1) * in / out)); broadcasts over sizes."""
    i = np.arange(size_out)
    size_in = np.asarray(size_in, dtype=np.int64)[..., None]
    return (i * size_in) // size_out, -((-(i + 1) * size_in) // size_out)


def integral_image(image: np.ndarray) -> np.ndarray:
    """(H + 1) x (W + 1) x 3 table of pixel sums above and left of each corner: exact, in int32
    where the whole image's sum fits (faster to read), else in float64."""
    fits = image.shape[0] * image.shape[1] * 255 < 2**31
    return cv2.integral(np.ascontiguousarray(image), sdepth=cv2.CV_32S if fits else cv2.CV_64F)


def _window_means(sums: np.ndarray, window_h: np.ndarray, window_w: np.ndarray) -> np.ndarray:
    # torch sums a window in float32 (exact here: whole numbers below 2**24) and divides by the
    # window's height, then by its width; the same two roundings keep every value identical.
    return (sums.astype(_F32) / window_h.astype(_F32)) / window_w.astype(_F32)


def area_resize(integral: np.ndarray, top: np.ndarray, left: np.ndarray, height: np.ndarray,
                width: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Rectangles of an image resampled like torch's `interpolate(mode="area")`, bit for bit.

    `integral` is the image's `integral_image`; `top`, `left`, `height`, `width` are int arrays
    of N rectangles inside it. Returns N x out_h x out_w x 3 float32.
    """
    y0, y1 = _pool_edges(height, out_h)
    x0, x1 = _pool_edges(width, out_w)
    ys0, ys1 = (top[:, None] + y0)[:, :, None], (top[:, None] + y1)[:, :, None]
    xs0, xs1 = (left[:, None] + x0)[:, None, :], (left[:, None] + x1)[:, None, :]
    sums = integral[ys1, xs1] - integral[ys0, xs1] - integral[ys1, xs0] + integral[ys0, xs0]
    return _window_means(sums, (y1 - y0)[:, :, None, None], (x1 - x0)[:, None, :, None])


def area_resize_whole(integral: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """The whole image resampled like `area_resize`, 1 x out_h x out_w x 3: the same sums, read
    as whole rows then flat columns (several times faster than four 2-D gathers)."""
    y0, y1 = _pool_edges(integral.shape[0] - 1, out_h)
    x0, x1 = _pool_edges(integral.shape[1] - 1, out_w)
    rows = (integral[y1] - integral[y0]).reshape(out_h, -1)
    channel = np.arange(integral.shape[2])
    right = (x1[:, None] * integral.shape[2] + channel).ravel()
    left = (x0[:, None] * integral.shape[2] + channel).ravel()
    sums = (rows[:, right] - rows[:, left]).reshape(1, out_h, out_w, -1)
    return _window_means(sums, (y1 - y0)[None, :, None, None], (x1 - x0)[None, None, :, None])


def nms_union(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision's `nms`: indices kept, best score first; a box goes when its IoU with a kept
    one is over `threshold` (areas from edges, no +1; float32 like its CPU kernel)."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for position, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[position + 1:]
        w = np.maximum(_F32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(_F32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        overlap = inter / ((areas[i] + areas[rest]) - inter)
        # compared in double, as the C++ kernel compares a float with a double threshold
        suppressed[rest[overlap.astype(np.float64) > threshold]] = True
    return np.asarray(keep, dtype=np.int64)


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet's `nms_numpy(..., "Min")`: overlap over the smaller box, boxes as inclusive pixel
    ranges (+1), a box goes when its overlap is over `threshold`. Same numpy calls, same order."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = (boxes[:, k].copy() for k in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    keep = []
    while order.size > 0:
        i = order[-1]
        keep.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        order = rest[inter / np.minimum(area[i], area[rest]) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _generate_boxes(regression: np.ndarray, probability: np.ndarray, scale: float,
                    threshold: float) -> np.ndarray:
    """PNet's windows scoring at least `threshold` as rows [x1, y1, x2, y2, score, 4 offsets] in
    the image's pixels (facenet's `generateBoundingBox`, float32)."""
    ys, xs = np.nonzero(probability >= threshold)
    cell = np.stack([xs, ys], axis=1).astype(_F32)
    q1 = np.floor((_PNET_STRIDE * cell + 1) / _F32(scale))
    q2 = np.floor((_PNET_STRIDE * cell + _PNET_CELL - 1 + 1) / _F32(scale))
    score = probability[ys, xs][:, None]
    offsets = regression[:, ys, xs].T
    return np.concatenate([q1, q2, score, offsets], axis=1).astype(_F32)


def _square(boxes: np.ndarray) -> np.ndarray:
    """facenet's `rerec`: each box grown to a square on its centre (float32, in place)."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * _F32(0.5) - side * _F32(0.5)
    boxes[:, 1] = boxes[:, 1] + h * _F32(0.5) - side * _F32(0.5)
    boxes[:, 2:4] = boxes[:, :2] + side[:, None]
    return boxes


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """facenet's `bbreg`: box edges moved by the network's offsets, in units of the box's
    inclusive width and height (float32, in place)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] = np.stack([boxes[:, 0] + offsets[:, 0] * w, boxes[:, 1] + offsets[:, 1] * h,
                             boxes[:, 2] + offsets[:, 2] * w, boxes[:, 3] + offsets[:, 3] * h], axis=1)
    return boxes


def _crop_windows(boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    """facenet's `pad` and crop test: (which boxes have a non-empty crop, and its top, left,
    height, width in the image). Boxes are truncated towards zero, then cut to the image as
    facenet does (a 1-based start, an exclusive end)."""
    edges = np.trunc(boxes[:, :4]).astype(np.int32)
    x, y = np.maximum(edges[:, 0], 1), np.maximum(edges[:, 1], 1)
    ex, ey = np.minimum(edges[:, 2], width), np.minimum(edges[:, 3], height)
    # facenet skips an empty crop (and would then misalign its batch); here the box is dropped.
    valid = (ey > y - 1) & (ex > x - 1)
    top, left = (y - 1)[valid], (x - 1)[valid]
    return valid, top, left, ey[valid] - top, ex[valid] - left


class Mtcnn:
    """facenet-pytorch's three-stage MTCNN on onnxruntime sessions (CPU)."""

    def __init__(self, pnet: Path, rnet: Path, onet: Path, threads: int = 2,
                 graphs: tuple[bytes, bytes, bytes] | None = None) -> None:
        """`graphs`: the three files' bytes as checked against the manifest (then the paths
        only name them in messages)."""
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        # Idle pool threads sleep instead of spinning: the networks are small and run in bursts,
        # and on a shared 2-core machine spinning cost a third more wall time (476 vs 745 ms).
        options = session_options(threads, spin=False)
        models = graphs if graphs is not None else (None, None, None)
        self._pnet, self._rnet, self._onet = (cpu_session(path, options, model)
                                              for path, model in zip((pnet, rnet, onet), models))

    @classmethod
    def from_weights(cls, weights_dir: Path | str = DEFAULT_WEIGHTS_DIR, threads: int = 2) -> Mtcnn:
        """The networks listed in the folder's manifest, each checked against its SHA-256."""
        entries = read_manifest(weights_dir)
        missing = [role for role in ROLE_FILES if role not in entries]
        if missing:
            raise WeightsError(f"the manifest in {weights_dir} lists no {', '.join(missing)} (the face "
                               "detector); run `python -m core.training.export_face` to add it")
        # Each network is read once and built from the bytes that were checked.
        graphs = tuple(verified_bytes(entries[role].path, entries[role].sha256) for role in ROLE_FILES)
        return cls(*(entries[role].path for role in ROLE_FILES), threads=threads, graphs=graphs)

    def onet(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ONet on N x 3 x 48 x 48 normalised crops: (box offsets N x 4, landmarks N x 10 as five
        x then five y, relative to the crop, face probability N x 2)."""
        if batch.ndim != 4 or batch.shape[1:] != (3, ONET_INPUT, ONET_INPUT):
            raise ValueError(f"ONet takes N x 3 x {ONET_INPUT} x {ONET_INPUT} crops, got shape {batch.shape}")
        regression, landmarks, probability = self._onet.run(None, {INPUT_NAME: batch.astype(_F32, copy=False)})
        return regression, landmarks, probability

    def detect(self, image: np.ndarray, min_face: float) -> Detections:
        """Faces in an RGB uint8 image at least `min_face` pixels wide (facenet's `detect_face`
        with its default thresholds and pyramid factor)."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image H x W x 3, got {getattr(image, 'dtype', None)} "
                             f"of shape {getattr(image, 'shape', None)}")
        if not min_face > 0:
            raise ValueError(f"the smallest face must be a positive number of pixels, got {min_face}")
        height, width = image.shape[:2]
        # Sums of any rectangle in four look-ups: every resampling below reads this table.
        integral = integral_image(image)

        boxes = self._first_stage(integral, height, width, min_face)
        if len(boxes):
            boxes = self._second_stage(integral, boxes, height, width)
        if len(boxes) == 0:
            return Detections(np.zeros((0, 4), _F32), np.zeros(0, _F32), np.zeros((0, 5, 2), _F32))
        return self._third_stage(integral, boxes, height, width)

    def _first_stage(self, integral: np.ndarray, height: int, width: int, min_face: float) -> np.ndarray:
        """PNet over the image pyramid: candidate squares [x1, y1, x2, y2, score]."""
        m = 12.0 / min_face
        side = min(height, width) * m
        scales = []
        scale = m
        while side >= 12:
            scales.append(scale)
            scale *= PYRAMID_FACTOR
            side *= PYRAMID_FACTOR

        found = []
        for scale in scales:
            level = area_resize_whole(integral, int(height * scale + 1), int(width * scale + 1))
            regression, probability = self._pnet.run(None, {INPUT_NAME: normalise(level)})
            boxes = _generate_boxes(regression[0], probability[0, 1], scale, THRESHOLDS[0])
            found.append(boxes[nms_union(boxes[:, :4], boxes[:, 4], 0.5)])
        boxes = np.concatenate(found, axis=0) if found else np.zeros((0, 9), _F32)
        boxes = boxes[nms_union(boxes[:, :4], boxes[:, 4], 0.7)]

        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        moved = np.stack([boxes[:, 0] + boxes[:, 5] * w, boxes[:, 1] + boxes[:, 6] * h,
                          boxes[:, 2] + boxes[:, 7] * w, boxes[:, 3] + boxes[:, 8] * h, boxes[:, 4]], axis=1)
        return _square(moved.astype(_F32, copy=False))

    def _second_stage(self, integral: np.ndarray, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
        """RNet on 24 px crops of the candidates: kept, regressed squares."""
        valid, top, left, crop_h, crop_w = _crop_windows(boxes, width, height)
        boxes = boxes[valid]
        if len(boxes) == 0:
            return boxes
        crops = area_resize(integral, top, left, crop_h, crop_w, RNET_INPUT, RNET_INPUT)
        regression, probability = self._rnet.run(None, {INPUT_NAME: normalise(crops)})
        score = probability[:, 1]
        passed = score > THRESHOLDS[1]
        boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
        regression = regression[passed]
        keep = nms_union(boxes[:, :4], boxes[:, 4], 0.7)
        return _square(_regress(boxes[keep], regression[keep]))

    def _third_stage(self, integral: np.ndarray, boxes: np.ndarray, height: int, width: int) -> Detections:
        """ONet on 48 px crops: final boxes, scores and landmarks."""
        valid, top, left, crop_h, crop_w = _crop_windows(boxes, width, height)
        boxes = boxes[valid]
        if len(boxes) == 0:
            return Detections(np.zeros((0, 4), _F32), np.zeros(0, _F32), np.zeros((0, 5, 2), _F32))
        crops = area_resize(integral, top, left, crop_h, crop_w, ONET_INPUT, ONET_INPUT)
        regression, relative, probability = self.onet(normalise(crops))
        score = probability[:, 1]
        passed = score > THRESHOLDS[2]
        boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
        relative, regression = relative[passed], regression[passed]
        # Landmarks from the crop's square before regression, as facenet measures them.
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = np.stack([w * relative[:, :5] + boxes[:, 0:1] - 1,
                           h * relative[:, 5:] + boxes[:, 1:2] - 1], axis=2)
        boxes = _regress(boxes, regression)
        keep = nms_min(boxes[:, :4], boxes[:, 4], 0.7)
        boxes, points = boxes[keep], points[keep]
        return Detections(boxes[:, :4].copy(), boxes[:, 4].copy(), points.astype(_F32, copy=False))
