"""The typicality detector's arithmetic, its file and the assessable rule built on it."""
import numpy as np
import pytest

from core.assessment import NO_FACE_NO_CHECK, assessment
from core.errors import WeightsError
from core.training.fit_typicality import fit
from core.types import FaceResult
from core.typicality import (
    NOT_SKIN,
    UNLIKE_TRAINING,
    TypicalityParameters,
    TypicalityResult,
    skin_share,
)


def _params(seed: int = 0) -> tuple[TypicalityParameters, np.ndarray]:
    rng = np.random.default_rng(seed)
    train = rng.normal(0, 1, (300, 12)) * np.linspace(3, 0.5, 12)
    valid = rng.normal(0, 1, (100, 12)) * np.linspace(3, 0.5, 12)
    return fit(train, valid, np.full(100, 0.6), components=4), valid


def test_distance_grows_away_from_the_training_photos_and_typicality_falls():
    params, valid = _params()
    near, far = np.zeros((1, 12)), np.full((1, 12), 8.0)
    assert params.distance(near)[0] < np.median(params.distance(valid)) < params.distance(far)[0]
    assert params.typicality(float(params.distance(near)[0])) == 1.0
    assert params.typicality(float(params.distance(far)[0])) == 0.0
    # A valid photo of median distance has a typicality of about one half.
    assert params.typicality(float(np.median(params.valid_distances))) == pytest.approx(0.5, abs=0.02)
    # Every valid photo lies within the refusal distance (chosen on valid, with a margin).
    assert params.valid_distances.max() < params.refuse_distance
    assert params.min_skin_share == pytest.approx(0.3)


def test_parameters_round_trip_and_a_damaged_file_is_named(tmp_path):
    params, valid = _params()
    path = tmp_path / "typicality.npz"
    params.save(path)
    again = TypicalityParameters.load(path)
    assert np.allclose(again.distance(valid), params.distance(valid))
    assert again.refuse_distance == params.refuse_distance
    np.savez(tmp_path / "bad.npz", feature_mean=np.zeros(3))
    with pytest.raises(WeightsError, match="bad.npz lacks"):
        TypicalityParameters.load(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not an archive")
    with pytest.raises(WeightsError, match="junk.npz"):
        TypicalityParameters.load(tmp_path / "junk.npz")


def test_skin_share_is_zero_on_grey_and_high_on_skin_colour():
    assert skin_share(np.full((64, 64, 3), 128, np.uint8)) == 0.0
    assert skin_share(np.full((64, 64, 3), (200, 150, 125), np.uint8)) == 1.0  # light skin
    assert skin_share(np.full((64, 64, 3), (110, 70, 50), np.uint8)) == 1.0  # dark skin


def _result(distance=1.0, typicality=0.5, skin=0.6):
    return TypicalityResult(distance=distance, typicality=typicality, skin_share=skin,
                            refuse_distance=2.0, min_skin_share=0.1, warn_below=0.05)


def test_a_close_up_of_skin_is_assessable_without_a_face():
    no_face = FaceResult(found=False)
    assert assessment(no_face, 10**6, _result()) == (True, ())
    # Not skin-coloured, or unlike every training photo: refused with a sentence.
    assert assessment(no_face, 10**6, _result(skin=0.01)) == (False, (NOT_SKIN,))
    assert assessment(no_face, 10**6, _result(distance=2.5)) == (False, (UNLIKE_TRAINING,))
    # No typicality model in the weights: nothing tells skin from a wall, so refused (fail closed).
    assert assessment(no_face, 10**6, None) == (False, (NO_FACE_NO_CHECK,))
    for reason in (NOT_SKIN, UNLIKE_TRAINING, NO_FACE_NO_CHECK):
        assert reason.endswith(".") and "cannot be counted or graded" in reason


def test_a_face_is_skin_so_typicality_only_warns():
    face = FaceResult(found=True, box=(0, 0, 100, 100))
    unusual = _result(distance=5.0, typicality=0.0)
    assert assessment(face, 5000, unusual) == (True, ())
    assert unusual.unusual and not _result().unusual
    # A grey photo shows no redness, face or not.
    assert assessment(face, 5000, _result(skin=0.0)) == (False, (NOT_SKIN,))


def test_the_skin_check_is_built_from_the_bytes_that_were_checked(tmp_path, monkeypatch):
    """Issue 24's pattern (check and use the same bytes) for the skin check: its graph and its
    parameters swapped right after their check change nothing."""
    import shutil

    from core import manifest, pipeline
    from core.manifest import DEFAULT_WEIGHTS_DIR, read_manifest

    if not (DEFAULT_WEIGHTS_DIR / "typicality.onnx").is_file():
        pytest.skip("no shipped skin check")
    weights = tmp_path / "weights"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, weights, ignore=shutil.ignore_patterns("__pycache__"))
    entry = read_manifest(weights)["typicality"]
    real = manifest.verified_bytes

    def check_then_swap(path, sha256):  # noqa: ANN001, ANN202
        data = real(path, sha256)
        if path.name.startswith("typicality."):
            path.write_bytes(b"swapped after the check")
        return data

    monkeypatch.setattr(pipeline, "verified_bytes", check_then_swap)
    model = pipeline.load_typicality(entry, threads=1)
    assert (weights / "typicality.onnx").read_bytes() == b"swapped after the check"
    assert model.score(np.full((64, 64, 3), 128, np.uint8)).typicality >= 0.0
