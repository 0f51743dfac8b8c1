"""Unit tests for dashboard/charts/studies.py: trial rows, arm figures and the study CSV."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from core.trends import arm_summary
from dashboard.charts import studies as study_charts


@dataclass(frozen=True)
class Measurement:
    arm: str
    patient_code: str
    visit_id: int
    visit_date: date
    days_from_baseline: int
    is_baseline: bool
    inflammatory: int | None
    non_inflammatory: int | None
    iga: int | None


def _measurements() -> list[Measurement]:
    m = Measurement
    return [
        m("drug", "P1", 1, date(2024, 1, 1), 0, True, 20, 10, 3),
        m("drug", "P1", 2, date(2024, 1, 29), 28, False, 8, 5, 1),
        m("drug", "P2", 3, date(2024, 1, 3), 0, True, 10, 10, 3),
        m("drug", "P2", 4, date(2024, 2, 1), 29, False, 6, 12, 2),
        m("vehicle", "P3", 5, date(2023, 12, 20), -14, False, 30, 30, 4),  # before baseline
        m("vehicle", "P3", 6, date(2024, 1, 3), 0, True, 40, 20, 4),
        m("vehicle", "P3", 7, date(2024, 1, 31), 28, False, 30, None, None),
    ]


def test_trial_rows_percent_change_from_each_subjects_baseline():
    rows = study_charts.trial_rows(_measurements())
    assert [(r["subject"], r["week"]) for r in rows] == [
        ("P1", 0), ("P1", 4), ("P2", 0), ("P2", 4), ("P3", 0), ("P3", 4)]
    p1_week4 = rows[1]
    assert p1_week4["inflammatory_percent_change"] == -60.0
    assert p1_week4["non_inflammatory_percent_change"] == -50.0
    assert p1_week4["baseline_iga"] == 3
    p3_week4 = rows[5]
    assert p3_week4["inflammatory_percent_change"] == -25.0
    assert p3_week4["non_inflammatory_percent_change"] is None


def test_arm_change_figure_error_bars():
    summaries = arm_summary(study_charts.trial_rows(_measurements()))
    figure = study_charts.arm_change_figure(summaries, "inflammatory")
    drug = next(t for t in figure.data if t.meta == "drug")
    assert list(drug.x) == [0, 4]
    # P1 -60%, P2 -40%: mean -50, sd 14.142, t(0.975, 1) = 12.706 -> half width 127.06.
    assert list(drug.y) == pytest.approx([0.0, -50.0])
    assert drug.error_y.array[1] == pytest.approx(127.062, abs=0.01)
    assert drug.error_y.arrayminus[1] == pytest.approx(127.062, abs=0.01)
    vehicle = next(t for t in figure.data if t.meta == "vehicle")
    assert list(vehicle.y) == [0.0, -25.0]
    assert list(vehicle.error_y.array) == [None, None]  # one subject: no interval
    with pytest.raises(ValueError, match="measure"):
        study_charts.arm_change_figure(summaries, "total")


def test_arm_rate_figure_bars():
    summaries = arm_summary(study_charts.trial_rows(_measurements()))
    responders = study_charts.arm_rate_figure(summaries, "responder_rate")
    drug = next(t for t in responders.data if t.meta == "drug")
    # Week 4: P1 -60% responds, P2 -40% does not.
    assert list(drug.x) == [0, 4] and list(drug.y) == [0.0, 50.0]
    assert list(drug.text) == ["n=2", "n=2"]
    success = study_charts.arm_rate_figure(summaries, "iga_success_rate")
    drug = next(t for t in success.data if t.meta == "drug")
    assert list(drug.y) == [0.0, 50.0]  # P1 3 -> 1 succeeds, P2 3 -> 2 does not
    vehicle = next(t for t in success.data if t.meta == "vehicle")
    assert list(vehicle.x) == [0]  # no IGA at week 4: no bar rather than 0%
    table = study_charts.summary_frame(summaries)
    assert table.loc[(table["arm"] == "drug") & (table["week"] == 4), "responder_rate"].item() == 50.0


def test_measurement_frame_adds_week_change_and_iga_success():
    frame = study_charts.measurement_frame(_measurements())
    assert len(frame) == 7  # the pre-baseline visit stays, without a week
    p3 = frame[frame["patient_code"] == "P3"].sort_values("visit_date")
    assert p3["week"].isna().tolist() == [True, False, False]
    p1 = frame[frame["patient_code"] == "P1"].sort_values("visit_date")
    assert p1["inflammatory_percent_change"].tolist() == [0.0, -60.0]
    assert p1["iga_success"].tolist() == [False, True]
    assert study_charts.measurement_frame([]).empty


def test_summary_table_in_words():
    import pandas as pd

    summaries = arm_summary(study_charts.trial_rows(_measurements()))
    table = study_charts.summary_table(summaries).set_index(["Arm", "Week"])
    drug = table.loc[("drug", 4)]
    assert drug["Subjects"] == 2
    assert drug["Inflammatory change"] == "-50.0%"
    assert drug["Inflammatory 95% CI"] == "-177.1% to +77.1%"
    assert drug["Responders"] == "50% of 2"
    assert drug["IGA success"] == "50% of 2"
    vehicle = table.loc[("vehicle", 4)]
    assert pd.isna(vehicle["Inflammatory 95% CI"])  # one subject: no interval (a dash)
    assert pd.isna(vehicle["Non-inflammatory change"]) and pd.isna(vehicle["IGA success"])


def test_has_points_tells_an_empty_panel():
    summaries = arm_summary(study_charts.trial_rows(_measurements()))
    assert study_charts.has_points(summaries, "inflammatory")
    assert study_charts.has_points(summaries, "iga_success_rate")
    vehicle = [s for s in summaries if s.arm == "vehicle" and s.week == 4]
    assert not study_charts.has_points(vehicle, "non_inflammatory")
    assert not study_charts.has_points(vehicle, "iga_success_rate")
    assert not study_charts.has_points((), "responder_rate")
    assert set(study_charts.EMPTY_PANELS) == {*study_charts.ARM_MEASURES, *study_charts.ARM_RATES}
    with pytest.raises(ValueError, match="measure"):
        study_charts.has_points(summaries, "total")


def test_measurement_screen_adds_percents_and_grades_in_words():
    from dataclasses import asdict

    import pandas as pd

    frame = pd.DataFrame([
        {**asdict(m), "lesion_area_fraction": 0.012345, "grade": 2, "grade_confidence": 0.7655,
         "grade_override": None if index else 1}
        for index, m in enumerate(_measurements())])
    screen = study_charts.measurement_screen(frame)
    assert screen["lesion_area_percent"].tolist()[0] == 1.23
    assert screen["grade_confidence_percent"].tolist()[0] == 77
    assert screen["model_grade"].tolist()[0] == "severe"
    assert screen["clinician_grade"].tolist()[0] == "moderate"
    assert pd.isna(screen["clinician_grade"].tolist()[1])  # shown as a dash
    assert "lesion_area_fraction" in screen  # the CSV's own columns stay
    assert study_charts.measurement_screen(pd.DataFrame()).empty
