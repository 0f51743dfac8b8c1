"""Close-ups are calibrated on close-ups (issue 25 item 6): a photo without any face is segmented
at its own long side and counted at its own peak threshold, chosen on the valid close-ups of every
data set; a rough face and a whole face keep the whole-face settings."""
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from core import pipeline
from core.segmentation import SegmenterConfig
from core.training import calibrate_closeups as cc
from core.types import FaceResult


def test_old_configs_load_with_the_whole_face_settings_for_close_ups():
    config = SegmenterConfig.from_dict({"peak_threshold": 0.22, "train_image_side": 384})
    assert config.closeup_image_side is None and config.closeup_peak_threshold is None
    assert config.for_closeup() == config


def test_a_calibrated_config_gives_close_ups_their_own_side_and_threshold():
    config = SegmenterConfig(peak_threshold=0.22, closeup_image_side=288, closeup_peak_threshold=0.24)
    closeup = config.for_closeup()
    assert (closeup.train_image_side, closeup.peak_threshold) == (288, 0.24)
    assert (config.train_image_side, config.peak_threshold) == (384, 0.22)  # faces unchanged
    assert SegmenterConfig.from_dict(json.loads(config.to_json())) == config


@pytest.mark.parametrize("field, value", [("closeup_image_side", 10), ("closeup_image_side", 99999),
                                          ("closeup_peak_threshold", 0.0), ("closeup_peak_threshold", 1.5)])
def test_a_close_up_setting_out_of_range_is_named(field, value):
    with pytest.raises(ValueError, match=field):
        SegmenterConfig(**{field: value})


def _closeup(data_set, true, by_key):
    return cc.CloseupCounts(data_set, true, by_key)


def test_each_data_set_has_one_vote_however_many_close_ups_it_holds():
    keys = [(384, 0.22), (288, 0.24)]
    # Ten photos of set "many" are counted right at 384 and 5 too high at 288; the one photo of
    # set "few" is 20 too high at 384 and right at 288. Pooled, 384 wins (MAE 1.8 vs 4.5); with a
    # vote per set, 288 does (mean 2.5 vs 10).
    photos = [_closeup("many", 10, {keys[0]: 10, keys[1]: 15}) for _ in range(10)]
    photos.append(_closeup("few", 10, {keys[0]: 30, keys[1]: 10}))
    best, scores = cc.choose(photos)
    assert (best["side"], best["peak_threshold"]) == (288, 0.24)
    assert best["mean_mae"] == pytest.approx(2.5)
    assert best["by_set"]["many"] == {"n": 10, "count_mae": 5.0, "count_bias": 5.0}
    assert len(scores) == 2


def test_ties_keep_the_larger_side_and_the_lower_threshold():
    photos = [_closeup("a", 5, {(288, 0.3): 5, (384, 0.3): 5, (384, 0.22): 5})]
    best, _ = cc.choose(photos)
    assert (best["side"], best["peak_threshold"]) == (384, 0.22)


def test_no_close_ups_to_calibrate_on_is_said():
    with pytest.raises(ValueError, match="no valid close-ups"):
        cc.choose([])


class RecordingSegmenter:
    """Wraps the real engine and records the working image and the config of each call."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, []

    def predict(self, image, config):
        self.calls.append((image.shape[:2], config))
        return self.inner.predict(image, config)


class FixedFace:
    def __init__(self, face: FaceResult):
        self.face = face

    def detect(self, image):
        return self.face


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from tests.model_factory import build_tiny_weights

    return build_tiny_weights(tmp_path_factory.mktemp("weights"))


def _analyse(weights, face: FaceResult, monkeypatch):
    analyzer = pipeline.load_analyzer(weights)
    analyzer.config = replace(analyzer.config, peak_threshold=0.22, train_image_side=384,
                              closeup_image_side=288, closeup_peak_threshold=0.34)
    analyzer.segmenter = RecordingSegmenter(analyzer.segmenter)
    analyzer.face_detector = FixedFace(face)
    counted_with = []
    real = pipeline.lesions_from_maps
    monkeypatch.setattr(pipeline, "lesions_from_maps",
                        lambda maps, config: counted_with.append(config) or real(maps, config))
    analyzer.analyze(np.full((600, 800, 3), 170, np.uint8))
    (shape, _), = analyzer.segmenter.calls
    return max(shape), counted_with[0].peak_threshold


@pytest.mark.slow
def test_a_photo_without_a_face_is_segmented_and_counted_as_a_close_up(tiny_weights, monkeypatch):
    assert _analyse(tiny_weights, FaceResult(found=False), monkeypatch) == (288, 0.34)


@pytest.mark.slow
def test_a_rough_face_keeps_the_whole_face_settings(tiny_weights, monkeypatch):
    rough = FaceResult(found=True, rough=True, box=(100.0, 50.0, 700.0, 590.0), n_faces=1)
    assert _analyse(tiny_weights, rough, monkeypatch) == (384, 0.22)


@pytest.mark.slow
def test_install_writes_the_choice_the_analysis_then_loads(tiny_weights, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    version = cc.install(weights, 320, 0.26)
    config = pipeline.load_analyzer(weights).config  # checksums still match
    assert (config.closeup_image_side, config.closeup_peak_threshold) == (320, 0.26)
    assert "+closeups-" in version
    again = cc.install(weights, 288, 0.24)  # a second calibration replaces the first's suffix
    assert again.count("+closeups-") == 1
    assert pipeline.load_analyzer(weights).config.closeup_image_side == 288

