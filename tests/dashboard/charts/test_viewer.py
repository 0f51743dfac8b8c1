"""The photo viewer's figures (dashboard/charts/viewer.py), built from pictures and lesions
alone: the pages' use of them is in tests/dashboard/test_photo_viewer.py."""
from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from core.types import Lesion
from dashboard.charts import viewer as viewer_charts
from dashboard.charts.viewer import (
    GROUP_LABELS,
    ViewerImage,
    jpeg_data_uri,
    pair_figure,
    photo_figure,
)


def _lesion(kind: str, x: int, y: int, **flags: bool) -> Lesion:
    return dataclasses.replace(Lesion(bbox=(x, y, x + 8, y + 8), kind=kind, score=0.9, area_px=64), **flags)


def _picture(width: int = 300, height: int = 200, *, view=(50, 20, 250, 180), lesions=(),
             heat: bool = False, to_image=None) -> ViewerImage:  # noqa: ANN001
    rgb = np.zeros((height, width, 3), np.uint8)
    heat_source = viewer_charts.png_data_uri(np.zeros((height // 2, width // 2, 4), np.uint8)) if heat else None
    return ViewerImage(source=jpeg_data_uri(rgb), width=width, height=height, view=view,
                       lesions=tuple(lesions), to_image=to_image, heat_source=heat_source,
                       heat_step=2)


def _decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def _by_meta(figure) -> dict:  # noqa: ANN001
    return {trace.meta: trace for trace in figure.data}


def test_the_picture_is_a_full_size_jpeg_and_the_heat_layer_a_png():
    image = np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)
    assert _decode(jpeg_data_uri(image)).size == (40, 30)
    layer = np.zeros((3, 4, 4), np.uint8)
    layer[1, 2] = (10, 20, 30, 40)
    decoded = np.asarray(_decode(viewer_charts.png_data_uri(layer)))
    assert decoded.shape == (3, 4, 4) and tuple(decoded[1, 2]) == (10, 20, 30, 40)
    with pytest.raises(ValueError):
        jpeg_data_uri(layer)


def test_one_photo_starts_at_its_view_with_a_ring_trace_per_group():
    lesions = [_lesion("papule", 60, 60), _lesion("papule", 90, 60), _lesion("comedone", 120, 60),
               _lesion("pustule", 150, 60, added_by_clinician=True)]
    figure = photo_figure(_picture(lesions=lesions), revision="7")
    layout = figure.layout
    assert list(layout.xaxis.range) == [49.5, 249.5] and list(layout.yaxis.range) == [179.5, 19.5]
    assert layout.yaxis.scaleanchor == "x" and layout.dragmode == "pan" and layout.uirevision == "7"
    shown = {t.meta: t.name for t in figure.data if getattr(t, "showlegend", False)}
    assert shown == {"comedone": f"{GROUP_LABELS['comedone']}: 1",
                     "papule": f"{GROUP_LABELS['papule']}: 2",
                     "added_by_clinician": f"{GROUP_LABELS['added_by_clinician']}: 1"}
    traces = _by_meta(figure)
    # Two rings in one trace, apart (None between them); the hover names the lesion.
    assert list(traces["papule"].x).count(None) == 2
    assert "pustule, added by a clinician" in traces["added_by_clinician"].text
    # A clinician's lesion: black dots on a white ring, unlike the model's coloured rings.
    assert traces["added_by_clinician"].line.dash == "dot"
    assert traces["added_by_clinician:border"].line.color == "#ffffff"
    assert traces["papule:border"].line.color == viewer_charts.BORDER
    # A face to crop to: the 'Face' / 'Whole photo' switch; no heat layer: no heat switch.
    (menu,) = layout.updatemenus
    assert [b.label for b in menu.buttons] == ["Face", "Whole photo"]
    assert menu.buttons[1].args[0] == {"xaxis.range": [-0.5, 299.5], "yaxis.range": [199.5, -0.5]}


def test_the_whole_photo_as_view_needs_no_face_switch_and_an_empty_one_no_ring():
    figure = photo_figure(_picture(view=(0, 0, 300, 200)))
    assert not figure.layout.updatemenus
    assert [t.meta for t in figure.data] == ["photo"]


def test_the_heat_layer_is_laid_on_photo_pixels_and_switched_with_its_scale():
    figure = photo_figure(_picture(heat=True))
    traces = _by_meta(figure)
    heat = traces["heat"]
    # Each layer pixel covers 2 x 2 photo pixels: its centre at 0.5, 2.5, ...
    assert (heat.x0, heat.y0, heat.dx, heat.dy) == (0.5, 0.5, 2.0, 2.0)
    assert heat.visible is False and traces["heat_scale"].visible is False
    face_menu, heat_menu = figure.layout.updatemenus
    assert face_menu.buttons[0].label == "Face"
    indices = [i for i, t in enumerate(figure.data) if t.meta in ("heat", "heat_scale")]
    assert heat_menu.buttons[1].label == "Heat map on"
    assert heat_menu.buttons[1].args == ({"visible": True}, tuple(indices))
    assert traces["heat_scale"].marker.colorbar.title.text == "lesion likelihood"


def test_a_pair_links_the_aligned_photos_and_lists_each_group_once():
    to_image = (2.0, 0.0, 0.0, 0.0, 2.0, 0.0)
    before = _picture(512, 512, view=(0, 0, 512, 512), to_image=to_image,
                      lesions=[_lesion("papule", 20, 20), _lesion("papule", 60, 20)])
    after = _picture(512, 512, view=(0, 0, 512, 512), to_image=to_image, heat=True,
                     lesions=[_lesion("papule", 20, 20), _lesion("nodule", 100, 100)])
    figure = pair_figure(before, after, titles=("1 Jan", "1 Feb"), linked=True)
    layout = figure.layout
    assert layout.xaxis2.matches == "x" and layout.yaxis2.matches == "y"
    legend = {t.meta: (t.name, t.xaxis) for t in figure.data if getattr(t, "showlegend", False)}
    # The nodule exists after only: its one legend entry is on the second photo.
    assert legend == {"papule": (f"{GROUP_LABELS['papule']}: 2 before, 1 after", "x"),
                      "nodule": (f"{GROUP_LABELS['nodule']}: 0 before, 1 after", "x2")}
    # Rings are drawn in the picture's frame: the nodule at 100..108 photo px is at 200..216.
    nodule = next(t for t in figure.data if t.meta == "nodule")
    xs = [x for x in nodule.x if x is not None]
    assert 200 < float(np.mean(xs)) < 216
    assert [m.buttons[0].label for m in layout.updatemenus] == ["Heat map off"]

    unlinked = pair_figure(_picture(), _picture(), titles=("a", "b"), linked=False)
    assert unlinked.layout.xaxis2.matches is None
    (menu,) = unlinked.layout.updatemenus
    assert set(menu.buttons[1].args[0]) == {"xaxis.range", "yaxis.range", "xaxis2.range", "yaxis2.range"}
