"""core.flags: the quality flag and the face state, in the words every page and the PDF use."""
from __future__ import annotations

import math

from core.flags import (
    FACE_FOUND,
    FACE_NOT_FOUND,
    FACE_ROUGH,
    face_sentence,
    face_state,
    failed_quality,
    quality_cell,
    quality_flag,
    quality_problems,
)

CUT_OFF = ("The face is cut off (39% of it is outside the photo). Keep the whole face, forehead "
           "to chin, in the frame.")
BLURRY = "The photo is blurry (sharpness 41, needs 60). Hold the phone still."


def test_a_passed_or_unanalysed_photo_has_no_flag():
    for passed in (True, None, math.nan):
        assert not failed_quality(passed)
        assert quality_flag(passed, [CUT_OFF]) is None
    assert quality_cell(True) == "passed"
    assert quality_cell(None) is None and quality_cell(math.nan) is None


def test_a_failed_photo_says_why_in_the_first_sentence_of_each_reason():
    assert quality_problems([CUT_OFF, BLURRY]) == (
        "the face is cut off (39% of it is outside the photo); the photo is blurry "
        "(sharpness 41, needs 60)")
    assert quality_flag(False, [CUT_OFF]) == (
        "Stored although it failed the quality check: the face is cut off (39% of it is "
        "outside the photo)")
    assert quality_cell(False, []) == "failed: no reason was recorded"
    assert quality_cell(False, (CUT_OFF,)).startswith("failed: the face is cut off")


def test_the_face_state_is_one_fact_for_every_page():
    assert face_state(True, aligned=True) == FACE_FOUND
    assert face_state(True, aligned=False) == FACE_ROUGH
    assert face_state(False, aligned=False) == FACE_NOT_FOUND
    assert face_state(None, aligned=False) == FACE_NOT_FOUND
    assert face_sentence(True, True, "the photo of 1 Feb") is None
    assert face_sentence(True, False, "the photo of 1 Feb") == (
        "The face was found only roughly on the photo of 1 Feb (Face found: roughly (not "
        "registered))")
    assert face_sentence(False, False, "the photo of 1 Feb") == (
        "No face was found on the photo of 1 Feb (Face found: no)")
