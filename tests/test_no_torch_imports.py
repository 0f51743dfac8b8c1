"""The run time needs no PyTorch (issue 27): the default install (`make run`, `pip install
acne-tracker`) has no torch, timm, segmentation-models-pytorch, albumentations or transformers,
so no product module may import them when it is imported. Only the training code
(core.training, the `train` extra) imports them at the top; the PyTorch fallback engine
(core.segmentation.TorchEngine, core.pipeline.load_torch_model) and the Hugging Face grader
import them inside the functions that run them.

Each check runs in a fresh interpreter whose import system refuses the training libraries (a
finder at the front of sys.meta_path), as on a machine with the run time only; a refused import
is reported with the product file and line that asked for it.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "db", "usecases", "dashboard", "weights")
BLOCKED = ("torch", "torchvision", "timm", "segmentation_models_pytorch", "albumentations",
           "albucore", "transformers", "facenet_pytorch")
# Streamlit page scripts draw their page when imported, and alembic's scripts run only inside
# alembic: their own imports are read, not run.
PAGE_SCRIPTS = ("dashboard/app.py", "dashboard/views/", "db/migrations/")

# Installs the refusing finder, then runs the rest of the script. `REFUSED` collects
# "name <- file:line" for each refused import.
BLOCKER = textwrap.dedent(f"""
    import sys, traceback
    BLOCKED = {BLOCKED!r}
    REFUSED = []

    class _NoTraining:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                where = [f"{{f.filename}}:{{f.lineno}}" for f in traceback.extract_stack()
                         if "/importlib/" not in f.filename and not f.filename.startswith("<")]
                REFUSED.append(f"{{name}} <- {{where[-1] if where else '?'}}")
                raise ModuleNotFoundError(f"No module named {{name!r}} (the run time has no "
                                          "training extra)", name=name)
            return None

    sys.meta_path.insert(0, _NoTraining())
""")


def run_blocked(script: str, *, cwd: Path = ROOT, env: dict | None = None,
                timeout: int = 300) -> subprocess.CompletedProcess:
    """`script` in a fresh interpreter with the training libraries refused."""
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(script)], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def product_modules(root: Path = ROOT) -> list[str]:
    """Every importable product module, the training code and the page scripts aside."""
    names = []
    for package in PRODUCT:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith("core/training/") or relative.startswith(PAGE_SCRIPTS):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


def refused_imports(modules: list[str], *, extra_path: Path | None = None) -> dict[str, list[str]]:
    """Module -> the training-library imports refused while importing it."""
    result = run_blocked(f"""
        import importlib, json, sys
        {f'sys.path.insert(0, {str(extra_path)!r})' if extra_path else ''}
        found = {{}}
        for name in {modules!r}:
            before = len(REFUSED)
            try:
                importlib.import_module(name)
            except ImportError:
                pass
            if len(REFUSED) > before:
                found[name] = REFUSED[before:]
        print(json.dumps(found))
    """)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def page_script_imports(root: Path = ROOT) -> list[str]:
    """'file:line imports name' for each top-level import of a training library in a script."""
    found = []
    scripts = [root / "dashboard/app.py", *sorted((root / "dashboard/views").rglob("*.py")),
               *sorted((root / "db/migrations").rglob("*.py"))]
    for path in scripts:
        for node in ast.parse(path.read_text(), filename=str(path)).body:
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(root)}:{node.lineno} imports {name}"
                      for name in names if name.split(".")[0] in BLOCKED]
    return found


@pytest.mark.slow  # imports every product module once (Streamlit, SQLAlchemy, ONNX Runtime)
def test_no_product_module_imports_a_training_library() -> None:
    modules = product_modules()
    assert {"core.pipeline", "core.segmentation", "usecases.cli.acne", "db.models",
            "dashboard.state"} <= set(modules)
    assert refused_imports(modules) == {}
    assert page_script_imports() == []


def test_the_check_names_a_module_that_imports_torch(tmp_path: Path) -> None:
    (tmp_path / "planted_segmenter.py").write_text("import numpy\nimport timm\n")
    (tmp_path / "planted_lazy.py").write_text("def f():\n    import torch\n")

    refused = refused_imports(["planted_segmenter", "planted_lazy"], extra_path=tmp_path)

    assert list(refused) == ["planted_segmenter"]
    assert refused["planted_segmenter"][0].startswith("timm <- ")
    assert refused["planted_segmenter"][0].endswith("planted_segmenter.py:2")


def test_the_acne_command_and_an_analysis_import_no_training_library() -> None:
    result = run_blocked("""
        from usecases.cli import acne
        assert acne.main(["--help"]) == 0
        import core.analyze, core.pipeline, core.onnx_engine, core.mtcnn
        print("REFUSED", REFUSED)
    """)
    assert result.returncode == 0, result.stderr
    assert "REFUSED []" in result.stdout
    assert "serve" in result.stdout and "export-training" in result.stdout


def test_the_torch_engine_without_the_training_extra_says_so_in_one_sentence(tmp_path: Path) -> None:
    settings = run_blocked("""
        from usecases.settings import SettingsError, load_settings
        try:
            load_settings()
        except SettingsError as error:
            print("SENTENCE", error)
    """, env={"ACNE_ENGINE": "torch", "ACNE_DATA_DIR": str(tmp_path)})
    assert settings.returncode == 0, settings.stderr
    sentence = settings.stdout.split("SENTENCE ", 1)[1].strip()
    assert sentence.startswith("ACNE_ENGINE") and "install the training extra" in sentence
    assert sentence.count(". ") == 0 and sentence.endswith(".")

    engine = run_blocked("""
        from core.errors import WeightsError
        from core.manifest import DEFAULT_WEIGHTS_DIR
        from core.pipeline import load_segmenter
        try:
            load_segmenter(DEFAULT_WEIGHTS_DIR, engine="torch")
        except WeightsError as error:
            print("SENTENCE", error)
    """)
    assert engine.returncode == 0, engine.stderr
    assert "install the training extra" in engine.stdout


def test_acne_train_and_evaluate_without_the_training_extra_say_so() -> None:
    result = run_blocked("""
        from usecases.cli import acne
        print("CODES", acne.main(["train", "--help"]), acne.main(["evaluate"]))
        import sys
        print("LOADED", sorted(m for m in sys.modules if m.startswith("core.training")))
    """)
    assert result.returncode == 0, result.stderr
    assert "CODES 2 2" in result.stdout and "LOADED []" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and all("install the training extra" in line for line in lines)
