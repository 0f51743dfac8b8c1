import json
from pathlib import Path

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


# ------------------------------------------- issue 24: every file a model reads, checked, inside
@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory):  # noqa: ANN001, ANN201
    from tests.model_factory import build_tiny_weights

    return build_tiny_weights(tmp_path_factory.mktemp("tiny-weights"))


@pytest.fixture
def installed(tiny_source, tmp_path):  # noqa: ANN001, ANN201
    """A copy of a tiny installed model (segmenter with its ONNX graph and config, grader)."""
    import shutil

    return Path(shutil.copytree(tiny_source, tmp_path / "weights"))


def _edit_manifest(folder, edit) -> None:  # noqa: ANN001
    path = folder / "manifest.json"
    raw = json.loads(path.read_text())
    edit(raw["models"])
    path.write_text(json.dumps(raw))


def test_a_changed_segmenter_config_is_refused(installed, tmp_path):
    """segmenter.json's thresholds decide the counts: changing them under the same model
    version used to go unnoticed (no checksum covered the config)."""
    from core.pipeline import load_analyzer

    weights = installed
    load_analyzer(weights)  # as installed: loads
    config = json.loads((weights / "segmenter.json").read_text())
    config["peak_threshold"] = 0.99
    config["lesion_threshold"] = 0.99
    (weights / "segmenter.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=r"segmenter.json is corrupt: SHA-256"):
        load_analyzer(weights)


@pytest.mark.parametrize("name", ["../elsewhere/evil.onnx", "/tmp/evil.onnx", "sub/../../evil.onnx"])
def test_a_file_outside_the_weights_folder_is_refused(installed, tmp_path, name):
    weights = installed
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "evil.onnx").write_bytes((weights / "segmenter.onnx").read_bytes())
    digest = sha256_of(weights / "segmenter.onnx")

    def point_outside(models) -> None:  # noqa: ANN001
        models["segmenter"].update(onnx=name, onnx_sha256=digest)

    _edit_manifest(weights, point_outside)
    with pytest.raises(WeightsError, match="outside the weights folder; only files inside"):
        read_manifest(weights)


def test_a_link_out_of_the_weights_folder_is_refused(installed, tmp_path):
    from core.pipeline import load_analyzer

    weights = installed
    (tmp_path / "elsewhere").mkdir()
    outside = tmp_path / "elsewhere" / "segmenter.json"
    outside.write_bytes((weights / "segmenter.json").read_bytes())
    (weights / "segmenter.json").unlink()
    (weights / "segmenter.json").symlink_to(outside)
    with pytest.raises(WeightsError, match="is a link that leads out of the weights folder"):
        load_analyzer(weights)


@pytest.mark.parametrize(("field", "checksum"), [("file", "sha256"), ("onnx", "onnx_sha256"),
                                                 ("config", "config_sha256")])
def test_a_model_file_without_a_checksum_is_refused_with_a_sentence(installed, field, checksum):
    """A checksum was optional: a swapped file without one failed deep in ONNX Runtime."""
    from core.pipeline import load_analyzer

    weights = installed
    _edit_manifest(weights, lambda models: models["segmenter"].pop(checksum))
    if field == "onnx":  # and the graph swapped for something that is not one
        (weights / "segmenter.onnx").write_bytes(b"not a graph")
    with pytest.raises(WeightsError) as caught:
        load_analyzer(weights)
    message = str(caught.value)
    assert "has no SHA-256 in the manifest, so it cannot be checked and is not loaded" in message
    assert message.count(". ") == 0 and "\n" not in message  # one sentence, no runtime dump


def test_a_damaged_graph_is_one_sentence_not_an_onnx_runtime_error(tmp_path):
    from core.onnx_engine import OnnxEngine

    (tmp_path / "broken.onnx").write_bytes(b"not a graph at all")
    with pytest.raises(WeightsError) as caught:
        OnnxEngine(tmp_path / "broken.onnx")
    assert str(caught.value) == (f"The model file {tmp_path / 'broken.onnx'} cannot be loaded by "
                                 "ONNX Runtime: it is damaged or not an ONNX graph.")


def test_the_model_is_built_from_the_bytes_that_were_checked(installed, tmp_path, monkeypatch):
    """The graph's bytes are read once: swapping the file right after its check changes nothing."""
    from core import manifest, pipeline

    weights = installed
    good = (weights / "segmenter.onnx").read_bytes()
    real = manifest.verified_bytes

    def check_then_swap(path, sha256):  # noqa: ANN001, ANN202
        data = real(path, sha256)
        if path.name == "segmenter.onnx":
            path.write_bytes(b"swapped after the check")
        return data

    monkeypatch.setattr(pipeline, "verified_bytes", check_then_swap)
    engine, _, _ = pipeline.load_segmenter(weights)
    assert (weights / "segmenter.onnx").read_bytes() != good
    assert engine.logits is not None  # built from the checked graph


def test_every_file_of_the_shipped_weights_has_a_checksum():
    from core.manifest import DEFAULT_WEIGHTS_DIR, verified_file

    if not (DEFAULT_WEIGHTS_DIR / "manifest.json").is_file():
        pytest.skip("no shipped weights")
    for entry in read_manifest(DEFAULT_WEIGHTS_DIR).values():
        for path, digest in ((entry.path, entry.sha256), (entry.onnx_path, entry.onnx_sha256),
                             (entry.config_path, entry.config_sha256)):
            if path is not None:
                assert digest, f"{path.name} has no checksum"
                verified_file(path, digest)
