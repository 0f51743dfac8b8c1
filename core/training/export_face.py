"""Export facenet-pytorch's MTCNN networks (PNet, RNet, ONet) to ONNX for `core.mtcnn`.

    python -m core.training.export_face [--weights weights]

Writes `mtcnn_pnet.onnx` (any height and width), `mtcnn_rnet.onnx` and `mtcnn_onet.onnx` (any
batch) into the weights folder, checks each against the PyTorch network on random inputs, and
adds them to the folder's manifest (roles in `core.mtcnn.ROLE_FILES`), keeping its other
entries. The weights ship inside the facenet-pytorch wheel (MIT licence); only this export needs
torch and facenet-pytorch, the app runs the ONNX files with onnxruntime.
"""
from __future__ import annotations

import argparse
import json
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
import torch

from core.errors import WeightsError
from core.manifest import DEFAULT_WEIGHTS_DIR, MANIFEST_NAME, sha256_of
from core.mtcnn import (
    INPUT_NAME,
    ONET_INPUT,
    ONET_OUTPUTS,
    PNET_OUTPUTS,
    RNET_INPUT,
    RNET_OUTPUTS,
    ROLE_FILES,
)
from core.training.export import largest_difference

# Largest |ONNX - PyTorch| accepted on any output: float32 convolutions summed in another order
# differ by about 1e-6; a wrong export differs by far more.
MAX_OUTPUT_DIFFERENCE = 1e-4
OPSET = 18


def _networks() -> dict[str, torch.nn.Module]:
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    return {"face_pnet": PNet().eval(), "face_rnet": RNet().eval(), "face_onet": ONet().eval()}


def _export_one(role: str, network: torch.nn.Module, path: Path) -> None:
    """One network to `path` (through a temporary file renamed into place)."""
    if role == "face_pnet":
        example = torch.zeros(1, 3, 64, 48)
        # PNet is fully convolutional: MTCNN runs it once per pyramid level, on any size >= 12.
        dynamic = {"x": {2: torch.export.Dim("height", min=12, max=8192),
                         3: torch.export.Dim("width", min=12, max=8192)}}
        outputs = PNET_OUTPUTS
    else:
        side = RNET_INPUT if role == "face_rnet" else ONET_INPUT
        example = torch.zeros(2, 3, side, side)
        dynamic = {"x": {0: torch.export.Dim("batch", min=1, max=4096)}}
        outputs = RNET_OUTPUTS if role == "face_rnet" else ONET_OUTPUTS
    tmp = path.with_suffix(".onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(
            network, (example,), str(tmp), input_names=[INPUT_NAME], output_names=list(outputs),
            opset_version=OPSET, dynamo=True, dynamic_shapes=dynamic, external_data=False,
        )
    tmp.replace(path)


def _check_one(role: str, network: torch.nn.Module, path: Path, rng: np.random.Generator) -> float:
    """Largest output difference between the ONNX file and the network on random inputs (in
    MTCNN's input range, -1 to 1); raises ValueError naming the output when it is too large."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    if role == "face_pnet":
        shapes = [(1, 3, 12, 12), (1, 3, 37, 53), (1, 3, 211, 150)]
    else:
        side = RNET_INPUT if role == "face_rnet" else ONET_INPUT
        shapes = [(1, 3, side, side), (7, 3, side, side)]
    worst = 0.0
    for shape in shapes:
        x = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        with torch.no_grad():
            expected = [t.numpy() for t in network(torch.from_numpy(x))]
        got = session.run(None, {INPUT_NAME: x})
        for name, want, have in zip(names, expected, got):
            difference = largest_difference(want, have, f"{path.name}: output {name!r} for input {shape}")
            if difference > MAX_OUTPUT_DIFFERENCE:
                raise ValueError(f"{path.name}: output {name!r} differs from PyTorch by {difference:.3g} "
                                 f"(over {MAX_OUTPUT_DIFFERENCE}) for input {shape}")
            worst = max(worst, difference)
    return worst


def export_face_detector(weights_dir: Path, seed: int = 0) -> dict[str, dict]:
    """Export and check the three networks; returns their manifest entries (with SHA-256)."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    release = package_version("facenet-pytorch")
    entries: dict[str, dict] = {}
    for role, network in _networks().items():
        path = weights_dir / ROLE_FILES[role]
        _export_one(role, network, path)
        difference = _check_one(role, network, path, rng)
        entries[role] = {
            "name": f"mtcnn-{role.removeprefix('face_')}",
            "file": path.name,
            "version": f"facenet-pytorch-{release}",
            "metrics": {"onnx_max_abs_difference": float(f"{difference:.3g}")},
            "sha256": sha256_of(path),
        }
    return entries


def add_to_manifest(weights_dir: Path, entries: dict[str, dict]) -> Path:
    """Add or replace `entries` in the folder's manifest, keeping every other model's entry."""
    path = weights_dir / MANIFEST_NAME
    manifest = json.loads(path.read_text()) if path.is_file() else {"format": 1, "models": {}}
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), dict):
        raise WeightsError(f"{path} has no 'models' object to add the face detector to")
    manifest["models"].update(entries)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    args = parser.parse_args(argv)
    entries = export_face_detector(args.weights)
    add_to_manifest(args.weights, entries)
    print(json.dumps(entries, indent=2))


if __name__ == "__main__":
    main()
