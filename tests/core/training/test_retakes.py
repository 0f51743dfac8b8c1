"""Simulated retakes: seeded settings within the issue's ranges, the noise statistics, and the
command end to end (retakes through the product's analysis, resume, table installed and read)."""
import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.retake_noise import MEASURES, load_retake_noise
from core.training import retakes
from core.training.data import Sample
from core.training.retake_stats import icc_oneway, level_bins, noise_table, non_decreasing
from tests.model_factory import build_tiny_weights


def test_retake_settings_are_seeded_and_within_the_ranges():
    draws = [retakes.draw_retake(0, "a.jpg", i) for i in range(200)]
    assert retakes.draw_retake(0, "a.jpg", 3) == draws[3]
    assert retakes.draw_retake(1, "a.jpg", 3) != draws[3]
    assert retakes.draw_retake(0, "b.jpg", 3) != draws[3]
    assert all(0.9 <= d.scale <= 1.1 and abs(d.rotation_deg) <= 5 and 0.85 <= d.exposure <= 1.15
               and all(0.92 <= g <= 1.08 for g in d.white_balance) and 70 <= d.jpeg_quality <= 95
               and abs(d.shift_x) <= 0.05 and abs(d.shift_y) <= 0.05 for d in draws)
    assert {d.jpeg_quality for d in draws} >= {70, 95}  # both ends reachable
    assert max(d.rotation_deg for d in draws) > 4 and min(d.rotation_deg for d in draws) < -4
    # One part alone: the same draw of that part, the rest plain.
    framing = retakes.draw_retake(0, "a.jpg", 3, vary="framing")
    assert (framing.scale, framing.rotation_deg) == (draws[3].scale, draws[3].rotation_deg)
    assert (framing.exposure, framing.white_balance, framing.jpeg_quality) == \
        (1.0, (1.0, 1.0, 1.0), 95)
    light = retakes.draw_retake(0, "a.jpg", 3, vary="light")
    assert light.exposure == draws[3].exposure and (light.scale, light.shift_x) == (1.0, 0.0)
    assert retakes.draw_retake(0, "a.jpg", 3, vary="jpeg").jpeg_quality == draws[3].jpeg_quality
    with pytest.raises(ValueError, match="framing"):
        retakes.draw_retake(0, "a.jpg", 3, vary="focus")


def test_a_plain_retake_is_the_central_crop_and_the_window_stays_in_the_photo():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (100, 150, 3), dtype=np.uint8)
    plain = retakes.Retake(0.0, 0.0, 1.0, 0.0, 1.0, (1.0, 1.0, 1.0), 90)
    out, applied = retakes.retake_pixels(image, plain)
    assert out.shape == (80, 120, 3) and applied == plain
    assert np.array_equal(out, image[10:90, 15:135])
    # Zoomed out, turned and pushed to a corner: the shift is cut so no mirrored border appears.
    far = retakes.Retake(0.05, 0.05, 0.9, 5.0, 1.0, (1.0, 1.0, 1.0), 90)
    _, applied = retakes.retake_pixels(image, far)
    assert 0 <= applied.shift_x < 0.05 and 0 <= applied.shift_y < 0.05
    # Exposure and white balance scale the channels.
    warm = retakes.Retake(0.0, 0.0, 1.0, 0.0, 1.1, (1.05, 1.0, 0.92), 90)
    grey = np.full((50, 50, 3), 100, np.uint8)
    assert retakes.retake_pixels(grey, warm)[0][0, 0].tolist() == [116, 110, 101]


def test_photos_are_spread_over_the_grades():
    samples = [Sample(image_path=Path(f"{g}_{i}.jpg"), source_image=f"{g}{i}",
                      grade=g, lesions=()) for g, n in ((0, 40), (1, 40), (2, 6), (3, 3)) for i in range(n)]
    chosen = retakes.choose_photos(samples, 20, seed=0)
    grades = [s.grade for s in chosen]
    # Round robin over the grades: the 3 severe photos all in, the rest shared out evenly.
    assert {g: grades.count(g) for g in range(4)} == {0: 6, 1: 6, 2: 5, 3: 3}
    assert retakes.choose_photos(samples, 20, seed=0) == chosen
    assert retakes.choose_photos(samples, None, seed=0) == samples


def test_icc_sem_bins_and_monotone_sd():
    # Photos far apart, retakes close: ICC near 1; SEM is the within-photo SD.
    groups = [np.array([m - 1.0, m + 1.0]) for m in (5.0, 20.0, 40.0, 60.0)]
    icc, sem = icc_oneway(groups)
    assert icc > 0.99 and sem == pytest.approx(math.sqrt(2.0))
    # Retakes as far apart as the photos: ICC near 0 or below.
    icc, _ = icc_oneway([np.array([0.0, 10.0]), np.array([10.0, 0.0]), np.array([5.0, 5.0])])
    assert icc < 0.1
    # A bin with too few photos joins its neighbour.
    groups = [np.array([1.0, 2.0])] * 10 + [np.array([30.0, 31.0])] * 2 + [np.array([50.0, 52.0])] * 8
    sizes = [len(b) for b in level_bins(groups, (0, 5, 10, 20, 40))]
    assert sizes == [10, 10]
    assert non_decreasing([1.0, 3.0, 2.0, 4.0], [1, 1, 1, 1]) == [1.0, 2.5, 2.5, 4.0]


def test_the_table_needs_two_assessable_photos():
    records = [{"set": "a", "image": f"{i}.jpg", "retake": r, "assessable": False}
               for i in range(3) for r in range(2)]
    with pytest.raises(ValueError, match="total: 0 photos were assessable"):
        noise_table(records, made={})


VOC = ("<annotation><size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
       "{objects}</annotation>")
OBJ = ("<object><name>papules</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
       "<ymax>{y1}</ymax></bndbox></object>")


def make_face_set(root, n=3):
    """ACNE04's layout with `n` valid photos: scikit-image's public-domain astronaut, shifted,
    with drawn red spots."""
    from skimage import data

    face = data.astronaut()
    (root / "images" / "valid").mkdir(parents=True)
    (root / "labels_voc" / "valid").mkdir(parents=True)
    rows = []
    for i in range(n):
        image = np.ascontiguousarray(np.roll(face, 12 * i, axis=1))
        for j in range(4 + 3 * i):
            cv2.circle(image, (150 + 25 * j % 200, 120 + 11 * j), 4, (170, 40, 40), -1)
        name = f"levle{i}_{i}_jpg.rf.valid{i}"
        cv2.imwrite(str(root / "images" / "valid" / f"{name}.jpg"), image[:, :, ::-1])
        (root / "labels_voc" / "valid" / f"{name}.xml").write_text(
            VOC.format(w=512, h=512, objects=OBJ.format(x0=140, y0=110, x1=160, y1=130)))
        rows.append({"split": "valid", "image": f"{name}.jpg", "acne04_source_image": f"{i}.jpg",
                     "acne04_grade_from_filename": i % 4})
    with (root / "index.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_command_measures_resumes_and_installs_a_table_the_product_reads(tmp_path, capsys):
    data = make_face_set(tmp_path / "faces")
    # Without the ONNX export (18 s on a busy machine): the same analysis on the PyTorch engine.
    weights = build_tiny_weights(tmp_path / "weights", onnx=False)
    work, card = tmp_path / "work", tmp_path / "card.md"
    args = ["--data", str(data), "--split", "valid", "--retakes", "2", "--weights", str(weights),
            "--work", str(work), "--install", str(weights), "--markdown", str(card), "--json"]
    assert retakes.main(args) == 0
    table = json.loads(capsys.readouterr().out)
    records = [json.loads(line) for line in (work / retakes.RECORDS).read_text().splitlines()]
    assert len(records) == 6 and {r["retake"] for r in records} == {0, 1}
    assert all(r["model_version"].startswith("tiny-test") for r in records)
    # Through the product's analysis: its assessable decision is recorded with every retake.
    assert all(isinstance(r["assessable"], bool) for r in records)
    assert table["simulated"] is True and set(table["measures"]) == set(MEASURES)
    assert table["made"]["retakes_per_photo"] == 2 and table["made"]["photos"] == {"faces": 3}
    assert "simulation until real retakes exist" in card.read_text()

    # The installed table is listed with its checksum and read back by the product's API.
    manifest = json.loads((weights / "manifest.json").read_text())
    assert manifest["tables"]["retake_noise"]["file"] == "retake_noise.json"
    assert set(manifest["models"]) >= {"segmenter", "grader"}
    noise = load_retake_noise(weights)
    assert noise.simulated and noise.band("total", 3) == pytest.approx(
        1.96 * table["measures"]["total"]["bins"][0]["sd"], abs=1e-3)

    # A run killed while writing its last record: the rerun measures that retake alone again
    # and gives the same table.
    path = work / retakes.RECORDS
    path.write_text(path.read_text()[:-40])
    assert retakes.main(args) == 0
    again = json.loads(capsys.readouterr().out)
    lines = path.read_text().splitlines()
    assert len(lines) == 7 and len(retakes.read_records(path, 0, records[0]["model_version"])) == 6
    assert again["measures"] == table["measures"]
    assert retakes.main(args) == 0  # and then nothing at all
    assert len(path.read_text().splitlines()) == 7


def test_the_test_split_and_one_retake_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        retakes.parse_args(["--data", str(tmp_path), "--split", "test", "--work", str(tmp_path)])
    with pytest.raises(SystemExit):
        retakes.parse_args(["--data", str(tmp_path), "--retakes", "1", "--work", str(tmp_path)])
    with pytest.raises(SystemExit):  # the product's table varies the whole retake
        retakes.parse_args(["--data", str(tmp_path), "--vary", "jpeg", "--install", str(tmp_path),
                            "--work", str(tmp_path)])
