"""A Hugging Face image classifier (local folder, `AutoModelForImageClassification`) as a
severity grader or second opinion. Its `id2label` is read at run time and mapped onto the
product's ACNE04 / Hayashi scale; nothing is ever fetched from a hub.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from core.errors import WeightsError
from core.types import GRADE_LABELS, Grade

_WORDS = {"clear": 0, "none": 0, "mild": 0, "moderate": 1, "severe": 2, "very severe": 3,
          "very_severe": 3}


def label_to_grade(label: str) -> int:
    """Map a classifier label onto grade 0-3.

    Numbers: "level -1" (clear) and "level 0" -> 0, 1 -> 1, 2 -> 2, 3 and 4 -> 3 (the demo's ViT
    used "level -1" .. "level 3/4"). Words: clear/mild -> 0, moderate -> 1, severe -> 2,
    very severe -> 3."""
    text = label.strip().lower()
    for word in sorted(_WORDS, key=len, reverse=True):
        if word in text:
            return _WORDS[word]
    match = re.search(r"-?\d+", text)
    if match:
        return int(min(max(int(match.group()), 0), 3))
    raise ValueError(f"cannot map classifier label {label!r} onto the grades 0-3 "
                     f"(expected a number or one of {sorted(_WORDS)})")


class HFGrader:
    """Loads a local Hugging Face image-classification folder once; grades RGB images."""

    def __init__(self, folder: Path | str) -> None:
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise WeightsError(f"Hugging Face model folder {folder} has no config.json")
        try:
            self.processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForImageClassification.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise WeightsError(f"cannot load the classifier in {folder}: {exc}") from exc
        self.model.eval()
        id2label = self.model.config.id2label
        self.label_grades = np.array([label_to_grade(id2label[i]) for i in range(len(id2label))])
        self.name = folder.name

    def grade(self, image: np.ndarray) -> Grade:
        """Class probabilities summed per grade; the grade with the most probability wins."""
        import torch

        with torch.inference_mode():
            inputs = self.processor(images=image, return_tensors="pt")
            probs = torch.softmax(self.model(**inputs).logits[0], dim=-1).numpy()
        per_grade = np.zeros(4)
        np.add.at(per_grade, self.label_grades, probs)
        value = int(per_grade.argmax())
        return Grade(value=value, label=GRADE_LABELS[value], confidence=float(per_grade[value]),
                     probabilities=tuple(float(p) for p in per_grade), source=f"hf:{self.name}")
