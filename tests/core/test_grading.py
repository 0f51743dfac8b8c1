import numpy as np
import pytest

from core.grading import HAYASHI_COUNT_BINS, CountGrader, grade_features, hayashi_grade
from core.types import LesionCounts


def test_hayashi_bins_follow_acne04():
    assert [hayashi_grade(LesionCounts(papule=n)) for n in (0, 4, 5, 19, 20, 49, 50, 80)] == [
        0, 0, 1, 1, 2, 2, 3, 3]


def _fitted(seed=0):
    rng = np.random.default_rng(seed)
    totals = rng.integers(0, 80, size=600)
    counts = [LesionCounts(papule=int(t // 2), pustule=int(t - t // 2)) for t in totals]
    x = np.array([grade_features(c) for c in counts])
    return CountGrader.fit(x, np.digitize(totals, HAYASHI_COUNT_BINS)), counts, totals


def test_fitted_grader_learns_count_bins_and_is_confident_far_from_edges():
    grader, counts, totals = _fitted()
    predicted = np.array([grader.grade(c).value for c in counts])
    assert (predicted == np.digitize(totals, HAYASHI_COUNT_BINS)).mean() > 0.9
    far = grader.grade(LesionCounts(papule=40, pustule=40))
    assert far.value == 3 and far.confidence > 0.8
    assert abs(sum(far.probabilities) - 1) < 1e-6


def test_no_lesion_is_labelled_clear():
    grader, _, _ = _fitted()
    grade = grader.grade(LesionCounts())
    assert grade.value == 0 and grade.label == "clear"


def test_grader_round_trips_through_json(tmp_path):
    grader, _, _ = _fitted()
    path = tmp_path / "grader.json"
    path.write_text(grader.to_json())
    loaded = CountGrader.load(path)
    c = LesionCounts(comedone=3, papule=9, nodule=2)
    assert loaded.grade(c) == grader.grade(c)


def test_fit_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="matching"):
        CountGrader.fit(np.zeros((3, 4)), np.zeros(2))
