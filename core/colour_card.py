"""A ColorChecker Classic (24 patches, 4 rows x 6 columns) in the photo: find it, and correct
the photo's colours with it before the colour measures.

Built on OpenCV and numpy alone: `colour-checker-detection` 0.2.3 (BSD-3) needs the GUI build of
OpenCV (clashing with the headless one installed), OpenImageIO and colour-science (100 MB
installed, 5 s to import), and its learnt detector runs under the AGPL (ultralytics).

Finding: patch-like regions (near-square, convex, between edges) of similar size that sit on one
lattice; the lattice's grid positions are fitted by a homography, then every placement and
orientation of the 4 x 6 chart (mirrored too: a front camera may flip the photo) is tried and the
one whose 24 sampled colours a linear correction maps best onto the published values wins.
Correcting: a 3 x 3 matrix in linear RGB fitted by least squares to the published sRGB values of
the patches (clipped patches left out); the card is accepted only when the corrected patches lie
within `MAX_RESIDUAL_DELTA_E` (CIEDE2000, median) of the reference.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from core.colour_space import delta_e_2000, linear_to_lab, linear_to_srgb8, srgb_to_lab, srgb_to_linear

# X-Rite ColorChecker Classic, published sRGB (D65) values, row by row from "dark skin" (top
# left, the brown patch) to "black" (bottom right).
COLOUR_CHECKER_SRGB = np.array([
    (115, 82, 68), (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177), (103, 189, 170),
    (214, 126, 44), (80, 91, 166), (193, 90, 99), (94, 60, 108), (157, 188, 64), (224, 163, 46),
    (56, 61, 150), (70, 148, 73), (175, 54, 60), (231, 199, 31), (187, 86, 149), (8, 133, 161),
    (243, 243, 242), (200, 200, 200), (160, 160, 160), (122, 122, 121), (85, 85, 85), (52, 52, 52),
], dtype=np.uint8)
CARD_ROWS, CARD_COLUMNS = 4, 6
COLOUR_CHECKER_LAB = srgb_to_lab(COLOUR_CHECKER_SRGB)

# The photo is searched at this long side (pixels): a card of a tenth of the frame gives
# patches of about 15 px.
SEARCH_SIDE = 1200
MIN_PATCH_SIDE_PX = 6
MIN_PATCHES = 12  # of 24, found as regions, before the lattice is fitted
# A card whose corrected patches differ from the reference by more than this (CIEDE2000 median)
# is not taken as a card: a wrong match, or a chart too damaged or unevenly lit to trust.
MAX_RESIDUAL_DELTA_E = 6.0
# A patch channel at or above this (of 255) is clipped and not used for the fit.
CLIPPED = 250


@dataclass(frozen=True)
class ColourCard:
    """A colour card found in a photo and the correction it gives."""

    matrix: tuple[tuple[float, ...], ...]  # 3 x 3, linear RGB: corrected = measured @ matrix
    corners: tuple[tuple[float, float], ...]  # the chart's 4 outer corners, photo pixels
    residual_delta_e: float  # CIEDE2000 median of the corrected patches against the reference
    patches_used: int

    def correct(self, image: np.ndarray) -> np.ndarray:
        """`image` (RGB uint8) with its colours corrected by the card."""
        return correct_colours(image, np.asarray(self.matrix))


def correct_colours(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """RGB uint8 `image` with `matrix` (3 x 3, linear RGB, row vectors) applied."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} {image.dtype}")
    linear = srgb_to_linear(image).reshape(-1, 3) @ np.asarray(matrix, np.float32)
    return linear_to_srgb8(linear).reshape(image.shape)


def fit_correction(measured_srgb: np.ndarray, reference_srgb: np.ndarray = COLOUR_CHECKER_SRGB
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(3 x 3 matrix, mask of the patches used): least squares in linear RGB from the measured
    patch colours (N x 3, 0-255) to the reference; clipped patches are left out."""
    measured = np.asarray(measured_srgb, np.float64)
    used = (measured.max(axis=1) < CLIPPED) & (measured.min(axis=1) > 2)
    if used.sum() < 6:
        raise ValueError(f"only {int(used.sum())} unclipped card patches; at least 6 are needed")
    src = srgb_to_linear(np.clip(measured / 255.0, 0, 1))[used]
    dst = srgb_to_linear(np.asarray(reference_srgb, np.uint8))[used]
    matrix, *_ = np.linalg.lstsq(src.astype(np.float64), dst.astype(np.float64), rcond=None)
    return matrix, used


def residual_delta_e(measured_srgb: np.ndarray, matrix: np.ndarray, used: np.ndarray) -> float:
    """Median CIEDE2000 of the corrected patches (those used) against the reference."""
    corrected = srgb_to_linear(np.clip(np.asarray(measured_srgb, np.float64) / 255.0, 0, 1)) @ matrix
    lab = linear_to_lab(np.clip(corrected, 0, 1))
    return float(np.median(delta_e_2000(lab[used], COLOUR_CHECKER_LAB[used])))


def draw_colour_checker(patch_px: int = 40, gap_px: int | None = None) -> np.ndarray:
    """A ColorChecker Classic drawn from its published sRGB values on a black card (RGB uint8),
    for tests and the validation."""
    gap = gap_px if gap_px is not None else max(2, patch_px // 4)
    h = CARD_ROWS * patch_px + (CARD_ROWS + 1) * gap
    w = CARD_COLUMNS * patch_px + (CARD_COLUMNS + 1) * gap
    card = np.full((h, w, 3), 20, np.uint8)
    for index, colour in enumerate(COLOUR_CHECKER_SRGB):
        r, c = divmod(index, CARD_COLUMNS)
        y, x = gap + r * (patch_px + gap), gap + c * (patch_px + gap)
        card[y:y + patch_px, x:x + patch_px] = colour
    return card


def _patch_regions(image: np.ndarray) -> list[tuple[float, float, float, float]]:
    """(x, y, side, angle) of near-square, convex regions bounded by edges."""
    # The patches sit apart on the black card: their edges show in the grey image alone.
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.dilate(cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 20, 60), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(255 - edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    max_area = 0.05 * gray.size
    found = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < MIN_PATCH_SIDE_PX**2 or area > max_area:
            continue
        (x, y), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < MIN_PATCH_SIDE_PX or max(rw, rh) > 1.35 * min(rw, rh):
            continue
        hull = cv2.contourArea(cv2.convexHull(contour))
        if hull <= 0 or area / hull < 0.9 or area / (rw * rh) < 0.8:
            continue
        found.append((x, y, float(np.sqrt(area)), angle % 90.0))
    # An edge ring gives two outlines (inside and outside): keep one region per place.
    kept: list[tuple[float, float, float, float]] = []
    for region in sorted(found, key=lambda r: -r[2]):
        if all(np.hypot(region[0] - k[0], region[1] - k[1]) > 0.5 * k[2] for k in kept):
            kept.append(region)
    return kept


def _lattices(regions: list[tuple[float, float, float, float]]) -> list[np.ndarray]:
    """Groups of regions of similar size spaced like one chart's patches (N x 4 arrays)."""
    if len(regions) < MIN_PATCHES:
        return []
    arr = np.array(regions, np.float64)
    n = len(arr)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    d = np.hypot(arr[:, None, 0] - arr[None, :, 0], arr[:, None, 1] - arr[None, :, 1])
    side = arr[:, 2]
    similar = (np.maximum(side[:, None], side[None, :]) < 1.3 * np.minimum(side[:, None], side[None, :]))
    near = (d > 0.9 * side[:, None]) & (d < 2.0 * np.maximum(side[:, None], side[None, :]))
    for i, j in zip(*np.nonzero(similar & near)):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return [arr[g] for g in groups.values() if len(g) >= MIN_PATCHES]


def _grid_positions(group: np.ndarray) -> np.ndarray | None:
    """Integer (column, row) lattice positions of a group's centres, or None if they sit on no
    lattice."""
    centres = group[:, :2]
    d = np.hypot(*(centres[:, None] - centres[None, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    pitch = float(np.median(d.min(axis=1)))
    # Square patches: their angles are defined modulo 90 degrees, so average 4 x angle.
    quad = np.radians(group[:, 3] * 4.0)
    angle = float(np.arctan2(np.sin(quad).mean(), np.cos(quad).mean())) / 4.0
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    local = (centres - centres[0]) @ rot.T / pitch
    offset = np.median(local - np.round(local), axis=0)
    grid = np.round(local - offset)
    if np.max(np.abs(local - offset - grid)) > 0.3:
        return None
    grid -= grid.min(axis=0)
    return grid


def _orientations(span: tuple[int, int]) -> list[np.ndarray]:
    """Every 3 x 3 map from chart (column, row, 1) to observed grid positions (column, row, 1)
    whose chart fits over the observed span."""
    maps = []
    for transpose, flip_c, flip_r in itertools.product((False, True), repeat=3):
        cols, rows = (CARD_ROWS, CARD_COLUMNS) if transpose else (CARD_COLUMNS, CARD_ROWS)
        if span[0] >= cols or span[1] >= rows:
            continue
        base = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], float) if transpose else np.eye(3)
        flip = np.diag([-1.0 if flip_c else 1.0, -1.0 if flip_r else 1.0, 1.0])
        flip[0, 2] = cols - 1 if flip_c else 0
        flip[1, 2] = rows - 1 if flip_r else 0
        for ox in range(cols - span[0]):
            for oy in range(rows - span[1]):
                shift = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]], float)
                maps.append(shift @ flip @ base)
    return maps


def _sample(image: np.ndarray, homography: np.ndarray, chart_to_grid: np.ndarray) -> np.ndarray | None:
    """The 24 patches' median colours (row by row), or None if one falls outside the image."""
    h, w = image.shape[:2]
    colours = []
    for index in range(len(COLOUR_CHECKER_SRGB)):
        r, c = divmod(index, CARD_COLUMNS)
        grid = chart_to_grid @ np.array([c, r, 1.0])
        corners = np.array([[grid[0] + dx, grid[1] + dy] for dx in (-0.22, 0.22) for dy in (-0.22, 0.22)])
        pts = cv2.perspectiveTransform(corners[None].astype(np.float64), homography)[0]
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
        if x0 < 0 or y0 < 0 or x1 >= w or y1 >= h or x1 <= x0 or y1 <= y0:
            return None
        colours.append(np.median(image[y0:y1 + 1, x0:x1 + 1].reshape(-1, 3), axis=0))
    return np.array(colours)


def find_colour_card(image: np.ndarray) -> ColourCard | None:
    """The ColorChecker Classic in an RGB uint8 photo and its correction, or None."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} {image.dtype}")
    # Every n-th pixel (shrinking a 12 MP photo by area costs 0.15 s); the patches' colours are
    # medians over many pixels, so the skipped ones do not matter.
    stride = -(-max(image.shape[:2]) // SEARCH_SIDE)
    small = np.ascontiguousarray(image[::stride, ::stride])
    scale = 1.0 / stride
    best: tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    for group in _lattices(_patch_regions(small)):
        grid = _grid_positions(group)
        if grid is None:
            continue
        span = (int(grid[:, 0].max()), int(grid[:, 1].max()))
        homography, _ = cv2.findHomography(grid.astype(np.float64), group[:, :2], cv2.RANSAC, 0.3 * np.median(group[:, 2]))
        if homography is None:
            continue
        for chart_to_grid in _orientations(span):
            colours = _sample(small, homography, chart_to_grid)
            if colours is None:
                continue
            try:
                matrix, used = fit_correction(colours)
            except ValueError:
                continue
            residual = residual_delta_e(colours, matrix, used)
            if best is None or residual < best[0]:
                best = (residual, matrix, used, homography, chart_to_grid)
    if best is None or best[0] > MAX_RESIDUAL_DELTA_E:
        return None
    residual, matrix, used, homography, chart_to_grid = best
    outer = np.array([[-0.6, -0.6, 1], [CARD_COLUMNS - 0.4, -0.6, 1], [CARD_COLUMNS - 0.4, CARD_ROWS - 0.4, 1],
                      [-0.6, CARD_ROWS - 0.4, 1]]) @ chart_to_grid.T
    corners = cv2.perspectiveTransform(outer[None, :, :2].astype(np.float64), homography)[0] / scale
    return ColourCard(matrix=tuple(tuple(float(v) for v in row) for row in matrix),
                      corners=tuple((float(x), float(y)) for x, y in corners),
                      residual_delta_e=round(residual, 3), patches_used=int(used.sum()))
