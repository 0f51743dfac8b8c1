"""The retake-noise table (core.retake_noise) for the trends, compare and studies pages.

Loaded once per weights folder. Without a table (none listed, or one that is missing or changed)
the pages say nothing about retakes rather than invent numbers.
"""
from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from core.errors import WeightsError
from core.manifest import MANIFEST_NAME
from core.retake_noise import RetakeNoise, load_retake_noise
from dashboard import state

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False, max_entries=4)
def _load(weights_dir: str, stamp: tuple[int, int] | None) -> RetakeNoise | None:
    """`stamp` (the manifest's change time and size) renews the cache when the folder changes."""
    try:
        return load_retake_noise(weights_dir)
    except (WeightsError, OSError) as error:
        log.warning("retake table not used: %s", error)
        return None


def retake_noise() -> RetakeNoise | None:
    """The clinic's retake-noise table, or None when its weights folder has none usable."""
    folder = Path(state.get_settings().weights_dir)
    try:
        info = (folder / MANIFEST_NAME).stat()
        stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = None
    return _load(str(folder), stamp)
