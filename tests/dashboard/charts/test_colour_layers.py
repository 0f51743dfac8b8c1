"""The viewer's "Redness" and "Dark marks" layers (issue 29)."""
import numpy as np
import pytest

from core.colour_measures import DARK_BIT, MEASURED_BIT, RED_BIT
from dashboard.charts.colour_layers import (
    colour_layer_traces,
    colour_outlines,
    layer_name,
    pair_layer_name,
)
from dashboard.charts.viewer import ViewerImage, pair_figure, photo_figure


def _mask() -> np.ndarray:
    mask = np.full((60, 80), MEASURED_BIT, np.uint8)
    mask[10:20, 10:30] |= RED_BIT
    mask[40:50, 50:60] |= DARK_BIT
    return mask


def test_layers_are_outlines_hidden_until_their_legend_entry_is_clicked():
    outlines = colour_outlines(_mask())
    traces = colour_layer_traces(outlines, {"redness": layer_name("redness", 0.031),
                                            "dark_marks": layer_name("dark_marks", 0.012)})
    shown = [t for t in traces if t.showlegend]
    assert [t.name for t in shown] == ["Redness: 3.1% of the skin", "Dark marks: 1.2% of the skin"]
    assert all(t.visible == "legendonly" for t in traces)
    dark = next(t for t in shown if t.meta == "colour:dark_marks")
    xs = [x for x in dark.x if x is not None]
    assert (min(xs), max(xs)) == (50, 59)
    assert colour_outlines(None) == {}


def test_the_layers_follow_a_face_aligned_copy():
    outlines = colour_outlines(_mask())
    moved = colour_layer_traces(outlines, {}, (2.0, 0.0, 5.0, 0.0, 2.0, 7.0))
    dark = next(t for t in moved if t.meta == "colour:dark_marks")
    xs = [x for x in dark.x if x is not None]
    assert (min(xs), max(xs)) == (105, 123)


def test_the_viewer_figures_carry_the_layers():
    image = ViewerImage(source="data:image/jpeg;base64,", width=80, height=60, view=(0, 0, 80, 60),
                        colour_outlines=colour_outlines(_mask()),
                        colour_fractions={"redness": 0.031, "dark_marks": None})
    figure = photo_figure(image)
    names = [t.name for t in figure.data if getattr(t, "showlegend", False)]
    assert "Redness: 3.1% of the skin" in names and "Dark marks" in names
    assert pair_layer_name("redness", 0.031, 0.024) == "Redness: 3.1% before, 2.4% after"
    pair = pair_figure(image, image, titles=("before", "after"), linked=True)
    metas = [t.meta for t in pair.data if t.meta == "colour:redness"]
    assert len(metas) == 2  # on both photos, one legend entry
    assert sum(1 for t in pair.data if t.meta == "colour:redness" and t.showlegend) == 1


def test_trends_draw_red_area_and_dark_marks_with_gaps_where_not_measured():
    from datetime import date

    from dashboard.charts import timeline as timeline_charts
    from dashboard.charts import trends as trend_charts
    from tests.dashboard.charts.timeline_rows import timeline_row

    rows = [{**timeline_row(1, date(2024, 1, 1), 1), "red_area_fraction": 0.04, "dark_area_fraction": 0.02},
            timeline_row(2, date(2024, 2, 1), 2),  # stored before colour was measured
            {**timeline_row(3, date(2024, 3, 1), 3), "red_area_fraction": 0.01, "dark_area_fraction": 0.03}]
    visits = timeline_charts.visit_frame(timeline_charts.timeline_frame(rows), view="front")
    figure = trend_charts.colour_figure(visits)
    by_meta = {t.meta: list(t.y) for t in figure.data}
    red = by_meta["red_area_fraction"]
    assert (red[0], red[-1]) == pytest.approx((4.0, 1.0))
    assert red[1] is None or red[1] != red[1]  # not measured: a gap, never 0
    assert by_meta["dark_area_fraction"][-1] == pytest.approx(3.0)
    assert figure.layout.yaxis.title.text == "% of the skin"
    change = trend_charts.colour_figure(visits, mode="absolute")
    assert {t.meta: list(t.y) for t in change.data}["red_area_fraction"][-1] == pytest.approx(-3.0)


def test_compare_tells_a_change_beyond_retake_noise_and_nothing_when_not_measured():
    from dashboard.charts.colour_layers import CHANGE_NOTE, colour_change_table

    before = {"red_area_fraction": 0.08, "dark_area_fraction": 0.03}
    after = {"red_area_fraction": 0.02, "dark_area_fraction": 0.02}
    table = colour_change_table(before, after)
    rows = {r["measure"]: r for r in table.to_dict("records")}
    assert rows["Red area"]["change (percentage points)"] == pytest.approx(-6.0)
    assert rows["Red area"]["beyond retake noise"] and not rows["Dark marks"]["beyond retake noise"]
    assert colour_change_table(before, {"red_area_fraction": None, "dark_area_fraction": None}) is None
    assert "percentage points" in CHANGE_NOTE and "_" not in CHANGE_NOTE


def test_the_study_csv_carries_red_area_and_dark_marks():
    from dataclasses import fields
    from datetime import date

    from dashboard.charts import studies as study_charts
    from db.repository.studies import StudyMeasurement

    values = {f.name: None for f in fields(StudyMeasurement)}
    values.update(arm="drug", arm_id=1, patient_id=1, patient_code="P1", visit_id=1,
                  visit_date=date(2024, 1, 1), days_from_baseline=0, is_baseline=True, photo_id=1,
                  view="front", analysis_id=1, comedone=0, papule=1, pustule=0, nodule=0,
                  inflammatory_type_uncertain=0, inflammatory=1, non_inflammatory=0, total=1,
                  lesion_area_fraction=0.01, grade=0, grade_confidence=0.9, quality_passed=True,
                  model_version="m", clinician_corrected=False, quality_reasons=(),
                  red_area_fraction=0.031, dark_area_fraction=0.012, colour_reference="self-referenced")
    frame = study_charts.measurement_frame([StudyMeasurement(**values)])
    row = frame.iloc[0]
    assert (row["red_area_fraction"], row["dark_area_fraction"]) == (0.031, 0.012)
    assert row["colour_reference"] == "self-referenced"
