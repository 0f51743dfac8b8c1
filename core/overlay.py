"""Drawings over photos: lesion-type masks, boxes and cross-fades; the photo viewer's marks
(lesion rings by type, the face crop, the heat layer).

All functions take RGB uint8 arrays (H x W x 3) and return new arrays; inputs are never changed.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.types import (
    INFLAMMATORY_KINDS,
    LESION_KINDS,
    NON_INFLAMMATORY_KINDS,
    UNCERTAIN_TYPE_LABEL,
    UNCERTAIN_TYPE_MASK_VALUE,
    Box,
    Lesion,
)

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies, and none of
# them is a skin tone, so a mark stays visible on any face.
KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "comedone": (86, 180, 233),  # sky blue
    "papule": (213, 94, 0),  # vermillion
    "pustule": (240, 228, 66),  # yellow
    "nodule": (204, 121, 167),  # reddish purple
}
UNCERTAIN_TYPE_KEY = "inflammatory_type_uncertain"  # as in LesionCounts.to_dict
UNCERTAIN_TYPE_COLOUR: tuple[int, int, int] = (0, 158, 115)  # bluish green


@dataclass(frozen=True)
class LegendItem:
    """One legend entry: the lesion kind, a label a person reads, and its colour."""

    kind: str
    label: str
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def legend_items() -> list[LegendItem]:
    """The legend for `overlay_kinds` and `draw_boxes`, in `LESION_KINDS` order."""
    items = []
    for kind in LESION_KINDS:
        if kind in INFLAMMATORY_KINDS:
            group = " (inflammatory)"
        elif kind in NON_INFLAMMATORY_KINDS:
            group = " (non-inflammatory)"
        else:
            group = ""
        name = "Nodule/cyst" if kind == "nodule" else kind.capitalize()
        items.append(LegendItem(kind=kind, label=name + group, rgb=KIND_COLOURS[kind]))
    items.append(LegendItem(kind=UNCERTAIN_TYPE_KEY, label=UNCERTAIN_TYPE_LABEL.capitalize(),
                            rgb=UNCERTAIN_TYPE_COLOUR))
    return items


# ---- marks for the photo viewer: lesion rings by type, the face crop, the heat layer ---------

ADDED_BY_CLINICIAN_KEY = "added_by_clinician"
ADDED_BY_CLINICIAN_COLOUR: tuple[int, int, int] = (255, 255, 255)  # as the lesion editor rings them
# The groups a viewer marks and switches, in the order its legend lists them.
MARK_GROUPS: tuple[str, ...] = (*LESION_KINDS, UNCERTAIN_TYPE_KEY, ADDED_BY_CLINICIAN_KEY)
# Beyond the face box (a share of its width or height): the forehead and the jaw carry acne
# that a face detector's box, tight around the eyes, nose and mouth, leaves out.
FACE_CROP_MARGINS = {"left": 0.2, "right": 0.2, "top": 0.4, "bottom": 0.2}
HEAT_FLOOR = 0.15  # lesion probabilities below this are not coloured (skin left unchanged)
HEAT_FULL = 0.5  # from this probability on, the heat colour is at its full opacity
HEAT_MAX_ALPHA = 0.7


def mark_group(lesion: Lesion) -> str:
    """The viewer group of a lesion: added by a clinician, inflammatory of uncertain type, or
    its type (a key of MARK_GROUPS)."""
    if lesion.added_by_clinician:
        return ADDED_BY_CLINICIAN_KEY
    if lesion.type_uncertain:
        return UNCERTAIN_TYPE_KEY
    if lesion.kind not in KIND_COLOURS:
        raise ValueError(f"unknown lesion kind {lesion.kind!r}; expected one of {LESION_KINDS}")
    return lesion.kind


def mark_colour(group: str) -> tuple[int, int, int]:
    """The outline colour of a MARK_GROUPS group (the kinds' colours as on every chart)."""
    if group == ADDED_BY_CLINICIAN_KEY:
        return ADDED_BY_CLINICIAN_COLOUR
    if group == UNCERTAIN_TYPE_KEY:
        return UNCERTAIN_TYPE_COLOUR
    if group not in KIND_COLOURS:
        raise ValueError(f"unknown mark group {group!r}; expected one of {MARK_GROUPS}")
    return KIND_COLOURS[group]


def group_lesions(lesions: Iterable[Lesion]) -> dict[str, list[Lesion]]:
    """The lesions by `mark_group`, in MARK_GROUPS order; groups without a lesion left out."""
    groups: dict[str, list[Lesion]] = {group: [] for group in MARK_GROUPS}
    for lesion in lesions:
        groups[mark_group(lesion)].append(lesion)
    return {group: found for group, found in groups.items() if found}


def face_crop_box(face_box: Sequence[float] | None, width: int, height: int) -> Box:
    """What a viewer shows first: the face box widened by FACE_CROP_MARGINS, inside the photo
    (x1, y1 exclusive). The whole photo when there is no face box or it lies outside the photo."""
    whole = (0, 0, int(width), int(height))
    if face_box is None or len(face_box) != 4:
        return whole
    x0, y0, x1, y1 = (float(v) for v in face_box)
    if not all(np.isfinite([x0, y0, x1, y1])) or x1 <= x0 or y1 <= y0:
        return whole
    w, h = x1 - x0, y1 - y0
    left = max(0, int(np.floor(x0 - FACE_CROP_MARGINS["left"] * w)))
    top = max(0, int(np.floor(y0 - FACE_CROP_MARGINS["top"] * h)))
    right = min(int(width), int(np.ceil(x1 + FACE_CROP_MARGINS["right"] * w)))
    bottom = min(int(height), int(np.ceil(y1 + FACE_CROP_MARGINS["bottom"] * h)))
    if right - left < 2 or bottom - top < 2:
        return whole
    return (left, top, right, bottom)


# A lesion's ring hugs its box (issue 26: rings about 3-4 times a lesion's size hid the skin):
# it runs RING_PAD_SHARE of the photo's shorter side clear of the box (at least RING_PAD_MIN
# pixels: 2 px on a 640 px photo, 6 px on a 12 MP one), corners rounded.
RING_PAD_SHARE = 0.002
RING_PAD_MIN = 2.0


def ring_pad(width: int, height: int) -> float:
    """How far a ring runs clear of its lesion's box, in photo pixels."""
    return max(RING_PAD_MIN, RING_PAD_SHARE * min(int(width), int(height)))


def ring_min_radius(width: int, height: int) -> float:
    """The smallest ring a viewer draws around a lesion, in photo pixels: 0.2% of the shorter
    side (6 px on a 12 MP photo), at least 3 px, so a tiny comedone's ring still shows."""
    return max(3.0, 0.002 * min(int(width), int(height)))


def lesion_ring(bbox: Sequence[float], *, min_radius: float = 3.0, pad: float = RING_PAD_MIN,
                points: int = 24) -> tuple[list[float], list[float]]:
    """A thin ring at the lesion's own size: the box (x1, y1 exclusive) widened by `pad` pixels
    on every side with rounded corners, so every point is `pad` clear of the box and none is
    further than the box plus `pad`; a lesion smaller than `min_radius` gets a ring of that
    radius. In plot coordinates where pixel i spans i - 0.5 .. i + 0.5; closed."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"a lesion box needs x1 > x0 and y1 > y0, got {tuple(bbox)}")
    if points < 4:
        raise ValueError(f"a ring needs at least 4 points, got {points}")
    if pad <= 0:
        raise ValueError(f"a ring's pad must be a positive number of pixels, got {pad}")
    cx, cy = (x0 + x1) / 2.0 - 0.5, (y0 + y1) / 2.0 - 0.5
    # The straight parts run along the box; the corners are quarter circles of radius `pad`.
    half_w = max((x1 - x0) / 2.0, min_radius - pad)
    half_h = max((y1 - y0) / 2.0, min_radius - pad)
    per_corner = max(1, points // 4)
    xs: list[float] = []
    ys: list[float] = []
    for corner, (sx, sy) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):
        angles = np.linspace(corner * np.pi / 2, (corner + 1) * np.pi / 2, per_corner + 1)
        xs += (cx + sx * half_w + pad * np.cos(angles)).tolist()
        ys += (cy + sy * half_h + pad * np.sin(angles)).tolist()
    xs.append(xs[0])
    ys.append(ys[0])
    return [round(x, 1) for x in xs], [round(y, 1) for y in ys]


def shrink_max(plane: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """`plane` made at most `max_side` pixels on its longer side by keeping each block's highest
    value (a small lesion's peak survives), and the block side: pixel (i, j) of the result
    covers pixels i*step .. (i+1)*step - 1 of `plane`."""
    array = np.asarray(plane)
    if array.ndim != 2:
        raise ValueError(f"expected a H x W array, got shape {array.shape}")
    if max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    step = int(np.ceil(max(array.shape) / max_side)) if max(array.shape) > max_side else 1
    if step == 1:
        return array.copy(), 1
    height, width = array.shape
    rows, cols = -(-height // step), -(-width // step)
    padded = np.zeros((rows * step, cols * step), array.dtype)
    padded[:height, :width] = array
    return padded.reshape(rows, step, cols, step).max(axis=(1, 3)), step


def heat_rgba(probability_map: np.ndarray) -> np.ndarray:
    """The lesion probability (uint8, 0-255) as an RGBA layer to lay over the photo: viridis
    colours (dark blue to yellow, unlike any skin tone and readable with colour-vision
    deficiencies), transparent below HEAT_FLOOR and at HEAT_MAX_ALPHA opacity from HEAT_FULL."""
    probability = np.asarray(probability_map)
    if probability.dtype != np.uint8 or probability.ndim != 2:
        raise ValueError(f"probability_map must be a H x W uint8 array (0-255), got dtype "
                         f"{probability.dtype} and shape {probability.shape}")
    colours = cv2.cvtColor(cv2.applyColorMap(probability, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)
    share = probability.astype(np.float32) / 255.0
    alpha = HEAT_MAX_ALPHA * np.clip((share - HEAT_FLOOR) / (HEAT_FULL - HEAT_FLOOR), 0.0, 1.0)
    return np.dstack([colours, np.rint(alpha * 255.0).astype(np.uint8)])


def _check_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            f"{name} must be an RGB uint8 array (H x W x 3), got dtype {array.dtype} "
            f"and shape {array.shape}"
        )
    return array


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {alpha}")
    return float(alpha)


def _check_same_size(image: np.ndarray, plane: np.ndarray, name: str) -> None:
    if plane.ndim != 2 or plane.shape != image.shape[:2]:
        raise ValueError(
            f"{name} must be a H x W array the size of the photo {image.shape[:2]}, "
            f"got shape {plane.shape}"
        )


def overlay_kinds(image: np.ndarray, kind_mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Tint lesion pixels with their kind colour; background pixels (0) are left unchanged.

    `kind_mask` holds 0 for background, 1..4 for the index in `LESION_KINDS` plus one, and 5
    for an inflammatory lesion whose type is uncertain.
    """
    image = _check_rgb(image)
    alpha = _check_alpha(alpha)
    mask = np.asarray(kind_mask)
    _check_same_size(image, mask, "kind_mask")
    if mask.size and (mask.min() < 0 or mask.max() > UNCERTAIN_TYPE_MASK_VALUE):
        raise ValueError(
            f"kind_mask values must be 0..{UNCERTAIN_TYPE_MASK_VALUE}, got {mask.min()}..{mask.max()}"
        )
    palette = np.zeros((UNCERTAIN_TYPE_MASK_VALUE + 1, 3), np.float32)
    for index, kind in enumerate(LESION_KINDS, start=1):
        palette[index] = KIND_COLOURS[kind]
    palette[UNCERTAIN_TYPE_MASK_VALUE] = UNCERTAIN_TYPE_COLOUR
    mask = mask.astype(np.intp)
    lesion = mask > 0
    out = image.copy()
    tinted = (1.0 - alpha) * image[lesion].astype(np.float32) + alpha * palette[mask[lesion]]
    out[lesion] = np.clip(np.rint(tinted), 0, 255).astype(np.uint8)
    return out


def box_thickness(height: int, width: int) -> int:
    """Line thickness in pixels: about 1 px per 300 px of the shorter side, at least 1."""
    return max(1, int(round(min(height, width) / 300)))


def draw_boxes(image: np.ndarray, lesions: Iterable[Lesion]) -> np.ndarray:
    """Draw each lesion's box in its kind colour, with a thickness scaled to the photo size."""
    image = _check_rgb(image)
    out = np.ascontiguousarray(image.copy())
    thickness = box_thickness(*image.shape[:2])
    for lesion in lesions:
        if lesion.kind not in KIND_COLOURS:
            raise ValueError(f"unknown lesion kind {lesion.kind!r}; expected one of {LESION_KINDS}")
        x0, y0, x1, y1 = (int(v) for v in lesion.bbox)
        # Boxes are end-exclusive; cv2 draws inclusive corners.
        colour = UNCERTAIN_TYPE_COLOUR if lesion.type_uncertain else KIND_COLOURS[lesion.kind]
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
    return out


def draw_correction_marks(image: np.ndarray, lesions: Sequence[Lesion], *, selected: int | None = None,
                          point: tuple[float, float] | None = None) -> np.ndarray:
    """The lesion boxes for a clinician correcting them: the selected lesion ringed in white,
    lesions added by a clinician ringed in a circle, and a cross where the photo was clicked."""
    out = draw_boxes(image, lesions)
    thickness = box_thickness(*out.shape[:2])
    for i, lesion in enumerate(lesions):
        x0, y0, x1, y1 = (int(v) for v in lesion.bbox)
        if lesion.added_by_clinician:
            centre, radius = ((x0 + x1) // 2, (y0 + y1) // 2), max(2, (x1 - x0) // 2)
            cv2.circle(out, centre, radius, (255, 255, 255), thickness)
        if i == selected:
            pad = 2 * thickness + 2
            cv2.rectangle(out, (x0 - pad, y0 - pad), (x1 - 1 + pad, y1 - 1 + pad), (255, 255, 255),
                          2 * thickness)
    if point is not None:
        x, y = int(round(point[0])), int(round(point[1]))
        arm = 6 * thickness + 4
        for colour, width in (((0, 0, 0), 3 * thickness), ((255, 255, 255), thickness)):
            cv2.line(out, (x - arm, y), (x + arm, y), colour, width)
            cv2.line(out, (x, y - arm), (x, y + arm), colour, width)
    return out


def blend(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Cross-fade for a before/after slider: t=0 gives `a`, t=1 gives `b`."""
    a = _check_rgb(a, "a")
    b = _check_rgb(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    t = _check_alpha(t, "t")
    mixed = (1.0 - t) * a.astype(np.float32) + t * b.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
