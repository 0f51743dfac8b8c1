"""Unit tests for dashboard/charts/trends.py: the traces hold the right numbers."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pytest

from dashboard.charts import trends as trend_charts


def test_counts_values_and_change(visits):
    figure = trend_charts.groups_figure(visits)
    inflammatory = next(t for t in figure.data if t.meta == "inflammatory")
    assert list(inflammatory.y) == [10, 5, 1]
    assert [pd.Timestamp(x).date() for x in inflammatory.x] == [
        date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]

    absolute = trend_charts.groups_figure(visits, mode="absolute")
    by_meta = {t.meta: list(t.y) for t in absolute.data}
    assert by_meta["inflammatory"] == [0.0, -5.0, -9.0]
    assert by_meta["non_inflammatory"] == [0.0, -2.0, -6.0]

    percent = trend_charts.groups_figure(visits, mode="percent", baseline_visit_id=2)
    by_meta = {t.meta: list(t.y) for t in percent.data}
    assert by_meta["inflammatory"] == [100.0, 0.0, -80.0]
    assert by_meta["non_inflammatory"] == [25.0, 0.0, -50.0]


def test_percent_change_from_zero_baseline_is_missing(visits):
    # No nodule at baseline: a percent change is undefined, never 0 or infinity.
    figure = trend_charts.kinds_figure(visits, mode="percent")
    assert list(next(t for t in figure.data if t.meta == "nodule").y) == [None, None, None]
    papule = next(t for t in figure.data if t.meta == "papule")
    assert list(papule.y) == pytest.approx([0.0, -200.0 / 3, -500.0 / 6])  # 6, 2, 1 papules


def test_area_in_percent_of_skin(visits):
    figure = trend_charts.area_figure(visits)
    assert list(figure.data[0].y) == pytest.approx([2.0, 1.0, 0.5])
    assert figure.layout.yaxis.title.text == "% of facial skin"
    absolute = trend_charts.area_figure(visits, mode="absolute")
    assert list(absolute.data[0].y) == pytest.approx([0.0, -1.0, -1.5])
    assert absolute.layout.yaxis.title.text == "Change from baseline (percentage points)"


def test_smoothing_keeps_the_measured_points(visits):
    figure = trend_charts.groups_figure(visits, smoothing=True)
    smoothed = next(t for t in figure.data if t.meta == "inflammatory")
    raw = next(t for t in figure.data if t.meta == "inflammatory:raw")
    # Centred median over 3 visits, shrinking at the ends: [med(10,5), med(10,5,1), med(5,1)].
    assert list(smoothed.y) == [7.5, 5.0, 3.0]
    assert list(raw.y) == [10.0, 5.0, 1.0]
    assert smoothed.name.endswith("(smoothed)")


def test_baseline_and_treatment_markers(visits):
    events = [(date(2024, 1, 15), "Start doxycycline"), (date(2024, 2, 20), "Stop")]
    figure = trend_charts.groups_figure(visits, mode="percent", baseline_visit_id=2, events=events)
    treatment = [s for s in figure.layout.shapes if s.name == "treatment"]
    assert [pd.Timestamp(s.x0).date() for s in treatment] == [date(2024, 1, 15), date(2024, 2, 20)]
    baseline = [s for s in figure.layout.shapes if s.name == "baseline"]
    assert [pd.Timestamp(s.x0).date() for s in baseline] == [date(2024, 2, 1)]
    assert "Start doxycycline" in [a.text for a in figure.layout.annotations]


def test_treatment_event_objects_are_accepted(visits):
    @dataclass
    class Event:
        event_date: date
        description: str

    figure = trend_charts.kinds_figure(visits, events=[Event(date(2024, 1, 2), "isotretinoin")])
    assert [a.text for a in figure.layout.annotations] == ["isotretinoin"]
    with pytest.raises(ValueError, match="must be a date"):
        trend_charts.add_treatment_events(figure, [("2024-01-02", "text")])


def test_unknown_baseline_or_mode_is_refused(visits):
    with pytest.raises(ValueError, match="baseline visit 99"):
        trend_charts.groups_figure(visits, mode="absolute", baseline_visit_id=99)
    with pytest.raises(ValueError, match="mode must be one of"):
        trend_charts.groups_figure(visits, mode="log")


def test_grade_band_and_override(visits):
    figure = trend_charts.grade_figure(visits)
    by_meta = {t.meta: t for t in figure.data}
    assert list(by_meta["grade"].y) == [1.0, 1.0, 0.0]
    # grade +- (1 - confidence), clipped to the 0-3 scale.
    assert list(by_meta["grade:lower"].y) == pytest.approx([0.8, 0.6, 0.0])
    assert list(by_meta["grade:upper"].y) == pytest.approx([1.2, 1.4, 0.1])
    assert list(by_meta["grade:override"].y) == [1.0]
    assert list(by_meta["grade"].customdata) == [0.8, 0.6, 0.9]


def test_iga_and_success_markers(visits):
    figure = trend_charts.iga_figure(visits)
    by_meta = {t.meta: t for t in figure.data}
    assert list(by_meta["iga"].y) == [3, 2, 1]
    # Baseline IGA 3: only IGA 1 (<= 1 and 2 grades better) is a success.
    assert [pd.Timestamp(x).date() for x in by_meta["iga:success"].x] == [date(2024, 3, 1)]
    # Against visit 2 (IGA 2) as baseline, IGA 1 is only one grade better: no success.
    later = trend_charts.iga_figure(visits, baseline_visit_id=2)
    assert "iga:success" not in {t.meta for t in later.data}
