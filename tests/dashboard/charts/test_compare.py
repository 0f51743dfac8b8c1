"""Unit tests for dashboard/charts/compare.py: count change table and lesion change figure."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from dashboard.charts import compare as compare_charts, timeline as timeline_charts


def test_count_change_table_flags_counting_noise():
    before = {"comedone": 10, "papule": 6, "pustule": 4, "nodule": 0, "inflammatory_type_uncertain": 0,
              "inflammatory": 10,
              "non_inflammatory": 10, "total": 20}
    after = {"comedone": 9, "papule": 2, "pustule": 1, "nodule": 1, "inflammatory_type_uncertain": 0,
             "inflammatory": 3,
             "non_inflammatory": 9, "total": 13}
    table = compare_charts.count_change_table(before, after).set_index("lesions")
    inflammatory = table.loc[timeline_charts.GROUP_LABELS["inflammatory"]]
    assert (inflammatory["before"], inflammatory["after"], inflammatory["change"]) == (10, 3, -7)
    assert inflammatory["% change"] == -70.0
    assert bool(inflammatory["beyond counting noise"]) is True
    comedones = table.loc[timeline_charts.KIND_LABELS["comedone"]]
    assert comedones["change"] == -1 and bool(comedones["beyond counting noise"]) is False
    nodules = table.loc[timeline_charts.KIND_LABELS["nodule"]]
    assert pd.isna(nodules["% change"])  # from 0: no percent change

    shown = compare_charts.styled_count_change(
        compare_charts.count_change_table(before, after)).to_html()
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
    boxes = compare_charts.change_boxes(change, before, double, after, shifted)
    assert boxes["persisting"]["before"] == [(20.0, 20.0, 28.0, 28.0)]
    assert boxes["persisting"]["after"] == [(20.0, 20.0, 28.0, 28.0)]
    assert boxes["resolved"] == {"before": [(100.0, 100.0, 108.0, 108.0)], "after": []}
    assert boxes["new"] == {"before": [], "after": [(156.0, 40.0, 164.0, 48.0)]}

    image = np.zeros((64, 64, 3), np.uint8)
    figure = compare_charts.lesion_change_figure(image, image, boxes)
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
        compare_charts.lesion_change_figure(image, image, {"moved": {}})
