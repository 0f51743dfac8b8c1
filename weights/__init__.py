"""The shipped models, as package data: `manifest.json` names each model file with its SHA-256
(`core.manifest`), and `MODEL_CARD.md` says what they were trained on and how well they do.

A package so that a built wheel carries the files (`pyproject.toml`, package-data): installed,
`acne analyze` finds them beside `core` (`core.manifest.DEFAULT_WEIGHTS_DIR`) from any folder.
"""
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent
