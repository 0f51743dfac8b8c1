"""The photo viewer's "Redness" and "Dark marks" layers (pure plotly, no Streamlit): the outlines
of the red areas and dark marks that `core.colour_measures` found against the patient's own
clear skin, one legend entry each, off until clicked (a click shows or hides the layer in the
browser, as for a lesion type)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.alignment import transform_points
from core.colour_measures import DARK_BIT, RED_BIT, RETAKE_MDC95_PP, layer_outlines

# key -> (legend words, line colour). Redness in red, dark marks in a dark blue that shows on
# brown skin; both on a thin white edge so a line stays visible on any skin.
LAYERS: dict[str, tuple[str, str, int]] = {
    "redness": ("Redness", "#d62728", RED_BIT),
    "dark_marks": ("Dark marks", "#1f3b99", DARK_BIT),
}
EDGE = "rgba(255, 255, 255, 0.85)"


def layer_name(key: str, fraction: float | None) -> str:
    """The legend words of a layer: 'Redness: 3.1% of the skin' (the share when it is known)."""
    words = LAYERS[key][0]
    return words if fraction is None else f"{words}: {100.0 * fraction:.1f}% of the skin"


def pair_layer_name(key: str, before: float | None, after: float | None) -> str:
    """The legend words of a layer on a before/after pair: 'Redness: 3.1% before, 2.4% after'."""
    words = LAYERS[key][0]
    if before is None or after is None:
        return words
    return f"{words}: {100.0 * before:.1f}% before, {100.0 * after:.1f}% after"


def colour_outlines(mask: np.ndarray | None) -> dict[str, tuple[np.ndarray, ...]]:
    """Each layer's outlines (photo pixels) from a stored colour mask; {} without one."""
    if mask is None:
        return {}
    return {key: layer_outlines(mask, bit) for key, (_, _, bit) in LAYERS.items()}


def colour_layer_traces(outlines: dict[str, Sequence[np.ndarray]], names: dict[str, str],
                        to_image: Sequence[float] | None = None, *,
                        show_legend: bool = True) -> list[go.Scatter]:
    """The layers as outline traces on a picture (`to_image` maps photo pixels onto a
    face-aligned copy), hidden until their legend entry is clicked."""
    traces = []
    for key, polygons in outlines.items():
        xs: list[float | None] = []
        ys: list[float | None] = []
        for polygon in polygons:
            points = np.asarray(polygon, float) if to_image is None else transform_points(polygon, to_image)
            xs += [*points[:, 0].tolist(), None]
            ys += [*points[:, 1].tolist(), None]
        words, colour, _ = LAYERS[key]
        common = {"x": xs, "y": ys, "mode": "lines", "legendgroup": f"colour:{key}",
                  "visible": "legendonly", "hoverinfo": "skip", "name": names.get(key, words)}
        traces += [
            go.Scatter(**common, line={"color": EDGE, "width": 2.5}, showlegend=False,
                       meta=f"colour:{key}:edge"),
            go.Scatter(**common, line={"color": colour, "width": 1.5}, showlegend=show_legend,
                       meta=f"colour:{key}"),
        ]
    return traces


# Compare's rows: (column of the analysis row, words, key of RETAKE_MDC95_PP).
CHANGE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("red_area_fraction", "Red area", "red"),
    ("dark_area_fraction", "Dark marks", "dark"),
)
CHANGE_NOTE = ("Shares of the skin measured, against the patient's own clear skin in each photo. "
               "A change counts as real only beyond what a retaken photo makes: "
               + " and ".join(f"{RETAKE_MDC95_PP[key]:g} percentage points for {words.lower()}"
                              for _, words, key in CHANGE_ROWS)
               + " (simulated retakes of test photos). Not validated against a clinician's grading.")


def colour_change_table(before: Any, after: Any) -> pd.DataFrame | None:
    """Red area and dark marks of two analyses (rows or mappings) side by side, in % of the
    measured skin, with the change in percentage points and whether it is beyond retake noise;
    None when either photo was not measured."""
    def read(source: Any, name: str) -> float | None:
        value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
        return None if value is None or value != value else float(value)

    rows = []
    for name, words, key in CHANGE_ROWS:
        first, second = read(before, name), read(after, name)
        if first is None or second is None:
            return None
        change = 100.0 * (second - first)
        rows.append({"measure": words, "before (%)": round(100.0 * first, 1),
                     "after (%)": round(100.0 * second, 1),
                     "change (percentage points)": round(change, 1),
                     "beyond retake noise": abs(change) > RETAKE_MDC95_PP[key]})
    return pd.DataFrame(rows)
