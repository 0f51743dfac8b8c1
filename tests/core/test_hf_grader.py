"""The transformers path: a tiny ViT saved in Hugging Face format and loaded from a local folder."""
import numpy as np
import pytest

from core.errors import WeightsError
from core.hf_grader import HFGrader, label_to_grade
from tests.model_factory import build_tiny_vit


@pytest.mark.parametrize("label,grade", [
    ("level -1", 0), ("Level 0", 0), ("level 1", 1), ("level 2", 2), ("level 3", 3), ("level 4", 3),
    ("clear", 0), ("Mild", 0), ("moderate", 1), ("severe", 2), ("very severe", 3),
])
def test_labels_map_onto_the_product_scale(label, grade):
    assert label_to_grade(label) == grade


def test_unknown_label_is_refused_with_the_label_named():
    with pytest.raises(ValueError, match="banana"):
        label_to_grade("banana")


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    return build_tiny_vit(tmp_path_factory.mktemp("hf") / "tiny-vit")


def test_tiny_vit_loads_offline_and_grades(tiny_vit, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    grader = HFGrader(tiny_vit)
    # five labels collapse onto four grades: level -1 and level 0 both mean grade 0
    assert grader.label_grades.tolist() == [0, 0, 1, 2, 3]
    image = np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    grade = grader.grade(image)
    assert grade.value in range(4)
    assert abs(sum(grade.probabilities) - 1) < 1e-5
    assert grade.confidence == max(grade.probabilities)
    assert grade.source == "hf:tiny-vit"


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="config.json"):
        HFGrader(tmp_path)
