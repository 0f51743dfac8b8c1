"""Generators for test photos: every file is built in memory, no binary fixtures.

Shared by tests/core: `from tests.core import photo_factory` (run pytest as
`python -m pytest` from the repository root, as the Makefile does).
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112
EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def asymmetric_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    """An RGB image whose every flip or rotation differs: a gradient plus a red top-left block.

    Colours are spread in large smooth blocks so a JPEG round trip keeps them close.
    """
    rows = np.linspace(0, 200, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 120, width, dtype=np.float32)[None, :]
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = rows + 0 * cols
    image[..., 1] = cols + 0 * rows
    image[..., 2] = 60
    image[: height // 3, : width // 4] = (250, 20, 20)
    return image


def expected_after_orientation(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for stored pixels tagged with an EXIF orientation (EXIF 2.3 spec)."""
    transforms = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],  # mirrored horizontally
        3: lambda a: a[::-1, ::-1],  # upside down
        4: lambda a: a[::-1, :],  # mirrored vertically
        5: lambda a: a.transpose(1, 0, 2),  # row 0 is the left-hand side, column 0 the top
        6: lambda a: np.rot90(a, k=-1),  # row 0 is the right-hand side: turn clockwise
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # row 0 right side, column 0 bottom
        8: lambda a: np.rot90(a, k=1),  # row 0 is the left-hand side: turn anticlockwise
    }
    return np.ascontiguousarray(transforms.get(orientation, lambda a: a)(stored))


def exif_bytes(
    *,
    orientation: int | None = None,
    gps: bool = False,
    taken: str | None = None,
    make: str | None = None,
    model: str | None = None,
) -> bytes:
    """A valid EXIF block with the given tags (GPS puts a position in Paris)."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if taken:
        exif[0x0132] = taken
        exif.get_ifd(EXIF_IFD)[0x9003] = taken
    if gps:
        exif.get_ifd(GPS_IFD).update(
            {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0), 0: b"\x02\x02\x00\x00"}
        )
    return exif.tobytes()


def encode(image: np.ndarray | Image.Image, fmt: str, **save_kwargs: object) -> bytes:
    """Bytes of an array or PIL image saved in a PIL format ("JPEG", "PNG", "HEIF"...)."""
    if fmt.upper() in ("HEIF", "HEIC"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        fmt = "HEIF"
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    pil.save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def jpeg_with_raw_app1(image: np.ndarray, payload: bytes) -> bytes:
    """A JPEG whose EXIF segment (APP1) carries `payload` verbatim, however broken."""
    plain = encode(image, "JPEG", quality=95)
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return plain[:2] + segment + plain[2:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def constant_png(width: int, height: int, value: int = 128, *, full_data: bool = True) -> bytes:
    """A grey PNG of any size built row by row, cheap even at 100 megapixels.

    With full_data=False only the header and one row of pixels are written: a file that
    *declares* a huge size while holding almost nothing (a decompression bomb's shape).
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    row = b"\x00" + bytes([value]) * width
    compressor = zlib.compressobj(9)
    parts, rows_left = [], height if full_data else 1
    while rows_left:
        batch = min(rows_left, 256)
        parts.append(compressor.compress(row * batch))
        rows_left -= batch
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def animated_gif(frames: list[np.ndarray]) -> bytes:
    """A looping GIF of the given RGB frames."""
    pil = [Image.fromarray(frame) for frame in frames]
    return encode(pil[0], "GIF", save_all=True, append_images=pil[1:], duration=100, loop=0)


# sRGB's primaries (D50-adapted, as ICC profiles store them) and the D50 white point.
SRGB_RED, SRGB_GREEN, SRGB_BLUE = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (
    0.1431, 0.0606, 0.7141,
)
D50 = (0.9642, 1.0, 0.8249)


def rgb_icc_profile(
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    gamma: float = 2.2,
) -> bytes:
    """A minimal ICC v2 display profile (matrix + gamma) with the given primaries.

    Swapping primaries gives a profile under which "pure red" pixels mean green: an easy way
    to see that a colour conversion really happened.
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + b"".join(s15(v) for v in values)

    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"
    tags = [
        (b"wtpt", xyz(D50)), (b"rXYZ", xyz(red)), (b"gXYZ", xyz(green)), (b"bXYZ", xyz(blue)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + b"\x00" * (-len(data) % 4)
    size = offset + len(body)
    header = (
        struct.pack(">I", size) + b"none" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
        + b"\x00" * 12 + b"acsp" + b"\x00" * 24 + struct.pack(">I", 0)  # rendering intent
        + b"".join(s15(v) for v in D50) + b"\x00" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def face_close_up(image: np.ndarray, face_box, inset: float = 0.14, zoom: int = 4) -> np.ndarray:  # noqa: ANN001
    """A close-up cut `inset` inside the face box on every side and enlarged `zoom` times, as a
    clinic crops a photo to the skin: a face that fills the frame (core.face's second look)."""
    import cv2

    x0, y0, x1, y1 = (int(v) for v in face_box)
    dx, dy = int((x1 - x0) * inset), int((y1 - y0) * inset)
    return np.ascontiguousarray(cv2.resize(image[y0 + dy:y1 - dy, x0 + dx:x1 - dx], None, fx=zoom,
                                           fy=zoom, interpolation=cv2.INTER_CUBIC))


class SyntheticFace:
    """A drawn face (no person's photo): skin oval, dark eyes under brows, a red mouth, pink
    cheeks and a forehead mark, with its five landmarks (core.types.FaceResult order) and one
    boolean mask per feature ("eyes", "brows", "mouth", "cheeks", "forehead")."""

    def __init__(self, image: np.ndarray, landmarks: tuple[tuple[float, float], ...],
                 regions: dict[str, np.ndarray]) -> None:
        self.image = image
        self.landmarks = landmarks
        self.regions = regions


def synthetic_face(size: int = 320, eye_distance: float = 64.0, angle_deg: float = 0.0) -> SyntheticFace:
    """A face drawn at the centre of a `size` square, its eyes `eye_distance` apart, the whole
    face turned `angle_deg` counter-clockwise (as seen on screen) about the photo's centre.

    Layout in eye distances `d` from the eyes' midpoint (x right, y down, before turning):
    eyes at (+-0.5, 0), brows 0.3 above them, mouth corners at (+-0.35, 1.0), cheeks at
    (+-0.7, 0.5), a forehead mark at (0, -1.1), nose at (0, 0.5)."""
    import cv2

    d = eye_distance
    centre = np.array([size / 2.0, size / 2.0])
    theta = np.radians(angle_deg)
    turn = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])

    def at(x: float, y: float) -> tuple[float, float]:
        point = centre + turn @ (np.array([x, y]) * d)
        return float(point[0]), float(point[1])

    def ellipse(x: float, y: float, half_x: float, half_y: float) -> np.ndarray:
        mask = np.zeros((size, size), np.uint8)
        cx, cy = at(x, y)
        cv2.ellipse(mask, (round(cx * 16), round(cy * 16)),
                    (round(half_x * d * 16), round(half_y * d * 16)), -angle_deg, 0, 360, 1, -1,
                    lineType=cv2.LINE_8, shift=4)
        return mask.astype(bool)

    regions = {
        "eyes": ellipse(-0.5, 0.0, 0.2, 0.09) | ellipse(0.5, 0.0, 0.2, 0.09),
        "brows": ellipse(-0.5, -0.3, 0.25, 0.05) | ellipse(0.5, -0.3, 0.25, 0.05),
        "mouth": ellipse(0.0, 1.0, 0.35, 0.1),
        "cheeks": ellipse(-0.7, 0.5, 0.1, 0.1) | ellipse(0.7, 0.5, 0.1, 0.1),
        "forehead": ellipse(0.0, -1.1, 0.12, 0.1),
    }
    image = np.zeros((size, size, 3), np.uint8)
    image[:] = (40, 90, 160)
    image[ellipse(0.0, 0.35, 1.05, 1.7)] = (224, 182, 150)
    for name, colour in (("cheeks", (214, 140, 128)), ("forehead", (200, 160, 120)),
                         ("brows", (80, 50, 30)), ("eyes", (35, 30, 30)), ("mouth", (180, 45, 55))):
        image[regions[name]] = colour
    landmarks = (at(-0.5, 0.0), at(0.5, 0.0), at(0.0, 0.5), at(-0.35, 1.0), at(0.35, 1.0))
    return SyntheticFace(image=image, landmarks=landmarks, regions=regions)
