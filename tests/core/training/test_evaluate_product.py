"""`evaluate` measures the product: the photos the product refuses count as finding nothing, the
metrics are given over all photos and over the assessed ones, with the share assessed."""
import numpy as np
import pytest

from core.training import evaluate
from core.training.data import labelled_only, read_split
from core.types import Analysis, FaceResult, Grade, Lesion, LesionCounts, QualityResult
from tests.core.training.test_training import make_dataset


class PerfectButPicky:
    """Finds exactly the labelled lesions and the true grade, but refuses the photos whose index
    is in `refused` (as core.assessment would); photo `closeup` has no face, photo 3 a turned one."""

    def __init__(self, samples, refused: set[int], closeup: int) -> None:
        self.samples, self.refused, self.closeup, self.calls = samples, refused, closeup, 0

    def analyze(self, image):
        i, self.calls = self.calls, self.calls + 1
        sample = self.samples[i]
        lesions = tuple(Lesion(bbox=tuple(int(v) for v in l.bbox), kind=l.kind or "papule", score=0.9,
                               area_px=100) for l in sample.lesions)
        mask = np.zeros(image.shape[:2], np.uint8)
        for x0, y0, x1, y1 in (l.bbox for l in lesions):
            mask[y0:y1, x0:x1] = 1
        return Analysis(
            width=image.shape[1], height=image.shape[0], lesions=lesions,
            counts=LesionCounts.from_lesions(lesions),
            grade=Grade(value=sample.grade, label="x", confidence=0.8), lesion_area_fraction=0.1,
            skin_area_px=5000, face=FaceResult(found=i != self.closeup, view="left" if i == 3 else "front"), quality=QualityResult(True),
            model_version="stub", assessable=i not in self.refused,
            not_assessable_reasons=("This picture does not look like skin.",) if i in self.refused else (),
            typicality=0.9 - 0.2 * i, kind_mask=mask)


@pytest.fixture()
def scored(tmp_path):
    data = make_dataset(tmp_path / "acne", n_per_split=4)
    samples = labelled_only(read_split(data, "test"))
    analyzer = PerfectButPicky(samples, refused={0}, closeup=2)
    return samples, evaluate.score_photos(analyzer, samples, progress=False)


def test_a_refused_photo_counts_as_finding_nothing_over_all_photos(scored):
    samples, photos = scored
    out = evaluate.product_summary(photos)
    n_true = [len(s.lesions) for s in samples]
    # Over all photos: the refused photo's lesions are missed, its count is 0, its grade wrong.
    assert out["precision"] == 1.0
    assert out["recall"] == pytest.approx(sum(n_true[1:]) / sum(n_true))
    assert out["count_mae"] == pytest.approx(n_true[0] / 4)
    assert out["grade_accuracy"] == pytest.approx(3 / 4)
    assert out["grade_accuracy_of_graded_photos"] == 1.0
    # Over the assessed photos alone the stub is perfect.
    over = out["over_assessed"]
    assert over["n_photos"] == 3 and over["f1"] == 1.0 and over["count_mae"] == 0.0
    assert over["grade_accuracy"] == 1.0


def test_the_share_assessed_by_true_grade_and_the_close_ups(scored):
    samples, photos = scored
    out = evaluate.product_summary(photos)
    assessed = out["assessed"]
    assert (assessed["n_photos"], assessed["n_assessed"], assessed["n_closeups"]) == (4, 3, 1)
    assert assessed["share"] == out["assessable_share"] == pytest.approx(3 / 4)
    by_grade = assessed["by_true_grade"]
    assert by_grade[str(samples[0].grade)]["n_assessed"] == 0
    assert sum(row["n_photos"] for row in by_grade.values()) == 4
    by_view = out["count_error_by_view"]  # whole face / side / close-up, as the issue asks
    assert set(by_view) == {"face", "front", "side", "closeup"}
    assert [by_view[v]["n_photos"] for v in ("face", "front", "side", "closeup")] == [2, 1, 1, 1]
    # Typicality is reported over the assessed photos.
    assert out["typicality"]["n_photos"] == 3


def test_typicality_report_ranks_the_error_against_typicality():
    def photo(typicality, error):
        return evaluate.PhotoScore(
            tp=0, n_pred=0, n_true=0, pred_count=10 + error, true_count=10, pred_inflammatory=0,
            true_inflammatory=-1, kind_correct=0, typed_matches=0, pred_grade=0, true_grade=-1,
            grade_confidence=0.5, intersection=0, pred_px=0, true_px=0, seconds=0.0, assessable=1,
            closeup=0, typicality=typicality, kind_pairs=(), pred_kinds=(), true_kinds=())

    photos = [photo(t, e) for t, e in [(0.02, 9), (0.04, 7), (0.2, 3), (0.6, 1), (0.9, 0)]]
    report = evaluate.typicality_report(photos)
    assert report["spearman_typicality_vs_count_error"] == pytest.approx(-1.0)
    bands = {(b["typicality_from"], b["typicality_to"]): b for b in report["by_band"]}
    assert bands[(0.0, 0.05)]["count_mae"] == 8.0 and bands[(0.5, 1.0)]["n_photos"] == 2
    assert evaluate.typicality_report([photo(float("nan"), 1)] * 4) is None
