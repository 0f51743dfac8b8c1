"""Atomic checkpoint writes: a temporary file renamed over the target, so a crash never leaves a
half-written checkpoint."""
from __future__ import annotations

import os
from pathlib import Path

import torch


def save_atomic(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None


def save_model_half(source: Path, target: Path) -> int:
    """Write `source`'s model weights alone, in float16, as a checkpoint `calibrate` reads.

    A GPU machine sends back files of at most 16 MiB; a full checkpoint (optimizer state,
    float32) is four times the model. Loading casts the weights back to float32. Returns bytes."""
    state = load_checkpoint(Path(source))
    if state is None:
        raise FileNotFoundError(f"no checkpoint at {source}")
    model = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    save_atomic({"model": model, **{k: state[k] for k in ("epoch", "config", "metrics") if k in state}},
                Path(target))
    return Path(target).stat().st_size


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="Copy a checkpoint's model weights alone, in float16.")
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    args = p.parse_args()
    print(f"{args.target}: {save_model_half(args.source, args.target) / 1e6:.1f} MB")
