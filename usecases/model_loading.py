"""Load the installed models once per process, in the background from the moment the app starts.

The dashboard calls `start_loading` when it starts, so the imports and weights load while the
user signs in; the first photo then waits only for what is left (`loaded_analyzer`). A failure
(no model installed, a changed weight file) is kept and reported as the loader's own sentence.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelNotInstalledError, WeightsError

if TYPE_CHECKING:
    from core.pipeline import Analyzer

_LOADS: dict[str, "_Load"] = {}
_LOCK = threading.Lock()


class _Load:
    """One weights folder's load, run by one daemon thread."""

    def __init__(self, weights_dir: Path, engine: str) -> None:
        self.weights_dir, self.engine = weights_dir, engine
        self.analyzer: Analyzer | None = None
        self.problem: str | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="model-load", daemon=True)

    def _run(self) -> None:
        try:
            from core.pipeline import load_analyzer

            analyzer = load_analyzer(self.weights_dir, engine=self.engine)
            analyzer.warm_up()
            self.analyzer = analyzer
        except (ModelNotInstalledError, WeightsError) as error:
            self.problem = str(error)
        except Exception as error:  # noqa: BLE001 - any failure must reach the page as a sentence
            self.problem = f"the model could not be loaded ({type(error).__name__}: {error})"
        finally:
            self.done.set()


def _key(weights_dir: Path | str, engine: str) -> str:
    return f"{Path(weights_dir).resolve()}|{engine}"


def start_loading(weights_dir: Path | str, engine: str = "auto") -> None:
    """Begin loading the models of `weights_dir` in the background (once; later calls return).
    `engine`: the ACNE_ENGINE setting ("auto", "onnx" or "torch")."""
    key = _key(weights_dir, engine)
    with _LOCK:
        if key in _LOADS:
            return
        load = _LOADS[key] = _Load(Path(weights_dir), engine)
    load.thread.start()


def is_loaded(weights_dir: Path | str, engine: str = "auto") -> bool:
    """Whether the models of `weights_dir` are ready (or failed) without waiting."""
    load = _LOADS.get(_key(weights_dir, engine))
    return load is not None and load.done.is_set()


def loaded_analyzer(weights_dir: Path | str, engine: str = "auto") -> "tuple[Analyzer | None, str | None]":
    """(analyzer, None) or (None, why not); starts the load if nobody has and waits for it."""
    start_loading(weights_dir, engine)
    load = _LOADS[_key(weights_dir, engine)]
    load.done.wait()
    return load.analyzer, load.problem


def forget(weights_dir: Path | str, engine: str = "auto") -> None:
    """Drop the loaded models so the next use loads what is installed now."""
    with _LOCK:
        _LOADS.pop(_key(weights_dir, engine), None)
