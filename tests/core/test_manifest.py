import json

import pytest

from core.errors import ModelNotInstalledError, WeightsError
from core.manifest import read_manifest, sha256_of, verified_path


def test_missing_manifest_means_no_model_installed(tmp_path):
    with pytest.raises(ModelNotInstalledError, match="No model is installed"):
        read_manifest(tmp_path)


def test_checksum_mismatch_names_the_file(tmp_path):
    (tmp_path / "grader.json").write_text("{}")
    (tmp_path / "manifest.json").write_text(json.dumps({"models": {"grader": {
        "name": "g", "version": "1", "file": "grader.json", "sha256": sha256_of(tmp_path / "grader.json")}}}))
    entry = read_manifest(tmp_path)["grader"]
    assert verified_path(entry) == tmp_path / "grader.json"
    (tmp_path / "grader.json").write_text("{ }")
    with pytest.raises(WeightsError, match="grader.json is corrupt"):
        verified_path(entry)


def test_missing_weight_file_names_the_file(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"models": {"segmenter": {"name": "s", "version": "1", "file": "gone.safetensors"}}}))
    with pytest.raises(WeightsError, match="gone.safetensors"):
        verified_path(read_manifest(tmp_path)["segmenter"])


def test_unknown_role_lists_the_valid_ones(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"models": {"colouriser": {"name": "s", "version": "1", "file": "x"}}}))
    with pytest.raises(WeightsError, match="segmenter"):
        read_manifest(tmp_path)


def test_unreadable_manifest_is_a_weights_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_about_block_gives_test_sets_licence_and_limits(tmp_path):
    from core.manifest import WeightsAbout, read_about

    assert read_about(tmp_path) == WeightsAbout()  # no manifest: nothing to say
    (tmp_path / "manifest.json").write_text(json.dumps({"models": {}, "about": {
        "measured_on": "2026-11-27", "test_sets": {"acne04": "hospital photos"},
        "licence": "Research only.", "limits": ["Close-ups count worse.", "Dim light is rare."]}}))
    about = read_about(tmp_path)
    assert about.measured_on == "2026-11-27"
    assert about.test_sets == (("acne04", "hospital photos"),)
    assert about.licence == ("Research only.",)
    assert about.limits == ("Close-ups count worse.", "Dim light is rare.")
    (tmp_path / "manifest.json").write_text(json.dumps({"about": {"limits": [3]}}))
    with pytest.raises(WeightsError, match="about.limits"):
        read_about(tmp_path)


def test_shipped_manifest_records_test_numbers_and_licence():
    from core.manifest import DEFAULT_WEIGHTS_DIR, read_about

    if not (DEFAULT_WEIGHTS_DIR / "manifest.json").is_file():
        pytest.skip("no shipped weights")
    entries = read_manifest(DEFAULT_WEIGHTS_DIR)
    about = read_about(DEFAULT_WEIGHTS_DIR)
    sets = dict(about.test_sets)
    assert set(entries["segmenter"].metrics["test"]) <= set(sets)
    assert set(entries["grader"].metrics["test"]) <= set(sets)
    assert 0.0 < entries["grader"].metrics["test"]["acne04"]["grade_accuracy"] <= 1.0
    assert any("academic" in sentence for sentence in about.licence)
