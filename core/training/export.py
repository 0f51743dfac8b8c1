"""Write a trained segmenter and grader into a weights folder (safetensors + config + ONNX graph,
grader JSON) and the folder's manifest.

    python -m core.training.export [--weights weights]

exports the ONNX graph of a folder's installed segmenter (checked against PyTorch) and adds it
to the folder's manifest, keeping every other entry.
"""
from __future__ import annotations

import argparse
import copy
import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from core.manifest import DEFAULT_WEIGHTS_DIR, MANIFEST_NAME, ROLES, folder_sha256, sha256_of
from core.segmentation import SegmenterConfig, TorchEngine

SEGMENTER_FILE = "segmenter.safetensors"
SEGMENTER_CONFIG = "segmenter.json"
SEGMENTER_ONNX = "segmenter.onnx"
GRADER_FILE = "grader.json"

# Both exporters give the same graph to within 3e-5 in the logits. TorchScript goes first: it
# exports in about 5 s on 2 cores where the dynamo exporter takes 60-70 s (torch 2.14.1);
# dynamo is the fallback for a torch without the legacy exporter.
EXPORTERS: tuple[str, ...] = ("torchscript", "dynamo")
OPSETS = {"torchscript": 17, "dynamo": 18}  # onnxruntime 1.32 runs both
INPUT_NAME, OUTPUT_NAME = "image", "logits"
# Largest |ONNX - PyTorch| accepted on any probability: float32 convolutions summed in another
# order differ by about 1e-5; a wrong export differs by far more.
MAX_PROBABILITY_DIFFERENCE = 1e-4
# (height, width, flip_tta) of the check images: noise of an odd size (padding), and a real face
# at working-image sizes, once with mirror averaging (a batch of two).
CHECK_IMAGES: tuple[tuple[int, int, bool], ...] = ((50, 77, False), (448, 448, True), (640, 520, False))


class OnnxExportError(RuntimeError):
    """No exporter could write the segmenter as an ONNX graph."""


def _export_graph(model: torch.nn.Module, path: Path, exporter: str) -> None:
    example = torch.zeros(2, 3, 64, 96)
    if exporter == "torchscript":
        with warnings.catch_warnings():
            # The legacy exporter is chosen on purpose (see EXPORTERS); its notice is noise.
            warnings.simplefilter("ignore", DeprecationWarning)
            # No constant folding: batch norms stay apart from the convolutions so the weights
            # keep their float16-exact values (see _store_exact_weights_as_float16);
            # onnxruntime fuses them when it loads the graph.
            torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=OPSETS[exporter],
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              do_constant_folding=False,
                              dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                                            OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}})
    elif exporter == "dynamo":
        dim = torch.export.Dim
        # Height and width are multiples of 32 (network_input pads them).
        shapes = ({0: dim("batch", min=1, max=64), 2: 32 * dim("h32", min=1, max=256),
                   3: 32 * dim("w32", min=1, max=256)},)
        torch.onnx.export(model, (example,), str(path), dynamo=True, opset_version=OPSETS[exporter],
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_shapes=shapes, external_data=False, verbose=False)
    else:
        raise ValueError(f"unknown ONNX exporter {exporter!r}; valid: {', '.join(EXPORTERS)}")


def _store_exact_weights_as_float16(path: Path) -> int:
    """Store each float32 weight whose values are all float16 numbers (the shipped weights are
    saved as float16) as float16 followed by a Cast to float32: the graph computes in float32
    with bit-identical weights, and the file is half the size. onnxruntime folds the casts when
    it loads the graph (measured: same speed). Returns how many weights were stored so."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph_model = onnx.load(str(path))
    graph = graph_model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        halved = values.astype(np.float16)
        if values.size < 16 or not np.array_equal(halved.astype(np.float32), values):
            continue
        graph.initializer.remove(init)
        graph.initializer.append(numpy_helper.from_array(halved, f"{init.name}.float16"))
        casts.append(helper.make_node("Cast", [f"{init.name}.float16"], [init.name],
                                      to=TensorProto.FLOAT, name=f"{init.name}.cast"))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)  # the casts come first: nodes must be in topological order
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, str(path))
    return len(casts)


def largest_difference(pytorch: np.ndarray, onnx: np.ndarray, what: str) -> float:
    """The largest absolute difference between PyTorch's and ONNX Runtime's output `what`;
    a different shape raises ValueError naming both."""
    if pytorch.shape != onnx.shape:
        raise ValueError(f"{what} has shape {onnx.shape} in ONNX Runtime, {pytorch.shape} in PyTorch")
    return float(np.abs(pytorch - onnx).max())


def check_onnx(model: torch.nn.Module, config: SegmenterConfig, path: Path,
               images: tuple[tuple[int, int, bool], ...] = CHECK_IMAGES) -> float:
    """Largest |ONNX - PyTorch| over every probability map on `images` (height, width,
    flip_tta; random noise, and a real face from scikit-image at 448 px and more); raises
    ValueError naming it when it exceeds MAX_PROBABILITY_DIFFERENCE."""
    import cv2
    from skimage import data

    from core.onnx_engine import OnnxEngine

    onnx_engine, torch_engine = OnnxEngine(path), TorchEngine(model)
    rng = np.random.default_rng(0)
    worst = 0.0
    for height, width, flip_tta in images:
        if min(height, width) >= 448:  # a real photo of a face: probabilities that mean something
            image = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_AREA)
        else:
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        cfg = replace(config, flip_tta=flip_tta)
        want, got = torch_engine.predict(image, cfg), onnx_engine.predict(image, cfg)
        for name in ("lesion", "centre", "kind"):
            difference = largest_difference(getattr(want, name), getattr(got, name),
                                            f"{path.name}: the {name} map for a {height}x{width} image")
            if difference > MAX_PROBABILITY_DIFFERENCE:
                raise ValueError(f"{path.name}: {name} probabilities differ from PyTorch's by "
                                 f"{difference:.2e} on a {height}x{width} image (flip_tta="
                                 f"{flip_tta}); at most {MAX_PROBABILITY_DIFFERENCE:g} is accepted")
            worst = max(worst, difference)
    return worst


def export_onnx(model: torch.nn.Module, config: SegmenterConfig, path: Path,
                exporter: str = EXPORTERS[0],
                check_images: tuple[tuple[int, int, bool], ...] = CHECK_IMAGES) -> dict:
    """Write `model` (float32, on the CPU) as an ONNX graph of any batch, height and width to
    `path` through a temporary file, checked by `check_onnx` before it is renamed into place.
    Tries `exporter` first, then the other one. Returns what was done: exporter, opset,
    float16-stored weights, largest probability difference."""
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown ONNX exporter {exporter!r}; valid: {', '.join(EXPORTERS)}")
    model = copy.deepcopy(model).float().cpu().eval()
    tmp = path.with_name(path.name + ".tmp")
    failures = []
    for name in (exporter, *[e for e in EXPORTERS if e != exporter]):
        try:
            with torch.no_grad():
                _export_graph(model, tmp, name)
            break
        except Exception as exc:  # noqa: BLE001 - each exporter fails in its own way; try the next
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    else:
        raise OnnxExportError("no exporter could write the segmenter: " + "; ".join(failures))
    try:
        halved = _store_exact_weights_as_float16(tmp)
        difference = check_onnx(model, config, tmp, check_images)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return {"exporter": name, "opset": OPSETS[name], "float16_weights": halved,
            "max_probability_difference": difference}


def save_segmenter(model: torch.nn.Module, config: SegmenterConfig, weights_dir: Path,
                   half: bool = True, onnx: bool = True,
                   check_images: tuple[tuple[int, int, bool], ...] = CHECK_IMAGES) -> dict:
    """Save weights (float16 halves the file; inference casts back to float32), config and,
    with `onnx`, the ONNX graph of the weights as saved (checked against PyTorch on
    `check_images`), each through a temporary file renamed into place. Returns the manifest
    entry."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
             for k, v in model.state_dict().items()}
    entry = {"name": f"unet-{config.encoder}", "file": SEGMENTER_FILE, "config": SEGMENTER_CONFIG}
    onnx_path = weights_dir / SEGMENTER_ONNX
    if onnx:
        # The graph of the weights as they load back (float16 rounded): both engines then run
        # the same numbers.
        saved = copy.deepcopy(model).float().cpu().eval()
        saved.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        export_onnx(saved, config, onnx_path, check_images=check_images)
        entry["onnx"] = SEGMENTER_ONNX
    else:
        onnx_path.unlink(missing_ok=True)  # a graph of earlier weights must not stay beside these
    tmp = weights_dir / (SEGMENTER_FILE + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(weights_dir / SEGMENTER_FILE)
    cfg_tmp = weights_dir / (SEGMENTER_CONFIG + ".tmp")
    cfg_tmp.write_text(config.to_json())
    cfg_tmp.replace(weights_dir / SEGMENTER_CONFIG)
    return entry


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
        elif target.is_dir():  # a Hugging Face model folder
            item["sha256"] = folder_sha256(target)
        if item.get("onnx"):
            item["onnx_sha256"] = sha256_of(weights_dir / item["onnx"])
        if item.get("config"):  # every file a model reads has its checksum (core.manifest)
            item["config_sha256"] = sha256_of(weights_dir / item["config"])
    path = weights_dir / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"format": 1, "models": models}, indent=2) + "\n")
    tmp.replace(path)
    return path


def add_onnx_to_installed(weights_dir: Path, exporter: str = EXPORTERS[0]) -> dict:
    """Export the ONNX graph of `weights_dir`'s installed segmenter beside its weights and list
    it, with its checksum, in the segmenter's manifest entry; every other entry and field is
    kept as it is (the manifest is re-read just before it is written). Returns `export_onnx`'s
    record."""
    from core.pipeline import load_segmenter

    engine, config, _ = load_segmenter(weights_dir, engine="torch")
    record = export_onnx(engine.model, config, weights_dir / SEGMENTER_ONNX, exporter)
    path = weights_dir / MANIFEST_NAME
    raw = json.loads(path.read_text())
    raw["models"]["segmenter"].update(onnx=SEGMENTER_ONNX,
                                      onnx_sha256=sha256_of(weights_dir / SEGMENTER_ONNX))
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(raw, indent=2) + "\n")
    tmp.replace(path)
    return record


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m core.training.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    p.add_argument("--exporter", choices=EXPORTERS, default=EXPORTERS[0])
    args = p.parse_args(argv)
    record = add_onnx_to_installed(args.weights, args.exporter)
    print(json.dumps({"weights": str(args.weights), "onnx": SEGMENTER_ONNX, **record}))


if __name__ == "__main__":
    main()
