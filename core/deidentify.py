"""De-identify a face photo for research use: solid bands over the eyes (with the brows) and over
the mouth, placed from the five stored face landmarks (eyes, nose, mouth corners: the order of
`core.types.FaceResult.landmarks`).

Geometry, in the face's own frame: `u` runs along the eye line (left eye -> right eye), `v` at a
right angle to it, down the face; lengths are in eye distances (`d`, between the eye centres).
Both bands turn with the eye line, so a tilted head is masked along its own eyes.
- Eye band: from EYE_BAND_ABOVE `d` above the eye line (brows sit about 0.3-0.5 `d` above the
  eye centres) to EYE_BAND_BELOW `d` below it (lower lids, the top of the cheeks' hollow), and
  EYE_BAND_HALF_LENGTH `d` each way from the eyes' midpoint (outer eye corners near 0.75 `d`).
- Mouth band: centred on the mouth corners' midpoint, MOUTH_BAND_MARGIN `d` past each corner
  (at least MOUTH_BAND_MIN_HALF_LENGTH `d` each way) and MOUTH_BAND_HALF_HEIGHT `d` above and
  below (lips reach about 0.2 `d` from the corners' line).
The cheeks (below the eye band, beside the nose and mouth) and the forehead stay as taken: the
skin a researcher measures.

Without usable landmarks (none stored, a count other than five, eyes at one point, a mouth not
below the eyes) nothing can be placed safely, so nothing of the photo is shown: `deidentify`
returns a plain grey picture of the same size and says why (a cropped or blurred face can
still be recognised; a grey square cannot).

Every face, not only the patient's (issue 24: a second face lying on its side stayed visible):
`deidentify` also takes the faces a search of the photo found (core.face.find_every_face: the
photo and its copies turned by 90, 180 and 270 degrees) and masks each certain one by its own
landmarks. It fails closed: a face-like region the search is unsure of (outside every certain
face's box), or a face whose landmarks cannot place a mask, withholds the whole photo.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

EYE_BAND_HALF_LENGTH = 1.15
EYE_BAND_ABOVE = 0.8
EYE_BAND_BELOW = 0.35
MOUTH_BAND_MARGIN = 0.35
MOUTH_BAND_MIN_HALF_LENGTH = 0.6
MOUTH_BAND_HALF_HEIGHT = 0.35
# The mouth lies 0.8-1.4 `d` below the eye line on a face; outside this range the landmarks
# are not a face's (a swapped order, a failed fit).
MOUTH_DROP_RANGE = (0.4, 2.5)
MIN_EYE_DISTANCE_PX = 4.0
BAND_COLOUR = (0, 0, 0)
WITHHELD_GREY = 128
_SUBPIXEL_BITS = 4  # cv2.fillPoly's fixed-point corners: 1/16 pixel

MASKED_NOTE = ("Eyes and mouth are masked for research use; an administrator can allow "
               "identifiable photos for this study.")
WITHHELD_NOTE = ("This photo is withheld for research use: its eyes and mouth could not be "
                 "located to mask them.")
UNSURE_NOTE = ("This photo is withheld for research use: something in it may be a face, and it "
               "could not be masked with certainty.")
NOT_SEARCHED_NOTE = ("This photo is withheld for research use: it could not be searched for "
                     "other faces to mask them.")

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]


@dataclass(frozen=True)
class FaceBands:
    """The two bands to fill, each as four corners in photo pixels, and the eye line's angle
    (degrees, counter-clockwise from the photo's x axis as seen on screen)."""

    eyes: Quad
    mouth: Quad
    angle_deg: float


@dataclass(frozen=True)
class DeidentifiedPhoto:
    """A photo as a researcher may see it. `masked`: eyes and mouth covered, the rest as taken;
    `withheld`: nothing of the photo is shown (no usable landmarks). `note` says which."""

    image: np.ndarray = field(repr=False, compare=False)
    masked: bool
    withheld: bool
    note: str


def _quad(centre: np.ndarray, u: np.ndarray, v: np.ndarray, u_range: tuple[float, float],
          v_range: tuple[float, float]) -> Quad:
    corners = [centre + a * u + b * v
               for a, b in ((u_range[0], v_range[0]), (u_range[1], v_range[0]),
                            (u_range[1], v_range[1]), (u_range[0], v_range[1]))]
    return tuple((float(x), float(y)) for x, y in corners)  # type: ignore[return-value]


def face_bands(landmarks: Sequence[Sequence[float]] | np.ndarray) -> FaceBands:
    """Where the eye and mouth bands go for these landmarks; ValueError when they cannot be a
    face's (wrong count, not finite, eyes closer than MIN_EYE_DISTANCE_PX, mouth not below)."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2):
        raise ValueError(f"expected 5 (x, y) landmarks, got an array of shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("the landmarks hold a value that is not a number")
    left_eye, right_eye, _nose, mouth_left, mouth_right = points
    eye_line = right_eye - left_eye
    distance = float(np.hypot(*eye_line))
    if distance < MIN_EYE_DISTANCE_PX:
        raise ValueError(f"the eyes are {distance:.1f} px apart: too close to place a mask")
    u = eye_line / distance
    v = np.array([-u[1], u[0]])  # u turned a quarter towards the mouth (image y points down)
    eyes_mid = (left_eye + right_eye) / 2
    mouth_mid = (mouth_left + mouth_right) / 2
    drop = float((mouth_mid - eyes_mid) @ v) / distance
    if not MOUTH_DROP_RANGE[0] <= drop <= MOUTH_DROP_RANGE[1]:
        raise ValueError(f"the mouth is {drop:.2f} eye distances below the eyes: not a face's layout")
    eyes = _quad(eyes_mid, u * distance, v * distance,
                 (-EYE_BAND_HALF_LENGTH, EYE_BAND_HALF_LENGTH), (-EYE_BAND_ABOVE, EYE_BAND_BELOW))
    half_width = abs(float((mouth_right - mouth_left) @ u)) / 2 / distance
    half_length = max(half_width + MOUTH_BAND_MARGIN, MOUTH_BAND_MIN_HALF_LENGTH)
    mouth = _quad(mouth_mid, u * distance, v * distance, (-half_length, half_length),
                  (-MOUTH_BAND_HALF_HEIGHT, MOUTH_BAND_HALF_HEIGHT))
    angle = float(np.degrees(np.arctan2(-u[1], u[0])))
    return FaceBands(eyes=eyes, mouth=mouth, angle_deg=angle)


def _check_image(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image, got {array.dtype} {array.shape}")
    return array


def mask_eyes_and_mouth(image: np.ndarray,
                        landmarks: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """A copy of the RGB photo with solid bands over the eyes (and brows) and the mouth.
    Raises ValueError when the landmarks cannot be a face's (see `face_bands`)."""
    array = _check_image(image)
    bands = face_bands(landmarks)
    scale = 1 << _SUBPIXEL_BITS
    # Pixel centres are at integer coordinates here (core.face's convention), as in cv2.
    polygons = [np.round(np.asarray(quad) * scale).astype(np.int32) for quad in (bands.eyes, bands.mouth)]
    masked = np.ascontiguousarray(array.copy())
    cv2.fillPoly(masked, polygons, BAND_COLOUR, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return masked


def withheld_picture(image: np.ndarray) -> np.ndarray:
    """A plain grey picture the size of the photo: nothing of the photo is in it."""
    height, width = _check_image(image).shape[:2]
    return np.full((height, width, 3), WITHHELD_GREY, np.uint8)


def _inside(point: tuple[float, float], box: Sequence[float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def withhold(image: np.ndarray, note: str) -> DeidentifiedPhoto:
    """Nothing of the photo (a grey picture), with the sentence that says why."""
    return DeidentifiedPhoto(image=withheld_picture(image), masked=False, withheld=True, note=note)


def _centre(box: Sequence[float]) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def deidentify(image: np.ndarray,
               landmarks: Sequence[Sequence[float]] | np.ndarray | None,
               faces: Sequence[Any] | None = None,
               face_box: Sequence[float] | None = None) -> DeidentifiedPhoto:
    """The photo with eyes and mouth masked; without usable landmarks, withheld (grey).

    `faces`: what a search of the photo found (core.face.FaceCandidate: `box`, `landmarks`,
    `certain`), every certain one masked too. An unsure one whose centre lies in no certain
    face's box (nor in `face_box`, the analysis' own face), or a certain face whose landmarks
    place no mask, withholds the photo (fail closed). A candidate centred in `face_box` is the
    analysis' face seen again (at another turn): masked by its own landmarks when they place a
    mask, and otherwise already covered by the analysis' landmarks. None: no search was made,
    only the analysis' face is masked."""
    _check_image(image)
    if landmarks is None:
        return withhold(image, WITHHELD_NOTE)
    found = list(faces or ())
    known = [face.box for face in found if face.certain] + ([face_box] if face_box else [])
    for face in found:
        if not face.certain and not any(_inside(_centre(face.box), box) for box in known):
            return withhold(image, UNSURE_NOTE)
    try:
        masked = mask_eyes_and_mouth(image, landmarks)
    except ValueError:
        return withhold(image, WITHHELD_NOTE)
    for face in found:
        if not face.certain:
            continue
        try:
            masked = mask_eyes_and_mouth(masked, face.landmarks)
        except ValueError:
            if face_box is None or not _inside(_centre(face.box), face_box):
                return withhold(image, WITHHELD_NOTE)
    return DeidentifiedPhoto(image=masked, masked=True, withheld=False, note=MASKED_NOTE)
