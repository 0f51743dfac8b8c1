"""core.words: counts in the right number and code names in words."""
from __future__ import annotations

import pytest

from core.words import plain_text, plural, sentence_case, words


@pytest.mark.parametrize(("count", "noun", "expected"), [
    (1, "lesion", "1 lesion"),
    (0, "lesion", "0 lesions"),
    (2, "lesion", "2 lesions"),
    (1, "analysis", "1 analysis"),
    (4, "analysis", "4 analyses"),
    (3, "nodule/cyst", "3 nodules/cysts"),
    (2, "study", "2 studies"),
    (2, "analysed visit", "2 analysed visits"),
    (2, "box", "2 boxes"),
    (2, "day", "2 days"),
])
def test_plural(count, noun, expected):
    assert plural(count, noun) == expected


def test_plural_with_a_given_plural():
    assert plural(2, "person", "people") == "2 people"
    assert plural(1, "person", "people") == "1 person"


@pytest.mark.parametrize(("name", "expected"), [
    ("left_cheek", "left cheek"),
    ("non_inflammatory", "non-inflammatory"),
    ("inflammatory_type_uncertain", "inflammatory, type uncertain"),
    ("treatment_event", "treatment event"),
    ("login_failed", "login failed"),
    ("forehead", "forehead"),
    (None, "not recorded"),
])
def test_words(name, expected):
    assert words(name) == expected


def test_words_of_nothing_can_be_a_dash():
    assert words(None, missing="—") == "—"
    assert sentence_case("left cheek") == "Left cheek"


def test_plain_text_puts_code_names_in_words_and_keeps_file_names():
    assert plain_text("changed consent_date, name, skin_type") == "changed consent date, name, skin type"
    assert plain_text("analysis=1 iga=3 grade_override=None") == "analysis=1 iga=3 grade override=—"
    assert plain_text("stored my_face.jpg") == "stored my_face.jpg"
    assert plain_text(None) == "—"
