"""Colour constancy before segmentation (core.colour)."""
from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from core.colour import COLOUR_CONSTANCY, balance_colours, light_estimate
from core.segmentation import SegmenterConfig


@pytest.mark.parametrize("method", ["grey_world", "shades_of_grey"])
def test_a_colour_cast_is_taken_out_and_brightness_kept(method: str) -> None:
    face = data.astronaut()
    warm = np.clip(face.astype(np.float32) * np.array([1.25, 1.0, 0.7]), 0, 255).astype(np.uint8)
    fixed_face, fixed_warm = balance_colours(face, method), balance_colours(warm, method)
    # The warm copy and the original end up with nearly the same colours.
    before = np.abs(warm.astype(float).mean((0, 1)) - face.astype(float).mean((0, 1))).max()
    after = np.abs(fixed_warm.astype(float).mean((0, 1)) - fixed_face.astype(float).mean((0, 1))).max()
    assert after < before / 3
    assert abs(fixed_warm.mean() - warm.mean()) < 0.06 * warm.mean()
    assert light_estimate(warm, method)[0] > 1.1 > 0.9 > light_estimate(warm, method)[2]


def test_none_leaves_the_photo_alone_and_a_one_colour_photo_is_bounded() -> None:
    face = data.astronaut()
    assert balance_colours(face, "none") is face
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 200
    out = balance_colours(red, "grey_world")
    assert out.dtype == np.uint8 and out[..., 0].max() <= 200 and out[..., 1].max() == 0


def test_unknown_methods_name_the_options() -> None:
    with pytest.raises(ValueError, match="must be one of none, grey_world, shades_of_grey"):
        balance_colours(data.astronaut(), "retinex")
    with pytest.raises(ValueError, match="colour_constancy 'retinex' must be one of"):
        SegmenterConfig(colour_constancy="retinex")
    assert SegmenterConfig().colour_constancy == COLOUR_CONSTANCY[0]
