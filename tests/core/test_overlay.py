"""Pixel checks for the drawings: lesions get their kind colour, background stays untouched."""
from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from core.overlay import (
    KIND_COLOURS,
    blend,
    box_thickness,
    draw_boxes,
    legend_items,
    overlay_kinds,
)
from core.types import LESION_KINDS, Lesion


def _grey(height: int = 10, width: int = 10, level: int = 100) -> np.ndarray:
    return np.full((height, width, 3), level, np.uint8)


def test_every_kind_has_its_own_colour():
    assert tuple(KIND_COLOURS) == LESION_KINDS
    assert len(set(KIND_COLOURS.values())) == len(LESION_KINDS)


def test_legend_follows_lesion_kinds_with_groups():
    items = legend_items()
    assert [item.kind for item in items] == [*LESION_KINDS, "inflammatory_type_uncertain"]
    labels = {item.kind: item.label for item in items}
    assert labels["papule"] == "Papule (inflammatory)"
    assert labels["comedone"] == "Comedone (non-inflammatory)"
    assert labels["nodule"] == "Nodule/cyst (inflammatory)"  # nodules/cysts are inflammatory
    assert items[0].hex == "#56b4e9"
    assert labels["inflammatory_type_uncertain"] == "Inflammatory, type uncertain"


def test_overlay_kinds_tints_lesion_pixels_and_leaves_background():
    image = _grey()
    mask = np.zeros((10, 10), np.uint8)
    mask[2, 3] = 2  # papule (213, 94, 0)
    out = overlay_kinds(image, mask, alpha=0.45)
    # 0.55 * 100 + 0.45 * (213, 94, 0) = (150.85, 97.3, 55.0)
    assert out[2, 3].tolist() == [151, 97, 55]
    assert out[0, 0].tolist() == [100, 100, 100]
    assert (out[mask == 0] == 100).all()
    assert (image == 100).all()  # the input is not modified


def test_overlay_kinds_full_alpha_gives_the_kind_colour():
    image = data.astronaut()[:64, :64].copy()
    mask = np.zeros((64, 64), np.int32)
    for index, kind in enumerate(LESION_KINDS, start=1):
        mask[index, index] = index
    out = overlay_kinds(image, mask, alpha=1.0)
    for index, kind in enumerate(LESION_KINDS, start=1):
        assert tuple(out[index, index]) == KIND_COLOURS[kind]
    assert np.array_equal(out[mask == 0], image[mask == 0])


def test_overlay_kinds_rejects_bad_masks_and_alpha():
    with pytest.raises(ValueError, match="0..5"):  # 5: inflammatory, type uncertain
        overlay_kinds(_grey(), np.full((10, 10), 6, np.uint8))
    uncertain = overlay_kinds(_grey(), np.full((10, 10), 5, np.uint8), alpha=1.0)
    assert uncertain[0, 0].tolist() == [0, 158, 115]
    with pytest.raises(ValueError, match="size of the photo"):
        overlay_kinds(_grey(), np.zeros((9, 10), np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        overlay_kinds(_grey(), np.zeros((10, 10), np.uint8), alpha=1.5)
    with pytest.raises(ValueError, match="RGB uint8"):
        overlay_kinds(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize(
    ("height", "width", "thickness"), [(100, 100, 1), (512, 512, 2), (3000, 4000, 10)]
)
def test_box_thickness_scales_with_photo_size(height, width, thickness):
    assert box_thickness(height, width) == thickness


def test_draw_boxes_outlines_in_kind_colour():
    image = np.zeros((600, 600, 3), np.uint8)
    lesion = Lesion(bbox=(100, 100, 200, 160), kind="pustule", score=0.9, area_px=4000)
    out = draw_boxes(image, [lesion])
    colour = list(KIND_COLOURS["pustule"])
    assert out[100, 150].tolist() == colour  # top edge
    assert out[159, 150].tolist() == colour  # bottom edge (box is end-exclusive)
    assert out[130, 100].tolist() == colour  # left edge
    assert out[130, 150].tolist() == [0, 0, 0]  # inside stays visible
    assert out[500, 500].tolist() == [0, 0, 0]
    assert not image.any()


def test_draw_boxes_rejects_unknown_kind():
    lesion = Lesion(bbox=(1, 1, 5, 5), kind="scar", score=1.0, area_px=4)
    with pytest.raises(ValueError, match="scar"):
        draw_boxes(_grey(), [lesion])


def test_blend_cross_fades():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 200, np.uint8)
    assert np.array_equal(blend(a, b, 0.0), a)
    assert np.array_equal(blend(a, b, 1.0), b)
    assert (blend(a, b, 0.25) == 50).all()
    with pytest.raises(ValueError, match="same shape"):
        blend(a, _grey(3, 3), 0.5)
    with pytest.raises(ValueError, match="t must be"):
        blend(a, b, 1.5)


