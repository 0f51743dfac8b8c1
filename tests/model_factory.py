"""A real, tiny, randomly initialised model saved with a manifest, so tests exercise the real
loading and analysis code without the shipped weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.grading import COUNT_FEATURES, HAYASHI_COUNT_BINS
from core.segmentation import SegmenterConfig, build_model
from core.training.export import SEGMENTER_ONNX, save_grader, save_segmenter, write_manifest
from core.training.grader_fit import fit_count_grader

TINY_VERSION = "tiny-test"
# The tiny model's ONNX graph is checked against PyTorch on small images: the shipped weights'
# export checks working-image sizes (core.training.export.CHECK_IMAGES).
TINY_CHECK_IMAGES = ((50, 77, False), (64, 96, True))
# The ONNX export of a seed's tiny model (the same model each time): exported and checked once
# per test process, copied after that (an export takes seconds on 2 busy cores).
_ONNX_BY_SEED: dict[int, bytes] = {}


def build_tiny_vit(folder: Path, labels: tuple[str, ...] = ("level -1", "level 0", "level 1",
                                                            "level 2", "level 3")) -> Path:
    """A tiny randomly initialised ViT image classifier saved in Hugging Face format."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=32, num_labels=len(labels),
                       id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3,
                      image_std=[0.5] * 3).save_pretrained(folder)
    return Path(folder)


def build_tiny_weights(weights_dir: Path, seed: int = 0, hf_use: str | None = None,
                       onnx: bool = True) -> Path:
    """Write segmenter (safetensors and, with `onnx`, its ONNX graph) + grader + manifest into
    `weights_dir`; returns the folder."""
    torch.manual_seed(seed)
    config = SegmenterConfig(decoder_channels=(16, 8, 8, 8, 8), face_width_px=120.0,
                             train_image_side=192)
    model = build_model(config)
    with torch.no_grad():
        # Lesion and centre heads biased low so a random model finds a handful of lesions,
        # not the whole photo.
        model.segmentation_head[0].bias[:2] = torch.tensor([-1.0, -1.5])
    weights_dir = Path(weights_dir)
    cached = _ONNX_BY_SEED.get(seed) if onnx else None
    segmenter = save_segmenter(model, config, weights_dir, onnx=onnx and cached is None,
                               check_images=TINY_CHECK_IMAGES)
    if cached is not None:
        (weights_dir / SEGMENTER_ONNX).write_bytes(cached)
        segmenter["onnx"] = SEGMENTER_ONNX
    elif onnx:
        _ONNX_BY_SEED[seed] = (weights_dir / SEGMENTER_ONNX).read_bytes()
    # A grader fitted (for real) on counts labelled with ACNE04's Hayashi count bins.
    rng = np.random.default_rng(seed)
    totals = rng.integers(0, 70, size=400)
    features = np.log1p(np.stack([totals, totals * 0.5, totals * 0.2, totals * 0.3], axis=1))
    grader = save_grader(fit_count_grader(features, np.digitize(totals, HAYASHI_COUNT_BINS),
                                          COUNT_FEATURES), weights_dir)
    models = {
        "segmenter": {**segmenter, "version": TINY_VERSION},
        "grader": {**grader, "version": TINY_VERSION},
    }
    if hf_use:  # also install a tiny Hugging Face classifier, as the grader or a second opinion
        build_tiny_vit(weights_dir / "hf-grader")
        models["hf_grader"] = {"name": "tiny-vit", "file": "hf-grader", "version": "tiny-vit",
                               "use": hf_use}
    write_manifest(weights_dir, models)
    return weights_dir
