"""Calibration turns a training run into a weights folder; the grader's feature set is chosen
on valid."""
import csv
import json

import numpy as np
import pytest

from core.grading import FEATURE_SETS, HAYASHI_COUNT_BINS, GradeEvidence
from core.pipeline import load_analyzer
from core.training import calibrate, evaluate, train_segmenter
from core.training.metrics import TYPE_THRESHOLDS
from core.types import LesionCounts
from tests.core.training.test_training import make_dataset


def _evidence(totals, rng, counts_reliable: bool):
    """True counts are in the peaks; the hard counts are noise unless `counts_reliable`."""
    out = []
    for t in totals:
        hard = int(t) if counts_reliable else int(rng.integers(0, 80))
        out.append((GradeEvidence(LesionCounts(papule=hard), tuple([0.5] * int(t))),
                    int(np.digitize(t, HAYASHI_COUNT_BINS))))
    return out


def test_choose_grader_picks_the_feature_set_that_grades_valid_best():
    rng = np.random.default_rng(0)
    train = _evidence(rng.integers(0, 80, 300), rng, counts_reliable=False)
    valid = _evidence(rng.integers(0, 80, 120), rng, counts_reliable=False)
    grader, chosen, scores = calibrate.choose_grader(train, valid)
    assert {(s["features"], s["l2"]) for s in scores} == {
        (n, l2) for n in FEATURE_SETS for l2 in calibrate.GRADER_L2}
    assert chosen["features"] in ("soft_counts", "counts_and_soft_counts")
    assert grader.features == FEATURE_SETS[chosen["features"]]
    counts_only = max(s["grade_accuracy"] for s in scores if s["features"] == "counts")
    assert chosen["grade_accuracy"] > counts_only + 0.2


def test_calibrate_writes_loadable_weights_and_its_choices(tmp_path, capsys):
    data = make_dataset(tmp_path / "acne")
    run = tmp_path / "run"
    train_segmenter.main(["--data", str(data), "--run", str(run), "--steps-per-epoch", "2",
                          "--batch", "2", "--crop", "64", "--scale", "1.0", "--val-images", "2",
                          "--threads", "1", "--epochs", "1"])
    out = tmp_path / "weights"
    calibrate.main(["--data", str(data), "--run", str(run), "--out", str(out),
                    "--checkpoint", "last.pt", "--train-every", "1", "--threads", "1"])
    report = json.loads((run / "calibration-last.json").read_text())
    assert report["grader_feature_set"] in FEATURE_SETS
    assert {c["features"] for c in report["grader_candidates_valid"]} == set(FEATURE_SETS)
    grid = report["thresholds"]
    assert {r["min_peak_distance_px"] for r in grid} == set(calibrate.PEAK_DISTANCES)
    assert {r["flip_tta"] for r in grid} == {False, True}
    chosen = report["chosen"]
    shipped = json.loads((out / "segmenter.json").read_text())
    assert shipped["peak_threshold"] == chosen["peak_threshold"]
    assert shipped["min_peak_distance_px"] == chosen["min_peak_distance_px"]
    # Chosen on valid: a grid value, or 1.0 when no threshold types inflammatory lesions well.
    assert shipped["type_confidence_threshold"] in {*TYPE_THRESHOLDS, 1.0}
    analyzer = load_analyzer(out)
    assert analyzer.grader.features == FEATURE_SETS[report["grader_feature_set"]]
    # The skin check ships in the folder, fitted on the data's train and valid photos.
    assert analyzer.typicality is not None
    assert json.loads((out / "manifest.json").read_text())["models"]["typicality"]["metrics"]["valid"][
        "n_train_photos"] == 3
    image = np.full((96, 96, 3), (200, 160, 140), np.uint8)
    assert analyzer.analyze(image).grade.value in range(4)

    # The written weights evaluate, with intervals; against themselves the paired difference is 0.
    capsys.readouterr()
    per_photo = tmp_path / "per_photo.csv"
    assert evaluate.main(["--data", str(data), "--split", "test", "--weights", str(out),
                          "--baseline", str(out), "--per-photo", str(per_photo), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    with per_photo.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["image"].endswith(".jpg") for r in rows] == [True] * 3
    assert 0.0 <= metrics["grade_calibration_error"] <= 1.0
    # A photo the product refuses has no grade; the skin check fitted by calibrate keeps these.
    assert [float(r["grade_confidence"]) > 0 for r in rows] == [r["assessable"] == "1" for r in rows]
    assert metrics["assessed"]["n_photos"] == 3 and metrics["assessed"]["n_assessed"] >= 2
    assert metrics["over_assessed"]["n_photos"] == metrics["assessed"]["n_assessed"]
    by_grade = metrics["count_error_by_true_grade"]
    assert set(by_grade) == {r["true_grade"] for r in rows}
    for grade, row in by_grade.items():
        errors = [int(r["pred_count"]) - int(r["true_count"]) for r in rows if r["true_grade"] == grade]
        assert row["n_photos"] == len(errors)
        assert row["count_bias"] == pytest.approx(sum(errors) / len(errors))
    assert metrics["n_photos"] == 3 and metrics["baseline_version"] == metrics["model_version"]
    # The type confusion of matched lesions and each type's precision and recall.
    confusion = metrics["type_confusion"]
    assert confusion["rows_labelled"] == confusion["columns_predicted"] == ["comedone", "papule",
                                                                           "pustule", "nodule"]
    assert sum(map(sum, confusion["matrix"])) == round(metrics["recall"] * sum(
        t["n_labelled"] for t in metrics["type_precision_recall"].values()))
    for kind, row in metrics["type_precision_recall"].items():
        assert 0.0 <= row["precision"] <= 1.0 and 0.0 <= row["recall"] <= 1.0
    assert 0.0 <= metrics["assessable_share"] <= 1.0
    assert "kind_pairs" not in rows[0]  # the CSV holds the scalar columns only

    # Robustness: each perturbation is scored and compared with the clean photos.
    assert evaluate.main(["--data", str(data), "--split", "test", "--weights", str(out),
                          "--perturb", "high_res,darker", "--json"]) == 0
    perturbed = json.loads(capsys.readouterr().out)["perturbed"]
    assert set(perturbed) == {"high_res", "darker"}
    for row in perturbed.values():
        assert set(row["versus_clean"]) == set(evaluate.INTERVAL_METRICS)
        assert row["versus_clean"]["f1"]["difference"] == pytest.approx(row["f1"] - metrics["f1"])
    with pytest.raises(SystemExit):
        evaluate.main(["--data", str(data), "--perturb", "fog"])
    for name in evaluate.INTERVAL_METRICS:
        low, high = metrics["ci95"][name]
        assert low <= high, name
        if name != "count_pearson":  # a correlation of resampled photos may all lie to one side
            assert low - 1e-9 <= metrics[name] <= high + 1e-9, name
        assert metrics["versus_baseline"][name] == {"difference": 0.0, "ci95": [0.0, 0.0]}
