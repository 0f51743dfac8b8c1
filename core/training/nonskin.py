"""Pictures that are not skin, for checking that the typicality detector refuses them: the
public-domain sample pictures of scikit-image (imageio's standard images are the same pictures,
fetched from the internet, which this machine cannot reach) and rooms, text, objects and
skin-coloured non-skin (wood, a beige wall with a frame, cork) drawn here.

`nonskin_pictures()` -> {name: RGB uint8 image}. scikit-image's astronaut is left out: it is a
photo of a person with a face (tests use it as a face photo).
"""
from __future__ import annotations

import cv2
import numpy as np

# scikit-image samples shipped with the package (no download).
SKIMAGE_SAMPLES: tuple[str, ...] = (
    "brick", "camera", "cat", "chelsea", "checkerboard", "clock", "coffee", "coins", "colorwheel",
    "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page",
    "retina", "rocket", "text", "microaneurysms", "binary_blobs", "cell", "stereo_motorcycle")


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Any scikit-image sample as RGB uint8 (grey, boolean, RGBA and float ones included)."""
    a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(a.astype(np.float64) / max(float(a.max()), 1e-9) * 255, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.shape[2] == 4:
        a = a[..., :3]
    return np.ascontiguousarray(a)


def skimage_pictures() -> dict[str, np.ndarray]:
    import skimage.data

    out = {}
    for name in SKIMAGE_SAMPLES:
        picture = getattr(skimage.data, name)()
        out[f"skimage_{name}"] = as_rgb(picture[0] if isinstance(picture, tuple) else picture)
    return out


def wood(size: int = 512, seed: int = 0) -> np.ndarray:
    """Light wood grain in skin-like beige and brown."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    warp = cv2.GaussianBlur(rng.normal(0, 1, (size, size)), (0, 0), 25) * 400
    rings = np.sin((np.hypot(x - size * 1.7, (y - size / 2) * 0.25) + warp) / 6.0)
    t = (rings + 1) / 2
    light, dark = np.array([222, 184, 140]), np.array([170, 118, 72])
    img = light * (1 - t[..., None]) + dark * t[..., None] + rng.normal(0, 4, (size, size, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def cork(size: int = 512, seed: int = 1) -> np.ndarray:
    """A cork board: skin-coloured speckles."""
    rng = np.random.default_rng(seed)
    base = np.array([196, 150, 108], np.float64)
    speck = cv2.GaussianBlur(rng.normal(0, 1, (size, size)), (0, 0), 1.5) * 60
    img = base + speck[..., None] * np.array([1.0, 0.9, 0.8])
    return np.clip(img, 0, 255).astype(np.uint8)


def beige_wall_with_frame(size: int = 512) -> np.ndarray:
    img = np.full((size, size, 3), (225, 196, 170), np.uint8)
    cv2.rectangle(img, (150, 120), (360, 300), (60, 40, 30), 12)
    cv2.rectangle(img, (162, 132), (348, 288), (90, 140, 190), -1)
    cv2.line(img, (0, 440), (size, 440), (120, 90, 60), 6)
    return img


def room(size: int = 512, seed: int = 2) -> np.ndarray:
    """A room: wall, floor, window, table, a lamp and a picture."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.uint8)
    img[: size * 2 // 3] = (200, 205, 190)
    img[size * 2 // 3:] = (120, 90, 60)
    cv2.rectangle(img, (40, 60), (200, 230), (170, 210, 240), -1)
    cv2.rectangle(img, (40, 60), (200, 230), (250, 250, 250), 8)
    cv2.rectangle(img, (260, 300), (480, 330), (80, 50, 30), -1)
    cv2.rectangle(img, (280, 330), (295, 440), (80, 50, 30), -1)
    cv2.rectangle(img, (445, 330), (460, 440), (80, 50, 30), -1)
    cv2.circle(img, (380, 260), 30, (240, 230, 120), -1)
    cv2.rectangle(img, (300, 80), (440, 180), (40, 90, 60), -1)
    return np.clip(img.astype(np.int16) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)


def text_page(size: int = 512) -> np.ndarray:
    img = np.full((size, size, 3), 250, np.uint8)
    lines = ["Patient leaflet", "Apply the cream twice a day", "to the affected skin.",
             "Avoid the eyes and mouth.", "See your doctor if the", "redness does not settle."]
    for i, line in enumerate(lines):
        cv2.putText(img, line, (20, 60 + i * 60), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20, 20, 20), 2)
    return img


def objects(size: int = 512, seed: int = 3) -> np.ndarray:
    """Coloured objects on a grey table."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), (150, 150, 155), np.uint8)
    for _ in range(12):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = tuple(int(c) for c in rng.integers(40, size - 40, 2))
        if rng.random() < 0.5:
            cv2.circle(img, centre, int(rng.integers(15, 60)), colour, -1)
        else:
            w, h = rng.integers(20, 90, 2)
            cv2.rectangle(img, centre, (int(centre[0] + w), int(centre[1] + h)), colour, -1)
    return img


def drawn_pictures() -> dict[str, np.ndarray]:
    return {"wood": wood(), "cork": cork(), "beige_wall_with_frame": beige_wall_with_frame(),
            "room": room(), "text_page": text_page(), "objects": objects(),
            "black": np.zeros((256, 256, 3), np.uint8), "white": np.full((256, 256, 3), 255, np.uint8),
            "grey": np.full((256, 256, 3), 128, np.uint8)}


def nonskin_pictures() -> dict[str, np.ndarray]:
    """Every picture above, by name."""
    return {**skimage_pictures(), **drawn_pictures()}
