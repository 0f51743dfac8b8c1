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
