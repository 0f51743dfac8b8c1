"""Which engine runs the lesion segmenter fastest on the CPU (not a timed test).

    python -m benchmarks.bench_engine [--weights weights] [--sizes 448x448,640x640] [--repeats 15]

Times the segmenter's whole `predict` (shared pre-processing, the network, shared
post-processing) on a working image of a real face (scikit-image's public-domain astronaut,
resized) for: PyTorch eager, eager channels-last, TorchScript (torch.jit.trace + freeze),
torch.compile (inductor; skipped with the reason when it fails or exceeds --compile-budget),
ONNX Runtime float32 (the shipped graph) and ONNX Runtime int8 (dynamic and static
quantisation, a measurement only: int8 does not ship unless measured on valid). 2 threads for
every engine. The machine is shared, so the engines run interleaved, in a new order each round,
and the load average is printed before and after. Also reports each engine's largest
probability difference from eager PyTorch. Prints one JSON object (and writes it with
--output).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from benchmarks.run import machine

Run = Callable[[np.ndarray], np.ndarray]  # normalised N x 3 x H x W batch -> logits


class BudgetExceeded(Exception):
    """torch.compile ran past its time budget."""


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"size {text!r} must look like 448x448 (width x height)")
    return int(width), int(height)


def torch_runs(model, batches: dict, compile_budget: float | None, notes: dict) -> dict[str, Run]:
    """PyTorch variants, each a function of a batch; a variant that fails is left out with its
    reason in `notes`."""
    import copy

    import torch

    def plain(m, channels_last: bool = False) -> Run:
        def run(batch: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(batch)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                return m(x).numpy()
        return run

    runs = {"torch_eager": plain(model)}
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    runs["torch_channels_last"] = plain(cl, channels_last=True)
    try:  # one trace per size: a trace may bake in the shapes it saw
        traced = {}
        for key, batch in batches.items():
            with torch.no_grad():
                traced[key] = torch.jit.freeze(torch.jit.trace(model, torch.from_numpy(batch)).eval())
        runs["torchscript"] = lambda batch: plain(traced[batch.shape])(batch)
    except Exception as exc:  # noqa: BLE001 - record why, measure the rest
        notes["torchscript"] = f"failed: {type(exc).__name__}: {exc}"[:300]
    if compile_budget is None:
        notes["torch_compile"] = "skipped (--quick or --no-compile)"
        return runs
    compiled = torch.compile(copy.deepcopy(model), dynamic=False)

    def on_alarm(signum: int, frame: object) -> None:
        raise BudgetExceeded

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(compile_budget)))
    started = time.perf_counter()
    try:
        for batch in batches.values():  # compiles once per shape
            plain(compiled)(batch)
        notes["torch_compile_s"] = round(time.perf_counter() - started, 1)
        runs["torch_compile"] = plain(compiled)
    except BudgetExceeded:
        notes["torch_compile"] = f"skipped: compiling took over {compile_budget:.0f} s on this machine"
    except Exception as exc:  # noqa: BLE001
        notes["torch_compile"] = f"failed: {type(exc).__name__}: {exc}"[:300]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return runs


def calibration_batches(config, data_dir: Path, n: int) -> tuple[list[np.ndarray], str]:
    """Normalised batches for static int8 calibration: ACNE04 train photos at the working scale
    when the data is there, else crops of the astronaut."""
    from core.segmentation import network_input

    cfg = replace(config, flip_tta=False)
    if (data_dir / "index.csv").is_file():
        from core.training.data import read_rgb, read_split

        samples = read_split(data_dir, "train")[:: max(1, len(read_split(data_dir, "train")) // n)][:n]
        images = [cv2.resize(read_rgb(s.image_path), None, fx=config.work_scale, fy=config.work_scale,
                             interpolation=cv2.INTER_AREA) for s in samples]
        source = f"{len(images)} ACNE04 train photos at work scale {config.work_scale}"
    else:
        base = data.astronaut()
        images = [base[y:y + 256, x:x + 256] for y, x in ((0, 0), (100, 150), (256, 256))][:n]
        source = f"{len(images)} astronaut crops (no ACNE04 at {data_dir})"
    return [network_input(image, cfg)[0] for image in images], source


def onnx_runs(graph: Path, config, threads: int, int8: bool, data_dir: Path, calib_n: int,
              notes: dict) -> dict[str, Run]:
    """ONNX Runtime float32 and, with `int8`, dynamically and statically quantised copies."""
    from core.onnx_engine import OnnxEngine

    runs = {"onnx_float32": OnnxEngine(graph, threads).logits}
    if not int8:
        notes["onnx_int8"] = "skipped (--quick or --no-int8)"
        return runs
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    folder = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    # Pre-processing folds the float16 -> float32 casts and the batch norms into plain float32
    # convolution weights, which the quantisers need.
    pre = folder / "pre.onnx"
    quant_pre_process(str(graph), str(pre), skip_symbolic_shape=True)
    try:
        quantize_dynamic(str(pre), str(folder / "dynamic.onnx"), weight_type=QuantType.QInt8)
        runs["onnx_int8_dynamic"] = OnnxEngine(folder / "dynamic.onnx", threads).logits
    except Exception as exc:  # noqa: BLE001
        notes["onnx_int8_dynamic"] = f"failed: {type(exc).__name__}: {exc}"[:300]
    batches, source = calibration_batches(config, data_dir, calib_n)
    notes["onnx_int8_static_calibration"] = source

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"image": b} for b in batches])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    try:
        quantize_static(str(pre), str(folder / "static.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        runs["onnx_int8_static"] = OnnxEngine(folder / "static.onnx", threads).logits
    except Exception as exc:  # noqa: BLE001
        notes["onnx_int8_static"] = f"failed: {type(exc).__name__}: {exc}"[:300]
    return runs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("weights"))
    p.add_argument("--sizes", default="448x448,640x640", help="working image sizes, width x height")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compile-budget", type=float, default=900.0, help="seconds for torch.compile")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--calibration-photos", type=int, default=32)
    p.add_argument("--data", type=Path, default=Path("../shared/data/acne04"))
    p.add_argument("--quick", action="store_true", help="one tiny size, no compile, no int8")
    p.add_argument("--output", type=Path)
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.no_compile, args.no_int8 = "96x64", True, True
        args.repeats = min(args.repeats, 2)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()

    import onnxruntime
    import torch

    torch.set_num_threads(args.threads)
    from core.manifest import read_manifest, verified_onnx
    from core.pipeline import load_segmenter
    from core.segmentation import maps_from_logits, network_input
    from core.training.export import export_onnx

    torch_engine, config, version = load_segmenter(args.weights, engine="torch", threads=args.threads)
    config = replace(config, flip_tta=False, colour_constancy="none")
    model = torch_engine.model
    graph = verified_onnx(read_manifest(args.weights)["segmenter"])
    notes: dict = {}
    if graph is None:  # no shipped graph: export one the way the weights would ship it
        graph = Path(tempfile.mkdtemp(prefix="bench-engine-")) / "segmenter.onnx"
        notes["onnx_graph"] = f"exported for this run: {export_onnx(model, config, graph)}"
    images = {size: cv2.resize(data.astronaut(), size, interpolation=cv2.INTER_AREA) for size in sizes}
    inputs = {size: network_input(image, config) for size, image in images.items()}
    batches = {inputs[s][0].shape: inputs[s][0] for s in sizes}
    runs = torch_runs(model, batches, None if args.no_compile else args.compile_budget, notes)
    runs.update(onnx_runs(graph, config, args.threads, not args.no_int8, args.data,
                          args.calibration_photos, notes))

    names = list(runs)
    result: dict = {"threads": args.threads, "model_version": version, "torch": torch.__version__,
                    "onnxruntime": onnxruntime.__version__, "machine": machine(), "repeats": args.repeats,
                    "load_average_before": [round(v, 2) for v in load_before], "notes": notes, "sizes": {}}
    for size in sizes:
        batch, h, w = inputs[size]
        reference = maps_from_logits(runs["torch_eager"](batch), h, w, False)
        timings: dict[str, list[float]] = {n: [] for n in names}
        agreement = {}
        for name in names:  # warm-up, and each engine's agreement with eager PyTorch
            maps = maps_from_logits(runs[name](batch), h, w, False)
            agreement[name] = round(max(float(np.abs(getattr(maps, k) - getattr(reference, k)).max())
                                        for k in ("lesion", "centre", "kind")), 7)
        for round_ in range(args.repeats):
            order = names[round_ % len(names):] + names[:round_ % len(names)]  # interleaved, rotated
            for name in order:
                started = time.perf_counter()
                batch_, h_, w_ = network_input(images[size], config)
                maps_from_logits(runs[name](batch_), h_, w_, False)
                timings[name].append(time.perf_counter() - started)
        eager = float(np.median(timings["torch_eager"]))
        result["sizes"][f"{size[0]}x{size[1]}"] = {
            name: {"median_ms": round(float(np.median(t)) * 1000, 1),
                   "p90_ms": round(float(np.percentile(t, 90)) * 1000, 1),
                   "speedup_vs_eager": round(eager / float(np.median(t)), 2),
                   "max_probability_difference_vs_eager": agreement[name]}
            for name, t in timings.items()
        }
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    text = json.dumps(result, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
