"""Extra data sets in ACNE04's layout: the clinic's research export and web_acne (untyped
`acne` boxes, optional grades, non-square photos, unlabelled photos), mixed into training and
scored by evaluate. Every photo here is synthetic."""
import csv
import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from core.training import evaluate, train_segmenter
from core.training.data import (
    UNTYPED,
    Sample,
    TrueLesion,
    extra_set_scales,
    image_size,
    labelled_only,
    read_boxes,
    read_split,
    render_targets,
)
from core.training.losses import segmenter_loss
from tests.core.training.test_training import OBJ, VOC, make_dataset

EXPORT_CLASSES = ("whitehead and blackhead", "papules", "pustules", "nodules and cysts", "acne")
EXPORT_COLUMNS = ("split", "image", "acne04_source_image", "acne04_grade_from_filename", "n_boxes",
                  "n_whitehead_and_blackhead", "n_papules", "n_pustules", "n_nodules_and_cysts", "n_acne")


def make_extra_dataset(root, layout="export", width=320, height=240, box=24):
    """A tiny set in the research export's layout (layout="export": typed and `acne` boxes,
    grades, some empty) or web_acne's (layout="web": `acne` boxes only, no grade column).

    Photos: train 3 (the last one with no box and no grade: not labelled), valid 2, test 3.
    Test photo 0 holds typed boxes only, photo 1 an `acne` box among typed ones, photo 2 only
    `acne` boxes; grades 2, empty, 1 (export)."""
    rng = np.random.default_rng(1)
    rows = []
    plan = {"train": [(1, 2), (2, None), (0, None)], "valid": [(1, 0), (1, 3)],
            "test": [(0, 2), (1, None), (2, 1)]}
    for split, photos in plan.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "labels_voc" / split).mkdir(parents=True)
        for i, (mix, grade) in enumerate(photos):
            untyped_only = layout == "web" or mix == 2
            names = (["acne"] * 3 if untyped_only else
                     list(EXPORT_CLASSES[:3]) + (["acne"] if mix == 1 else []))
            if split == "train" and i == 2:
                names, grade = [], None
            name = f"{split}-{i:03d}"
            image = np.full((height, width, 3), (205, 165, 145), np.uint8)
            objects = []
            for kind in names:
                cx = int(rng.integers(box, width - box))
                cy = int(rng.integers(box, height - box))
                cv2.circle(image, (cx, cy), box // 2 - 2, (160, 30, 30), -1)
                h = box // 2
                objects.append(OBJ.format(name=kind, x0=cx - h, x1=cx + h, y0=cy - h, y1=cy + h))
            cv2.imwrite(str(root / "images" / split / f"{name}.jpg"), image[:, :, ::-1])
            (root / "labels_voc" / split / f"{name}.xml").write_text(
                VOC.format(w=width, h=height, objects="".join(objects)))
            if layout == "web":
                rows.append({"split": split, "image": f"{name}.jpg", "source_image": f"web-{split}{i}",
                             "n_boxes": len(names)})
            else:
                counts = {f"n_{c.replace(' ', '_')}": names.count(c) for c in EXPORT_CLASSES}
                rows.append({"split": split, "image": f"{name}.jpg", "acne04_source_image": f"subject-{split}{i:03d}",
                             "acne04_grade_from_filename": "" if grade is None else grade,
                             "n_boxes": len(names), **counts})
    with (root / "index.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_acne_boxes_are_lesions_of_unknown_type(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(VOC.format(w=320, h=240, objects=OBJ.format(name="acne", x0=10, x1=30, y0=5, y1=15)
                              + OBJ.format(name="pustules", x0=50, x1=70, y0=50, y1=70)))
    untyped, pustule = read_boxes(xml)
    assert untyped == TrueLesion((10, 5, 30, 15), None) and pustule.kind == "pustule"
    kind_map, heat = render_targets((240, 320), (untyped, pustule))
    assert kind_map[10, 20] == UNTYPED and kind_map[60, 60] == 3
    assert heat[10, 20] == pytest.approx(1.0)  # its centre is trained like any lesion's


def test_the_export_layout_reads_optional_grades_subjects_and_sizes(tmp_path):
    data = make_extra_dataset(tmp_path / "export")
    test = read_split(data, "test")
    assert [s.grade for s in test] == [2, None, 1]
    assert [s.source_image for s in test] == ["subject-test000", "subject-test001", "subject-test002"]
    assert {s.size for s in test} == {(320, 240)}
    assert image_size(replace(test[0], size=None)) == (320, 240)  # no VOC size: the image header
    assert [s.types_known for s in test] == [True, False, False]
    assert [l.kind for l in test[1].lesions] == ["comedone", "papule", "pustule", None]


def test_web_layout_reads_source_image_and_an_empty_label_means_not_labelled(tmp_path):
    data = make_extra_dataset(tmp_path / "web", layout="web")
    train = read_split(data, "train")
    assert [s.source_image for s in train] == ["web-train0", "web-train1", "web-train2"]
    assert all(s.grade is None for s in train)
    assert all(l.kind is None for s in train for l in s.lesions)
    # No box and no grade: not "clear skin" but "not labelled", so left out.
    assert [s.labelled for s in train] == [True, True, False]
    assert labelled_only(train) == train[:2]
    # With a grade, an empty label file is a graded photo without lesions (as in ACNE04).
    acne04 = make_dataset(tmp_path / "acne")
    (acne04 / "labels_voc" / "test").joinpath(read_split(acne04, "test")[0].image_path.stem + ".xml").write_text(
        VOC.format(w=96, h=96, objects=""))
    first = read_split(acne04, "test")[0]
    assert first.lesions == () and first.labelled


def test_an_index_without_a_source_column_is_refused(tmp_path):
    (tmp_path / "index.csv").write_text("split,image,n_boxes\ntrain,a.jpg,0\n")
    with pytest.raises(ValueError, match="source_image"):
        read_split(tmp_path, "train")


def test_untyped_lesion_pixels_add_no_type_loss_but_count_as_lesion():
    torch.manual_seed(0)
    out = torch.randn(1, 6, 8, 8)
    kind_map = torch.zeros(1, 8, 8, dtype=torch.long)
    kind_map[0, 1:3, 1:3] = 2  # a papule
    kind_map[0, 5:7, 5:7] = UNTYPED
    base = segmenter_loss(out, kind_map, torch.zeros(1, 8, 8))
    wild = out.clone()
    wild[0, 2:, 5:7, 5:7] = torch.tensor([50.0, -50.0, 0.0, 9.0]).view(4, 1, 1)  # any type logits
    assert segmenter_loss(wild, kind_map, torch.zeros(1, 8, 8))["kind"] == pytest.approx(float(base["kind"]))
    # Only the papule's pixels: the same type loss as with the untyped lesion absent.
    typed_only = kind_map.clone()
    typed_only[typed_only == UNTYPED] = 0
    without = segmenter_loss(out, typed_only, torch.zeros(1, 8, 8))
    assert float(without["kind"]) == pytest.approx(float(base["kind"]))
    assert float(without["lesion"]) != pytest.approx(float(base["lesion"]))  # untyped = lesion
    # All lesions untyped: no type loss at all (and no NaN).
    untyped = segmenter_loss(out, (kind_map > 0).long() * UNTYPED, torch.zeros(1, 8, 8))
    assert float(untyped["kind"]) == 0.0 and torch.isfinite(untyped["loss"])


def test_extra_sets_are_scaled_to_the_long_side_and_zoomed_to_acne04_lesion_size(tmp_path):
    def photo(w, h, side):
        return Sample(tmp_path / "x.jpg", "s", None, (TrueLesion((0, 0, side, side), None),), size=(w, h))

    # Lesions of 32 px on a 640 px long side: ACNE04's size, so only the long side is matched.
    scales, zoom = extra_set_scales([photo(1280, 960, 64), photo(640, 480, 32)], 0.5, 32 / 640)
    assert zoom == pytest.approx(1.0) and scales == pytest.approx([0.25, 0.5])
    # Lesions twice as large relative to the photo (close-ups): the set is shrunk by half more.
    scales, zoom = extra_set_scales([photo(1024, 768, 128)], 0.5, 32 / 640)
    assert zoom == pytest.approx(0.5) and scales == pytest.approx([640 * 0.5 * 0.5 / 1024])
    # Clipped: boxes eight times too small do not blow the photos up eightfold.
    assert extra_set_scales([photo(640, 480, 4)], 0.5, 32 / 640)[1] == 2.0


def test_extra_share_splits_the_sampling_weight(tmp_path):
    acne04 = make_dataset(tmp_path / "acne")
    export = make_extra_dataset(tmp_path / "export")
    web = make_extra_dataset(tmp_path / "web", layout="web")
    args = train_segmenter.parse_args(["--data", str(acne04), "--extra-data", str(export),
                                       "--extra-data", str(web), "--extra-share", "0.4"])
    samples, scales, weights, sets = train_segmenter.training_data(args)
    assert len(samples) == 3 + 2 + 2  # the unlabelled train photo of each extra set is left out
    assert sum(weights[:3]) == pytest.approx(0.6)
    assert sum(weights[3:5]) == pytest.approx(0.2) and sum(weights[5:]) == pytest.approx(0.2)
    assert scales[:3] == [0.6] * 3 and all(s != 0.6 for s in scales[3:])
    assert [s["unlabelled_left_out"] for s in sets[1:]] == [1, 1]
    with pytest.raises(SystemExit):
        train_segmenter.parse_args(["--data", str(acne04), "--extra-share", "1.5"])


def _weights_from_run(run, folder, skin_check_data=None):
    """The run's trained segmenter in a weights folder (with the tiny test grader), and with
    `skin_check_data` a skin check fitted on that data set's train and valid photos (its margin
    wide: these tests measure the metrics, not the check), so photos without a face are
    measured as close-ups."""
    from core.segmentation import build_model
    from core.training.export import read_run_config, save_segmenter, write_manifest
    from tests.model_factory import build_tiny_weights

    build_tiny_weights(folder)
    config = read_run_config(run)
    model = build_model(config)
    model.load_state_dict(torch.load(run / "last.pt", weights_only=False)["model"])
    models = json.loads((folder / "manifest.json").read_text())["models"]
    models["segmenter"].update(save_segmenter(model, config, folder))
    write_manifest(folder, models)
    if skin_check_data is not None:
        from core.training import fit_typicality

        fit_typicality.main(["--data", str(skin_check_data), "--weights", str(folder),
                             "--refuse-margin", "10"])
    return folder


@pytest.mark.slow
def test_training_with_extra_data_then_evaluating_an_extra_set(tmp_path, capsys):
    acne04 = make_dataset(tmp_path / "acne")
    export = make_extra_dataset(tmp_path / "export")
    web = make_extra_dataset(tmp_path / "web", layout="web")
    run = tmp_path / "run"
    train_segmenter.main(["--data", str(acne04), "--extra-data", str(export), "--extra-data", str(web),
                          "--extra-share", "0.5", "--run", str(run), "--steps-per-epoch", "2",
                          "--batch", "2", "--crop", "64", "--scale", "0.5", "--val-images", "1",
                          "--threads", "1", "--epochs", "1"])
    for name in ("args.json", "config.json", "data.json", "summary.csv", "last.pt", "best.pt"):
        assert (run / name).is_file(), name
    assert json.loads((run / "args.json").read_text())["extra_share"] == 0.5
    sets = json.loads((run / "data.json").read_text())
    assert [s["photos"] for s in sets] == [3, 2, 2] and sets[2]["untyped_boxes"] == 6
    assert json.loads((run / "config.json").read_text())["face_width_px"] == 228.0
    with (run / "summary.csv").open() as handle:
        (row,) = csv.DictReader(handle)
    assert np.isfinite(float(row["train_loss"])) and np.isfinite(float(row["train_kind"]))

    weights = _weights_from_run(run, tmp_path / "weights", skin_check_data=acne04)
    capsys.readouterr()
    assert evaluate.main(["--data", str(export), "--split", "test", "--weights", str(weights), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n_photos"] == 3 and metrics["skipped"] == {}
    assert metrics["assessed"]["n_assessed"] == 3  # close-ups of skin, measured
    for name in ("f1", "count_mae", "count_pearson", "lesion_iou", "grade_accuracy"):
        assert isinstance(metrics[name], float), name
    assert metrics["n_photos_graded"] == 2 and sum(map(sum, metrics["grade_confusion"])) == 2
    assert metrics["n_photos_types_known"] == 1  # only test photo 0 has every lesion typed
    # Typed lesions only: photo 0's three and photo 1's three typed ones of four.
    assert sum(t["n_labelled"] for t in metrics["type_precision_recall"].values()) == 6

    # web_acne's layout: no grade, no type; said so, and the rest is still scored.
    assert evaluate.main(["--data", str(web), "--split", "valid", "--weights", str(weights),
                          "--limit", "1"]) == 0
    printed = capsys.readouterr().out
    assert "skipped: grade metrics - no photo has a grade" in printed
    assert "skipped: type metrics" in printed and "count_pearson" in printed
    assert "grade_accuracy" not in printed
