"""Training entry point on a tiny synthetic ACNE04-shaped folder: reading, targets, resume."""
import csv
import json

import cv2
import numpy as np
import pytest
import torch

from core.training.data import SegmentationDataset, read_boxes, read_split, render_targets
from core.training import train_segmenter

VOC = """<annotation><size><width>{w}</width><height>{h}</height></size>{objects}</annotation>"""
OBJ = ("<object><name>{name}</name><bndbox><xmin>{x0}</xmin><xmax>{x1}</xmax>"
       "<ymin>{y0}</ymin><ymax>{y1}</ymax></bndbox></object>")
NAMES = ("papules", "pustules", "whitehead and blackhead", "nodules and cysts")


def make_dataset(root, n_per_split=3, size=96, train_copies=1):
    """ACNE04's layout; like the export, train may hold several augmented copies of each photo."""
    rng = np.random.default_rng(0)
    rows = []
    for split in ("train", "valid", "test"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels_voc" / split).mkdir(parents=True)
        copies = train_copies if split == "train" else 1
        for i in range(n_per_split * copies):
            i, copy = divmod(i, copies)
            name = f"levle{i % 4}_{i}_jpg.rf.{split}{i}c{copy}"
            image = np.full((size, size, 3), (200, 160, 140), np.uint8)
            objects = []
            for j in range(3):
                cx, cy = (int(v) for v in rng.integers(15, size - 15, 2))
                cv2.circle(image, (cx, cy), 6, (150, 40, 40), -1)
                objects.append(OBJ.format(name=NAMES[j], x0=cx - 7, x1=cx + 7, y0=cy - 7, y1=cy + 7))
            cv2.imwrite(str(root / "images" / split / f"{name}.jpg"), image[:, :, ::-1])
            (root / "labels_voc" / split / f"{name}.xml").write_text(
                VOC.format(w=size, h=size, objects="".join(objects)))
            rows.append({"split": split, "image": f"{name}.jpg", "acne04_source_image": f"{i}.jpg",
                         "acne04_grade_from_filename": i % 4})
    with (root / "index.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_boxes_are_read_by_tag_name_not_position(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(VOC.format(w=64, h=64, objects=OBJ.format(name="papules", x0=10, x1=30, y0=5, y1=15)))
    (lesion,) = read_boxes(xml)
    assert lesion.bbox == (10, 5, 30, 15) and lesion.kind == "papule"


def test_unknown_class_is_refused(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(VOC.format(w=64, h=64, objects=OBJ.format(name="freckle", x0=1, x1=2, y0=1, y1=2)))
    with pytest.raises(ValueError, match="freckle"):
        read_boxes(xml)


def test_targets_are_ellipses_of_the_kind_with_a_centre_peak():
    from core.training.data import TrueLesion

    kind_map, heat = render_targets((64, 64), (TrueLesion((10, 10, 30, 20), "pustule"),))
    assert kind_map[15, 20] == 3  # pustule = index 2, stored as 3
    assert kind_map[10, 10] == 0  # box corner lies outside the ellipse
    assert heat[15, 20] == pytest.approx(1.0) and heat[15, 20] == heat.max()


def test_augmentations_follow_the_seed(tmp_path):
    samples = read_split(make_dataset(tmp_path / "acne"), "train")

    def first_crop(seed):
        return SegmentationDataset(samples, 64, (0.5,) * 3, (0.25,) * 3, seed=seed)[0][0]

    assert torch.equal(first_crop(3), first_crop(3))
    assert not torch.equal(first_crop(3), first_crop(4))
    reseeded = SegmentationDataset(samples, 64, (0.5,) * 3, (0.25,) * 3, seed=4)
    reseeded.reseed(3)
    assert torch.equal(reseeded[0][0], first_crop(3))


def test_unknown_split_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="valid"):
        read_split(tmp_path, "holdout")


@pytest.mark.slow
def test_training_writes_a_run_folder_and_resumes(tmp_path):
    data = make_dataset(tmp_path / "acne")
    run = tmp_path / "run"
    args = ["--data", str(data), "--run", str(run), "--steps-per-epoch", "2", "--batch", "2",
            "--crop", "64", "--scale", "1.0", "--val-images", "2", "--threads", "1"]
    train_segmenter.main(args + ["--epochs", "1"])
    for name in ("args.json", "config.json", "summary.csv", "last.pt", "best.pt", "train.log"):
        assert (run / name).is_file(), name
    assert json.loads((run / "args.json").read_text())["steps_per_epoch"] == 2
    # Trained at scale 1.0, the model must be fed faces at their full training width.
    config = json.loads((run / "config.json").read_text())
    assert (config["work_scale"], config["face_width_px"], config["train_image_side"]) == (1.0, 456.0, 640)
    train_segmenter.main(args + ["--epochs", "2", "--workers", "1"])  # continues after epoch 0
    with (run / "summary.csv").open() as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == [0, 1]
    assert "resumed after epoch 0" in (run / "train.log").read_text()


def test_epochs_that_fit_the_time_budget():
    # 2 epochs took 60 s: a 2-minute budget fits 4 epochs in all, of 10 planned.
    assert train_segmenter.epochs_that_fit(2.0, 60.0, 2, 0, 10) == 4
    # After a resume at epoch 5, the budget counts from this invocation's start.
    assert train_segmenter.epochs_that_fit(2.0, 60.0, 2, 5, 10) == 9
    assert train_segmenter.epochs_that_fit(100.0, 60.0, 2, 0, 10) == 10  # never more than planned
    assert train_segmenter.epochs_that_fit(0.1, 60.0, 2, 0, 10) == 2  # never fewer than done


def test_a_time_budget_shortens_the_plan_and_a_resume_keeps_it(tmp_path):
    data = make_dataset(tmp_path / "acne")
    run = tmp_path / "run"
    args = ["--data", str(data), "--run", str(run), "--steps-per-epoch", "1", "--batch", "2", "--crop", "64",
            "--scale", "1.0", "--val-images", "1", "--threads", "1", "--epochs", "5", "--minutes", "0.0001"]
    train_segmenter.main(args)
    log = (run / "train.log").read_text()
    assert "time budget: 1 epochs instead of 5" in log
    state = torch.load(run / "last.pt", weights_only=False)
    assert (state["epoch"], state["planned_epochs"]) == (0, 1)
    # The schedule was rebuilt for 1 epoch of 1 step, so it ended at its last step.
    train_segmenter.main(args)
    with (run / "summary.csv").open() as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0]


def test_fine_tuning_starts_from_a_weights_folder_or_a_checkpoint(tmp_path):
    from core.segmentation import SegmenterConfig, build_model
    from core.training.checkpoint import save_atomic
    from core.training.export import save_segmenter, write_manifest

    torch.manual_seed(3)
    model = build_model(SegmenterConfig(decoder_channels=(16, 8, 8, 8, 8)))
    folder = tmp_path / "weights"
    write_manifest(folder, {"segmenter": {**save_segmenter(model, SegmenterConfig(
        decoder_channels=(16, 8, 8, 8, 8)), folder), "version": "t"}})
    from_folder = train_segmenter.init_weights(folder)
    # Shipped weights are float16 on disk: the same tensors to that precision.
    for name, tensor in model.state_dict().items():
        assert torch.allclose(from_folder[name].float(), tensor.float(), atol=1e-2), name
    save_atomic({"model": model.state_dict()}, tmp_path / "last.pt")
    assert train_segmenter.init_weights(tmp_path / "last.pt").keys() == model.state_dict().keys()
    with pytest.raises(FileNotFoundError, match="no such checkpoint file or weights folder"):
        train_segmenter.init_weights(tmp_path / "missing.pt")
