"""Lesion matching and evaluation metrics."""
import pytest

from core.training.metrics import box_iou, count_summary, detection_summary, grade_summary, match_lesions


def test_iou_of_half_overlapping_boxes():
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_matching_is_one_to_one_and_accepts_centre_inside():
    true = [(0, 0, 10, 10), (100, 100, 110, 110)]
    # a big predicted box holding the first true centre (IoU < 0.3) still matches it
    pred = [(0, 0, 30, 30), (1, 1, 11, 11), (200, 200, 210, 210)]
    matches = match_lesions(pred, [0.5, 0.9, 0.8], true)
    assert matches == [(1, 0)]  # the higher score takes the box; the big one finds nothing left
    assert match_lesions([(0, 0, 30, 30)], [1.0], true) == [(0, 0)]


def test_summaries():
    assert detection_summary(6, 8, 12) == pytest.approx({"precision": 0.75, "recall": 0.5, "f1": 0.6})
    assert count_summary([1, 2, 3], [1, 2, 5])["count_mae"] == pytest.approx(2 / 3)
    g = grade_summary([0, 1, 3, 2], [0, 2, 3, 0])
    assert g["grade_accuracy"] == 0.5 and g["grade_within_one"] == 0.75
    assert g["grade_confusion"][2][1] == 1
