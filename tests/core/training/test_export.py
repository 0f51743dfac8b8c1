"""Writing a weights folder's manifest (`core.training.export.write_manifest`)."""
import json

import pytest

from core.errors import WeightsError
from core.manifest import read_manifest, sha256_of, verified_path
from core.training.export import write_manifest


def test_written_manifest_records_checksums_that_reading_verifies(tmp_path):
    (tmp_path / "grader.json").write_text("{}")
    path = write_manifest(tmp_path, {"grader": {"name": "g", "version": "1", "file": "grader.json"}})
    assert path == tmp_path / "manifest.json" and not (tmp_path / "manifest.json.tmp").exists()
    assert json.loads(path.read_text())["models"]["grader"]["sha256"] == sha256_of(tmp_path / "grader.json")
    entry = read_manifest(tmp_path)["grader"]
    assert verified_path(entry) == tmp_path / "grader.json"
    (tmp_path / "grader.json").write_text("{ }")
    with pytest.raises(WeightsError, match="grader.json is corrupt"):
        verified_path(entry)


def test_write_manifest_refuses_unknown_roles(tmp_path):
    with pytest.raises(ValueError, match="segmenter"):
        write_manifest(tmp_path, {"colouriser": {"name": "c", "version": "1", "file": "x"}})
    assert not (tmp_path / "manifest.json").exists()
