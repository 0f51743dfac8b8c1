"""Unit tests for dashboard/charts.py: the traces hold the right numbers."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pytest

from core.trends import arm_summary
from dashboard import charts


def _row(visit_id, when, photo_id, *, view="front", counts=(0, 0, 0, 0), area=0.0, grade=0,
         confidence=1.0, passed=True, iga=None, override=None, analysed=True):
    comedone, papule, pustule, nodule = counts
    return {
        "visit_id": visit_id, "visit_date": when, "photo_id": photo_id, "view": view,
        "analysis_id": photo_id * 10 if analysed else None,
        "comedone": comedone, "papule": papule, "pustule": pustule, "nodule": nodule,
        "inflammatory": papule + pustule, "non_inflammatory": comedone,
        "total": comedone + papule + pustule + nodule, "lesion_area_fraction": area,
        "grade": grade, "grade_confidence": confidence, "quality_passed": passed,
        "review_iga": iga, "review_grade_override": override, "model_version": "m1",
    }


@pytest.fixture
def visits() -> pd.DataFrame:
    rows = [
        _row(1, date(2024, 1, 1), 1, counts=(10, 6, 4, 0), area=0.02, grade=1, confidence=0.8, iga=3),
        _row(2, date(2024, 2, 1), 2, counts=(8, 3, 2, 1), area=0.01, grade=1, confidence=0.6),
        # visit 2's IGA was recorded on its left photo: it still counts for the visit.
        _row(2, date(2024, 2, 1), 3, view="left", counts=(1, 1, 1, 0), iga=2),
        _row(3, date(2024, 3, 1), 4, counts=(4, 1, 0, 0), area=0.005, grade=0, confidence=0.9,
             iga=1, override=1),
        # a later, failed-quality photo must not replace the passed one of visit 3.
        _row(3, date(2024, 3, 1), 5, counts=(40, 40, 40, 0), passed=False),
        _row(4, date(2024, 4, 1), 6, analysed=False),
    ]
    # Given out of order: the frame sorts by date.
    return charts.visit_frame(charts.timeline_frame(list(reversed(rows))), view="front")


def test_visit_frame_one_row_per_analysed_visit(visits):
    assert visits["visit_id"].tolist() == [1, 2, 3]
    assert visits["photo_id"].tolist() == [1, 2, 4]
    assert visits["inflammatory"].tolist() == [10, 5, 1]
    assert visits["iga"].tolist() == [3, 2, 1]


def test_visit_frame_other_view_and_empty():
    rows = [_row(1, date(2024, 1, 1), 1, view="left", counts=(1, 2, 3, 0))]
    timeline = charts.timeline_frame(rows)
    assert charts.visit_frame(timeline, "front").empty
    assert charts.visit_frame(timeline, "left")["pustule"].tolist() == [3]
    assert charts.visit_frame(charts.timeline_frame([])).empty


def test_timeline_frame_rejects_rows_missing_columns():
    with pytest.raises(ValueError, match="lacks the columns"):
        charts.timeline_frame([{"visit_id": 1}])


def test_counts_values_and_change(visits):
    figure = charts.groups_figure(visits)
    inflammatory = next(t for t in figure.data if t.meta == "inflammatory")
    assert list(inflammatory.y) == [10, 5, 1]
    assert [pd.Timestamp(x).date() for x in inflammatory.x] == [
        date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]

    absolute = charts.groups_figure(visits, mode="absolute")
    by_meta = {t.meta: list(t.y) for t in absolute.data}
    assert by_meta["inflammatory"] == [0.0, -5.0, -9.0]
    assert by_meta["non_inflammatory"] == [0.0, -2.0, -6.0]

    percent = charts.groups_figure(visits, mode="percent", baseline_visit_id=2)
    by_meta = {t.meta: list(t.y) for t in percent.data}
    assert by_meta["inflammatory"] == [100.0, 0.0, -80.0]
    assert by_meta["non_inflammatory"] == [25.0, 0.0, -50.0]


def test_percent_change_from_zero_baseline_is_missing(visits):
    # No nodule at baseline: a percent change is undefined, never 0 or infinity.
    figure = charts.kinds_figure(visits, mode="percent")
    assert list(next(t for t in figure.data if t.meta == "nodule").y) == [None, None, None]
    papule = next(t for t in figure.data if t.meta == "papule")
    assert list(papule.y) == pytest.approx([0.0, -50.0, -500.0 / 6])


def test_area_in_percent_of_skin(visits):
    figure = charts.area_figure(visits)
    assert list(figure.data[0].y) == pytest.approx([2.0, 1.0, 0.5])
    assert figure.layout.yaxis.title.text == "% of facial skin"
    absolute = charts.area_figure(visits, mode="absolute")
    assert list(absolute.data[0].y) == pytest.approx([0.0, -1.0, -1.5])
    assert absolute.layout.yaxis.title.text == "Change from baseline (percentage points)"


def test_smoothing_keeps_the_measured_points(visits):
    figure = charts.groups_figure(visits, smoothing=True)
    smoothed = next(t for t in figure.data if t.meta == "inflammatory")
    raw = next(t for t in figure.data if t.meta == "inflammatory:raw")
    # Centred median over 3 visits, shrinking at the ends: [med(10,5), med(10,5,1), med(5,1)].
    assert list(smoothed.y) == [7.5, 5.0, 3.0]
    assert list(raw.y) == [10.0, 5.0, 1.0]
    assert smoothed.name.endswith("(smoothed)")


def test_baseline_and_treatment_markers(visits):
    events = [(date(2024, 1, 15), "Start doxycycline"), (date(2024, 2, 20), "Stop")]
    figure = charts.groups_figure(visits, mode="percent", baseline_visit_id=2, events=events)
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

    figure = charts.kinds_figure(visits, events=[Event(date(2024, 1, 2), "isotretinoin")])
    assert [a.text for a in figure.layout.annotations] == ["isotretinoin"]
    with pytest.raises(ValueError, match="must be a date"):
        charts.add_treatment_events(figure, [("2024-01-02", "text")])


def test_unknown_baseline_or_mode_is_refused(visits):
    with pytest.raises(ValueError, match="baseline visit 99"):
        charts.groups_figure(visits, mode="absolute", baseline_visit_id=99)
    with pytest.raises(ValueError, match="mode must be one of"):
        charts.groups_figure(visits, mode="log")


def test_grade_band_and_override(visits):
    figure = charts.grade_figure(visits)
    by_meta = {t.meta: t for t in figure.data}
    assert list(by_meta["grade"].y) == [1.0, 1.0, 0.0]
    # grade +- (1 - confidence), clipped to the 0-3 scale.
    assert list(by_meta["grade:lower"].y) == pytest.approx([0.8, 0.6, 0.0])
    assert list(by_meta["grade:upper"].y) == pytest.approx([1.2, 1.4, 0.1])
    assert list(by_meta["grade:override"].y) == [1.0]
    assert list(by_meta["grade"].customdata) == [0.8, 0.6, 0.9]


def test_iga_and_success_markers(visits):
    figure = charts.iga_figure(visits)
    by_meta = {t.meta: t for t in figure.data}
    assert list(by_meta["iga"].y) == [3, 2, 1]
    # Baseline IGA 3: only IGA 1 (<= 1 and 2 grades better) is a success.
    assert [pd.Timestamp(x).date() for x in by_meta["iga:success"].x] == [date(2024, 3, 1)]
    # Against visit 2 (IGA 2) as baseline, IGA 1 is only one grade better: no success.
    later = charts.iga_figure(visits, baseline_visit_id=2)
    assert "iga:success" not in {t.meta for t in later.data}


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
    rows = charts.trial_rows(_measurements())
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
    summaries = arm_summary(charts.trial_rows(_measurements()))
    figure = charts.arm_change_figure(summaries, "inflammatory")
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
        charts.arm_change_figure(summaries, "total")


def test_arm_rate_figure_bars():
    summaries = arm_summary(charts.trial_rows(_measurements()))
    responders = charts.arm_rate_figure(summaries, "responder_rate")
    drug = next(t for t in responders.data if t.meta == "drug")
    # Week 4: P1 -60% responds, P2 -40% does not.
    assert list(drug.x) == [0, 4] and list(drug.y) == [0.0, 50.0]
    assert list(drug.text) == ["n=2", "n=2"]
    success = charts.arm_rate_figure(summaries, "iga_success_rate")
    drug = next(t for t in success.data if t.meta == "drug")
    assert list(drug.y) == [0.0, 50.0]  # P1 3 -> 1 succeeds, P2 3 -> 2 does not
    vehicle = next(t for t in success.data if t.meta == "vehicle")
    assert list(vehicle.x) == [0]  # no IGA at week 4: no bar rather than 0%
    table = charts.summary_frame(summaries)
    assert table.loc[(table["arm"] == "drug") & (table["week"] == 4), "responder_rate"].item() == 50.0


def test_count_change_table_flags_counting_noise():
    before = {"comedone": 10, "papule": 6, "pustule": 4, "nodule": 0, "inflammatory": 10,
              "non_inflammatory": 10, "total": 20}
    after = {"comedone": 9, "papule": 2, "pustule": 1, "nodule": 1, "inflammatory": 3,
             "non_inflammatory": 9, "total": 13}
    table = charts.count_change_table(before, after).set_index("lesions")
    inflammatory = table.loc[charts.GROUP_LABELS["inflammatory"]]
    assert (inflammatory["before"], inflammatory["after"], inflammatory["change"]) == (10, 3, -7)
    assert inflammatory["% change"] == -70.0
    assert bool(inflammatory["beyond counting noise"]) is True
    comedones = table.loc[charts.KIND_LABELS["comedone"]]
    assert comedones["change"] == -1 and bool(comedones["beyond counting noise"]) is False
    nodules = table.loc[charts.KIND_LABELS["nodule"]]
    assert pd.isna(nodules["% change"])  # from 0: no percent change

    shown = charts.styled_count_change(charts.count_change_table(before, after)).to_html()
    assert "-70.0%" in shown and "from 0" in shown and "None" not in shown and "nan" not in shown


@dataclass(frozen=True)
class FakeChange:
    persisting: tuple[tuple[int, int], ...]
    new: tuple[int, ...]
    resolved: tuple[int, ...]


def test_change_boxes_in_the_canonical_frame_and_figure():
    import numpy as np

    from core.types import Lesion

    def lesion(x, y):
        return Lesion(bbox=(x, y, x + 4, y + 4), kind="papule", score=0.9, area_px=16)

    before = [lesion(10, 10), lesion(50, 50)]
    after = [lesion(12, 10), lesion(80, 20)]
    double = (2.0, 0.0, 0.0, 0.0, 2.0, 0.0)
    shifted = (2.0, 0.0, -4.0, 0.0, 2.0, 0.0)  # the second photo sits 2 px further right
    change = FakeChange(persisting=((0, 0),), new=(1,), resolved=(1,))
    boxes = charts.change_boxes(change, before, double, after, shifted)
    assert boxes["persisting"]["before"] == [(20.0, 20.0, 28.0, 28.0)]
    assert boxes["persisting"]["after"] == [(20.0, 20.0, 28.0, 28.0)]
    assert boxes["resolved"] == {"before": [(100.0, 100.0, 108.0, 108.0)], "after": []}
    assert boxes["new"] == {"before": [], "after": [(156.0, 40.0, 164.0, 48.0)]}

    image = np.zeros((64, 64, 3), np.uint8)
    figure = charts.lesion_change_figure(image, image, boxes)
    by_name = {}
    for shape in figure.layout.shapes:
        by_name.setdefault(shape.name, []).append(shape)
    assert {name: len(shapes) for name, shapes in by_name.items()} == {
        "new:after": 1, "resolved:before": 1, "persisting:before": 1, "persisting:after": 1}
    assert by_name["new:after"][0].xref == "x2" and by_name["resolved:before"][0].xref == "x"
    colours = {name: shapes[0].line.color for name, shapes in by_name.items()}
    assert len({colours["new:after"], colours["resolved:before"], colours["persisting:after"]}) == 3
    legend = {t.meta: t.name for t in figure.data if t.meta}
    assert legend["new"].endswith(": 1") and legend["persisting"].endswith(": 1")
    with pytest.raises(ValueError, match="unknown change status"):
        charts.lesion_change_figure(image, image, {"moved": {}})


def test_measurement_frame_adds_week_change_and_iga_success():
    frame = charts.measurement_frame(_measurements())
    assert len(frame) == 7  # the pre-baseline visit stays, without a week
    p3 = frame[frame["patient_code"] == "P3"].sort_values("visit_date")
    assert p3["week"].isna().tolist() == [True, False, False]
    p1 = frame[frame["patient_code"] == "P1"].sort_values("visit_date")
    assert p1["inflammatory_percent_change"].tolist() == [0.0, -60.0]
    assert p1["iga_success"].tolist() == [False, True]
    assert charts.measurement_frame([]).empty
