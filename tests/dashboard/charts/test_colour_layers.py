"""The viewer's "Redness" and "Dark marks" layers (issue 29)."""
import numpy as np

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
