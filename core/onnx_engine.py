"""The lesion segmenter run by ONNX Runtime on the CPU: no torch import at analysis time.

`core.training.export.export_onnx` writes `segmenter.onnx` from the PyTorch model (any batch,
height and width) and checks it against PyTorch; this engine feeds it the same normalised,
padded batch as `core.segmentation.predict_maps` and turns its logits into the same
`LesionMaps` (the pre- and post-processing are shared: `network_input`, `maps_from_logits`).
Measured faster than PyTorch on 2 CPU threads (benchmarks/bench_engine.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.errors import WeightsError
from core.segmentation import (
    LesionMaps,
    SegmenterConfig,
    maps_from_logits,
    network_input,
)

THREADS_ENV = "OMP_NUM_THREADS"


def default_threads() -> int:
    """The intra-op threads PyTorch would use: OMP_NUM_THREADS when set, else 0, which is
    ONNX Runtime's default of one thread per physical core (PyTorch's default too)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return 0
    first = raw.split(",")[0].strip()  # OpenMP allows a list per nesting level; the first counts
    if not first.isdigit() or int(first) < 1:
        raise ValueError(f"{THREADS_ENV}={raw!r} is not a positive whole number of threads")
    return int(first)


def session_options(threads: int | None = None, spin: bool = False):  # -> onnxruntime.SessionOptions
    """Session options for one CPU inference at a time on `threads` intra-op threads
    (None: `default_threads()`). Idle pool threads sleep rather than spin (`spin=True` lets them
    spin): on this 2-core machine spinning made a 12 MP analysis slower (0.25 vs 0.22 s median)
    and cost a quarter more CPU (0.38 vs 0.28 s), which a batch import or a second user needs."""
    import onnxruntime as ort

    threads = default_threads() if threads is None else threads
    if threads < 0:
        raise ValueError(f"threads {threads} must be 0 (one per physical core) or more")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # One graph runs at a time (the UNet is one chain of layers): inter-op threads would only
    # compete with the intra-op ones for the same cores.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # no warnings about unused initialisers on every load
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def cpu_session(path: Path, options, model: bytes | None = None):  # noqa: ANN001, ANN201 - onnxruntime types
    """An ONNX Runtime session on the CPU of `model` (the graph's bytes, already checked against
    the manifest: the bytes checked are the bytes run) or, without it, of the file `path`; a
    WeightsError sentence naming the file when it cannot be loaded (never ONNX Runtime's own
    message)."""
    import onnxruntime as ort

    try:
        source = model if model is not None else str(path)
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for damaged files
        raise WeightsError(f"The model file {path} cannot be loaded by ONNX Runtime: it is damaged "
                           "or not an ONNX graph.") from exc


class OnnxEngine:
    """A `SegmenterEngine` over an ONNX file. Thread-safe: ONNX Runtime sessions may be run
    from several threads at once (the folder import does)."""

    name = "onnx"

    def __init__(self, path: Path | str, threads: int | None = None, model: bytes | None = None) -> None:
        """`model`: the graph's bytes as checked against the manifest (`core.manifest.
        verified_bytes`); without it the file `path` is read."""
        self.path = Path(path)
        options = session_options(threads)
        self.threads = options.intra_op_num_threads
        self.session = cpu_session(self.path, options, model)
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            shapes = [i.shape for i in inputs]
            raise WeightsError(f"ONNX file {self.path} takes inputs {shapes}; a segmenter takes "
                               "one N x 3 x H x W image batch")
        self._input = inputs[0].name

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """The network's raw N x C x H x W output for a normalised float32 batch."""
        return self.session.run(None, {self._input: batch})[0]

    def predict(self, image: np.ndarray, config: SegmenterConfig) -> LesionMaps:
        """Maps of an RGB uint8 image of any size, as `core.segmentation.predict_maps` gives."""
        batch, h, w = network_input(image, config)
        return maps_from_logits(self.logits(batch), h, w, config.flip_tta)
