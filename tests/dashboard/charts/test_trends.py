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


def test_every_trend_hover_reads_in_words_with_rounded_numbers(visits):
    figures = [
        trend_charts.groups_figure(visits), trend_charts.kinds_figure(visits, mode="absolute"),
        trend_charts.area_figure(visits, mode="percent", smoothing=True),
        trend_charts.grade_figure(visits), trend_charts.iga_figure(visits),
        trend_charts.overview_figure(visits, smoothing=True),
    ]
    for figure in figures:
        assert figure.layout.xaxis.hoverformat == "%d %b %Y"
        for trace in figure.data:
            if trace.hoverinfo == "skip":
                continue
            # Every value a hover shows has a format: plotly would print 0.54931640625.
            assert trace.hovertemplate, (figure.layout.title.text, trace.name)
            assert "%{y}" not in trace.hovertemplate and "%{customdata}" not in trace.hovertemplate
    area = trend_charts.area_figure(visits)
    # %{text}: a line of its own for a photo that failed the quality check, else nothing.
    assert area.data[0].hovertemplate == (
        "Lesion area: %{y:.2f}% of facial skin%{text}<extra></extra>")
    groups = trend_charts.groups_figure(visits, mode="absolute")
    assert next(t for t in groups.data if t.meta == "inflammatory").hovertemplate == (
        "Inflammatory (papules, pustules, nodules/cysts): %{y:+.1~f} lesions%{text}<extra></extra>")
    grade = next(t for t in trend_charts.grade_figure(visits).data if t.meta == "grade")
    assert list(grade.text) == ["moderate", "moderate", "mild"]


def test_the_overview_stacks_counts_area_and_grade_on_one_date_axis(visits):
    events = [(date(2024, 1, 15), "Start doxycycline")]
    figure = trend_charts.overview_figure(visits, events=events)
    layout = figure.layout
    # Three panels on one date axis: the upper two follow the bottom one's (zoom one, all move).
    assert (layout.xaxis.matches, layout.xaxis2.matches) == ("x3", "x3")
    by_meta = {t.meta: t for t in figure.data}
    assert list(by_meta["inflammatory"].y) == [10, 5, 1]
    assert (by_meta["inflammatory"].xaxis, by_meta["lesion_area_fraction"].xaxis,
            by_meta["grade"].xaxis) == ("x", "x2", "x3")
    assert list(by_meta["lesion_area_fraction"].y) == pytest.approx([2.0, 1.0, 0.5])
    # In words only: "0 mild" would read like IGA's numbers.
    assert list(layout.yaxis3.ticktext) == ["mild", "moderate", "severe", "very severe"]
    assert [s.name for s in layout.shapes] == ["treatment"]
    # Every trend chart of the patient shows the same dates: switching tabs never moves them.
    shown = list(layout.xaxis.range)
    for other in (trend_charts.groups_figure(visits, events=events),
                  trend_charts.grade_figure(visits, events=events),
                  trend_charts.iga_figure(visits, events=events)):
        assert list(other.layout.xaxis.range) == shown
    assert pd.Timestamp(shown[0]) < pd.Timestamp(date(2024, 1, 1))
    assert pd.Timestamp(shown[1]) > pd.Timestamp(date(2024, 3, 1))


def test_date_range_covers_visits_and_events(visits):
    first, last = trend_charts.date_range(visits, [(date(2024, 6, 1), "stop")])
    margin = pd.Timedelta(days=152) * 0.05  # 5% of the span, at least a week
    assert (first, last) == (pd.Timestamp(date(2024, 1, 1)) - margin,
                             pd.Timestamp(date(2024, 6, 1)) + margin)
    one_visit = trend_charts.date_range(visits.iloc[0:1])
    assert one_visit == [pd.Timestamp(date(2024, 1, 1)) - pd.Timedelta(days=7),
                         pd.Timestamp(date(2024, 1, 1)) + pd.Timedelta(days=7)]
    assert trend_charts.date_range(visits.iloc[0:0]) is None


def test_visit_table_in_words(visits):
    table = trend_charts.visit_table(visits)
    assert list(table.columns) == [
        "Visit date", "Comedones", "Papules", "Pustules", "Nodules/cysts", "Uncertain type",
        "Inflammatory", "Non-inflammatory", "All lesions", "Lesion area (%)", "Model grade",
        "Confidence", "Clinician grade", "IGA", "Corrected", "Quality check", "Model version"]
    assert table["Quality check"].tolist() == ["passed"] * 3
    assert table["Visit date"].tolist() == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    assert table["Lesion area (%)"].tolist() == [2.0, 1.0, 0.5]
    assert table["Model grade"].tolist() == ["moderate", "moderate", "mild"]
    assert table["Confidence"].tolist() == [80, 60, 90]
    assert table["Clinician grade"].tolist()[2] == "moderate"
    assert table["Clinician grade"].isna().tolist() == [True, True, False]  # shown as a dash
    assert table["IGA"].tolist() == ["3 moderate", "2 mild", "1 almost clear"]
    assert table["Corrected"].tolist() == ["no", "no", "no"]


def test_retake_band_and_hollow_points(visits):
    from core.retake_noise import parse_table

    flagged = visits.assign(quality_flag=[None, "Stored although it failed the quality check: x",
                                          None])
    bins = [{"level": 0.0, "sd": 1.0}, {"level": 100.0, "sd": 1.0}]
    noise = parse_table({"measures": {m: {"bins": bins} for m in (
        "total", "inflammatory", "non_inflammatory", "lesion_area", "grade")}})
    figure = trend_charts.groups_figure(flagged, noise=noise)
    by_meta = {t.meta: t for t in figure.data}
    assert list(by_meta["inflammatory:band"].y) == pytest.approx([10 + 1.96, 5 + 1.96, 1 + 1.96])
    assert list(by_meta["inflammatory:band_low"].y) == pytest.approx([10 - 1.96, 5 - 1.96, 0.0])
    assert "nodule:band" not in by_meta  # the table has no nodule measure
    assert [t.showlegend for t in figure.data if str(t.meta).endswith(":band")] == [True, False]
    assert list(by_meta["inflammatory"].marker.symbol) == ["circle", "circle-open", "circle"]
    assert list(by_meta["inflammatory"].text)[1] == "<br>Stored although it failed the quality check: x"
    # Change from baseline has no band (the band is around measured counts).
    assert not [t for t in trend_charts.groups_figure(flagged, noise=noise, mode="percent").data
                if str(t.meta).endswith(":band")]
    overview = trend_charts.overview_figure(flagged, noise=noise)
    assert sum(bool(t.showlegend) for t in overview.data if str(t.meta).endswith(":band")) == 1


def _long_visits(n: int) -> pd.DataFrame:
    """`n` visits two days apart, the 8th from the photo that failed the quality check."""
    days = pd.date_range("2020-01-01", periods=n, freq="2D")
    return pd.DataFrame({
        "visit_id": range(1, n + 1), "visit_date": days,
        "inflammatory": [20 - i % 7 for i in range(n)], "non_inflammatory": [5] * n,
        "nodule": [0] * n, "total": [25 - i % 7 for i in range(n)],
        "lesion_area_fraction": [0.01] * n, "grade": [1.0] * n, "grade_confidence": [0.8] * n,
        "review_grade_override": [None] * n,
        "quality_flag": [("Stored although it failed the quality check: x" if i == 7 else None)
                         for i in range(n)],
    })


def test_a_long_series_is_a_line_with_the_flagged_visit_marked(visits):
    """Issue 28 item 4: at 1,000 visits a marker per visit cost the browser seconds. A long
    series is a line; the flagged visit keeps its hollow marker and its reason; the events are
    all there; the dates go as days ("2020-01-01"), not full timestamps."""
    long = _long_visits(trend_charts.MARKER_LIMIT + 50)
    events = [(date(2020, 1, 1 + i), f"step {i}") for i in range(20)]
    for figure in (trend_charts.groups_figure(long, events=events, smoothing=True),
                   trend_charts.overview_figure(long, events=events)):
        by_meta = {t.meta: t for t in figure.data}
        inflammatory = by_meta["inflammatory"]
        assert inflammatory.mode == "lines"
        raw = by_meta.get("inflammatory:raw", inflammatory)  # the measured values
        assert raw.mode == "lines" and list(raw.y)[:3] == [20, 19, 18]
        assert str(inflammatory.x[0]) == "2020-01-01"
        hollow = by_meta["inflammatory:flagged"]
        assert hollow.marker.symbol == "circle-open"
        assert [str(x) for x in hollow.x] == [str(long["visit_date"][7].date())]
        assert "failed the quality check" in hollow.text[0]
        assert sum(1 for t in figure.data if t.mode and "markers" in t.mode) <= 4
        assert [a.text for a in figure.layout.annotations][-20:] == [f"step {i}" for i in range(20)]
        assert len([s for s in figure.layout.shapes if s.name == "treatment"]) == 20
    grade = trend_charts.grade_figure(long)
    assert next(t for t in grade.data if t.meta == "grade").mode == "lines"
    assert "grade:flagged" in {t.meta for t in grade.data}
    # A short series keeps a marker per visit.
    short = trend_charts.groups_figure(visits)
    assert next(t for t in short.data if t.meta == "inflammatory").mode == "lines+markers"
