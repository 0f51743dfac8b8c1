"""The weights in the repository load through the manifest and analyse a real face."""
from pathlib import Path

import pytest
from skimage import data

from core.manifest import read_manifest, verified_path
from core.pipeline import load_analyzer

WEIGHTS = Path(__file__).resolve().parents[2] / "weights"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (WEIGHTS / "manifest.json").is_file(), reason="no shipped weights")]


def test_every_shipped_file_matches_its_checksum_and_the_size_budget():
    entries = read_manifest(WEIGHTS)
    assert {"segmenter", "grader"} <= set(entries)
    total = sum(verified_path(e).stat().st_size for e in entries.values())
    assert total <= 40 * 1024 * 1024


def test_shipped_models_analyse_a_real_face():
    analyzer = load_analyzer(WEIGHTS)
    analysis = analyzer.analyze(data.astronaut())
    assert analysis.face.found
    assert analysis.model_version == analyzer.model_version
    assert analysis.grade.value in range(4) and 0 < analysis.grade.confidence <= 1
    # the astronaut has clear skin: a working acne model finds few lesions on her face
    assert analysis.counts.total <= 10
