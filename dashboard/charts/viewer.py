"""The photo viewer's figures (pure functions, no Streamlit): a photo at full resolution that
zooms and pans, lesions ringed in their type's colour with a legend in words that switches each
type on and off, and the lesion heat map as a colour layer with its scale.

The photo travels inside the figure as a JPEG data URI at full resolution (plotly draws it as
one picture, so zooming in shows the photo's own pixels); marks are plotly traces over it, one
per lesion group, so the legend hides and shows a group in the browser. The 'Face' / 'Whole
photo' and heat map switches are plotly buttons above the photo: they act in the browser too, so
a switch keeps the zoom and sends nothing to the server (a Streamlit widget would rerun the page
and resend the photo, and the chart would start over at its first view).
"""
from __future__ import annotations

import base64
from collections.abc import Sequence
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.alignment import transform_points
from core.correction import lesion_name
from core.overlay import (
    ADDED_BY_CLINICIAN_KEY,
    HEAT_FLOOR,
    HEAT_FULL,
    MARK_GROUPS,
    group_lesions,
    lesion_ring,
    mark_colour,
    ring_min_radius,
    ring_pad,
)
from core.types import Box, Lesion
from dashboard.charts.colour_layers import colour_layer_traces, layer_name, pair_layer_name
from dashboard.charts.timeline import TYPE_LABELS

JPEG_QUALITY = 85  # a 12 MP face photo is about 1.5-4 MB at this quality: fine on a clinic network
GROUP_LABELS: dict[str, str] = {**TYPE_LABELS, ADDED_BY_CLINICIAN_KEY: "Added by a clinician"}
if set(GROUP_LABELS) != set(MARK_GROUPS):
    raise ValueError(f"GROUP_LABELS names {sorted(GROUP_LABELS)}, not the groups {MARK_GROUPS}")
HEAT_TITLE = "lesion likelihood"
BORDER = "rgba(0, 0, 0, 0.8)"  # the thin dark edge that keeps a coloured ring visible on any skin
# Screen pixels: a thin coloured line on a slightly wider dark edge (the skin under it readable).
RING_WIDTH = 1.5
RING_BORDER_WIDTH = 2.5
# Browser-side settings of every viewer: the scroll wheel zooms, a drag pans.
PLOTLY_CONFIG: dict[str, object] = {
    "scrollZoom": True,
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "doubleClick": "reset",
}


@dataclass(frozen=True)
class ViewerImage:
    """One picture for the viewer: the photo (or its face-aligned copy) as a data URI with its
    size in pixels, the part shown first, its lesions and, optionally, the heat layer.

    `to_image` maps the lesions' photo pixels onto this picture's pixels (a 2x3 matrix, for a
    face-aligned copy); None when the picture is the photo itself. The heat layer is a picture
    `heat_step` times smaller than this one (pixel (i, j) covering `heat_step` photo pixels)."""

    source: str
    width: int
    height: int
    view: Box
    lesions: tuple[Lesion, ...] = ()
    to_image: tuple[float, ...] | None = None
    heat_source: str | None = None
    heat_step: int = 1
    # The "Redness" and "Dark marks" layers (dashboard.charts.colour_layers): outlines in photo
    # pixels by layer, and each layer's share of the measured skin (None: not known).
    colour_outlines: Mapping[str, tuple[np.ndarray, ...]] = field(default_factory=dict)
    colour_fractions: Mapping[str, float | None] = field(default_factory=dict)


def jpeg_data_uri(image: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """An RGB uint8 picture as a JPEG data URI, at its full size."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 array, got dtype {array.dtype} and shape {array.shape}")
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("the picture could not be encoded as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def png_data_uri(rgba: np.ndarray) -> str:
    """An RGBA uint8 layer (core.overlay.heat_rgba) as a PNG data URI, transparency kept."""
    array = np.asarray(rgba)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 4:
        raise ValueError(f"expected an RGBA uint8 array, got dtype {array.dtype} and shape {array.shape}")
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise ValueError("the layer could not be encoded as PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _box_on_image(bbox: Sequence[float], to_image: Sequence[float] | None) -> tuple[float, ...]:
    if to_image is None:
        return tuple(float(v) for v in bbox)
    x0, y0, x1, y1 = bbox
    corners = transform_points([(x0, y0), (x1, y0), (x0, y1), (x1, y1)], to_image)
    return (float(corners[:, 0].min()), float(corners[:, 1].min()),
            float(corners[:, 0].max()), float(corners[:, 1].max()))


def _lesion_words(lesion: Lesion) -> str:
    words = lesion_name(lesion)
    return f"{words}, added by a clinician" if lesion.added_by_clinician else words


def ring_traces(image: ViewerImage, group: str, lesions: Sequence[Lesion], *, name: str,
                show_legend: bool = True) -> list[go.Scatter]:
    """The rings of one group's lesions on `image`: a dark border under a coloured line, both in
    the group's legend entry (a click on it hides or shows both)."""
    radius = ring_min_radius(image.width, image.height)
    pad = ring_pad(image.width, image.height)
    xs: list[float | None] = []
    ys: list[float | None] = []
    words: list[str | None] = []
    for lesion in lesions:
        ring_x, ring_y = lesion_ring(_box_on_image(lesion.bbox, image.to_image), min_radius=radius,
                                     pad=pad)
        xs += [*ring_x, None]
        ys += [*ring_y, None]
        words += [_lesion_words(lesion)] * len(ring_x) + [None]
    colour, border, dash = _hex(mark_colour(group)), BORDER, "solid"
    if group == ADDED_BY_CLINICIAN_KEY:
        # Black dots on a white ring: as the lesion editor rings them in white, and unlike the
        # model's rings (colour on black); a white line would vanish from the legend.
        colour, border, dash = BORDER, _hex(mark_colour(group)), "dot"
    common = {"x": xs, "y": ys, "mode": "lines", "legendgroup": group, "text": words,
              "hovertemplate": "%{text}<extra></extra>"}
    return [
        go.Scatter(**common, line={"color": border, "width": RING_BORDER_WIDTH}, showlegend=False,
                   meta=f"{group}:border", name=name),
        go.Scatter(**common, line={"color": colour, "width": RING_WIDTH, "dash": dash},
                   showlegend=show_legend, meta=group, name=name),
    ]


def _photo_traces(image: ViewerImage) -> list[go.Image]:
    traces = [go.Image(source=image.source, hoverinfo="skip", name="photo", meta="photo")]
    if image.heat_source is not None:
        step = float(image.heat_step)
        # Heat pixel i covers photo pixels i*step .. (i+1)*step - 1: its centre lies there.
        centre = (step - 1.0) / 2.0
        traces.append(go.Image(source=image.heat_source, x0=centre, y0=centre, dx=step, dy=step,
                               hoverinfo="skip", name=HEAT_TITLE, meta="heat", visible=False))
    return traces


def heat_scale_trace() -> go.Scatter:
    """An invisible trace that only draws the heat map's colour scale, in words (shown with the
    heat layer)."""
    return go.Scatter(
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip", meta="heat_scale",
        visible=False,
        marker={
            "color": [0.0], "cmin": 0.0, "cmax": 1.0, "colorscale": "Viridis", "showscale": True,
            "colorbar": {
                # At the foot of the figure, under the legend (above the photo, the browser's
                # zoom buttons would cover it).
                "title": {"text": HEAT_TITLE, "side": "top"}, "orientation": "h",
                "x": 0.0, "xanchor": "left", "yref": "container", "y": 0.0, "yanchor": "bottom",
                "len": 0.45, "thickness": 10,
                "tickvals": [HEAT_FLOOR, HEAT_FULL, 1.0], "ticktext": ["low", "medium", "high"],
            },
        },
    )


def _axis_ranges(view: Sequence[float]) -> tuple[list[float], list[float]]:
    # Pixel i spans i - 0.5 .. i + 0.5; y grows downwards, as in the photo.
    x0, y0, x1, y1 = (float(v) for v in view)
    return [x0 - 0.5, x1 - 0.5], [y1 - 0.5, y0 - 0.5]


def _switch(labels: tuple[str, str], method: str, args: tuple[list, list], x: float) -> dict:
    """Two buttons in the band above the photo, the first one on: they act in the browser, so a
    switch keeps the zoom and sends nothing to the server."""
    return {
        "type": "buttons", "direction": "right", "showactive": True, "active": 0,
        "x": x, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "pad": {"b": 8},
        "font": {"size": 13}, "bgcolor": "#f0f2f6", "bordercolor": "#c9ccd3",
        "buttons": [{"label": label, "method": method, "args": arg}
                    for label, arg in zip(labels, args)],
    }


def view_switch(views: Sequence[tuple[Sequence[float], Sequence[float]]], x: float = 0.0) -> dict:
    """'Face' / 'Whole photo': each (face view, whole photo) pair of one subplot's axes."""
    face: dict[str, list[float]] = {}
    whole: dict[str, list[float]] = {}
    for index, (face_view, whole_view) in enumerate(views):
        suffix = "" if index == 0 else str(index + 1)
        face[f"xaxis{suffix}.range"], face[f"yaxis{suffix}.range"] = _axis_ranges(face_view)
        whole[f"xaxis{suffix}.range"], whole[f"yaxis{suffix}.range"] = _axis_ranges(whole_view)
    return _switch(("Face", "Whole photo"), "relayout", ([face], [whole]), x)


def heat_switch(traces: Sequence[int], x: float = 0.0) -> dict:
    """'Heat map off' / 'Heat map on': the heat layers (and their scale) at these trace indices."""
    indices = list(traces)
    return _switch(("Heat map off", "Heat map on"), "restyle",
                   ([{"visible": False}, indices], [{"visible": True}, indices]), x)


def _legend() -> dict[str, object]:
    # Below the photo, across: beside it, the legend would take a third of a page column's width.
    return {
        "itemclick": "toggle", "itemdoubleclick": "toggleothers", "groupclick": "togglegroup",
        "font": {"size": 13}, "orientation": "h", "x": 0.0, "xanchor": "left", "y": -0.01,
        "yanchor": "top",
    }


def fitting_height(view: Sequence[float], *, width: int = 560, low: int = 420, high: int = 760) -> int:
    """A plot height that shows `view` whole in a plot about `width` screen pixels wide."""
    x0, y0, x1, y1 = (float(v) for v in view)
    return int(min(max(width * (y1 - y0) / max(x1 - x0, 1.0), low), high))


def _whole(image: ViewerImage) -> Box:
    return (0, 0, image.width, image.height)


def _heat_indices(figure: go.Figure) -> list[int]:
    return [i for i, trace in enumerate(figure.data) if trace.meta in ("heat", "heat_scale")]


def _switches(figure: go.Figure, views: Sequence[tuple[Sequence[float], Sequence[float]]]) -> list[dict]:
    menus = []
    croppable = [pair for pair in views if tuple(pair[0]) != tuple(pair[1])]
    if croppable:
        menus.append(view_switch(views))
    heat = _heat_indices(figure)
    if heat:
        menus.append(heat_switch(heat, x=0.33 if croppable else 0.0))
    return menus


SWITCH_BAND = 44  # screen pixels above the photo for the switches
SCALE_BAND = 64  # screen pixels at the foot of the figure for the heat map's scale


def photo_figure(image: ViewerImage, *, height: int | None = None, revision: str = "") -> go.Figure:
    """One photo, shown first at `image.view` (the face), with its lesions ringed by group (one
    legend entry each, with its count, that hides or shows the group) and, above it, the
    'Face' / 'Whole photo' and heat map switches (when there is a face crop and a heat layer).
    The mouse wheel zooms down to the photo's own pixels. `revision` keeps the browser's zoom
    and legend choices while the figure is redrawn with the same revision."""
    figure = go.Figure(_photo_traces(image))
    for group, lesions in group_lesions(image.lesions).items():
        figure.add_traces(ring_traces(image, group, lesions, name=f"{GROUP_LABELS[group]}: {len(lesions)}"))
    figure.add_traces(colour_layer_traces(
        image.colour_outlines, {k: layer_name(k, image.colour_fractions.get(k)) for k in image.colour_outlines},
        image.to_image))
    if image.heat_source is not None:
        figure.add_trace(heat_scale_trace())
    x_range, y_range = _axis_ranges(image.view)
    figure.update_xaxes(range=x_range, visible=False, showgrid=False, zeroline=False)
    figure.update_yaxes(range=y_range, visible=False, showgrid=False, zeroline=False,
                        scaleanchor="x", scaleratio=1)
    menus = _switches(figure, [(image.view, _whole(image))])
    top = SWITCH_BAND if menus else 4
    bottom = 24 * (1 + (len(group_lesions(image.lesions)) + len(image.colour_outlines)) // 3)
    bottom += SCALE_BAND if image.heat_source is not None else 0
    figure.update_layout(
        height=(height or fitting_height(image.view)) + top + bottom,
        dragmode="pan", uirevision=revision or None, showlegend=True, updatemenus=menus,
        margin={"l": 0, "r": 0, "t": top, "b": bottom}, legend=_legend(),
        # Down the right edge: across the top, the zoom buttons would cover the switches.
        modebar={"orientation": "v"},
        plot_bgcolor="rgba(0, 0, 0, 0)", paper_bgcolor="rgba(0, 0, 0, 0)",
    )
    return figure


def pair_figure(before: ViewerImage, after: ViewerImage, *, titles: tuple[str, str],
                linked: bool, height: int = 560, revision: str = "") -> go.Figure:
    """Two photos side by side (the before and after of a comparison). When `linked` (both
    aligned on the face, same size), zooming or moving one moves the other the same way. One
    legend entry per lesion group, with both counts, switches the group on both photos; one
    heat map switch switches both heat layers."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.01)
    for column, image in ((1, before), (2, after)):
        for trace in _photo_traces(image):
            figure.add_trace(trace, row=1, col=column)
    grouped = (group_lesions(before.lesions), group_lesions(after.lesions))
    for group in MARK_GROUPS:
        if not any(group in side for side in grouped):
            continue
        counts = [len(side.get(group, ())) for side in grouped]
        name = f"{GROUP_LABELS[group]}: {counts[0]} before, {counts[1]} after"
        # A group absent from the first photo still needs its one legend entry, on the second.
        legend_on = 1 if counts[0] else 2
        for column, (image, side) in enumerate(((before, grouped[0]), (after, grouped[1])), start=1):
            if group in side:
                for trace in ring_traces(image, group, side[group], name=name,
                                         show_legend=column == legend_on):
                    figure.add_trace(trace, row=1, col=column)
    for key in dict.fromkeys([*before.colour_outlines, *after.colour_outlines]):
        name = pair_layer_name(key, before.colour_fractions.get(key), after.colour_fractions.get(key))
        legend_on = 1 if key in before.colour_outlines else 2
        for column, image in ((1, before), (2, after)):
            if key in image.colour_outlines:
                for trace in colour_layer_traces({key: image.colour_outlines[key]}, {key: name},
                                                 image.to_image, show_legend=column == legend_on):
                    figure.add_trace(trace, row=1, col=column)
    heat = before.heat_source is not None or after.heat_source is not None
    if heat:
        figure.add_trace(heat_scale_trace(), row=1, col=1)
    for column, image in ((1, before), (2, after)):
        x_range, y_range = _axis_ranges(image.view)
        suffix = "" if column == 1 else "2"
        figure.update_xaxes(range=x_range, visible=False, row=1, col=column,
                            matches="x" if linked and column == 2 else None)
        figure.update_yaxes(range=y_range, visible=False, row=1, col=column,
                            scaleanchor=f"x{suffix}", scaleratio=1,
                            matches="y" if linked and column == 2 else None)
    menus = _switches(figure, [(before.view, _whole(before)), (after.view, _whole(after))])
    top = 30 + (SWITCH_BAND if menus else 0)
    bottom = 70 + (SCALE_BAND if heat else 0)
    figure.update_layout(
        height=height + top + bottom, dragmode="pan", uirevision=revision or None,
        showlegend=True, updatemenus=menus, margin={"l": 0, "r": 0, "t": top, "b": bottom},
        legend=_legend(), modebar={"orientation": "v"},
        plot_bgcolor="rgba(0, 0, 0, 0)", paper_bgcolor="rgba(0, 0, 0, 0)",
    )
    if menus:
        # The switches sit above the photos' titles.
        figure.update_layout(updatemenus=[{**menu, "pad": {"b": 30}} for menu in menus])
    return figure

