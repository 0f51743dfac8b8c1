"""Face detection on a real, public-domain face photo (skimage's astronaut) and its variants."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from core.face import (
    RETRY_VIEWS,
    SIDE_VIEW_YAW_RATIO,
    FaceDetector,
    get_face_detector,
    view_from_yaw,
    yaw_ratio_from_landmarks,
)

# Where the astronaut's face is in the 512 x 512 photo (measured once, by eye and by MTCNN).
ASTRONAUT_FACE_BOX = (179.0, 60.0, 270.0, 175.0)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    # The process-wide instance: MTCNN is loaded once for the whole test session.
    return get_face_detector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_face(detector, astronaut):
    return detector.detect(astronaut)


def turned_proxy(image: np.ndarray, strength: float) -> np.ndarray:
    """Stretch the face's image-left part and squeeze its right part, moving the nose to the
    left of the eye midpoint, as a head turned to show the patient's left cheek would."""
    height, width = image.shape[:2]
    x0, x1 = 181.0, 268.0
    xs = np.arange(width, dtype=np.float32)
    t = np.clip((xs - x0) / (x1 - x0), 0.0, 1.0)
    source_x = np.where((xs >= x0) & (xs <= x1), x0 + (x1 - x0) * t**strength, xs).astype(np.float32)
    map_x = np.tile(source_x, (height, 1))
    map_y = np.tile(np.arange(height, dtype=np.float32)[:, None], (1, width))
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)


def test_finds_the_astronauts_face_with_ordered_landmarks(astronaut_face):
    face = astronaut_face
    assert face.found and face.n_faces == 1 and face.other_boxes == ()
    assert face.score > 0.99
    np.testing.assert_allclose(face.box, ASTRONAUT_FACE_BOX, atol=8.0)
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert lx < nx < rx and mlx < mrx  # image-left first
    assert max(ly, ry) < ny < min(mly, mry)  # eyes above nose above mouth
    x0, y0, x1, y1 = face.box
    assert all(x0 < x < x1 and y0 < y < y1 for x, y in face.landmarks)
    assert face.view == "front" and abs(face.yaw_ratio) < SIDE_VIEW_YAW_RATIO


def test_large_photo_coordinates_map_back_to_full_resolution(detector, astronaut, astronaut_face):
    # 1536 px: detected on an 800 px copy, reported in the 1536 px frame.
    big = cv2.resize(astronaut, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    face = detector.detect(big)
    assert face.found
    inter_ocular = np.linalg.norm(np.subtract(astronaut_face.landmarks[1], astronaut_face.landmarks[0]))
    # Pixel centres: original (x, y) lands on 3 * (x + 0.5) - 0.5.
    expected = (np.asarray(astronaut_face.landmarks) + 0.5) * 3.0 - 0.5
    error = np.linalg.norm(np.asarray(face.landmarks) - expected, axis=1) / (3.0 * inter_ocular)
    assert error.max() < 0.03, error
    np.testing.assert_allclose(np.asarray(face.box) / 3.0, astronaut_face.box, atol=6.0)


def test_mirrored_photo_keeps_image_left_landmarks_first(detector, astronaut, astronaut_face):
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    face = detector.detect(mirrored)
    assert face.found
    width = astronaut.shape[1]
    # Mirroring x -> (width - 1 - x) swaps left and right: eyes and mouth corners trade places.
    expected = [(width - 1 - x, y) for x, y in astronaut_face.landmarks]
    expected = [expected[1], expected[0], expected[2], expected[4], expected[3]]
    inter_ocular = np.linalg.norm(np.subtract(astronaut_face.landmarks[1], astronaut_face.landmarks[0]))
    error = np.linalg.norm(np.asarray(face.landmarks) - np.asarray(expected), axis=1) / inter_ocular
    assert error.max() < 0.05, error


def test_largest_face_is_used_and_the_others_reported(detector, astronaut):
    photo = np.full((600, 900, 3), 90, np.uint8)
    photo[44:556, 0:512] = astronaut
    photo[120:480, 530:890] = cv2.resize(astronaut, (360, 360), interpolation=cv2.INTER_AREA)
    face = detector.detect(photo)
    assert face.found and face.n_faces == 2 and len(face.other_boxes) == 1
    assert face.box[2] < 512 <= face.other_boxes[0][0]  # the big face on the left is the patient
    main_width = face.box[2] - face.box[0]
    other_width = face.other_boxes[0][2] - face.other_boxes[0][0]
    assert other_width < main_width


def test_no_face_in_a_photo_without_one(detector):
    noise = np.random.default_rng(0).normal(128, 40, (480, 640, 3))
    for photo in (data.coffee(), np.clip(noise, 0, 255).astype(np.uint8)):
        face = detector.detect(photo)
        assert not face.found and face.box is None and face.landmarks is None and face.n_faces == 0


def test_turned_head_is_reported_as_a_side_view(detector, astronaut):
    face = detector.detect(turned_proxy(astronaut, 0.3))
    assert face.found
    assert face.yaw_ratio < -SIDE_VIEW_YAW_RATIO and face.view == "left"


def test_yaw_ratio_ignores_in_plane_tilt():
    frontal = [(0.0, 0.0), (10.0, 0.0), (5.0, 6.0), (1.0, 10.0), (9.0, 10.0)]
    turned = [(0.0, 0.0), (10.0, 0.0), (8.0, 6.0), (1.0, 10.0), (9.0, 10.0)]
    assert yaw_ratio_from_landmarks(frontal) == pytest.approx(0.0)
    assert yaw_ratio_from_landmarks(turned) == pytest.approx(0.3)
    angle = np.deg2rad(25.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = [tuple(rotation @ np.array(p) * 3.0 + 40.0) for p in turned]
    assert yaw_ratio_from_landmarks(tilted) == pytest.approx(0.3)


def test_view_thresholds():
    assert view_from_yaw(0.0) == "front"
    assert view_from_yaw(SIDE_VIEW_YAW_RATIO + 0.01) == "right"
    assert view_from_yaw(-SIDE_VIEW_YAW_RATIO - 0.01) == "left"


def test_bad_inputs_are_rejected_with_the_bad_value():
    with pytest.raises(ValueError, match="coincide"):
        yaw_ratio_from_landmarks([(1.0, 1.0), (1.0, 1.0), (2.0, 3.0), (0.0, 5.0), (2.0, 5.0)])
    with pytest.raises(ValueError, match="5 \\(x, y\\) landmarks"):
        yaw_ratio_from_landmarks([(1.0, 1.0), (2.0, 1.0)])
    detector = FaceDetector()  # input checks run before the model is ever loaded
    with pytest.raises(ValueError, match="shape"):
        detector.detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        detector.detect(np.zeros((64, 64, 3), np.float32))
    assert detector._mtcnn is None
    assert not detector.detect(np.zeros((8, 2000, 3), np.uint8)).found  # too thin to hold a face


def test_detector_is_shared_process_wide():
    assert get_face_detector() is get_face_detector()


def test_a_face_filling_the_frame_is_found_on_a_second_look(detector, astronaut, astronaut_face):
    """A close-up cut inside the face box (as clinics crop to a cheek): the plain pass finds no
    face; the copy with grey margins does, and its landmarks map back into the close-up."""
    from tests.core.photo_factory import face_close_up

    close_up = face_close_up(astronaut, astronaut_face.box)  # insets of 11-20% all behave alike
    assert len(detector._faces(close_up)[0]) == 0  # what the plain pass sees
    face = detector.detect(close_up)
    assert face.found
    height, width = close_up.shape[:2]
    landmarks = np.array(face.landmarks)
    assert (landmarks[:, 0] > 0).all() and (landmarks[:, 0] < width).all()
    assert (landmarks[:, 1] > 0).all() and (landmarks[:, 1] < height).all()
    left_eye, right_eye = landmarks[0], landmarks[1]
    assert left_eye[0] < right_eye[0] and abs(left_eye[1] - right_eye[1]) < 0.1 * height


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "immunohistochemistry", "colorwheel"])
def test_the_second_look_finds_no_face_where_there_is_none(detector, name):
    photo = np.ascontiguousarray(getattr(data, name)()[..., :3])
    assert not detector.detect(photo).found
    assert not detector.detect(np.ascontiguousarray(photo[:, ::-1])).found  # mirrored copies too


def turned(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned `angle` degrees counter-clockwise about its centre (same canvas), and the
    2x3 matrix that maps its pixel centres."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), angle, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE), matrix


@pytest.mark.parametrize("angle", [60.0, 90.0])
def test_a_close_up_lying_on_its_side_is_found_by_the_turned_copies(detector, astronaut, astronaut_face, angle):
    """A close-up turned far over: neither the first look nor the original three copies (a margin,
    +-25 degrees) find it; the copies turned by 45 degrees do, and the landmarks map back onto
    the turned close-up, eyes still in the face's own left-to-right order."""
    from tests.core.photo_factory import face_close_up

    close_up = face_close_up(astronaut, astronaut_face.box)
    upright = detector.detect(close_up)
    assert upright.found and upright.rough
    photo, matrix = turned(close_up, angle)
    assert not detector._detect(photo, retry_views=RETRY_VIEWS[:3]).found
    face = detector.detect(photo)
    assert face.found and face.rough and face.view == "front"
    expected = np.asarray(upright.landmarks) @ matrix[:, :2].T + matrix[:, 2]
    inter_ocular = np.linalg.norm(expected[1] - expected[0])
    error = np.linalg.norm(np.asarray(face.landmarks) - expected, axis=1) / inter_ocular
    assert error.max() < 0.3, error


def test_a_mirrored_copy_keeps_the_patients_side(detector, astronaut, astronaut_face):
    """The second look's mirrored copy sees the head turned the other way; mapped back, the
    landmarks and the view are the photo's own (a left view stays left)."""
    photo = turned_proxy(astronaut, 0.3)
    first = detector.detect(photo)
    assert first.view == "left" and not first.rough
    mirrored_views = tuple(view for view in RETRY_VIEWS if view[0] and view[1] == 0.0)
    assert mirrored_views
    face = detector._detect(photo, first_look=False, retry_views=mirrored_views)
    assert face.found and face.rough and face.view == "left"
    inter_ocular = np.linalg.norm(np.subtract(first.landmarks[1], first.landmarks[0]))
    error = np.linalg.norm(np.subtract(face.landmarks, first.landmarks), axis=1) / inter_ocular
    assert error.max() < 0.2, error
