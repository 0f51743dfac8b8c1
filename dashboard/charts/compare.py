"""Two visits side by side for the compare page: count change table and lesion change figure
(pure functions, no Streamlit)."""
from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from core.alignment import transform_points
from core.trends import is_meaningful_count_change, percent_change
from core.types import Box, Lesion
from dashboard.charts.timeline import GROUP_LABELS, TYPE_LABELS

# Okabe-Ito hues that differ from each other under colour-vision deficiencies.
CHANGE_COLOURS: dict[str, str] = {
    "new": "#d55e00",  # vermillion
    "resolved": "#009e73",  # bluish green
    "persisting": "#0072b2",  # blue
}
CHANGE_LABELS: dict[str, str] = {
    "new": "New (after only)",
    "resolved": "Resolved (before only)",
    "persisting": "Persisting (both visits)",
}
COUNT_ROWS: dict[str, str] = {**TYPE_LABELS, **GROUP_LABELS, "total": "All lesions"}


def count_change_table(before: Any, after: Any) -> pd.DataFrame:
    """Counts of two visits side by side with absolute and percent change.

    `before` / `after` are analyses (rows or mappings) with per-kind and group counts. A change is
    flagged as real only beyond counting noise (`core.trends.is_meaningful_count_change`).
    """
    def read(source: Any, name: str) -> int:
        value = source[name] if isinstance(source, Mapping) else getattr(source, name)
        return int(value)

    rows = []
    for name, label in COUNT_ROWS.items():
        first, second = read(before, name), read(after, name)
        percent = percent_change([first, second], 0)[1]
        rows.append(
            {
                "lesions": label,
                "before": first,
                "after": second,
                "change": second - first,
                "% change": None if percent is None else round(percent, 1),
                "beyond counting noise": is_meaningful_count_change(first, second),
            }
        )
    return pd.DataFrame(rows)


def styled_count_change(table: pd.DataFrame) -> pd.DataFrame:
    """The count change table for display: signed percents, and "from 0" where the earlier
    count was 0 (a percent change from nothing is undefined; a grey "None" said nothing). As
    text, because st.dataframe shows a missing number as "None" whatever a Styler says."""
    shown = table.copy()
    shown["% change"] = [f"{p:+.1f}%" if p is not None and p == p else "from 0"
                         for p in table["% change"]]
    return shown


def canonical_box(bbox: Box, alignment: Sequence[float]) -> tuple[float, float, float, float]:
    """A photo-frame box mapped into the canonical face frame (the box around its 4 corners)."""
    x0, y0, x1, y1 = bbox
    corners = transform_points([(x0, y0), (x1, y0), (x0, y1), (x1, y1)], alignment)
    return (
        float(corners[:, 0].min()), float(corners[:, 1].min()),
        float(corners[:, 0].max()), float(corners[:, 1].max()),
    )


def _image_source(image: np.ndarray) -> str:
    # A JPEG data URI: a raw pixel array would be megabytes of JSON, and PNG encoding of two
    # face photos took most of the compare page's time; a background picture needs no more.
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).convert("RGB").save(buffer, format="JPEG",
                                                                      quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def lesion_change_figure(
    before_image: np.ndarray,
    after_image: np.ndarray,
    boxes: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    *,
    titles: tuple[str, str] = ("Before", "After"),
) -> go.Figure:
    """Both visits' photos (same frame) with lesions outlined by change status.

    `boxes[status][side]` lists (x0, y0, x1, y1) boxes in the images' pixel frame, for status in
    CHANGE_COLOURS and side "before" / "after": resolved lesions appear on the before photo,
    new ones on the after photo, persisting ones on both.
    """
    unknown = set(boxes) - set(CHANGE_COLOURS)
    if unknown:
        raise ValueError(f"unknown change status {sorted(unknown)}; use {sorted(CHANGE_COLOURS)}")
    figure = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.02)
    for column, image in ((1, before_image), (2, after_image)):
        figure.add_trace(go.Image(source=_image_source(image), hoverinfo="skip"), row=1, col=column)
    axes = {"before": ("x", "y"), "after": ("x2", "y2")}
    shapes = []
    for status, colour in CHANGE_COLOURS.items():
        by_side = boxes.get(status, {})
        count = max((len(by_side.get(side, ())) for side in axes), default=0)
        for side, (xref, yref) in axes.items():
            for x0, y0, x1, y1 in by_side.get(side, ()):
                shapes.append({
                    "type": "rect", "xref": xref, "yref": yref, "x0": x0, "y0": y0, "x1": x1,
                    "y1": y1, "line": {"color": colour, "width": 2}, "name": f"{status}:{side}",
                })
        # An empty trace gives each colour a legend entry with its count.
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", meta=status,
                marker={"symbol": "square-open", "size": 12, "color": colour},
                name=f"{CHANGE_LABELS[status]}: {count}", hoverinfo="skip",
            ),
            row=1, col=1,
        )
    # Set at once: add_shape re-validates every earlier shape (48 boxes took most of a second).
    figure.update_layout(shapes=shapes)
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0},
                         legend={"orientation": "h", "y": -0.05})
    return figure


def change_boxes(
    change: Any,
    before: Sequence[Lesion],
    before_alignment: Sequence[float],
    after: Sequence[Lesion],
    after_alignment: Sequence[float],
) -> dict[str, dict[str, list[tuple[float, float, float, float]]]]:
    """Canonical-frame boxes per change status and side, for `lesion_change_figure`.

    `change` is a `core.change.LesionChange`: persisting (before index, after index) pairs,
    new indices into `after`, resolved indices into `before`.
    """
    def on_before(index: int) -> tuple[float, float, float, float]:
        return canonical_box(before[index].bbox, before_alignment)

    def on_after(index: int) -> tuple[float, float, float, float]:
        return canonical_box(after[index].bbox, after_alignment)

    return {
        "resolved": {"before": [on_before(i) for i in change.resolved], "after": []},
        "new": {"before": [], "after": [on_after(j) for j in change.new]},
        "persisting": {
            "before": [on_before(i) for i, _ in change.persisting],
            "after": [on_after(j) for _, j in change.persisting],
        },
    }
