"""The whole analysis on a real face photo with a tiny model saved and loaded the real way."""
import numpy as np
import pytest
from skimage import data

from core.errors import ModelNotInstalledError, WeightsError
from core.pipeline import installed_models, load_analyzer
from core.types import LESION_KINDS
from tests.model_factory import TINY_VERSION, build_tiny_weights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    return load_analyzer(build_tiny_weights(tmp_path_factory.mktemp("weights")))


def test_analysis_of_a_real_face(analyzer):
    image = data.astronaut()
    analysis = analyzer.analyze(image)
    assert analysis.face.found and analysis.face.n_faces >= 1
    assert analysis.model_version == f"{TINY_VERSION}+{TINY_VERSION}"
    assert analysis.kind_mask.shape == image.shape[:2]
    assert analysis.probability_map.shape == image.shape[:2]
    assert analysis.alignment is not None and len(analysis.alignment) == 6
    assert analysis.counts.total == len(analysis.lesions)
    for lesion in analysis.lesions:
        x0, y0, x1, y1 = lesion.bbox
        assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
        assert lesion.kind in LESION_KINDS
        assert 1 / len(LESION_KINDS) <= lesion.type_confidence <= 1.0  # the arg-max type's mean probability
        # every lesion box covers lesion pixels of the stored mask
        assert analysis.kind_mask[y0:y1, x0:x1].any()
    assert 0.0 <= analysis.lesion_area_fraction <= 1.0
    assert analysis.skin_area_px > 0
    assert analysis.grade.value in range(4)
    counted = sum(sum(v.values()) for v in analysis.region_counts.values())
    assert counted <= analysis.counts.total
    counts = analysis.to_dict()["counts"]  # the clinical groups, as the command line prints them
    assert counts["inflammatory"] == (counts["papule"] + counts["pustule"] + counts["nodule"]
                                      + counts["inflammatory_type_uncertain"])
    assert counts["non_inflammatory"] == counts["comedone"]


def test_the_clinical_groups_count_nodules_as_inflammatory():
    from core.types import LesionCounts

    counts = LesionCounts(comedone=4, papule=3, pustule=2, nodule=43)
    assert (counts.inflammatory, counts.non_inflammatory, counts.total) == (48, 4, 52)
    assert counts.to_dict() == {"comedone": 4, "papule": 3, "pustule": 2, "nodule": 43,
                                "inflammatory_type_uncertain": 0, "inflammatory": 48,
                                "non_inflammatory": 4, "total": 52}


def test_same_face_at_two_photo_sizes_gives_about_the_same_lesions(analyzer):
    import cv2

    image = data.astronaut()
    big = cv2.resize(image, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    a, b = analyzer.analyze(image), analyzer.analyze(big)
    assert abs(a.counts.total - b.counts.total) <= max(2, 0.25 * a.counts.total)
    assert a.lesion_area_fraction == pytest.approx(b.lesion_area_fraction, abs=0.02)


def test_without_a_skin_check_a_photo_without_a_face_is_not_assessable(analyzer):
    """The tiny weights carry no typicality model: nothing tells a close-up of skin from a wall,
    so a photo without a face stays not assessable (fail closed)."""
    image = np.full((400, 600, 3), 180, np.uint8)
    analysis = analyzer.analyze(image)
    assert not analysis.face.found
    assert not analysis.quality.passed
    assert analysis.alignment is None
    assert analysis.kind_mask.shape == (400, 600)  # measured, kept for the record
    assert not analysis.assessable
    assert analysis.not_assessable_reasons == (
        "No face was found, and these models carry no check that the picture shows skin, so "
        "lesions cannot be counted or graded on this photo.",)
    assert analysis.typicality is None and not analysis.is_closeup
    reported = analysis.to_dict()
    assert (reported["counts"], reported["grade"], reported["lesions"]) == (None, None, [])
    assert reported["typicality"] is None and reported["closeup"] is False
    assert analyzer.analyze(data.astronaut()).assessable


def test_too_little_facial_skin_is_not_assessable():
    from core.assessment import MIN_ASSESSABLE_SKIN_PX, assessment
    from core.types import FaceResult

    face = FaceResult(found=True, box=(0, 0, 30, 30))
    assert assessment(face, MIN_ASSESSABLE_SKIN_PX) == (True, ())
    assessable, reasons = assessment(face, 400)
    assert not assessable
    assert reasons == ("Too little facial skin is visible (400 pixels; at least 1,000 are needed) "
                       "to count lesions or grade this photo.",)


def test_no_manifest_says_no_model_is_installed(tmp_path):
    with pytest.raises(ModelNotInstalledError):
        load_analyzer(tmp_path)
    assert installed_models(tmp_path) == []


def test_corrupt_weight_file_is_named(tmp_path):
    weights = build_tiny_weights(tmp_path / "w")
    (weights / "segmenter.safetensors").write_bytes(b"garbage")
    with pytest.raises(WeightsError, match="segmenter.safetensors"):
        load_analyzer(weights)


def test_installed_models_lists_versions(tmp_path):
    weights = build_tiny_weights(tmp_path / "w")
    roles = {m["role"]: m for m in installed_models(weights)}
    assert set(roles) == {"segmenter", "grader"}
    assert roles["segmenter"]["version"] == TINY_VERSION and len(roles["segmenter"]["sha256"]) == 64


@pytest.mark.parametrize("use", ["second_opinion", "grader"])
def test_hugging_face_classifier_serves_as_second_opinion_or_grader(tmp_path, use):
    analyzer = load_analyzer(build_tiny_weights(tmp_path / "w", hf_use=use))
    analysis = analyzer.analyze(data.astronaut())
    assert analysis.model_version.endswith("+tiny-vit")
    if use == "grader":
        assert analysis.grade.source == "hf:hf-grader" and analysis.second_opinion is None
    else:
        assert analysis.grade.source == "learned"
        assert analysis.second_opinion.source == "hf:hf-grader"
        assert analysis.to_dict()["second_opinion"]["value"] in range(4)


def test_a_face_found_only_on_a_second_look_is_assessable_but_not_used_to_scale(analyzer):
    from tests.core.photo_factory import face_close_up

    image = data.astronaut()
    close_up = face_close_up(image, analyzer.analyze(image).face.box)
    analysis = analyzer.analyze(close_up)
    assert analysis.face.found and analysis.face.rough and not analysis.face.measurable
    assert analysis.assessable and analysis.to_dict()["face"]["rough"] is True
    assert analysis.alignment is None and analysis.region_counts == {}  # measured without landmarks
    assert analysis.skin_area_px == pytest.approx(close_up.shape[0] * close_up.shape[1], rel=0.01)  # all of it


def test_a_weights_folder_with_face_networks_finds_faces_with_its_own(tmp_path):
    """A calibrated folder carries the face networks: its analyzer uses them, not the repository's."""
    import json
    import shutil

    from core.face import get_face_detector
    from core.manifest import DEFAULT_WEIGHTS_DIR
    from core.pipeline import load_analyzer
    from tests.model_factory import build_tiny_weights

    bare = build_tiny_weights(tmp_path / "bare")
    assert load_analyzer(bare).face_detector is get_face_detector()  # none listed: the repository's
    folder = build_tiny_weights(tmp_path / "with_face")
    shipped = json.loads((DEFAULT_WEIGHTS_DIR / "manifest.json").read_text())["models"]
    manifest = json.loads((folder / "manifest.json").read_text())
    for role in ("face_pnet", "face_rnet", "face_onet"):
        shutil.copy(DEFAULT_WEIGHTS_DIR / shipped[role]["file"], folder)
        manifest["models"][role] = shipped[role]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    analyzer = load_analyzer(folder)
    assert analyzer.face_detector.weights_dir == folder.resolve()
    assert analyzer.face_detector is get_face_detector(folder)  # one detector per folder
