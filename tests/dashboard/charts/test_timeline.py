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
    assert list(table.columns) == ["region", "Comedones", "Papules", "Pustules", "Nodules/cysts",
                                   "Inflammatory, type uncertain"]
    assert table["region"].tolist() == ["Forehead", "Left cheek"]  # the face's order
    assert table.set_index("region").loc["Left cheek"].tolist() == [1, 3, 0, 0, 0]


def test_region_table_has_the_uncertain_type_and_the_lesions_outside_the_regions():
    """Issue 26: the table uses the counts' types and holds every lesion."""
    table = timeline_charts.region_table({
        "left_cheek": {"inflammatory_type_uncertain": 8}, "outside_regions": {"comedone": 2},
        "nose": {}})
    assert table["region"].tolist() == ["Left cheek", "Nose", "Outside the five regions"]
    assert table.set_index("region").loc["Left cheek", "Inflammatory, type uncertain"] == 8
    assert table.drop(columns="region").to_numpy().sum() == 10
    empty_outside = timeline_charts.region_table({"nose": {"papule": 1}, "outside_regions": {}})
    assert empty_outside["region"].tolist() == ["Nose"]


def test_close_ups_are_a_series_per_body_site_and_failed_photos_carry_a_flag():
    rows = [
        {**timeline_row(1, date(2024, 1, 1), 1, counts=(1, 1, 0, 0)), "body_site": None},
        {**timeline_row(1, date(2024, 1, 1), 2, view="close-up", counts=(0, 9, 0, 0)),
         "body_site": "left_cheek"},
        {**timeline_row(1, date(2024, 1, 1), 3, view="close-up", counts=(0, 4, 0, 0)),
         "body_site": "chin"},
        {**timeline_row(2, date(2024, 2, 1), 4, view="close-up", counts=(0, 7, 0, 0),
                        passed=False), "body_site": "left_cheek",
         "quality_reasons": ["The photo is blurry (sharpness 41, needs 60). Hold still."]},
    ]
    timeline = timeline_charts.timeline_frame(rows)
    assert timeline_charts.analysed_series(timeline) == [
        ("front", None), ("close-up", "chin"), ("close-up", "left_cheek")]
    assert [timeline_charts.series_label(s) for s in timeline_charts.analysed_series(timeline)] == [
        "front", "close-up of the chin", "close-up of the left cheek"]
    cheek = timeline_charts.visit_frame(timeline, ("close-up", "left_cheek"))
    assert cheek["papule"].tolist() == [9, 7]
    assert cheek["quality_flag"].isna().tolist() == [True, False]  # passed: no flag
    assert cheek["quality_flag"].tolist()[1] == (
        "Stored although it failed the quality check: the photo is blurry (sharpness 41, "
        "needs 60)")
    assert timeline_charts.visit_frame(timeline, ("close-up", "chin"))["papule"].tolist() == [4]
