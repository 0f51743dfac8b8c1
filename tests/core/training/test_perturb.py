"""Robustness perturbations: what each does to a photo, and that evaluate scores the true
boxes in the perturbed photo's frame."""
from types import SimpleNamespace

import numpy as np
import pytest

from core.training.data import Sample, TrueLesion
from core.training.evaluate import score_photo
from core.training.perturb import PERTURBATIONS, get_perturbations
from core.types import Lesion


@pytest.fixture
def photo():
    rng = np.random.default_rng(1)
    image = np.full((480, 640, 3), (190, 150, 130), np.uint8)
    image[160:240, 200:280] = (150, 40, 40)
    return np.clip(image + rng.integers(-10, 10, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_each_perturbation_changes_the_photo_and_is_repeatable(photo, name):
    out, factor = PERTURBATIONS[name](photo)
    assert out.dtype == np.uint8 and out.shape[2] == 3
    assert out.shape[:2] == (round(480 * factor), round(640 * factor))
    if factor == 1.0:
        assert np.abs(out.astype(int) - photo).mean() > 0.5
    again, _ = PERTURBATIONS[name](photo)
    assert np.array_equal(out, again)


def test_exposure_and_white_balance_move_the_right_way(photo):
    mean = photo.reshape(-1, 3).mean(axis=0)
    assert PERTURBATIONS["darker"](photo)[0].mean() < 0.7 * photo.mean()
    assert PERTURBATIONS["brighter"](photo)[0].mean() > 1.2 * photo.mean()
    warm = PERTURBATIONS["warm"](photo)[0].reshape(-1, 3).mean(axis=0)
    cool = PERTURBATIONS["cool"](photo)[0].reshape(-1, 3).mean(axis=0)
    assert warm[0] > mean[0] and warm[2] < mean[2]
    assert cool[0] < mean[0] and cool[2] > mean[2]


def test_names_are_checked():
    assert list(get_perturbations("all")) == list(PERTURBATIONS)
    assert list(get_perturbations("blur, jpeg")) == ["blur", "jpeg"]
    with pytest.raises(ValueError, match="valid: all, darker"):
        get_perturbations("blur,fog")
    with pytest.raises(ValueError):
        get_perturbations("")


class PerfectAnalyzer:
    """Finds exactly the true lesions, wherever the photo's frame puts them."""

    def __init__(self, truth, side):
        self.truth, self.side = truth, side

    def analyze(self, image):
        k = image.shape[0] / self.side
        lesions = [Lesion(bbox=tuple(v * k for v in t.bbox), kind=t.kind, score=0.9, area_px=10)
                   for t in self.truth]
        return SimpleNamespace(lesions=lesions, kind_mask=np.zeros(image.shape[:2], np.uint8),
                               counts=SimpleNamespace(total=len(lesions), inflammatory=0),
                               grade=SimpleNamespace(value=0, confidence=0.9), assessable=True,
                               is_closeup=False, typicality=None,
                               face=SimpleNamespace(found=True, view="front"))


@pytest.mark.parametrize("name", ["high_res", "low_res", "blur"])
def test_true_boxes_follow_a_resized_photo(tmp_path, photo, name):
    import cv2

    path = tmp_path / "levle0_1.jpg"
    cv2.imwrite(str(path), photo[:, :, ::-1])
    truth = (TrueLesion((50, 40, 70, 60), "papule"), TrueLesion((100, 80, 120, 100), "comedone"))
    sample = Sample(image_path=path, source_image="1.jpg", grade=0, lesions=truth)
    score = score_photo(PerfectAnalyzer(truth, 480), sample, PERTURBATIONS[name])
    assert (score.tp, score.n_true, score.true_count) == (2, 2, 2)
