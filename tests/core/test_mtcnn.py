"""The torch-free MTCNN (`core.mtcnn`, ONNX networks in weights/) against facenet-pytorch's own
`detect_face`, which stays installed for the export and for these comparisons."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from core.errors import WeightsError
from core.face import FaceDetector, _retry_views
from core.manifest import DEFAULT_WEIGHTS_DIR
from core.mtcnn import (
    INPUT_NAME,
    ROLE_FILES,
    Mtcnn,
    area_resize,
    area_resize_whole,
    integral_image,
    nms_min,
    nms_union,
)
from tests.core.photo_factory import face_close_up

REPO = Path(__file__).resolve().parents[2]
ACNE04_VALID = REPO.parent / "shared" / "data" / "acne04" / "images" / "valid"
ASTRONAUT_FACE_BOX = (179.0, 60.0, 270.0, 175.0)


@pytest.fixture(scope="module")
def port() -> Mtcnn:
    return Mtcnn.from_weights(DEFAULT_WEIGHTS_DIR)


@pytest.fixture(scope="module")
def facenet():
    from facenet_pytorch import MTCNN

    # One thread: these small networks gain little from two, and a second thread spinning on a
    # shared machine made the comparisons several times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield MTCNN(keep_all=True, device="cpu")
    torch.set_num_threads(threads)


class _OnnxAsTorch(torch.nn.Module):
    """One of the port's ONNX sessions, callable where facenet expects its torch network."""

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        self.dtype_probe = torch.nn.Parameter(torch.zeros(1))  # detect_face reads the dtype

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(o) for o in self.session.run(None, {INPUT_NAME: x.numpy()}))


def _facenet_detect(image: np.ndarray, min_face: float, nets, mtcnn) -> tuple[np.ndarray, np.ndarray]:
    from facenet_pytorch.models.utils.detect_face import detect_face

    with torch.no_grad():
        boxes, points = detect_face(image, min_face, *nets, mtcnn.thresholds, mtcnn.factor, "cpu")
    return np.asarray(boxes[0], np.float32).reshape(-1, 5), np.asarray(points[0], np.float32).reshape(-1, 5, 2)


def _port_detect(port: Mtcnn, image: np.ndarray, min_face: float) -> tuple[np.ndarray, np.ndarray]:
    found = port.detect(image, min_face)
    return np.concatenate([found.boxes, found.scores[:, None]], axis=1), found.landmarks


def _synthetic_photos() -> dict[str, np.ndarray]:
    """The faces test_face.py uses: the astronaut, mirrored, beside a smaller copy of herself,
    a close-up (found only with a margin), that margin copy, and a photo without a face."""
    astronaut = data.astronaut()
    two = np.full((600, 900, 3), 90, np.uint8)
    two[44:556, 0:512] = astronaut
    two[120:480, 530:890] = cv2.resize(astronaut, (360, 360), interpolation=cv2.INTER_AREA)
    close_up = face_close_up(astronaut, ASTRONAUT_FACE_BOX)
    margin_copy = next(_retry_views(close_up))[0]
    turned = next(_retry_views(astronaut, ((False, 25.0, 0.0, 0.05),)))[0]
    return {"astronaut": astronaut, "mirrored": np.ascontiguousarray(astronaut[:, ::-1]),
            "two_faces": two, "close_up": close_up, "close_up_margin": margin_copy,
            "turned_25": turned, "coffee": data.coffee()}


def _min_face(image: np.ndarray) -> float:
    return max(20.0, 0.05 * max(image.shape[:2]))  # FaceDetector's first look


def _sorted(boxes: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((boxes[:, 1], boxes[:, 0]))
    return boxes[order], points[order]


def test_area_resampling_is_torch_area_interpolation_bit_for_bit():
    from torch.nn.functional import interpolate

    rng = np.random.default_rng(0)
    for _ in range(6):
        height, width = (int(v) for v in rng.integers(20, 300, 2))
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        tensor = torch.as_tensor(image.copy())[None].permute(0, 3, 1, 2).float()  # as detect_face
        integral = integral_image(image)
        out_h, out_w = (int(v) for v in rng.integers(5, 320, 2))  # down- and upsampling
        expected = interpolate(tensor, size=(out_h, out_w), mode="area")[0].permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(area_resize_whole(integral, out_h, out_w)[0], expected)
        top, left = int(rng.integers(0, height - 10)), int(rng.integers(0, width - 10))
        bottom, right = int(rng.integers(top + 1, height + 1)), int(rng.integers(left + 1, width + 1))
        crop = interpolate(tensor[:, :, top:bottom, left:right], size=(24, 24), mode="area")
        got = area_resize(integral, np.array([top]), np.array([left]), np.array([bottom - top]),
                          np.array([right - left]), 24, 24)
        np.testing.assert_array_equal(got[0], crop[0].permute(1, 2, 0).numpy())


def test_nms_keeps_what_torchvision_and_facenet_keep():
    from facenet_pytorch.models.utils.detect_face import nms_numpy
    from torchvision.ops import nms

    rng = np.random.default_rng(1)
    for _ in range(3):
        corners = rng.uniform(0, 200, (300, 2)).astype(np.float32)
        sides = rng.uniform(5, 60, (300, 2)).astype(np.float32)
        boxes = np.concatenate([corners, corners + sides], axis=1)
        scores = rng.uniform(0, 1, 300).astype(np.float32)
        for threshold in (0.5, 0.7):
            expected = nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
            np.testing.assert_array_equal(nms_union(boxes, scores, threshold), expected)
            np.testing.assert_array_equal(nms_min(boxes, scores, threshold),
                                          nms_numpy(boxes, scores, threshold, "Min"))


def test_same_networks_give_facenets_boxes_and_landmarks_exactly(port, facenet):
    """The port's steps are facenet's: fed the same (ONNX) networks, every number is identical."""
    nets = tuple(_OnnxAsTorch(s) for s in (port._pnet, port._rnet, port._onet))
    for name, image in _synthetic_photos().items():
        boxes, points = _port_detect(port, image, _min_face(image))
        expected_boxes, expected_points = _facenet_detect(image, _min_face(image), nets, facenet)
        np.testing.assert_array_equal(boxes, expected_boxes, err_msg=name)
        np.testing.assert_array_equal(points, expected_points, err_msg=name)


def _assert_agree(name: str, got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, np.ndarray]) -> None:
    """Same faces (score >= 0.9, what FaceDetector keeps), boxes and landmarks within 0.05 px."""
    got_boxes, got_points = _sorted(*got)
    expected_boxes, expected_points = _sorted(*expected)
    keep, keep_expected = got_boxes[:, 4] >= 0.9, expected_boxes[:, 4] >= 0.9
    assert keep.sum() == keep_expected.sum(), (name, got_boxes, expected_boxes)
    np.testing.assert_allclose(got_boxes[keep, :4], expected_boxes[keep_expected, :4], atol=0.05, err_msg=name)
    np.testing.assert_allclose(got_boxes[keep, 4], expected_boxes[keep_expected, 4], atol=1e-4, err_msg=name)
    np.testing.assert_allclose(got_points[keep], expected_points[keep_expected], atol=0.05, err_msg=name)


def test_onnx_detector_agrees_with_facenet_pytorch_on_the_synthetic_faces(port, facenet):
    nets = (facenet.pnet, facenet.rnet, facenet.onet)
    for name, image in _synthetic_photos().items():
        _assert_agree(name, _port_detect(port, image, _min_face(image)),
                      _facenet_detect(image, _min_face(image), nets, facenet))


@pytest.mark.slow
@pytest.mark.skipif(not ACNE04_VALID.is_dir(), reason="the ACNE04 photos are not on this machine")
def test_onnx_detector_agrees_with_facenet_pytorch_on_acne04_photos(port, facenet):
    """12 real photos of the valid split (read where they lie, never copied), on the copy
    FaceDetector sees (at most 800 px)."""
    nets = (facenet.pnet, facenet.rnet, facenet.onet)
    for path in sorted(ACNE04_VALID.glob("*.jpg"))[::24][:12]:
        image = np.asarray(Image.open(path).convert("RGB"))
        factor = int(np.ceil(max(image.shape[:2]) / 800))
        if factor > 1:
            image = cv2.resize(image, (image.shape[1] // factor, image.shape[0] // factor),
                               interpolation=cv2.INTER_AREA)
        _assert_agree(path.name, _port_detect(port, image, _min_face(image)),
                      _facenet_detect(image, _min_face(image), nets, facenet))


def test_shipped_onnx_files_are_facenets_networks():
    """Each file gives its PyTorch network's outputs; a changed network is named with its output."""
    from facenet_pytorch.models.mtcnn import ONet

    from core.training.export_face import _check_one, _networks

    rng = np.random.default_rng(2)
    for role, network in _networks().items():
        assert _check_one(role, network, DEFAULT_WEIGHTS_DIR / ROLE_FILES[role], rng) < 1e-4
    changed = ONet().eval()
    with torch.no_grad():
        changed.dense6_3.bias += 0.01  # the landmark output only
    with pytest.raises(ValueError, match="'landmarks' differs from PyTorch"):
        _check_one("face_onet", changed, DEFAULT_WEIGHTS_DIR / ROLE_FILES["face_onet"], rng)


def test_detection_never_imports_torch():
    script = (
        "import sys, numpy as np\n"
        "from skimage import data\n"
        "import core.face\n"
        "face = core.face.FaceDetector().detect(data.astronaut())\n"
        "print(face.found, sorted(m for m in ('torch', 'torchvision', 'facenet_pytorch') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "[]"], result.stdout


def _copy_weights(tmp_path: Path) -> Path:
    for name in ROLE_FILES.values():
        shutil.copy(DEFAULT_WEIGHTS_DIR / name, tmp_path / name)
    manifest = json.loads((DEFAULT_WEIGHTS_DIR / "manifest.json").read_text())
    models = {role: item for role, item in manifest["models"].items() if role in ROLE_FILES}
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "models": models}))
    return tmp_path


def test_a_changed_network_file_is_refused(tmp_path):
    weights = _copy_weights(tmp_path)
    assert FaceDetector(weights_dir=weights).detect(data.astronaut()).found
    with (weights / ROLE_FILES["face_rnet"]).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(WeightsError, match="mtcnn_rnet.onnx is corrupt"):
        FaceDetector(weights_dir=weights).detect(data.astronaut())


def test_a_manifest_without_the_face_detector_names_what_is_missing(tmp_path):
    weights = _copy_weights(tmp_path)
    manifest = json.loads((weights / "manifest.json").read_text())
    del manifest["models"]["face_onet"]
    (weights / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="lists no face_onet"):
        FaceDetector(weights_dir=weights).detect(data.astronaut())


def test_an_image_smaller_than_the_smallest_face_has_no_faces(port):
    found = port.detect(np.full((15, 15, 3), 128, np.uint8), 20.0)  # no pyramid level at all
    assert found.boxes.shape == (0, 4) and found.scores.shape == (0,) and found.landmarks.shape == (0, 5, 2)


def test_bad_arguments_name_the_value(port):
    with pytest.raises(ValueError, match="got 0"):
        FaceDetector(threads=0)
    with pytest.raises(ValueError, match="positive number of pixels, got -5"):
        port.detect(data.astronaut(), -5)
    with pytest.raises(ValueError, match="float64"):
        port.detect(data.astronaut().astype(np.float64), 20)
    with pytest.raises(ValueError, match=r"\(2, 3, 24, 24\)"):
        port.onet(np.zeros((2, 3, 24, 24), np.float32))
