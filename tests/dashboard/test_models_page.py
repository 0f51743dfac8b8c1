"""Models page: says plainly when nothing is installed; lists a real installed model otherwise."""
from __future__ import annotations

import pytest

from dashboard import state


def test_no_model_installed_is_said_plainly(dash):
    admin = dash.make_account("root", role="admin")
    at = dash.open_page(admin, "models")
    assert not at.exception
    assert any(w.startswith("No model is installed") for w in dash.texts(at.warning))
    assert not at.code  # no version or checksum is made up
    assert not at.expander


@pytest.mark.slow
def test_installed_model_shows_version_checksum_and_card(dash):
    from core.manifest import read_manifest
    from tests.model_factory import TINY_VERSION, build_tiny_weights

    build_tiny_weights(dash.env.weights_dir)
    (dash.env.weights_dir / "MODEL_CARD.md").write_text("# Tiny test model\n\nRandom weights.\n")
    clinician_id = dash.make_account("root", role="admin")
    at = dash.open_page(clinician_id, "models")
    assert not at.exception
    assert f"In use: model version {TINY_VERSION}+{TINY_VERSION}." in dash.texts(at.success)
    entries = read_manifest(dash.env.weights_dir)
    codes = " ".join(dash.texts(at.code))
    for entry in entries.values():
        assert entry.sha256 in codes
    assert any(f"version {TINY_VERSION}" in h for h in dash.texts(at.subheader))
    assert "# Tiny test model\n\nRandom weights." in dash.texts(at.markdown)
    assert state.NOT_A_DIAGNOSIS in " ".join(dash.texts(at.caption))
