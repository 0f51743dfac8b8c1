"""Unit tests for dashboard/charts/timeline.py: one row per analysed visit."""
from __future__ import annotations

from datetime import date

import pytest

from dashboard.charts import timeline as timeline_charts
from tests.dashboard.charts.timeline_rows import timeline_row


def test_visit_frame_one_row_per_analysed_visit(visits):
    assert visits["visit_id"].tolist() == [1, 2, 3]
    assert visits["photo_id"].tolist() == [1, 2, 4]
    assert visits["inflammatory"].tolist() == [10, 5, 1]  # visit 2: 2 papules, 2 pustules, 1 nodule
    assert visits["iga"].tolist() == [3, 2, 1]


def test_visit_frame_other_view_and_empty():
    rows = [timeline_row(1, date(2024, 1, 1), 1, view="left", counts=(1, 2, 3, 0))]
    timeline = timeline_charts.timeline_frame(rows)
    assert timeline_charts.visit_frame(timeline, "front").empty
    assert timeline_charts.visit_frame(timeline, "left")["pustule"].tolist() == [3]
    assert timeline_charts.visit_frame(timeline_charts.timeline_frame([])).empty


def test_timeline_frame_rejects_rows_missing_columns():
    with pytest.raises(ValueError, match="lacks the columns"):
        timeline_charts.timeline_frame([{"visit_id": 1}])


def test_region_table_names_regions_and_types_in_words():
    table = timeline_charts.region_table({
        "left_cheek": {"papule": 3, "comedone": 1}, "forehead": {"papule": 2}})
    assert list(table.columns) == ["region", "Comedones", "Papules", "Pustules", "Nodules/cysts"]
    assert table["region"].tolist() == ["Forehead", "Left cheek"]  # the face's order
    assert table.set_index("region").loc["Left cheek"].tolist() == [1, 3, 0, 0]
