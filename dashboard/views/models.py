"""Models: what is installed, its version, checksum, measured metrics and model card."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import ModelNotInstalledError, WeightsError
from core.types import Right, role_may
from dashboard import state


def metrics_table(metrics: dict) -> pd.DataFrame:
    """Flat two-column table of a manifest's metrics (nested groups joined with a dot)."""
    rows: list[dict[str, str]] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            rows.append({"metric": prefix, "value": str(value)})

    walk("", metrics)
    return pd.DataFrame(rows, columns=["metric", "value"])


actor = state.require_actor()
st.title("Models")
settings = state.get_settings()

analyzer = state.get_analyzer()
if analyzer is None:
    state.show_no_model_warning()
else:
    st.success(f"In use: model version {analyzer.model_version}.")
if role_may(actor.role, Right.ADMINISTER) and st.button("Look for newly installed models", key="reload_models"):
    state.reload_analyzer()
    st.rerun()

try:
    from core.pipeline import installed_models

    models = installed_models(settings.weights_dir)
except (ModelNotInstalledError, WeightsError) as error:
    models = []
    st.info(f"Nothing to list in {settings.weights_dir}: {error}")

for model in models:
    with st.container(border=True):
        role = f"{model['role']}: " if model.get("role") else ""
        st.subheader(f"{role}{model.get('name', 'model')} — version {model.get('version', '?')}")
        st.code(f"{model.get('file', '')}  sha256 {model.get('sha256', 'not recorded')}", language=None)
        metrics = model.get("metrics") or {}
        if metrics:
            st.dataframe(metrics_table(metrics), hide_index=True, width="stretch")
        else:
            st.caption("No measured metrics recorded in the manifest.")

card_paths = [Path(m["model_card"]) for m in models if m.get("model_card")]
card_paths.append(Path(settings.weights_dir) / "MODEL_CARD.md")
card = next((path for path in card_paths if path.is_file()), None)
if card is not None:
    with st.expander("Model card", expanded=True):
        st.markdown(card.read_text(encoding="utf-8"))
elif models:
    st.info("No model card found next to the weights.")
state.show_notice()
