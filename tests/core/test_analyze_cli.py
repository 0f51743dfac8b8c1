"""`python -m core.analyze PHOTO... --json [--masks DIR]` as a separate process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from tests.model_factory import build_tiny_weights

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run_cli(*args, weights=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if weights:
        args = (*args, "--weights", weights)
    return subprocess.run([sys.executable, "-m", "core.analyze", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    face = folder / "face.jpg"
    Image.fromarray(data.astronaut()).save(face, quality=92)
    rotated = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; shown upright after a 90 degree turn
    Image.fromarray(np.rot90(data.astronaut(), k=1)).save(rotated, exif=exif)
    corrupt = folder / "corrupt.jpg"
    corrupt.write_bytes(face.read_bytes()[:400])
    wall = folder / "wall.png"  # a photo with no face in it
    Image.fromarray(np.full((480, 640, 3), (182, 150, 128), np.uint8)).save(wall)
    return {"face": face, "rotated": rotated, "corrupt": corrupt, "wall": wall,
            "weights": build_tiny_weights(tmp_path_factory.mktemp("weights"))}


def test_json_per_photo_in_order_with_the_contract_fields(photos, tmp_path):
    masks = tmp_path / "masks"
    result = run_cli(photos["face"], photos["corrupt"], photos["rotated"], "--json", "--masks", masks,
                     weights=photos["weights"])
    assert result.returncode != 0  # one photo could not be read
    assert "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(photos["face"]), str(photos["corrupt"]), str(photos["rotated"])]
    good, bad, rotated = rows
    assert "error" in bad and len(bad["error"]) > 10 and "lesions" not in bad
    for key in ("lesions", "counts", "grade", "lesion_area_fraction", "face", "quality", "model_version"):
        assert key in good
    assert set(good["counts"]) >= {"comedone", "papule", "pustule", "nodule", "inflammatory",
                                   "non_inflammatory", "total"}
    assert good["grade"]["value"] in range(4) and 0 <= good["grade"]["confidence"] <= 1
    assert good["face"]["found"] is True
    assert good["assessable"] is True and good["not_assessable_reasons"] == []
    assert good["counts"]["inflammatory"] == sum(good["counts"][k] for k in (
        "papule", "pustule", "nodule", "inflammatory_type_uncertain"))
    for lesion in good["lesions"]:
        assert set(lesion) >= {"bbox", "kind", "score", "area_px", "type_confidence"}
    # issue 29: redness and dark marks against the patient's own skin (no colour card here)
    colour = good["colour"]
    assert colour["reference"] == "self-referenced" and colour["card_delta_e2000"] is None
    assert 0 <= colour["red_area_percent"] <= 100 and 0 <= colour["dark_mark_area_percent"] <= 100
    assert set(colour["clear_skin"]) == {"L", "a", "b", "ita_degrees"}
    # the EXIF-rotated copy is measured upright: same size as the original
    assert (rotated["width"], rotated["height"]) == (512, 512)
    mask = np.asarray(Image.open(masks / "face_mask.png"))
    assert mask.shape == (512, 512) and set(np.unique(mask)) <= {0, 255}
    assert (mask > 0).any() == bool(good["lesions"])
    assert not (masks / "corrupt_mask.png").exists()


def test_without_a_model_every_photo_gets_a_clear_error(photos, tmp_path):
    result = run_cli(photos["face"], "--json", weights=tmp_path)
    assert result.returncode == 3
    row = json.loads(result.stdout.splitlines()[0])
    assert "No model is installed" in row["error"]


def test_not_a_photo_gives_a_sentence_not_a_traceback(photos, tmp_path):
    html = tmp_path / "page.jpg"
    html.write_text("<html><body>hello</body></html>")
    result = run_cli(html, "--json", weights=photos["weights"])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["error"]


def test_without_a_skin_check_a_photo_with_no_face_is_not_assessable(photos, tmp_path):
    """The tiny weights carry no typicality model, so a photo without a face is refused
    (fail closed); with the shipped weights see test_shipped_weights.py."""
    result = run_cli(photos["wall"], "--json", "--masks", tmp_path, weights=photos["weights"])
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["assessable"] is False
    assert row["not_assessable_reasons"] == [
        "No face was found, and these models carry no check that the picture shows skin, so "
        "lesions cannot be counted or graded on this photo."]
    assert row["grade"] is None and row["counts"] is None and row["lesions"] == []
    assert row["lesion_area_fraction"] is None and row["colour"] is None
    assert not np.asarray(Image.open(tmp_path / "wall_mask.png")).any()  # no lesion claimed
    plain = run_cli(photos["wall"], weights=photos["weights"])
    assert plain.stdout.startswith(f"{photos['wall']}: NOT ASSESSABLE - No face was found")


def test_a_missing_or_broken_file_is_answered_without_loading_the_models(photos, tmp_path):
    code = ("import sys; from core import analyze; "
            f"status = analyze.main([{str(tmp_path / 'missing.jpg')!r}, {str(photos['corrupt'])!r}, '--json']); "
            "print(status, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    rows = [json.loads(line) for line in result.stdout.splitlines()[:2]]
    assert [r["error"].split(" ")[0] for r in rows] == ["There", f"'{photos['corrupt'].name}'"]
    assert result.stdout.splitlines()[-1] == "1 False"  # exit status 1, torch never imported

    # The models load on the first readable photo; a model problem is said for it and the rest.
    ordered = run_cli(tmp_path / "missing.jpg", photos["face"], photos["rotated"], "--json", weights=tmp_path)
    assert ordered.returncode == 3
    missing, face, rotated = (json.loads(line) for line in ordered.stdout.splitlines())
    assert missing["error"].startswith("There is no photo file")
    assert "No model is installed" in face["error"] and "No model is installed" in rotated["error"]


def test_a_skin_close_up_is_assessable_and_typicality_is_in_the_json(tmp_path):
    """With the shipped weights (they carry the skin check): a close-up of skin without a face is
    measured, a picture that is not skin is refused with a sentence."""
    import cv2

    weights = ROOT / "weights"
    if not (weights / "manifest.json").is_file():
        pytest.skip("no shipped weights")
    cheek = tmp_path / "cheek.png"
    Image.fromarray(cv2.resize(data.astronaut()[150:230, 170:240], (640, 640),
                               interpolation=cv2.INTER_CUBIC)).save(cheek)
    coffee = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(coffee)
    result = run_cli(cheek, coffee, "--json", weights=weights)
    assert result.returncode == 0, result.stderr
    close_up, cup = (json.loads(line) for line in result.stdout.splitlines())
    assert close_up["face"]["found"] is False and close_up["assessable"] is True
    assert close_up["grade"]["graded_from_closeup"] is True and close_up["closeup"] is True
    assert close_up["region_counts"] == {} and close_up["gags_estimate"] is None
    assert 0.0 <= close_up["typicality"] <= 1.0 and isinstance(close_up["unusual"], bool)
    assert cup["assessable"] is False and cup["counts"] is None
    assert cup["not_assessable_reasons"][0].startswith("This picture")
    plain = run_cli(cheek, weights=weights)
    assert "from a close-up without a face" in plain.stdout
