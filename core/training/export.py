"""Write a trained segmenter and grader into a weights folder (safetensors + config, grader JSON)
and the folder's manifest."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from core.manifest import MANIFEST_NAME, ROLES, sha256_of
from core.segmentation import SegmenterConfig

SEGMENTER_FILE = "segmenter.safetensors"
SEGMENTER_CONFIG = "segmenter.json"
GRADER_FILE = "grader.json"


def save_segmenter(model: torch.nn.Module, config: SegmenterConfig, weights_dir: Path,
                   half: bool = True) -> dict:
    """Save weights (float16 halves the file; inference casts back to float32) and config,
    each through a temporary file renamed into place. Returns the manifest entry."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
             for k, v in model.state_dict().items()}
    tmp = weights_dir / (SEGMENTER_FILE + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(weights_dir / SEGMENTER_FILE)
    cfg_tmp = weights_dir / (SEGMENTER_CONFIG + ".tmp")
    cfg_tmp.write_text(config.to_json())
    cfg_tmp.replace(weights_dir / SEGMENTER_CONFIG)
    return {"name": f"unet-{config.encoder}", "file": SEGMENTER_FILE, "config": SEGMENTER_CONFIG}


def save_grader(grader, weights_dir: Path) -> dict:
    tmp = weights_dir / (GRADER_FILE + ".tmp")
    tmp.write_text(grader.to_json())
    tmp.replace(weights_dir / GRADER_FILE)
    return {"name": "ordinal-count-grader", "file": GRADER_FILE}


def read_run_config(run_dir: Path) -> SegmenterConfig:
    return SegmenterConfig.from_dict(json.loads((run_dir / "config.json").read_text()))


def write_manifest(weights_dir: Path, models: dict[str, dict]) -> Path:
    """Write the manifest (checksums computed here), via a temporary file renamed into place."""
    for role, item in models.items():
        if role not in ROLES:
            raise ValueError(f"unknown model role {role!r}; valid roles: {', '.join(ROLES)}")
        target = weights_dir / item["file"]
        if target.is_file():
            item["sha256"] = sha256_of(target)
    path = weights_dir / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"format": 1, "models": models}, indent=2) + "\n")
    tmp.replace(path)
    return path
