"""The segmenter on ONNX Runtime: exported from the tiny PyTorch model, the same maps as PyTorch,
checked against the manifest like every weight file, chosen by the `engine` argument (the
app's ACNE_ENGINE setting), and free of torch."""
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from core.errors import WeightsError
from core.lesions import lesions_from_maps
from core.onnx_engine import OnnxEngine, default_threads
from core.pipeline import Analyzer, load_analyzer, load_segmenter
from tests.model_factory import TINY_VERSION, build_tiny_weights

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return build_tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def engines(weights):
    onnx, config, onnx_version = load_segmenter(weights, engine="onnx")
    torch_engine, _, torch_version = load_segmenter(weights, engine="torch")
    assert onnx_version == torch_version == TINY_VERSION  # the same weights, the same version
    return onnx, torch_engine, config


def test_the_manifest_lists_the_onnx_graph_with_its_checksum(weights):
    entry = json.loads((weights / "manifest.json").read_text())["models"]["segmenter"]
    assert entry["onnx"] == "segmenter.onnx" and len(entry["onnx_sha256"]) == 64


@pytest.mark.parametrize("flip_tta", [False, True])
def test_onnx_and_pytorch_give_the_same_maps(engines, flip_tta):
    onnx, torch_engine, config = engines
    config = replace(config, flip_tta=flip_tta)
    rng = np.random.default_rng(1)
    for image in (rng.integers(0, 256, (70, 101, 3), dtype=np.uint8), data.astronaut()[100:292, 150:342]):
        ours, theirs = onnx.predict(image, config), torch_engine.predict(image, config)
        for name in ("lesion", "centre", "kind"):
            a, b = getattr(ours, name), getattr(theirs, name)
            assert a.shape == b.shape and a.dtype == np.float32
            assert np.abs(a - b).max() < 1e-4, name
        assert len(lesions_from_maps(ours, config)[0]) == len(lesions_from_maps(theirs, config)[0])


def test_analyses_by_either_engine_agree(weights):
    by_onnx = load_analyzer(weights)
    by_torch = load_analyzer(weights, engine="torch")
    assert (by_onnx.engine, by_torch.engine) == ("onnx", "torch")
    assert by_onnx.model_version == by_torch.model_version
    a, b = by_onnx.analyze(data.astronaut()), by_torch.analyze(data.astronaut())
    assert a.counts == b.counts


def test_a_changed_onnx_file_is_refused_whichever_engine_runs(tmp_path):
    weights = build_tiny_weights(tmp_path / "w")
    graph = weights / "segmenter.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")
    for engine in ("onnx", "torch"):
        with pytest.raises(WeightsError, match="segmenter.onnx is corrupt"):
            load_analyzer(weights, engine=engine)
    graph.unlink()
    with pytest.raises(WeightsError, match="segmenter.onnx named in the manifest is missing"):
        load_analyzer(weights)


def test_engine_is_checked_and_falls_back_without_a_graph(tmp_path):
    no_graph = build_tiny_weights(tmp_path / "w", onnx=False)
    assert not (no_graph / "segmenter.onnx").exists()
    assert load_analyzer(no_graph).engine == "torch"  # auto: PyTorch when no graph is listed
    with pytest.raises(WeightsError, match="lists no ONNX graph"):
        load_analyzer(no_graph, engine="onnx")
    with pytest.raises(ValueError, match=r"engine='tensorrt'.*auto, onnx, torch"):
        load_analyzer(no_graph, engine="tensorrt")
    with pytest.raises(ValueError, match=r"engine='cuda'"):
        load_segmenter(no_graph, engine="cuda")


def test_the_export_check_names_a_difference_from_pytorch(weights, engines):
    import torch

    from core.segmentation import build_model
    from core.training.export import check_onnx

    _, _, config = engines
    torch.manual_seed(5)
    other = build_model(config).eval()  # another network: its maps differ from the graph's
    named = r"probabilities differ from PyTorch's by \d\.\d+e[-+]\d+ on a 50x77"
    with pytest.raises(ValueError, match=named):
        check_onnx(other, config, weights / "segmenter.onnx", images=((50, 77, False),))


def test_threads_follow_the_caller_then_omp_num_threads(weights, monkeypatch):
    assert OnnxEngine(weights / "segmenter.onnx", threads=2).threads == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() == 0  # onnxruntime's default: one per physical core, as PyTorch
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS='many'"):
        default_threads()


def test_an_analyzer_needs_an_engine_not_a_bare_model(engines):
    _, torch_engine, config = engines
    with pytest.raises(ValueError, match="TorchEngine"):
        Analyzer(torch_engine.model, config, grader=None, model_version="x")


def test_segmenting_with_onnx_never_imports_torch(weights):
    script = (
        "import sys, numpy as np\n"
        "import core.segmentation, core.lesions\n"
        "from core.onnx_engine import OnnxEngine\n"
        "from core.segmentation import SegmenterConfig\n"
        f"maps = OnnxEngine({str(weights / 'segmenter.onnx')!r}).predict("
        "np.zeros((40, 50, 3), np.uint8), SegmenterConfig(decoder_channels=(16, 8, 8, 8, 8)))\n"
        "assert maps.lesion.shape == (40, 50)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm', "
        "'segmentation_models_pytorch')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_idle_inference_threads_sleep_by_default():
    """Spinning pool threads cost a quarter more CPU on this 2-core machine and slowed a 12 MP
    analysis (issue 27); a batch import or a second clinician needs that CPU."""
    from core.onnx_engine import session_options

    assert session_options(2).get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(Exception, match="allow_spinning"):  # spinning: ONNX Runtime's default
        session_options(2, spin=True).get_session_config_entry("session.intra_op.allow_spinning")
