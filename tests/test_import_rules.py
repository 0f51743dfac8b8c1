"""The rules of the house, enforced: import-linter's contracts in pyproject.toml, and no module
that edits sys.path.

- core imports neither db, the application layer (usecases), the dashboard nor Streamlit;
- db imports of core only core.types and core.errors (and never torch or Streamlit);
- the application layer never imports the dashboard or Streamlit (only dashboard/ does);
- product code never imports core.training.
A broken rule fails with the file and line of each import that broke it.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "db", "usecases", "dashboard")
_CHAIN_LINK = re.compile(r"^\s*-?\s*([\w.]+) -> ([\w.]+) \(l\.(\d+)\)", re.MULTILINE)


def lint_imports(root: Path) -> tuple[int, str]:
    """Run import-linter on the packages under `root` with `root/pyproject.toml`'s contracts."""
    linter = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}  # ahead of the editable install's finder
    result = subprocess.run([str(linter), "--config", str(root / "pyproject.toml"), "--no-cache"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def broken_imports(output: str, root: Path) -> list[str]:
    """'core/quality.py:183 imports db.models' for each import in the linter's broken chains."""
    found: list[str] = []
    for importer, imported, line in _CHAIN_LINK.findall(output):
        module = root.joinpath(*importer.split("."))
        path = module / "__init__.py" if module.is_dir() else module.with_suffix(".py")
        entry = f"{path.relative_to(root)}:{line} imports {imported}"
        if entry not in found:
            found.append(entry)
    return found


def test_the_house_keeps_its_import_rules() -> None:
    code, output = lint_imports(ROOT)
    assert code == 0, "Import rules broken:\n" + "\n".join(broken_imports(output, ROOT)) + "\n\n" + output
    assert "4 kept, 0 broken" in output


def _append(path: Path, line: str) -> int:
    """Append an import to a module; returns its line number."""
    text = path.read_text()
    path.write_text(text + ("" if text.endswith("\n") else "\n") + line + "\n")
    return len(path.read_text().splitlines())


@pytest.mark.slow  # copies the product packages and runs the linter on them
def test_a_broken_rule_fails_with_the_file_and_line(tmp_path: Path) -> None:
    for package in PRODUCT:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    planted = {
        f"core/quality.py:{_append(tmp_path / 'core/quality.py', 'import db.models')} imports db.models",
        f"db/photos.py:{_append(tmp_path / 'db/photos.py', 'from core.imaging import decode_photo')}"
        " imports core.imaging",
        f"usecases/visits.py:{_append(tmp_path / 'usecases/visits.py', 'import streamlit')} imports streamlit",
        f"core/pipeline.py:{_append(tmp_path / 'core/pipeline.py', 'from core.training import metrics')}"
        " imports core.training.metrics",
    }

    code, output = lint_imports(tmp_path)

    assert code == 1, output
    assert "0 kept, 4 broken" in output
    assert planted <= set(broken_imports(output, tmp_path)), output


def test_no_module_edits_sys_path() -> None:
    """The project is installed (editable), so nothing needs to put the root on sys.path."""
    offenders = []
    for package in (*PRODUCT, "benchmarks", "tests"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (isinstance(node, ast.Attribute) and node.attr == "path"
                        and isinstance(node.value, ast.Name) and node.value.id == "sys"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], f"sys.path used at {', '.join(offenders)}"
