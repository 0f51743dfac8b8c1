"""The weights in the repository load through the manifest, analyse a real face and find the same
lesions whatever the photo's size."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from core.manifest import read_manifest, verified_path
from core.pipeline import load_analyzer
from core.training.metrics import match_lesions

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


def _face_with_spots():
    """The astronaut with a 5 x 5 grid of blurred red spots of papule size over her face (some
    fall on eyes and hair), and the spots' boxes."""
    image = data.astronaut().copy()
    xs, ys = np.meshgrid(np.arange(185, 285, 22), np.arange(120, 240, 26))
    spots = np.column_stack([xs.ravel(), ys.ravel()])
    painted = image.copy()
    for x, y in spots:
        cv2.circle(painted, (int(x), int(y)), 4, (170, 60, 60), -1)
    weight = cv2.GaussianBlur((painted != image).any(axis=2).astype(np.float32), (7, 7), 2)[..., None]
    blurred = cv2.GaussianBlur(painted, (5, 5), 1.5)
    image = (image * (1 - weight) + blurred * weight).astype(np.uint8)
    return image, [(x - 5, y - 5, x + 5, y + 5) for x, y in spots]


def _spots_found(lesions, boxes_in_photo, spots) -> set[int]:
    return {t for _, t in match_lesions(boxes_in_photo, [l.score for l in lesions], spots)}


def test_a_12_megapixel_copy_and_a_640_crop_give_the_same_lesions():
    analyzer = load_analyzer(WEIGHTS)
    photo, spots = _face_with_spots()
    first = analyzer.analyze(photo).lesions
    found = _spots_found(first, [l.bbox for l in first], spots)
    assert len(found) >= 5  # the model sees the painted spots, so the comparison means something
    # The same face as a 12 MP phone photo (3464 x 3464)...
    side = 3464
    big = cv2.resize(photo, (side, side), interpolation=cv2.INTER_CUBIC)
    back = photo.shape[0] / side
    twelve = analyzer.analyze(big).lesions
    # At most 2 of the 25 painted spots differ: the weights shipped on 2026-11-27 find 12 at
    # 512 px and 10 at 12 MP, the two others being faint (peaks 0.27-0.28 against the 0.22
    # threshold); every lesion found is a painted spot.
    assert abs(len(twelve) - len(first)) <= 2
    assert len(_spots_found(twelve, [tuple(v * back for v in l.bbox) for l in twelve], spots) ^ found) <= 2
    # ...and a 640 x 640 crop of that photo around the face (a borderline lesion in the hair may
    # come and go with the resampling; the painted spots must not).
    x0, y0, crop = 800, 250, 2000
    small = cv2.resize(big[y0:y0 + crop, x0:x0 + crop], (640, 640), interpolation=cv2.INTER_AREA)
    k = crop / 640
    cropped = analyzer.analyze(small).lesions
    in_photo = [((b[0] * k + x0) * back, (b[1] * k + y0) * back, (b[2] * k + x0) * back, (b[3] * k + y0) * back)
                for b in (l.bbox for l in cropped)]
    assert abs(len(cropped) - len(first)) <= 2
    assert len(_spots_found(cropped, in_photo, spots) ^ found) <= 2


def _cheek_close_up() -> np.ndarray:
    """A close-up of the astronaut's cheek, 640 px: skin without a face."""
    image = data.astronaut()
    return cv2.resize(image[150:230, 170:240], (640, 640), interpolation=cv2.INTER_CUBIC)


def test_a_close_up_of_skin_without_a_face_is_measured_and_graded():
    analyzer = load_analyzer(WEIGHTS)
    analysis = analyzer.analyze(_cheek_close_up())
    assert not analysis.face.found
    assert analysis.assessable and analysis.not_assessable_reasons == ()
    assert analysis.is_closeup
    reported = analysis.to_dict()
    assert reported["face"]["found"] is False and reported["assessable"] is True
    assert reported["closeup"] is True
    assert reported["counts"] is not None and reported["counts"]["total"] == len(reported["lesions"])
    assert reported["grade"]["value"] in range(4) and reported["grade"]["graded_from_closeup"] is True
    assert 0.0 <= reported["lesion_area_fraction"] <= 1.0
    assert 0.0 <= reported["typicality"] <= 1.0
    # Alignment, regions and GAGS need a face: none for a close-up.
    assert reported["alignment"] is None and reported["region_counts"] == {}
    assert reported["gags_estimate"] is None
    # A whole face is not a close-up.
    face = analyzer.analyze(data.astronaut()).to_dict()
    assert face["closeup"] is False and face["grade"]["graded_from_closeup"] is False


def test_pictures_that_are_not_skin_are_refused_with_a_sentence():
    from core.training.nonskin import nonskin_pictures

    analyzer = load_analyzer(WEIGHTS)
    pictures = nonskin_pictures()
    assert len(pictures) >= 30
    measured = {}
    for name, picture in pictures.items():
        analysis = analyzer.analyze(picture)
        if analysis.assessable:
            measured[name] = analysis.typicality
        else:
            (reason,) = analysis.not_assessable_reasons
            assert reason.endswith(".") and "cannot be counted or graded" in reason
            assert analysis.to_dict()["counts"] is None
    assert measured == {}


def test_every_analysis_carries_its_typicality():
    analyzer = load_analyzer(WEIGHTS)
    assert analyzer.typicality is not None and "+typicality-" in analyzer.model_version
    analysis = analyzer.analyze(data.astronaut())
    # Scikit-image's astronaut is a face, so it is measured; she looks like no training photo
    # (a studio portrait in a space suit), so she is measured with a warning.
    assert analysis.assessable and 0.0 <= analysis.typicality <= 1.0
    assert analysis.unusual == (analysis.typicality < analyzer.typicality.parameters.warn_below)
    assert analysis.to_dict()["typicality"] == round(analysis.typicality, 4)
