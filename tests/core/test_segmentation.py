import numpy as np
import pytest
import torch

from core.segmentation import N_OUTPUTS, SegmenterConfig, build_model, predict_maps


def test_unknown_encoder_lists_the_valid_ones():
    with pytest.raises(ValueError, match="mobilenet_v2"):
        build_model(SegmenterConfig(encoder="vgg11"))


def test_unknown_architecture_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unet"):
        build_model(SegmenterConfig(architecture="fpn"))


def test_config_for_a_work_scale_feeds_faces_at_that_scale():
    config = SegmenterConfig.for_work_scale(0.8, encoder="mobilenet_v2")
    assert (config.work_scale, config.face_width_px, config.train_image_side) == (0.8, 364.8, 512)
    default = SegmenterConfig()
    assert SegmenterConfig.for_work_scale(0.6).face_width_px == pytest.approx(default.face_width_px, abs=0.5)
    with pytest.raises(ValueError, match="work scale 0"):
        SegmenterConfig.for_work_scale(0.0)


def test_config_round_trips_and_rejects_unknown_keys():
    import json

    config = SegmenterConfig(peak_threshold=0.2, decoder_channels=(16, 8, 8, 8, 8))
    assert SegmenterConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ValueError, match="colour"):
        SegmenterConfig.from_dict({"colour": "red"})


def test_maps_cover_any_image_size():
    torch.manual_seed(0)
    config = SegmenterConfig(decoder_channels=(16, 8, 8, 8, 8))
    model = build_model(config).eval()
    maps = predict_maps(model, np.zeros((50, 77, 3), np.uint8), config)  # not a multiple of 32
    assert maps.lesion.shape == (50, 77) and maps.centre.shape == (50, 77)
    assert maps.kind.shape == (N_OUTPUTS - 2, 50, 77)
    assert np.allclose(maps.kind.sum(axis=0), 1, atol=1e-5)


def test_mirror_averaging_is_mirror_symmetric_and_differs_from_one_pass():
    torch.manual_seed(0)
    plain = SegmenterConfig(decoder_channels=(16, 8, 8, 8, 8))
    tta = SegmenterConfig(decoder_channels=(16, 8, 8, 8, 8), flip_tta=True)
    model = build_model(plain).eval()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)  # a multiple of 32: no padding
    with torch.no_grad():
        maps = predict_maps(model, image, tta)
        mirrored = predict_maps(model, image[:, ::-1], tta)
        one_pass = predict_maps(model, image, plain)
    # The averaged maps of the mirrored photo are the mirrored maps of the photo.
    assert np.allclose(mirrored.lesion, maps.lesion[:, ::-1], atol=1e-5)
    assert np.allclose(mirrored.kind, maps.kind[:, :, ::-1], atol=1e-5)
    assert maps.lesion.shape == one_pass.lesion.shape == (64, 96)
    assert not np.allclose(maps.lesion, one_pass.lesion, atol=1e-4)
