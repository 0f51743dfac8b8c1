"""Redness and dark marks against the patient's own skin, and the colour card (issue 29).

Synthetic skin: an oval of one skin colour with pixel noise and the soft shading of a face,
red and brown patches painted onto it with known areas.
"""
import cv2
import numpy as np
import pytest
from skimage import data

from core.colour_card import (
    COLOUR_CHECKER_LAB,
    COLOUR_CHECKER_SRGB,
    correct_colours,
    draw_colour_checker,
    find_colour_card,
)
from core.colour_measures import (
    COLOUR_REFERENCED,
    DARK_BIT,
    RED_BIT,
    SELF_REFERENCED,
    measure_colour,
)
from core.colour_space import delta_e_2000, linear_to_srgb8, srgb_to_lab, srgb_to_linear
from core.types import ColourMeasures

SIZE = 320
SKIN_RGB = (205, 160, 140)
RED_GAINS = (1.0, 0.70, 0.78)  # linear RGB: delta-a* about +11
BROWN_GAINS = (0.75, 0.66, 0.55)  # darker by about 10 L*, browner


def skin_photo(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(image, skin mask): an oval of skin on grey, with noise and a soft left-right shading."""
    rng = np.random.default_rng(seed)
    image = np.full((SIZE, SIZE, 3), 90, np.uint8)
    skin = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(skin, (SIZE // 2, SIZE // 2), (130, 150), 0, 0, 360, 1, -1)
    skin = skin.astype(bool)
    shading = np.linspace(1.0, 0.85, SIZE, dtype=np.float32)[None, :, None]  # light from the left
    linear = srgb_to_linear(np.array(SKIN_RGB, np.uint8))[None, None] * shading
    face = linear_to_srgb8(np.broadcast_to(linear, (SIZE, SIZE, 3))).astype(np.float32)
    face += rng.normal(0, 2.0, face.shape)
    image[skin] = np.clip(face, 0, 255).astype(np.uint8)[skin]
    return image, skin


def paint(image: np.ndarray, centre: tuple[int, int], radius: int, gains) -> np.ndarray:
    """A disc of `image` with its linear colour multiplied by `gains`; returns the disc mask."""
    disc = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(disc, centre, radius, 1, -1)
    disc = disc.astype(bool)
    image[disc] = linear_to_srgb8(srgb_to_linear(image[disc]) * np.array(gains, np.float32))
    return disc


def with_cast(image: np.ndarray, gains) -> np.ndarray:
    """A camera's white balance and exposure: one gain per channel in linear light."""
    return linear_to_srgb8(srgb_to_linear(image) * np.array(gains, np.float32))


NO_LESIONS = np.zeros((SIZE, SIZE), bool)


def test_clear_skin_has_almost_no_red_area_and_no_dark_marks():
    image, skin = skin_photo()
    measures = measure_colour(image, skin, NO_LESIONS)
    assert measures.reference == SELF_REFERENCED and measures.card_delta_e is None
    assert measures.red_area_fraction < 0.005
    assert measures.dark_area_fraction < 0.005  # the face's soft shading is not a mark
    assert measures.measured_fraction > 0.9
    skin_lab = srgb_to_lab(np.array(SKIN_RGB, np.uint8))
    assert measures.skin_a == pytest.approx(float(skin_lab[1]), abs=1.5)


def test_painted_red_and_brown_patches_raise_their_areas_by_their_size():
    image, skin = skin_photo()
    red = paint(image, (110, 130), 18, RED_GAINS)
    brown = paint(image, (200, 200), 14, BROWN_GAINS)
    measures = measure_colour(image, skin, NO_LESIONS)
    n = measures.measured_fraction * skin.sum()
    assert measures.red_area_fraction == pytest.approx(red.sum() / n, rel=0.25)
    assert measures.dark_area_fraction == pytest.approx(brown.sum() / n, rel=0.3)
    assert measures.red_mean_delta_a > 7.0
    assert measures.dark_mean_delta_l < -6.0
    # the layers' mask marks the patches where they were painted
    assert ((measures.mask[red] & RED_BIT) > 0).mean() > 0.7
    assert ((measures.mask[brown] & DARK_BIT) > 0).mean() > 0.6
    assert not (measures.mask[~skin]).any()


@pytest.mark.parametrize("gains", [(1.08, 1.0, 0.92), (0.92, 1.0, 1.08), (0.85, 0.85, 0.85),
                                   (1.15, 1.08, 1.0)])
def test_relative_measures_cancel_a_global_colour_cast(gains):
    image, skin = skin_photo()
    paint(image, (110, 130), 18, RED_GAINS)
    paint(image, (200, 200), 14, BROWN_GAINS)
    clean = measure_colour(image, skin, NO_LESIONS)
    cast = measure_colour(with_cast(image, gains), skin, NO_LESIONS)
    assert abs(cast.red_area_fraction - clean.red_area_fraction) < 0.005
    assert abs(cast.dark_area_fraction - clean.dark_area_fraction) < 0.005
    assert cast.red_mean_delta_a == pytest.approx(clean.red_mean_delta_a, abs=1.0)
    # ... where the absolute colour of the skin moves with the cast
    assert abs(cast.skin_a - clean.skin_a) + abs(cast.skin_l - clean.skin_l) + \
        abs(cast.skin_b - clean.skin_b) > 1.0


def test_lesions_are_left_out_of_the_dark_marks():
    image, skin = skin_photo()
    brown = paint(image, (200, 200), 14, BROWN_GAINS)
    assert measure_colour(image, skin, NO_LESIONS).dark_area_fraction > 0.005
    measures = measure_colour(image, skin, brown)  # the same patch, found as a lesion
    assert measures.dark_area_fraction == 0.0
    assert measures.dark_mean_delta_l is None


@pytest.mark.parametrize("background", [(90, 90, 90), (60, 90, 160), (40, 110, 60)])
def test_a_close_up_is_measured_over_its_skin_share_not_its_background(background):
    image, skin = skin_photo()
    image[~skin] = background
    red = paint(image, (110, 130), 18, RED_GAINS)
    whole_frame = np.ones_like(skin)  # a close-up without a face: the whole frame is offered
    measures = measure_colour(image, whole_frame, NO_LESIONS)
    assert measures.measured_fraction == pytest.approx(skin.mean(), abs=0.05)
    n = measures.measured_fraction * whole_frame.sum()
    assert measures.red_area_fraction == pytest.approx(red.sum() / n, rel=0.25)
    assert measures.dark_area_fraction < 0.005


def test_too_little_skin_gives_no_measures():
    image, _ = skin_photo()
    tiny = np.zeros((SIZE, SIZE), bool)
    tiny[:10, :10] = True
    assert measure_colour(image, tiny, NO_LESIONS) is None
    with pytest.raises(ValueError, match="must match"):
        measure_colour(image, np.ones((5, 5), bool), NO_LESIONS)


def test_delta_e_2000_matches_sharma_reference_pairs():
    # Sharma, Wu and Dalal (2005), table 1, pairs 1, 7 and 17
    lab1 = np.array([[50.0, 2.6772, -79.7751], [50.0, 0.0, 0.0], [50.0, 2.5, 0.0]])
    lab2 = np.array([[50.0, 0.0, -82.7485], [50.0, -1.0, 2.0], [73.0, 25.0, -18.0]])
    assert delta_e_2000(lab1, lab2) == pytest.approx([2.0425, 2.3669, 27.1492], abs=1e-4)


def card_photo(gains=(1.12, 1.0, 0.82), angle: float = 0.0, quality: int = 90) -> np.ndarray:
    """The skin photo with a ColorChecker beside it, a colour cast, a turn and JPEG."""
    image, _ = skin_photo()
    canvas = np.full((SIZE + 200, SIZE + 300, 3), 70, np.uint8)
    canvas[:SIZE, :SIZE] = image
    card = draw_colour_checker(28)
    h, w = card.shape[:2]
    canvas[SIZE + 10:SIZE + 10 + h, 320:320 + w] = card
    if angle:
        centre = (320 + w / 2, SIZE + 10 + h / 2)
        turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
        canvas = cv2.warpAffine(canvas, turn, canvas.shape[1::-1], flags=cv2.INTER_AREA, borderValue=(70, 70, 70))
    cast = with_cast(canvas, gains)
    ok, jpeg = cv2.imencode(".jpg", cast[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1].copy()


@pytest.mark.parametrize("angle", [0.0, 12.0, 90.0])
def test_a_colour_card_is_found_and_corrects_a_cast(angle):
    photo = card_photo(angle=angle)
    card = find_colour_card(photo)
    assert card is not None
    assert card.patches_used >= 20 and card.residual_delta_e < 2.0
    # the card's own patches, corrected, land near the published values
    drawn = draw_colour_checker(28)
    casted = with_cast(drawn, (1.12, 1.0, 0.82))
    corrected = correct_colours(casted, np.asarray(card.matrix))
    gap = 7
    samples = np.array([corrected[gap + r * 35 + 14, gap + c * 35 + 14] for r in range(4) for c in range(6)])
    assert np.median(delta_e_2000(srgb_to_lab(samples), COLOUR_CHECKER_LAB)) < 2.0


def test_no_card_is_found_where_there_is_none():
    assert find_colour_card(data.astronaut()) is None
    image, _ = skin_photo()
    assert find_colour_card(image) is None


def test_card_path_measures_the_skin_in_the_cards_colours_and_says_so():
    clean, skin = skin_photo()
    photo = card_photo()
    card = find_colour_card(photo)
    image = photo[:SIZE, :SIZE].copy()
    referenced = measure_colour(image, skin, NO_LESIONS, card)
    self_referenced = measure_colour(image, skin, NO_LESIONS)
    truth = measure_colour(clean, skin, NO_LESIONS)
    assert referenced.reference == COLOUR_REFERENCED and referenced.colour_referenced
    assert referenced.card_delta_e == card.residual_delta_e
    assert self_referenced.reference == SELF_REFERENCED and not self_referenced.colour_referenced

    def lab(m: ColourMeasures) -> np.ndarray:
        return np.array([m.skin_l, m.skin_a, m.skin_b])

    # the card puts the skin back to its colour before the cast; without it, the cast stays
    assert delta_e_2000(lab(referenced), lab(truth)) < 2.0
    assert delta_e_2000(lab(self_referenced), lab(truth)) > 4.0


def test_the_card_reference_values_are_the_published_ones():
    assert COLOUR_CHECKER_SRGB.shape == (24, 3)
    assert tuple(COLOUR_CHECKER_SRGB[0]) == (115, 82, 68)  # dark skin
    assert tuple(COLOUR_CHECKER_SRGB[18]) == (243, 243, 242)  # white


def test_analysis_json_has_a_colour_block_only_when_assessable():
    from core.types import Analysis, FaceResult, Grade, LesionCounts, QualityResult

    measures = measure_colour(*skin_photo(), NO_LESIONS)
    analysis = Analysis(width=SIZE, height=SIZE, lesions=(), counts=LesionCounts(),
                        grade=Grade(0, "mild", 0.9), lesion_area_fraction=0.0, skin_area_px=5000,
                        face=FaceResult(found=True), quality=QualityResult(passed=True),
                        model_version="m", colour=measures)
    block = analysis.to_dict()["colour"]
    assert block["reference"] == "self-referenced"
    assert set(block) >= {"red_area_percent", "dark_mark_area_percent", "red_mean_delta_a",
                          "dark_mark_mean_delta_l", "clear_skin", "measured_skin_percent"}
    assert block["red_area_percent"] == round(100 * measures.red_area_fraction, 2)
    from dataclasses import replace

    assert replace(analysis, assessable=False).to_dict()["colour"] is None


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    from core.pipeline import load_analyzer
    from tests.model_factory import build_tiny_weights

    return load_analyzer(build_tiny_weights(tmp_path_factory.mktemp("weights")))


@pytest.mark.slow
def test_every_assessable_analysis_carries_colour_measures_with_and_without_a_card(analyzer):
    face = data.astronaut()
    plain = analyzer.analyze(face)
    assert plain.assessable and plain.colour is not None
    assert plain.colour.reference == SELF_REFERENCED
    assert plain.colour.mask.shape == face.shape[:2]
    assert plain.to_dict()["colour"]["reference"] == "self-referenced"

    with_card = face.copy()
    card = draw_colour_checker(14)
    with_card[-card.shape[0] - 4:-4, 4:4 + card.shape[1]] = card
    warm = with_cast(with_card, (1.15, 1.0, 0.85))
    referenced = analyzer.analyze(warm)
    assert referenced.assessable and referenced.colour.reference == COLOUR_REFERENCED
    assert referenced.colour.card_delta_e < 2.0
    # the card takes the cast out: the skin's colour is the plain photo's again
    def lab(m: ColourMeasures) -> np.ndarray:
        return np.array([m.skin_l, m.skin_a, m.skin_b])

    assert delta_e_2000(lab(referenced.colour), lab(plain.colour)) < 2.0
    unreferenced = analyzer.analyze(with_cast(face, (1.15, 1.0, 0.85)))
    assert delta_e_2000(lab(unreferenced.colour), lab(plain.colour)) > 3.0


def test_layer_outlines_trace_each_marked_region():
    from core.colour_measures import layer_outlines

    mask = np.zeros((60, 80), np.uint8)
    mask[10:20, 10:30] = RED_BIT
    mask[40:50, 50:60] = DARK_BIT | RED_BIT
    mask[1, 1] = DARK_BIT  # a single pixel: too small to draw
    red = layer_outlines(mask, RED_BIT)
    dark = layer_outlines(mask, DARK_BIT)
    assert len(red) == 2 and len(dark) == 1
    x, y = dark[0][:, 0], dark[0][:, 1]
    assert (x.min(), x.max(), y.min(), y.max()) == (50, 59, 40, 49)
    assert np.array_equal(dark[0][0], dark[0][-1])  # closed
    with pytest.raises(ValueError, match="not a colour layer"):
        layer_outlines(mask, 8)
