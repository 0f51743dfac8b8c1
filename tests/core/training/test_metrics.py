"""Lesion matching and evaluation metrics."""
import pytest

import numpy as np

from core.training.metrics import (bootstrap_intervals, box_iou, calibration_error, count_summary, detection_summary,
                                   grade_summary, match_lesions)


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


def test_bootstrap_intervals_bracket_the_estimate_and_narrow_with_more_photos():
    rng = np.random.default_rng(1)
    def interval(n):
        correct = rng.random(n) < 0.75  # a grader right three times in four
        return bootstrap_intervals(n, lambda idx: {"accuracy": correct[idx].mean()})["accuracy"], correct.mean()
    (low, high), estimate = interval(140)
    assert low < estimate < high
    assert 0.08 < high - low < 0.2  # about +-1.96 * sqrt(0.75 * 0.25 / 140) = +-0.07
    (low_big, high_big), _ = interval(5000)
    assert high_big - low_big < (high - low) / 4
    same = bootstrap_intervals(50, lambda idx: {"zero": 0.0})
    assert same == {"zero": (0.0, 0.0)}
    with pytest.raises(ValueError, match="at least 2 photos"):
        bootstrap_intervals(1, lambda idx: {"x": 0.0})


def test_calibration_error_is_small_when_confidence_matches_accuracy_and_large_when_not():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, 20000)
    honest = rng.random(20000) < confidence  # "70% sure" is right 70% of the time
    assert calibration_error(confidence, honest) < 0.01
    overconfident = rng.random(20000) < confidence - 0.2
    assert calibration_error(confidence, overconfident) == pytest.approx(0.2, abs=0.02)
    assert calibration_error([0.9, 0.9], [True, False]) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="2 confidences but 1 outcomes"):
        calibration_error([0.5, 0.5], [True])


def test_type_confusion_and_per_type_precision_recall():
    from core.training.metrics import kind_pairs, kind_tally, type_summary

    # Photo 1: two papules labelled; one found as papule, one as nodule; one spurious nodule.
    # Photo 2: a comedone found as comedone.
    photos = [
        (kind_pairs([("papule", "papule"), ("papule", "nodule")]),
         kind_tally(["papule", "nodule", "nodule"]), kind_tally(["papule", "papule"])),
        (kind_pairs([("comedone", "comedone")]), kind_tally(["comedone"]), kind_tally(["comedone"])),
    ]
    pairs, predicted, labelled = (np.array(column) for column in zip(*photos))
    summary = type_summary(pairs, predicted, labelled)
    assert summary["type_confusion"]["matrix"] == [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    per_type = summary["type_precision_recall"]
    assert per_type["papule"] == {"precision": 1.0, "recall": 0.5, "n_predicted": 1, "n_labelled": 2}
    assert per_type["nodule"] == {"precision": 0.0, "recall": 0.0, "n_predicted": 2, "n_labelled": 0}
    assert per_type["comedone"]["precision"] == per_type["comedone"]["recall"] == 1.0


def test_the_type_threshold_is_the_smallest_that_keeps_types_right_often_enough():
    from core.training.metrics import choose_type_threshold

    # Confident types (0.5+) are right 3 times in 4, unsure ones (0.35) once in 4.
    confidence = [0.5, 0.52, 0.55, 0.58] + [0.35] * 4
    right = [True, True, True, False] + [True, False, False, False]
    assert choose_type_threshold(confidence, right, min_accuracy=0.70) == 0.36
    assert choose_type_threshold(confidence, right, min_accuracy=0.50) == 0.30  # all kept: 4 of 8
    assert choose_type_threshold(confidence, [False] * 8) == 1.0  # never right: every type uncertain
