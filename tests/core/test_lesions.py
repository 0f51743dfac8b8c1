"""Maps -> lesions: touching lesions are separated by their centre peaks."""
import numpy as np
import pytest

from core.lesions import extract_lesions, find_peaks, kind_mask_from_labels, peak_heights
from core.segmentation import LesionMaps


def _blob(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (r / 2.0) ** 2)).astype(np.float32)


def _maps(centres, shape=(96, 96), r=8, kind=1):
    heat = np.zeros(shape, np.float32)
    lesion = np.zeros(shape, np.float32)
    for cy, cx in centres:
        heat = np.maximum(heat, _blob(shape, cy, cx, r))
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        lesion = np.maximum(lesion, ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.float32))
    kinds = np.zeros((4, *shape), np.float32)
    kinds[kind] = 1.0
    return LesionMaps(lesion=lesion, centre=heat, kind=kinds)


def test_two_touching_lesions_are_counted_as_two():
    maps = _maps([(40, 30), (40, 44)])  # radius 8, centres 14 px apart: the masks overlap
    lesions, labels = extract_lesions(maps, lesion_threshold=0.5, peak_threshold=0.3, min_peak_distance=4)
    assert len(lesions) == 2
    xs = sorted(l.centre[0] for l in lesions)
    assert xs[0] < 37 < xs[1]
    assert all(l.kind == "papule" for l in lesions)
    assert set(np.unique(labels)) == {0, 1, 2}


def test_a_mask_blob_without_peak_still_counts_when_big_enough():
    maps = _maps([(30, 30)])
    lesion = maps.lesion.copy()
    lesion[70:80, 70:80] = 1.0  # 100 px blob, no centre peak
    lesions, _ = extract_lesions(LesionMaps(lesion, maps.centre, maps.kind), lesion_threshold=0.5,
                                 peak_threshold=0.3, min_peak_distance=4)
    assert len(lesions) == 2
    lesion[70:80, 70:80] = 0.0
    lesion[70:73, 70:73] = 1.0  # 9 px speck: noise
    lesions, _ = extract_lesions(LesionMaps(lesion, maps.centre, maps.kind), lesion_threshold=0.5,
                                 peak_threshold=0.3, min_peak_distance=4)
    assert len(lesions) == 1


def test_empty_maps_give_no_lesion():
    maps = LesionMaps(np.zeros((32, 32), np.float32), np.zeros((32, 32), np.float32),
                      np.full((4, 32, 32), 0.25, np.float32))
    lesions, labels = extract_lesions(maps, lesion_threshold=0.5, peak_threshold=0.3, min_peak_distance=3)
    assert lesions == [] and labels.max() == 0


def test_kind_mask_uses_each_lesions_kind():
    maps = _maps([(40, 30)], kind=3)
    lesions, labels = extract_lesions(maps, lesion_threshold=0.5, peak_threshold=0.3, min_peak_distance=4)
    mask = kind_mask_from_labels(labels, lesions)
    assert lesions[0].kind == "nodule"
    assert mask[40, 30] == 4 and mask[0, 0] == 0


def test_peak_threshold_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="1.5"):
        find_peaks(np.zeros((4, 4)), 1.5, 2)


def test_peak_heights_lists_every_peak_above_the_floor_highest_first():
    shape = (96, 96)
    centre = np.maximum.reduce([1.0 * _blob(shape, 20, 20, 8), 0.4 * _blob(shape, 60, 60, 8),
                                0.2 * _blob(shape, 20, 70, 8), 0.05 * _blob(shape, 80, 15, 8)])
    heights = peak_heights(centre, 0.1, 4)
    assert heights == pytest.approx((1.0, 0.4, 0.2), abs=1e-6)
    assert heights == tuple(sorted(heights, reverse=True))
    assert len(peak_heights(centre, 0.3, 4)) == 2


def test_an_unsure_inflammatory_type_is_counted_as_type_uncertain():
    from core.lesions import kind_mask_from_labels, mark_type_uncertainty
    from core.types import Lesion, LesionCounts

    lesions = [
        Lesion(bbox=(0, 0, 2, 2), kind="nodule", score=0.9, area_px=4, type_confidence=0.40),
        Lesion(bbox=(3, 0, 5, 2), kind="pustule", score=0.9, area_px=4, type_confidence=0.52),
        Lesion(bbox=(6, 0, 8, 2), kind="comedone", score=0.9, area_px=4, type_confidence=0.30),
    ]
    marked = [mark_type_uncertainty(lesion, 0.47) for lesion in lesions]
    assert [l.type_uncertain for l in marked] == [True, False, False]  # comedones keep their type
    counts = LesionCounts.from_lesions(marked)
    assert (counts.nodule, counts.pustule, counts.comedone, counts.inflammatory_type_uncertain) == (0, 1, 1, 1)
    assert (counts.inflammatory, counts.non_inflammatory, counts.total) == (2, 1, 3)
    assert LesionCounts.from_lesions(marked, split_uncertain=False).nodule == 1  # what the grader sees
    assert [mark_type_uncertainty(l, 0.0).type_uncertain for l in lesions] == [False] * 3
    labels = np.array([[1, 1, 0, 2, 2, 0, 3, 3]])
    assert kind_mask_from_labels(labels, marked).tolist() == [[5, 5, 0, 3, 3, 0, 1, 1]]
