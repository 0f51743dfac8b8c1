"""The pure drawing helpers behind the photo viewer (core.overlay, core.alignment): lesion
groups and their colours, the face crop, rings around lesions, the heat layer, and the face
frame at another size."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.alignment import (
    CANONICAL_SIZE,
    alignment_at_size,
    native_canonical_size,
    transform_points,
    warp_to_canonical,
)
from core.overlay import (
    ADDED_BY_CLINICIAN_KEY,
    HEAT_FLOOR,
    HEAT_FULL,
    HEAT_MAX_ALPHA,
    KIND_COLOURS,
    MARK_GROUPS,
    UNCERTAIN_TYPE_COLOUR,
    UNCERTAIN_TYPE_KEY,
    face_crop_box,
    group_lesions,
    heat_rgba,
    lesion_ring,
    mark_colour,
    mark_group,
    ring_min_radius,
    ring_pad,
    shrink_max,
)
from core.types import Lesion


def _lesion(kind: str = "papule", **flags: bool) -> Lesion:
    return dataclasses.replace(Lesion(bbox=(10, 10, 16, 16), kind=kind, score=0.9, area_px=36), **flags)


def test_a_lesion_is_marked_by_who_found_it_then_by_its_counted_type():
    assert mark_group(_lesion("pustule")) == "pustule"
    assert mark_group(_lesion("pustule", type_uncertain=True)) == UNCERTAIN_TYPE_KEY
    # A clinician's lesion is theirs whatever its type (and even if it were uncertain).
    assert mark_group(_lesion("nodule", added_by_clinician=True, type_uncertain=True)) == ADDED_BY_CLINICIAN_KEY
    with pytest.raises(ValueError, match="unknown lesion kind"):
        mark_group(_lesion("scar"))


def test_every_group_has_its_own_colour_the_kinds_as_on_every_chart():
    colours = [mark_colour(group) for group in MARK_GROUPS]
    assert len(set(colours)) == len(MARK_GROUPS)
    assert mark_colour("nodule") == KIND_COLOURS["nodule"]
    assert mark_colour(UNCERTAIN_TYPE_KEY) == UNCERTAIN_TYPE_COLOUR
    with pytest.raises(ValueError, match="unknown mark group"):
        mark_colour("boxes")


def test_groups_keep_their_order_and_leave_out_empty_ones():
    lesions = [_lesion("pustule"), _lesion("comedone"), _lesion("pustule"),
               _lesion("comedone", added_by_clinician=True)]
    groups = group_lesions(lesions)
    assert list(groups) == ["comedone", "pustule", ADDED_BY_CLINICIAN_KEY]
    assert [len(found) for found in groups.values()] == [1, 2, 1]
    assert group_lesions([]) == {}


def test_the_face_crop_widens_the_face_box_most_above_and_stays_inside_the_photo():
    # A 100 x 200 face box in the middle of a 1000 x 1000 photo.
    assert face_crop_box((450.0, 400.0, 550.0, 600.0), 1000, 1000) == (430, 320, 570, 640)
    # Near the edges it is cut at the photo's border.
    assert face_crop_box((10.0, 20.0, 110.0, 220.0), 300, 230) == (0, 0, 130, 230)


@pytest.mark.parametrize("box", [None, (), (5.0, 5.0, 5.0, 50.0), (float("nan"), 0.0, 9.0, 9.0),
                                 (2000.0, 2000.0, 2100.0, 2100.0)])
def test_without_a_usable_face_box_the_whole_photo_is_shown(box):
    assert face_crop_box(box, 640, 480) == (0, 0, 640, 480)


def test_a_ring_goes_round_the_lesion_clear_of_its_box():
    xs, ys = lesion_ring((100, 200, 120, 210), min_radius=1.0, points=36)
    xs, ys = np.array(xs), np.array(ys)
    assert (xs[0], ys[0]) == (xs[-1], ys[-1]) and len(xs) == 4 * (36 // 4 + 1) + 1  # closed
    # Centred on the box (pixel i spans i - 0.5 .. i + 0.5), wider than it is tall, like it.
    assert np.isclose(xs.mean(), 109.5, atol=0.5) and np.isclose(ys.mean(), 204.5, atol=0.5)
    assert xs.max() - xs.min() > ys.max() - ys.min()
    # Every point is outside the box (the ring does not hide the lesion's edge).
    inside = (xs > 99.5) & (xs < 119.5) & (ys > 199.5) & (ys < 209.5)
    assert not inside.any()


def test_a_tiny_lesion_gets_a_ring_big_enough_to_see():
    assert ring_min_radius(4000, 3000) == 6.0
    assert ring_min_radius(256, 256) == 3.0
    xs, ys = lesion_ring((50, 50, 51, 51), min_radius=6.0)
    assert max(xs) - min(xs) == pytest.approx(12.0, abs=0.2)
    assert max(ys) - min(ys) == pytest.approx(12.0, abs=0.2)
    with pytest.raises(ValueError):
        lesion_ring((5, 5, 5, 9))


@pytest.mark.parametrize("box", [(100, 200, 135, 235), (10, 10, 18, 14), (0, 0, 300, 120)])
def test_a_ring_is_at_the_lesions_own_size(box):
    """Issue 26: rings were drawn about 3-4 times a lesion's size and hid the skin. A ring is
    no larger than the lesion's box plus a few pixels, and never inside the box."""
    x0, y0, x1, y1 = box
    pad = ring_pad(4000, 3000)
    assert 2.0 <= pad <= 8.0
    xs, ys = (np.array(v) for v in lesion_ring(box, min_radius=ring_min_radius(4000, 3000), pad=pad))
    width, height = x1 - x0, y1 - y0
    assert xs.max() - xs.min() <= max(width, 2 * ring_min_radius(4000, 3000)) + 2 * pad + 0.2
    assert ys.max() - ys.min() <= max(height, 2 * ring_min_radius(4000, 3000)) + 2 * pad + 0.2
    inside = (xs > x0 - 0.5) & (xs < x1 - 0.5) & (ys > y0 - 0.5) & (ys < y1 - 0.5)
    assert not inside.any()


def test_shrinking_keeps_each_blocks_highest_value():
    plane = np.zeros((5, 7), np.uint8)
    plane[4, 6] = 200  # a one-pixel peak in the last, partial block
    plane[0, 1] = 90
    small, step = shrink_max(plane, 3)
    assert step == 3 and small.shape == (2, 3)
    assert small[1, 2] == 200 and small[0, 0] == 90 and small.sum() == 290
    same, step = shrink_max(plane, 7)
    assert step == 1 and np.array_equal(same, plane)


def test_the_heat_layer_is_clear_below_the_floor_and_opaque_enough_above_it():
    probability = np.array([[0, int(HEAT_FLOOR * 255) - 1, 128, 255]], np.uint8)
    layer = heat_rgba(probability)
    assert layer.shape == (1, 4, 4) and layer.dtype == np.uint8
    alpha = layer[0, :, 3]
    assert alpha[0] == 0 and alpha[1] == 0  # skin where a lesion is unlikely stays as it is
    assert alpha[2] == round(HEAT_MAX_ALPHA * 255)  # from HEAT_FULL on, at full opacity
    assert 128 / 255 >= HEAT_FULL
    # Viridis: dark blue for low, yellow for high (red and green high, blue low).
    red, green, blue = layer[0, 3, :3]
    assert red > 200 and green > 200 and blue < 80
    with pytest.raises(ValueError):
        heat_rgba(probability.astype(np.float32))


def test_marks_made_with_the_face_frame_at_any_size_fall_on_the_warped_photo():
    # A photo with one bright pixel; the alignment halves it and shifts it.
    alignment = (0.5, 0.0, 10.0, 0.0, 0.5, 20.0)
    image = np.zeros((400, 400), np.uint8)
    image[100:104, 200:204] = 255
    for size in (CANONICAL_SIZE, 1024):
        warped = warp_to_canonical(image, alignment, size=size)
        (x, y), = transform_points([(201.5, 101.5)], alignment_at_size(alignment, size))
        peak = np.unravel_index(np.argmax(warped), warped.shape)
        assert abs(peak[1] - x) <= 1.0 and abs(peak[0] - y) <= 1.0, (size, peak, (x, y))


def test_the_face_frame_keeps_the_sharper_photos_pixels_within_limits():
    # Canonical pixels per photo pixel: 0.25 (a 12 MP photo) and 0.5.
    assert native_canonical_size([(0.25, 0, 0, 0, 0.25, 0), (0.5, 0, 0, 0, 0.5, 0)]) == 2048
    assert native_canonical_size([(2.0, 0, 0, 0, 2.0, 0)]) == CANONICAL_SIZE  # never smaller
    assert native_canonical_size([(0.05, 0, 0, 0, 0.05, 0)], largest=3072) == 3072
