"""Lesion-level change on a real face photo and a rotated, rescaled, shifted copy of it: with
the landmarks detected on each photo and the alignments estimated from them, the same lesions
must come out (nearly) all persisting, and added / removed ones as new / resolved."""
import cv2
import numpy as np
import pytest
from skimage import data

from core.alignment import estimate_alignment
from core.change import compare_lesions
from core.face import get_face_detector
from core.types import Lesion


def _lesions_at(points, half=4):
    return [Lesion(bbox=(int(x) - half, int(y) - half, int(x) + half, int(y) + half), kind="papule",
                   score=0.9, area_px=50) for x, y in points]


@pytest.fixture(scope="module")
def photos():
    original = data.astronaut()
    # 12 degrees, 1.6x, shifted: as if photographed closer and tilted at the next visit
    matrix = cv2.getRotationMatrix2D((256, 256), 12, 1.6)
    matrix[:, 2] += (150, 120)
    copy = cv2.warpAffine(original, matrix, (1100, 1050), flags=cv2.INTER_CUBIC)
    detector = get_face_detector()
    a, b = detector.detect(original), detector.detect(copy)
    assert a.found and b.found
    return estimate_alignment(a.landmarks), estimate_alignment(b.landmarks), matrix


def _skin_points(n=24):
    # a grid on the astronaut's face (512 x 512 photo), lesions 20 px apart: farther than the
    # matching distance, so which lesion is which is never ambiguous
    xs, ys = np.meshgrid(np.arange(180, 280, 20), np.arange(110, 240, 24))
    grid = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    return np.random.default_rng(0).permutation(grid)[:n]


def test_same_lesions_in_a_transformed_copy_all_persist(photos):
    align_a, align_b, matrix = photos
    points = _skin_points()
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    change = compare_lesions(_lesions_at(points), align_a, _lesions_at(moved, half=6), align_b)
    assert len(change.persisting) >= len(points) - 1
    assert all(i == j for i, j in change.persisting)  # each lesion matched to itself


def test_added_and_removed_lesions_are_new_and_resolved(photos):
    align_a, align_b, matrix = photos
    points = _skin_points()
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    before = _lesions_at(points[:20])  # four lesions appear only at the second visit
    after = _lesions_at(moved[4:], half=6)  # the first four healed
    change = compare_lesions(before, align_a, after, align_b)
    assert set(change.resolved) == {0, 1, 2, 3}
    assert set(change.new) == {16, 17, 18, 19}
    assert sorted(change.persisting) == [(i, i - 4) for i in range(4, 20)]
