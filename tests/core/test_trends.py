"""Trend and trial statistics, checked against hand-computed numbers."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from core.trends import (
    MeanCI,
    arm_summary,
    change_from_baseline,
    count_noise_threshold,
    iga_success,
    is_meaningful_count_change,
    is_responder,
    mean_ci,
    percent_change,
    smooth,
    week_of,
)

# Student t quantiles (0.975) from printed tables: 2 and 1 degrees of freedom.
T_975_DF2 = 4.302652729749464
T_975_DF1 = 12.706204736174698


def test_change_from_baseline_is_absolute_and_keeps_gaps():
    assert change_from_baseline([20, 15, None, 8]) == [0.0, -5.0, None, -12.0]
    assert change_from_baseline([10, 20, 5], baseline_index=1) == [-10.0, 0.0, -15.0]


def test_change_from_baseline_without_baseline_is_all_missing():
    assert change_from_baseline([None, 4, 6]) == [None, None, None]


def test_baseline_index_outside_values_is_rejected():
    with pytest.raises(ValueError, match="baseline_index 3"):
        change_from_baseline([1, 2, 3], baseline_index=3)
    with pytest.raises(ValueError):
        percent_change([], baseline_index=0)


def test_percent_change_hand_computed():
    assert percent_change([20, 15, None, 8]) == [0.0, -25.0, None, -60.0]
    assert percent_change([4, 6]) == [0.0, 50.0]


def test_percent_change_from_zero_baseline_is_none():
    assert percent_change([0, 3, 0]) == [None, None, None]


def test_smooth_is_a_centred_median_with_shrinking_ends():
    # windows: [10,30] [10,30,20] [30,20,100] [20,100,40] [100,40]
    assert smooth([10, 30, 20, 100, 40]) == [20.0, 20.0, 30.0, 40.0, 70.0]


def test_smooth_ignores_missing_values_and_keeps_them_missing():
    # windows without None: [10] -, [20,5] [20,5]
    assert smooth([10, None, 20, 5]) == [10.0, None, 12.5, 12.5]


def test_smooth_wider_window_and_identity():
    # windows: [1,9,2] [1,9,2,8] [1,9,2,8,3] [9,2,8,3] [2,8,3]
    assert smooth([1, 9, 2, 8, 3], window=5) == [2.0, 5.0, 3.0, 5.5, 3.0]
    assert smooth([3, 1, 2], window=1) == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("window", [0, 2, -1, 2.0, True])
def test_smooth_rejects_even_or_non_integer_windows(window):
    with pytest.raises(ValueError, match="window"):
        smooth([1, 2, 3], window=window)


def test_noise_threshold_is_two_lesions_or_a_fifth_of_baseline():
    assert count_noise_threshold(0) == 2.0
    assert count_noise_threshold(5) == 2.0
    assert count_noise_threshold(30) == 6.0


@pytest.mark.parametrize(
    ("before", "after", "meaningful"),
    [
        (5, 4, False),  # 1 < 2 lesions
        (5, 3, True),  # 2 >= 2 lesions
        (30, 25, False),  # 5 < 20% of 30
        (30, 24, True),  # 6 >= 20% of 30
        (30, 37, True),  # worsening counts too
        (0, 1, False),
        (0, 2, True),
    ],
)
def test_meaningful_count_change(before, after, meaningful):
    assert is_meaningful_count_change(before, after) is meaningful


def test_negative_counts_are_rejected():
    with pytest.raises(ValueError, match="-1"):
        is_meaningful_count_change(-1, 3)
    with pytest.raises(ValueError, match="-2"):
        is_meaningful_count_change(3, -2)


@pytest.mark.parametrize(
    ("baseline", "iga", "success"),
    [
        (3, 1, True),
        (4, 0, True),
        (2, 0, True),
        (2, 1, False),  # only one grade better
        (4, 2, False),  # two better but not clear / almost clear
        (1, 0, False),
        (3, 3, False),
    ],
)
def test_iga_success_fda_definition(baseline, iga, success):
    assert iga_success(baseline, iga) is success


def test_iga_success_accepts_numpy_and_whole_floats_but_not_out_of_scale():
    assert iga_success(np.int64(3), 1.0) is True
    with pytest.raises(ValueError, match="iga must be an IGA grade 0-4, got 5"):
        iga_success(3, 5)
    with pytest.raises(ValueError, match="baseline_iga"):
        iga_success(2.5, 0)


def test_responder_threshold():
    assert is_responder(-50.0) is True
    assert is_responder(-49.9) is False
    assert is_responder(None) is False
    assert is_responder(-35.0, threshold=-30.0) is True


@pytest.mark.parametrize(
    ("days", "week"),
    [(0, 0), (3, 0), (3.5, 1), (10, 1), (11, 2), (84, 12), (-3, 0), (-4, -1)],
)
def test_week_of_rounds_half_up(days, week):
    assert week_of(days) == week


def test_week_of_rejects_nan():
    with pytest.raises(ValueError):
        week_of(math.nan)


def test_mean_ci_hand_computed():
    result = mean_ci([-60.0, -40.0, -50.0])
    # mean -50, sd 10, se 10 / sqrt(3)
    half = T_975_DF2 * 10.0 / math.sqrt(3)
    assert result.n == 3
    assert result.mean == pytest.approx(-50.0)
    assert result.ci_low == pytest.approx(-50.0 - half)
    assert result.ci_high == pytest.approx(-50.0 + half)
    assert half == pytest.approx(24.8413771, abs=1e-6)


def test_mean_ci_small_samples():
    assert mean_ci([]) == MeanCI(0, None, None, None)
    assert mean_ci([7.0]) == MeanCI(1, 7.0, None, None)
    assert mean_ci([2.0, 2.0]) == MeanCI(2, 2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1.0, 2.0], confidence=95)


@dataclass
class _Row:
    arm: str
    subject: str
    week: int
    inflammatory_percent_change: float | None
    non_inflammatory_percent_change: float | None
    iga: int | None
    baseline_iga: int | None


def _trial_rows():
    return [
        {"arm": "vehicle", "subject": "v1", "week": 0, "inflammatory_percent_change": 0.0,
         "non_inflammatory_percent_change": 0.0, "iga": 3, "baseline_iga": 3},
        # s1 first appears with an earlier visit in the same week; the later row must win.
        {"arm": "active", "subject": "s1", "week": 12, "inflammatory_percent_change": -10.0,
         "non_inflammatory_percent_change": -10.0, "iga": 3, "baseline_iga": 3},
        {"arm": "active", "subject": "s1", "week": 12, "inflammatory_percent_change": -60.0,
         "non_inflammatory_percent_change": -40.0, "iga": 1, "baseline_iga": 3},
        _Row("active", "s2", 12, -40.0, -20.0, 2, 3),
        {"arm": "active", "subject": "s3", "week": 12.0, "inflammatory_percent_change": -50.0,
         "non_inflammatory_percent_change": float("nan"), "iga": None, "baseline_iga": 3},
        {"arm": "active", "subject": "s1", "week": 0, "inflammatory_percent_change": 0.0,
         "non_inflammatory_percent_change": 0.0, "iga": 3, "baseline_iga": 3},
    ]


def test_arm_summary_is_sorted_by_arm_then_week():
    summaries = arm_summary(_trial_rows())
    assert [(s.arm, s.week) for s in summaries] == [("active", 0), ("active", 12), ("vehicle", 0)]


def test_arm_summary_hand_computed_week_12():
    week12 = arm_summary(_trial_rows())[1]
    assert week12.n == 3
    # inflammatory: -60, -40, -50 -> mean -50, sd 10
    half = T_975_DF2 * 10.0 / math.sqrt(3)
    assert week12.inflammatory.n == 3
    assert week12.inflammatory.mean == pytest.approx(-50.0)
    assert week12.inflammatory.ci_low == pytest.approx(-50.0 - half)
    assert week12.inflammatory.ci_high == pytest.approx(-50.0 + half)
    # non-inflammatory: -40, -20 (s3 is NaN = missing) -> mean -30, sd 14.142, se 10
    assert week12.non_inflammatory.n == 2
    assert week12.non_inflammatory.mean == pytest.approx(-30.0)
    assert week12.non_inflammatory.ci_low == pytest.approx(-30.0 - T_975_DF1 * 10.0)
    assert week12.non_inflammatory.ci_high == pytest.approx(-30.0 + T_975_DF1 * 10.0)
    # responders (<= -50%): s1 and s3 of 3
    assert week12.responder_rate == pytest.approx(2 / 3)
    assert week12.n_responder_evaluable == 3
    # IGA success over s1 (3 -> 1, success) and s2 (3 -> 2, not); s3 has no IGA
    assert week12.iga_success_rate == pytest.approx(0.5)
    assert week12.n_iga == 2


def test_arm_summary_single_subject_has_no_interval():
    vehicle = arm_summary(_trial_rows())[2]
    assert vehicle.n == 1
    assert vehicle.inflammatory == MeanCI(1, 0.0, None, None)
    assert vehicle.responder_rate == 0.0
    assert vehicle.iga_success_rate == 0.0


def test_arm_summary_rates_are_none_without_data():
    rows = [{"arm": "a", "subject": "x", "week": 4}]
    (summary,) = arm_summary(rows)
    assert summary.n == 1
    assert summary.responder_rate is None
    assert summary.iga_success_rate is None
    assert summary.inflammatory == MeanCI(0, None, None, None)


def test_arm_summary_to_dict_is_flat():
    flat = arm_summary(_trial_rows())[1].to_dict()
    assert flat["arm"] == "active"
    assert flat["week"] == 12
    assert flat["inflammatory_mean"] == pytest.approx(-50.0)
    assert flat["non_inflammatory_n"] == 2
    assert flat["iga_success_rate"] == pytest.approx(0.5)


def test_arm_summary_rejects_rows_without_arm_or_with_fractional_week():
    with pytest.raises(ValueError, match="'arm'"):
        arm_summary([{"subject": "x", "week": 0}])
    with pytest.raises(ValueError, match="whole number of weeks"):
        arm_summary([{"arm": "a", "subject": "x", "week": 1.5}])


def test_arm_summary_of_nothing_is_empty():
    assert arm_summary([]) == []


# ---- issue 25 item 5: change against what a retaken photo changes --------------------------
def _noise(sd: float = 2.0):
    from core.retake_noise import parse_table

    bins = [{"level": 0.0, "sd": sd}, {"level": 100.0, "sd": sd}]
    return parse_table({"measures": {
        m: {"bins": bins} for m in ("total", "inflammatory", "non_inflammatory", "lesion_area",
                                    "grade")}, "simulated": True})


def test_retake_change_sentence_in_words():
    from core.trends import retake_change_sentence

    noise = _noise()  # threshold 1.96 * sqrt(2 * 4) = 5.5
    assert retake_change_sentence("inflammatory", 20, 8, noise) == (
        "12 fewer inflammatory lesions: more than a retaken photo changes (±6)")
    assert retake_change_sentence("total", 5, 6, noise) == (
        "1 more lesion: within what a retaken photo changes (±6)")
    assert retake_change_sentence("non_inflammatory", 3, 3, noise) == (
        "No change in non-inflammatory lesions: within what a retaken photo changes (±6)")
    assert retake_change_sentence("total", 5, 6, _noise(0.1)).endswith("(±0.3)")
    with pytest.raises(ValueError, match="measure must be one of"):
        retake_change_sentence("grade", 1, 2, noise)


def test_arm_summary_counts_subjects_beyond_retake_noise_only_when_judged():
    from core.trends import arm_summary

    rows = [
        {"arm": "a", "subject": "s1", "week": 4, "inflammatory_beyond_retake_noise": True},
        {"arm": "a", "subject": "s2", "week": 4, "inflammatory_beyond_retake_noise": False},
        {"arm": "a", "subject": "s3", "week": 4, "inflammatory_beyond_retake_noise": None},
        {"arm": "b", "subject": "s4", "week": 4},
    ]
    first, second = arm_summary(rows)
    assert (first.n_beyond_retake_noise, first.n_retake_evaluable) == (1, 2)
    assert (second.n_beyond_retake_noise, second.n_retake_evaluable) == (None, 0)
    assert first.to_dict()["n_beyond_retake_noise"] == 1
