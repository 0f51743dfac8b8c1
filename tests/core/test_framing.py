"""core.framing: how a new photo's framing differs from the last photo of its view."""
from __future__ import annotations

import math

import pytest

from core.face import yaw_ratio_from_landmarks
from core.framing import (
    DISTANCE_TOLERANCE,
    MATCHES,
    TILT_TOLERANCE_DEG,
    TURN_TOLERANCE_DEG,
    compare_framing,
    eye_line_deg,
    face_size_fraction,
    head_turn_deg,
)
from core.types import FaceResult

PHOTO = (1000, 1000)


def face(*, centre=(500.0, 500.0), size=400.0, tilt_deg=0.0, yaw=0.0, with_yaw=True) -> FaceResult:
    """A face whose box is `size` wide and high, eyes 0.4 `size` apart, the eye line turned by
    `tilt_deg` (positive: falling to the image's right) and the nose shifted along it by
    `yaw` eye distances (positive: to the image's right)."""
    cx, cy = centre
    angle = math.radians(tilt_deg)
    along, across = (math.cos(angle), math.sin(angle)), (-math.sin(angle), math.cos(angle))
    eye = 0.4 * size

    def point(u: float, v: float) -> tuple[float, float]:
        return (cx + u * along[0] + v * across[0], cy + u * along[1] + v * across[1])

    landmarks = (point(-eye / 2, -0.1 * size), point(eye / 2, -0.1 * size),
                 point(yaw * eye, 0.05 * size), point(-0.3 * eye, 0.2 * size), point(0.3 * eye, 0.2 * size))
    half = size / 2
    box = (cx - half, cy - half, cx + half, cy + half)
    ratio = yaw_ratio_from_landmarks(landmarks) if with_yaw else None
    return FaceResult(found=True, box=box, landmarks=landmarks, score=0.99, n_faces=1,
                      view="front", yaw_ratio=ratio)


def test_the_same_framing_matches():
    result = compare_framing(face(), PHOTO, face(), PHOTO)
    assert result.comparable and result.matches
    assert result.sentences == (MATCHES,)
    assert result.size_ratio == pytest.approx(1.0)
    assert result.tilt_change_deg == pytest.approx(0.0)
    assert result.turn_change_deg == pytest.approx(0.0)


def test_a_smaller_face_means_move_closer_and_a_larger_one_further_away():
    closer = compare_framing(face(size=400), PHOTO, face(size=320), PHOTO)
    assert closer.size_ratio == pytest.approx(0.8)
    assert closer.sentences == ("Move about 20% closer: the face is smaller in the frame than in "
                                "the last photo.",)
    assert not closer.matches
    further = compare_framing(face(size=400), PHOTO, face(size=500), PHOTO)
    assert further.sentences == ("Move about 25% further away: the face is larger in the frame "
                                 "than in the last photo.",)


def test_distance_is_relative_to_the_photo_so_a_larger_photo_of_the_same_framing_matches():
    # The same framing from a 12 MP phone (4000 x 3000) and a 640 x 480 export.
    phone = face(centre=(2000, 1500), size=1200)
    export = face(centre=(320, 240), size=192)
    result = compare_framing(export, (640, 480), phone, (4000, 3000))
    assert result.matches
    assert face_size_fraction(phone, (4000, 3000)) == pytest.approx(0.4)
    assert face_size_fraction(phone, (3000, 4000)) == pytest.approx(0.4)  # portrait: same side


def test_a_tilted_head_is_told_which_way_to_tilt_back():
    # New eye line falls 8 degrees more to the image's right: head tilted to the patient's left.
    result = compare_framing(face(), PHOTO, face(tilt_deg=8), PHOTO)
    assert result.tilt_change_deg == pytest.approx(8.0)
    assert result.sentences == ("Tilt the head about 8° to the patient's right.",)
    other_way = compare_framing(face(tilt_deg=3), PHOTO, face(tilt_deg=-9), PHOTO)
    assert other_way.sentences == ("Tilt the head about 12° to the patient's left.",)
    assert eye_line_deg(face(tilt_deg=8)) == pytest.approx(8.0)


def test_tilt_across_the_half_turn_is_the_short_way_round():
    assert compare_framing(face(tilt_deg=179), PHOTO, face(tilt_deg=-179), PHOTO).tilt_change_deg \
        == pytest.approx(2.0)


def test_a_turned_head_is_told_which_way_to_turn_back():
    # The nose moved 0.2 eye distances to the image's right: turned to the patient's left.
    result = compare_framing(face(), PHOTO, face(yaw=0.2), PHOTO)
    assert result.turn_change_deg == pytest.approx(math.degrees(math.asin(0.2 / 0.7)))
    assert result.sentences == ("Turn the head about 15° to the patient's right.",)
    back = compare_framing(face(yaw=0.35), PHOTO, face(yaw=0.05), PHOTO)  # a side view, less turned
    assert back.sentences == ("Turn the head about 25° to the patient's left.",)


def test_differences_within_the_tolerances_match():
    just_inside = face(size=400 * (1 - DISTANCE_TOLERANCE + 0.01),
                       tilt_deg=TILT_TOLERANCE_DEG - 0.5,
                       yaw=0.7 * math.sin(math.radians(TURN_TOLERANCE_DEG - 1)))
    assert compare_framing(face(), PHOTO, just_inside, PHOTO).matches
    just_outside = face(size=400 * (1 - DISTANCE_TOLERANCE - 0.01))
    assert not compare_framing(face(), PHOTO, just_outside, PHOTO).matches


def test_every_difference_is_said_in_its_own_sentence():
    result = compare_framing(face(), PHOTO, face(size=300, tilt_deg=-10, yaw=-0.25), PHOTO)
    assert [s.split()[0] for s in result.sentences] == ["Move", "Tilt", "Turn"]
    # Tilted and turned to the patient's right this time: both back to their left.
    assert result.sentences[1] == "Tilt the head about 10° to the patient's left."
    assert result.sentences[2] == "Turn the head about 20° to the patient's left."


def test_a_stored_face_without_yaw_ratio_is_turned_from_its_landmarks():
    stored = face(yaw=0.2, with_yaw=False)
    assert head_turn_deg(stored) == pytest.approx(head_turn_deg(face(yaw=0.2)))
    assert compare_framing(stored, PHOTO, face(yaw=0.2), PHOTO).matches


def test_without_a_face_the_framing_cannot_be_compared():
    none = FaceResult(found=False)
    new_missing = compare_framing(face(), PHOTO, none, PHOTO)
    assert not new_missing.comparable and not new_missing.matches
    assert new_missing.sentences == ("The framing cannot be compared: no face was found on the new photo.",)
    last_missing = compare_framing(none, PHOTO, face(), PHOTO)
    assert last_missing.sentences == (
        "The framing cannot be compared: no face was found on the last photo of this view.",)


def test_a_face_without_landmarks_is_compared_by_size_only():
    boxed = FaceResult(found=True, box=(300.0, 300.0, 700.0, 700.0), n_faces=1)
    result = compare_framing(boxed, PHOTO, face(), PHOTO)
    assert result.comparable and result.matches
    assert result.tilt_change_deg is None and result.turn_change_deg is None
    assert result.sentences[1].startswith("Tilt and head turn were not compared")


def test_a_roughly_found_face_is_not_compared():
    import dataclasses

    rough = dataclasses.replace(face(), rough=True)
    result = compare_framing(face(), PHOTO, rough, PHOTO)
    assert not result.comparable
    assert result.sentences == ("The framing cannot be compared: the face on the new photo was "
                                "found only roughly (a close-up, a profile or a tilted head).",)
