"""The models load once per process, in the background, and a failure is kept as a sentence."""
from __future__ import annotations

from pathlib import Path

from tests.model_factory import build_tiny_weights
from usecases import model_loading


def test_background_load_gives_one_analyzer_per_folder(tmp_path: Path) -> None:
    weights = build_tiny_weights(tmp_path / "weights")
    assert not model_loading.is_loaded(weights)
    model_loading.start_loading(weights)
    model_loading.start_loading(weights)  # a second start (another page run) loads nothing more
    analyzer, problem = model_loading.loaded_analyzer(weights)
    assert problem is None and analyzer is not None
    assert model_loading.is_loaded(weights)
    assert model_loading.loaded_analyzer(weights)[0] is analyzer
    model_loading.forget(weights)
    assert not model_loading.is_loaded(weights)
    assert model_loading.loaded_analyzer(weights)[0] is not analyzer  # a fresh load
    model_loading.forget(weights)


def test_missing_model_is_reported_in_the_loaders_words(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    analyzer, problem = model_loading.loaded_analyzer(empty)
    assert analyzer is None
    assert problem is not None and "No model is installed" in problem
    model_loading.forget(empty)
