"""How a new photo's framing differs from the last photo of the same view, in sentences.

Photos compare well over time only when they are taken alike: the face as large in the frame,
the head as upright and turned as far. `compare_framing` measures three differences from the
two photos' faces (box and five landmarks, `core.face`) and says what to change:

- distance: the face's size (the square root of its box's area) relative to the photo's shorter
  side; a face 20% smaller than last time means "move about 20% closer";
- tilt (roll): the angle of the line through the eyes; in the photo's frame, for a photo that is
  not mirrored, an eye line falling to the image's right is a head tilted to the patient's left;
- head turn (yaw): `core.face.yaw_ratio_from_landmarks` (the nose's offset from the eyes'
  midpoint over the eye distance; positive: turned to the patient's left), turned into degrees
  with a rough head model (`NOSE_OFFSET_AT_90_DEG`).

Within every tolerance the photo "matches". Pure: no file, no model, no database.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from core.face import yaw_ratio_from_landmarks
from core.types import FaceResult

# A face up to 10% larger or smaller than last time still matches (the lesion model scales every
# photo to one face width anyway; this keeps the photos alike for the eye).
DISTANCE_TOLERANCE = 0.10
# An eye line within 5 degrees of last time's matches.
TILT_TOLERANCE_DEG = 5.0
# A head turned within 10 degrees of last time's matches (the estimate is rough, see below).
TURN_TOLERANCE_DEG = 10.0
# Rough head model for the turn: yaw_ratio = NOSE_OFFSET_AT_90_DEG * sin(turn). With 0.7, a
# three-quarter view (45 degrees) gives the ratio of about 0.5 that core.face describes.
NOSE_OFFSET_AT_90_DEG = 0.7
# Advice is rounded: distances to 5 percent, angles to whole degrees (turns to 5 degrees).
DISTANCE_STEP_PERCENT = 5
TURN_STEP_DEG = 5

MATCHES = "The framing matches the last photo."

Size = tuple[int, int]  # (width, height) in pixels


@dataclass(frozen=True)
class FramingComparison:
    """The new photo against the last one of its view. The numbers are None when either face
    lacks what they need; `sentences` always says something a person can act on."""

    comparable: bool
    size_ratio: float | None = None  # new face size / last face size, each over its photo
    tilt_change_deg: float | None = None  # new - last eye-line angle; + : more to patient's left
    turn_change_deg: float | None = None  # new - last head turn; + : more to patient's left
    sentences: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return self.comparable and MATCHES in self.sentences


def face_size_fraction(face: FaceResult, size: Size) -> float | None:
    """The face's size (square root of its box's area) over the photo's shorter side."""
    if not face.found or face.box is None:
        return None
    x0, y0, x1, y1 = face.box
    width, height = size
    if x1 <= x0 or y1 <= y0 or min(width, height) <= 0:
        return None
    return math.sqrt((x1 - x0) * (y1 - y0)) / min(width, height)


def eye_line_deg(face: FaceResult) -> float | None:
    """Angle of the line from the image-left eye to the image-right eye, in degrees, positive
    when it falls to the image's right (y grows downwards)."""
    if not face.found or not face.landmarks or len(face.landmarks) < 2:
        return None
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    if (lx, ly) == (rx, ry):
        return None
    return math.degrees(math.atan2(ry - ly, rx - lx))


def head_turn_deg(face: FaceResult) -> float | None:
    """The head turn in degrees (rough), positive when turned to the patient's left; from the
    face's own yaw ratio, or from its landmarks when it has none (a stored face)."""
    if not face.found:
        return None
    ratio = face.yaw_ratio
    if ratio is None:
        if not face.landmarks or len(face.landmarks) != 5:
            return None
        try:
            ratio = yaw_ratio_from_landmarks(face.landmarks)
        except ValueError:
            return None
    sine = max(-1.0, min(1.0, ratio / NOSE_OFFSET_AT_90_DEG))
    return math.degrees(math.asin(sine))


def _rounded(value: float, step: int) -> int:
    return max(step, round(value / step) * step)


def _distance_advice(ratio: float) -> str | None:
    if abs(ratio - 1.0) <= DISTANCE_TOLERANCE:
        return None
    # The face's size in the photo is inversely proportional to the camera's distance.
    if ratio < 1.0:
        percent = _rounded((1.0 - ratio) * 100, DISTANCE_STEP_PERCENT)
        return (f"Move about {percent}% closer: the face is smaller in the frame than in the "
                "last photo.")
    percent = _rounded((ratio - 1.0) * 100, DISTANCE_STEP_PERCENT)
    return (f"Move about {percent}% further away: the face is larger in the frame than in the "
            "last photo.")


def _side(change: float) -> str:
    """Where to move back to: a change to the patient's left is undone to their right."""
    return "right" if change > 0 else "left"


def _tilt_advice(change: float) -> str | None:
    if abs(change) <= TILT_TOLERANCE_DEG:
        return None
    return f"Tilt the head about {round(abs(change))}° to the patient's {_side(change)}."


def _turn_advice(change: float) -> str | None:
    if abs(change) <= TURN_TOLERANCE_DEG:
        return None
    return (f"Turn the head about {_rounded(abs(change), TURN_STEP_DEG)}° to the patient's "
            f"{_side(change)}.")


def compare_framing(last: FaceResult, last_size: Size, new: FaceResult, new_size: Size) -> FramingComparison:
    """How the new photo's framing differs from the last photo of the same view."""
    for face, which in ((new, "the new photo"), (last, "the last photo of this view")):
        if not face.found or face.box is None:
            return FramingComparison(False, sentences=(
                f"The framing cannot be compared: no face was found on {which}.",))
        if face.rough:
            return FramingComparison(False, sentences=(
                (f"The framing cannot be compared: the face on {which} was found only roughly "
                 "(a close-up, a profile or a tilted head)."),))
    new_fraction, last_fraction = face_size_fraction(new, new_size), face_size_fraction(last, last_size)
    ratio = new_fraction / last_fraction if new_fraction and last_fraction else None
    new_line, last_line = eye_line_deg(new), eye_line_deg(last)
    tilt = None if new_line is None or last_line is None else _wrapped(new_line - last_line)
    new_turn, last_turn = head_turn_deg(new), head_turn_deg(last)
    turn = None if new_turn is None or last_turn is None else new_turn - last_turn
    advice = [
        _distance_advice(ratio) if ratio is not None else None,
        _tilt_advice(tilt) if tilt is not None else None,
        _turn_advice(turn) if turn is not None else None,
    ]
    sentences = tuple(text for text in advice if text)
    if not sentences:
        sentences = (MATCHES,)
        if tilt is None or turn is None:
            sentences += ("Tilt and head turn were not compared: a face's eyes and nose were not found.",)
    return FramingComparison(True, size_ratio=ratio, tilt_change_deg=tilt, turn_change_deg=turn,
                             sentences=sentences)


def _wrapped(degrees: float) -> float:
    """An angle difference in (-180, 180]."""
    wrapped = (degrees + 180.0) % 360.0 - 180.0
    return 180.0 if wrapped == -180.0 else wrapped
