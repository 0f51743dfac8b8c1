"""The installed models for engineers (the folded section of the Models page): each file with
its version and checksum, the lesion finder's settings and every measured number in readable
words, and the commands that measured them and rebuild the weights.

Read from the weights folder like `usecases.model_facts` (the clinician's part, which builds the
page's overview from both); values shown here have at most three decimals.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from core.manifest import ModelEntry, WeightsAbout
from core.words import words

# What each model measures, in the words of the clinic (its role names the model's purpose).
FACE_FINDER = "Face finder"
LESION_FINDER = "Lesion finder and counter"
GRADER = "Severity grader"


@dataclass(frozen=True)
class Detail:
    """One engineering fact in readable words: 'Lesion threshold' -> '0.5'."""

    name: str
    value: str


@dataclass(frozen=True)
class TechnicalEntry:
    """One installed file, for the folded engineering section."""

    title: str  # "Lesion finder and counter (unet-mobilenet_v2)"
    label: str  # its version in words: "models of 27 Nov 2026, 22:10"
    version: str  # the exact identifier, shown only as code
    file: str
    sha256: str | None
    measured: tuple[tuple[str, tuple[Detail, ...]], ...]  # (caption, facts)
    confusion: tuple[tuple[int, ...], ...] | None = None  # the grader's, on the validation photos


def decimal(value: object) -> str:
    """A measured value for the engineering section: at most three decimals, no trailing zeros."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "not measured"
        if 0 < abs(value) < 0.001:
            return f"{value:.1e}"  # a tiny difference stays visible
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return text if text != "-0" else "0"
    if isinstance(value, (list, tuple)):
        return ", ".join(decimal(item) for item in value)
    return words(str(value))


METRIC_WORDS: dict[str, str] = {
    "n_photos": "photos",
    "precision": "lesion precision (share of marked spots that are lesions)",
    "recall": "lesion recall (share of lesions found)",
    "f1": "lesion F1 (precision and recall together)",
    "count_mae": "count: mean absolute error, lesions",
    "count_pearson": "count: correlation with the marked count",
    "inflammatory_count_mae": "inflammatory count: mean absolute error",
    "inflammatory_count_pearson": "inflammatory count: correlation",
    "iou": "lesion area overlap (IoU)",
    "dice": "lesion area overlap (Dice)",
    "assessable_share": "share of photos with a face and enough skin",
    "grade_accuracy": "grade accuracy",
    "grade_accuracy_learned": "grade accuracy (grader)",
    "grade_accuracy_hayashi_bins": "grade accuracy (count bins)",
    "grade_within_one": "grade within one grade",
    "grader_features": "grader input",
    "features": "grader input",
    "l2": "grader L2 penalty",
    "flip_tta": "mirror averaging",
    "lesion_threshold": "lesion threshold",
    "peak_threshold": "lesion centre threshold",
    "min_peak_distance_px": "least distance between lesion centres, pixels",
    "onnx_max_abs_difference": "largest difference from the original network",
}
SETTING_WORDS: dict[str, str] = {
    "architecture": "network",
    "encoder": "encoder",
    "work_scale": "working scale",
    "face_width_px": "face width it works at, pixels",
    "face_context": "face widths of context around the face",
    "train_image_side": "training photo side, pixels",
    "lesion_threshold": "lesion threshold",
    "peak_threshold": "lesion centre threshold",
    "min_peak_distance_px": "least distance between lesion centres, pixels",
    "flip_tta": "mirror averaging",
    "type_confidence_threshold": "type confidence needed to show a type (1 = never)",
    "colour_constancy": "colour correction",
    "decoder_channels": "decoder channels",
}
ROLE_TITLES: dict[str, str] = {"segmenter": LESION_FINDER, "grader": GRADER,
                               "hf_grader": "Second-opinion grader", "face_pnet": FACE_FINDER,
                               "face_rnet": FACE_FINDER, "face_onet": FACE_FINDER,
                               "typicality": "Skin check"}
# How the numbers were measured and how the weights are rebuilt (MODEL_CARD.md has the rest).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("Measure the models on a test set (prints every number above)",
     "python -m core.training.evaluate --data ../shared/data/acne04 --split test --json"),
    ("The same on the web close-ups",
     "python -m core.training.evaluate --data ../shared/data/web_acne --split test --json"),
    ("Accuracy by framing, lighting and rough skin tone",
     "python -m benchmarks.subgroups --data DIR --split test --per-photo CSV"),
    ("Choose thresholds and fit the grader on the validation photos (writes a new weights folder)",
     ("python -m core.training.calibrate --data ../shared/data/acne04 --run runs/RUN "
      "--checkpoint last.pt --out weights")),
)
SPLIT_WORDS: dict[str, str] = {"valid": "validation photos (used to choose the settings)",
                               "test": "test photos"}


def metric_details(metrics: dict) -> tuple[Detail, ...]:
    """Flat facts of one metrics block (nested blocks are left to the caller)."""
    return tuple(Detail(METRIC_WORDS.get(name, words(name)), decimal(value))
                 for name, value in metrics.items()
                 if not isinstance(value, dict) and name != "grade_confusion")


def _measured(entry: ModelEntry, about: WeightsAbout) -> tuple[tuple[str, tuple[Detail, ...]], ...]:
    """(caption, facts) for each metrics block of the entry: its own checks, then each split
    (and each test set inside one)."""
    set_words = dict(about.test_sets)
    blocks: list[tuple[str, tuple[Detail, ...]]] = []
    flat = {k: v for k, v in entry.metrics.items() if not isinstance(v, dict)}
    if flat:
        blocks.append(("Checked when the file was made", metric_details(flat)))
    for split, block in entry.metrics.items():
        if not isinstance(block, dict):
            continue
        where = SPLIT_WORDS.get(split, words(split))
        nested = {k: v for k, v in block.items() if isinstance(v, dict)}
        own = {k: v for k, v in block.items() if not isinstance(v, dict)}
        if own:
            blocks.append((f"Measured on the {where}", metric_details(own)))
        for name, metrics in nested.items():
            blocks.append((f"Measured on the {where}: {set_words.get(name, words(name))}",
                           metric_details(metrics)))
    return tuple(blocks)


def _confusion(entry: ModelEntry) -> tuple[tuple[int, ...], ...] | None:
    matrix = (entry.metrics.get("valid") or {}).get("grade_confusion") \
        if isinstance(entry.metrics.get("valid"), dict) else None
    if not isinstance(matrix, list) or not all(isinstance(row, list) for row in matrix):
        return None
    return tuple(tuple(int(cell) for cell in row) for row in matrix)


def lesion_settings(entries: dict[str, ModelEntry]) -> tuple[Detail, ...]:
    """The lesion finder's configuration file, in words (empty when there is none)."""
    segmenter = entries.get("segmenter")
    path = segmenter.config_path if segmenter else None
    if path is None or not path.is_file():
        return ()
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return ()
    return tuple(Detail(label, decimal(config[name])) for name, label in SETTING_WORDS.items()
                 if name in config)


def technical_entry(entry: ModelEntry, about: WeightsAbout, *, label: str) -> TechnicalEntry:
    """One installed file for the engineers' section; `label` is its version in words."""
    return TechnicalEntry(title=f"{ROLE_TITLES.get(entry.role, words(entry.role))} ({entry.name})",
                          label=label, version=entry.version, file=entry.path.name,
                          sha256=entry.sha256, measured=_measured(entry, about),
                          confusion=_confusion(entry) if entry.role == "grader" else None)
