"""Fixtures of the dashboard/charts unit tests."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard.charts import timeline as timeline_charts
from tests.dashboard.charts.timeline_rows import timeline_row


@pytest.fixture
def visits() -> pd.DataFrame:
    rows = [
        timeline_row(1, date(2024, 1, 1), 1, counts=(10, 6, 4, 0), area=0.02, grade=1,
                     confidence=0.8, iga=3),
        timeline_row(2, date(2024, 2, 1), 2, counts=(8, 2, 2, 1), area=0.01, grade=1,
                     confidence=0.6),
        # visit 2's IGA was recorded on its left photo: it still counts for the visit.
        timeline_row(2, date(2024, 2, 1), 3, view="left", counts=(1, 1, 1, 0), iga=2),
        timeline_row(3, date(2024, 3, 1), 4, counts=(4, 1, 0, 0), area=0.005, grade=0,
                     confidence=0.9, iga=1, override=1),
        # a later, failed-quality photo must not replace the passed one of visit 3.
        timeline_row(3, date(2024, 3, 1), 5, counts=(40, 40, 40, 0), passed=False),
        timeline_row(4, date(2024, 4, 1), 6, analysed=False),
    ]
    # Given out of order: the frame sorts by date.
    return timeline_charts.visit_frame(
        timeline_charts.timeline_frame(list(reversed(rows))), view="front")
