"""Fitting the ordinal count grader on lesion features (`core.training.grader_fit`)."""
import numpy as np
import pytest

from core.grading import FEATURE_SETS, HAYASHI_COUNT_BINS, GradeEvidence, grade_features
from core.training.grader_fit import fit_count_grader
from core.types import LesionCounts


def _fitted(seed=0):
    rng = np.random.default_rng(seed)
    totals = rng.integers(0, 80, size=600)
    counts = [LesionCounts(papule=int(t // 2), pustule=int(t - t // 2)) for t in totals]
    x = np.array([grade_features(GradeEvidence(c)) for c in counts])
    return fit_count_grader(x, np.digitize(totals, HAYASHI_COUNT_BINS)), counts, totals


def test_fitted_grader_learns_count_bins_and_is_confident_far_from_edges():
    grader, counts, totals = _fitted()
    predicted = np.array([grader.grade(GradeEvidence(c)).value for c in counts])
    assert (predicted == np.digitize(totals, HAYASHI_COUNT_BINS)).mean() > 0.9
    far = grader.grade(GradeEvidence(LesionCounts(papule=40, pustule=40)))
    assert far.value == 3 and far.confidence > 0.8
    assert abs(sum(far.probabilities) - 1) < 1e-6


def test_fit_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="matching"):
        fit_count_grader(np.zeros((3, 4)), np.zeros(2))


def test_fit_rejects_feature_names_that_do_not_match_the_columns():
    with pytest.raises(ValueError, match="names"):
        fit_count_grader(np.zeros((3, 4)), np.zeros(3), names=("log_total",))


def test_more_lesions_never_lower_the_grade():
    """Ordinal with non-negative weights: monotone in every feature, whatever it was fitted on."""
    rng = np.random.default_rng(3)
    # Noisy training data where nodules happen to come with milder grades: an unconstrained
    # model would learn a negative nodule weight.
    totals = rng.integers(0, 80, size=400)
    evidence = [GradeEvidence(LesionCounts(papule=int(t), nodule=int(rng.integers(0, 5))),
                              tuple(rng.uniform(0.1, 0.9, int(t)))) for t in totals]
    grades = np.digitize(totals + rng.normal(0, 6, len(totals)), HAYASHI_COUNT_BINS)
    grades[[e.counts.nodule >= 3 for e in evidence]] = 0
    names = FEATURE_SETS["counts_and_soft_counts"]
    grader = fit_count_grader(np.array([grade_features(e, names) for e in evidence]), grades, names)
    assert (grader.weights >= 0).all() and (np.diff(grader.cuts) > 0).all()
    for n in range(0, 90, 3):
        few = GradeEvidence(LesionCounts(papule=n), (0.4,) * n)
        more = GradeEvidence(LesionCounts(papule=n + 3, nodule=2), (0.4,) * (n + 3) + (0.9, 0.9))
        assert grader.grade(more).value >= grader.grade(few).value
    assert grader.grade(GradeEvidence(LesionCounts(papule=120), (0.5,) * 120)).value == 3
