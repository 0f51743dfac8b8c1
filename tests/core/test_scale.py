"""Scale normalisation: the same face at two photo sizes gets the same working frame."""
import numpy as np
import pytest

from core.scale import working_frame
from core.types import FaceResult


def test_face_decides_the_working_scale_whatever_the_photo_size():
    small = working_frame((600, 800), FaceResult(True, box=(300, 200, 500, 400)), 250, 1.4, 384)
    big = working_frame((3000, 4000), FaceResult(True, box=(1500, 1000, 2500, 2000)), 250, 1.4, 384)
    assert small.scale == pytest.approx(1.25)
    assert big.scale == pytest.approx(0.25)
    # the crop is 1.4 face widths around the face centre
    assert (small.x1 - small.x0) == pytest.approx(280, abs=2)
    assert (big.x1 - big.x0) * big.scale == pytest.approx((small.x1 - small.x0) * small.scale, abs=2)


def test_boxes_map_back_to_photo_pixels():
    frame = working_frame((3000, 4000), FaceResult(True, box=(1500, 1000, 2500, 2000)), 250, 1.4, 384)
    assert frame.to_photo((0, 0, 25, 25)) == (frame.x0, frame.y0, frame.x0 + 100, frame.y0 + 100)


def test_without_a_face_the_whole_photo_is_used():
    frame = working_frame((1000, 2000), FaceResult(False), 250, 1.4, 384)
    assert (frame.x0, frame.y0, frame.x1, frame.y1) == (0, 0, 2000, 1000)
    assert frame.scale == pytest.approx(384 / 2000)


def test_crop_and_paste_are_consistent():
    image = np.zeros((300, 400, 3), np.uint8)
    frame = working_frame((300, 400), FaceResult(True, box=(100, 50, 300, 250)), 100, 1.4, 384)
    work = frame.crop(image)
    plane = np.ones(work.shape[:2], np.uint8)
    pasted = frame.paste(plane, (300, 400))
    assert pasted.shape == (300, 400)
    assert pasted[150, 200] == 1 and pasted[0, 0] == 0


def test_tiny_faces_are_not_blown_up_beyond_the_limit():
    frame = working_frame((100, 100), FaceResult(True, box=(40, 40, 50, 50)), 250, 1.4, 384)
    assert frame.scale == 3.0


def test_invalid_sizes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        working_frame((10, 10), FaceResult(False), 0, 1.4, 384)
