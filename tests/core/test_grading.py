import json

import numpy as np
import pytest

from core.grading import (COUNT_FEATURES, FEATURE_SETS, HAYASHI_COUNT_BINS, SOFT_FEATURES, CountGrader,
                          GradeEvidence, grade_features, hayashi_grade)
from core.training.grader_fit import fit_count_grader
from core.types import LesionCounts
from tests.core.training.test_grader_fit import _fitted


def test_hayashi_bins_follow_acne04():
    assert [hayashi_grade(LesionCounts(papule=n)) for n in (0, 4, 5, 19, 20, 49, 50, 80)] == [
        0, 0, 1, 1, 2, 2, 3, 3]


def test_no_lesion_is_labelled_clear():
    grader, _, _ = _fitted()
    grade = grader.grade(GradeEvidence(LesionCounts()))
    assert grade.value == 0 and grade.label == "clear"


def test_grader_round_trips_through_json(tmp_path):
    grader, _, _ = _fitted()
    path = tmp_path / "grader.json"
    path.write_text(grader.to_json())
    loaded = CountGrader.load(path)
    e = GradeEvidence(LesionCounts(comedone=3, papule=9, nodule=2), (0.5, 0.3, 0.12))
    assert loaded.features == COUNT_FEATURES
    assert loaded.grade(e) == grader.grade(e)


def test_soft_counts_sum_peak_heights_above_each_level():
    e = GradeEvidence(LesionCounts(papule=2), peak_heights=(0.6, 0.25, 0.18, 0.12))
    x = grade_features(e, SOFT_FEATURES)
    expected = np.log1p([0.6 + 0.25 + 0.18 + 0.12, 0.6 + 0.25 + 0.18, 0.6 + 0.25, 0.6])
    assert np.allclose(x, expected)


def test_unknown_feature_names_raise_with_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="log_total"):
        grade_features(GradeEvidence(LesionCounts()), ("log_totals",))
    grader, _, _ = _fitted()
    data = json.loads(grader.to_json())
    data["features"] = ["log_total", "lesion_area", "log_comedone", "log_nodule"]
    path = tmp_path / "grader.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="lesion_area"):
        CountGrader.load(path)


def test_grader_with_soft_counts_round_trips_and_uses_the_peaks(tmp_path):
    rng = np.random.default_rng(1)
    totals = rng.integers(0, 80, size=500)
    evidence = [GradeEvidence(LesionCounts(), tuple([0.5] * int(t))) for t in totals]
    names = FEATURE_SETS["soft_counts"]
    grader = fit_count_grader(np.array([grade_features(e, names) for e in evidence]),
                              np.digitize(totals, HAYASHI_COUNT_BINS), names)
    path = tmp_path / "grader.json"
    path.write_text(grader.to_json())
    loaded = CountGrader.load(path)
    assert loaded.features == names
    few = loaded.grade(GradeEvidence(LesionCounts(papule=1), (0.5,) * 2))
    many = loaded.grade(GradeEvidence(LesionCounts(papule=1), (0.5,) * 70))
    assert (few.value, many.value) == (0, 3)


def test_load_refuses_graders_that_are_not_ordinal_and_monotone(tmp_path):
    grader, _, _ = _fitted()
    path = tmp_path / "grader.json"
    for change, message in (({"kind": "count_logistic"}, "calibrate"),
                            ({"weights": [-1.0, 1.0, 1.0, 1.0]}, "weights"),
                            ({"cuts": [0.0, 2.0, 1.0]}, "cuts")):
        path.write_text(json.dumps({**json.loads(grader.to_json()), **change}))
        with pytest.raises(ValueError, match=message):
            CountGrader.load(path)
