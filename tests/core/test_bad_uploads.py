"""A corpus of bad or odd uploads: each one decodes correctly or raises PhotoError, never more.

Every case states which of the two it expects, so a regression either way fails the test.
"""
from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import PhotoError
from core.imaging import decode_photo
from core.types import DecodedPhoto
from tests.core import photo_factory as pf

PHOTO = pf.asymmetric_rgb()  # 48 x 64
RED = np.zeros((40, 40, 3), np.uint8) + np.array([220, 30, 40], np.uint8)


@dataclass(frozen=True)
class Upload:
    make: Callable[[], bytes]
    filename: str = "upload.jpg"
    # Accepted uploads: the decoded (height, width) and an optional check on the photo.
    size: tuple[int, int] | None = None
    check: Callable[[DecodedPhoto], bool] | None = None
    # Refused uploads: a fragment the message must contain.
    refusal: str | None = None


def close_to(expected: np.ndarray, tolerance: float = 4) -> Callable[[DecodedPhoto], bool]:
    return lambda photo: float(np.abs(photo.image.astype(int) - expected).mean()) <= tolerance


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("face.jpg", pf.encode(PHOTO, "JPEG"))
    return buffer.getvalue()


def _bmp_header_only() -> bytes:
    return b"BM" + struct.pack("<IHHI", 1000, 0, 0, 54) + b"\x28\x00\x00\x00" + b"\x00" * 8


def _multipage_tiff() -> bytes:
    pages = [Image.fromarray(PHOTO), Image.fromarray(np.ascontiguousarray(PHOTO[::-1]))]
    return pf.encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _uint16(values: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", values)
    assert ok
    return encoded.tobytes()


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0, 0, 0] * 254)
    image.paste(1, (0, 20, 40, 40))  # bottom half green, top half transparent index 0
    return pf.encode(image, "PNG", transparency=0)


UPLOADS: dict[str, Upload] = {
    "empty": Upload(lambda: b"", refusal="empty"),
    "zero-byte-png": Upload(lambda: b"", filename="IMG_0001.png", refusal="empty (0 bytes)"),
    "truncated-jpeg": Upload(lambda: pf.encode(PHOTO, "JPEG")[:-300], refusal="damaged"),
    "jpeg-header-only": Upload(lambda: pf.encode(PHOTO, "JPEG")[:200], refusal="damaged"),
    "truncated-png": Upload(lambda: pf.encode(PHOTO, "PNG")[:-40], refusal="damaged"),
    "truncated-heic": Upload(lambda: pf.encode(PHOTO, "HEIF")[:300], refusal="damaged"),
    "bmp-header-only": Upload(_bmp_header_only, refusal="damaged"),
    "png-with-bad-checksum": Upload(
        lambda: pf.encode(PHOTO, "PNG")[:29] + b"\x00\x00\x00\x00" + pf.encode(PHOTO, "PNG")[33:],
        refusal="damaged",
    ),
    "png-named-jpg": Upload(
        lambda: pf.encode(PHOTO, "PNG"), size=(48, 64), check=close_to(PHOTO, 0)
    ),
    "jpeg-named-png": Upload(lambda: pf.encode(PHOTO, "JPEG"), filename="x.png", size=(48, 64)),
    "jpeg-with-trailing-junk": Upload(
        lambda: pf.encode(PHOTO, "JPEG", quality=95) + b"\x00junk" * 50,
        size=(48, 64),
        check=close_to(PHOTO),
    ),
    "html-named-jpg": Upload(lambda: b"<!doctype html><html><p>Sign in</p></html>", refusal="HTML"),
    "svg-named-jpg": Upload(
        lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="99"/>',
        refusal="SVG",
    ),
    "text-named-jpg": Upload(lambda: "Bonjour, voici ma photo\n".encode(), refusal="text file"),
    "pdf": Upload(lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\n", refusal="PDF"),
    "zip": Upload(_zip, filename="photos.zip", refusal="ZIP"),
    "mp4-video": Upload(lambda: b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp42" + bytes(64),
                        filename="clip.mp4", refusal="video"),
    "icon-file": Upload(
        lambda: pf.encode(PHOTO, "ICO"), filename="favicon.ico", refusal="not a photo"
    ),
    "random-bytes": Upload(
        lambda: np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        refusal="not a photo",
    ),
    "nul-bytes": Upload(lambda: bytes(4096), refusal="not a photo"),
    "decompression-bomb": Upload(
        lambda: pf.constant_png(100_000, 100_000, full_data=False), refusal="too many pixels"
    ),
    "over-max-pixels": Upload(
        lambda: pf.constant_png(12_000, 12_000, full_data=False), refusal="megapixels"
    ),
    "1x1": Upload(lambda: pf.encode(np.zeros((1, 1, 3), np.uint8), "PNG"), refusal="too small"),
    "31-pixels-wide": Upload(lambda: pf.constant_png(31, 500), refusal="too small to analyse"),
    "32x32": Upload(lambda: pf.constant_png(32, 32, 77), size=(32, 32),
                    check=lambda p: bool((p.image == 77).all())),
    "cmyk-jpeg": Upload(
        lambda: pf.encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG", quality=95),
        size=(40, 40), check=close_to(np.array([255, 0, 0]), 3),
    ),
    "16-bit-grey-png": Upload(
        lambda: _uint16(np.full((40, 40), 32896, np.uint16)),  # 32896 = 128 * 257
        size=(40, 40), check=lambda p: bool((p.image == 128).all()),
    ),
    "48-bit-rgb-png": Upload(
        lambda: _uint16(RED[..., ::-1].astype(np.uint16) * 257),
        size=(40, 40), check=close_to(RED, 0),
    ),
    "palette-png": Upload(
        lambda: pf.encode(Image.fromarray(RED).quantize(colors=4), "PNG"),
        size=(40, 40), check=close_to(RED, 1),
    ),
    "palette-png-with-transparency": Upload(
        _palette_with_transparency, size=(40, 40),
        check=lambda p: bool((p.image[:20] == 255).all() and (p.image[20:] == (10, 200, 30)).all()),
    ),
    "rgba-png": Upload(
        lambda: pf.encode(np.dstack([RED, np.full((40, 40), 255, np.uint8)]), "PNG"),
        size=(40, 40), check=close_to(RED, 0),
    ),
    "fully-transparent-png": Upload(
        lambda: pf.encode(np.zeros((40, 40, 4), np.uint8), "PNG"),
        size=(40, 40), check=lambda p: bool((p.image == 255).all()),
    ),
    "1-bit-png": Upload(lambda: pf.encode(Image.new("1", (40, 40), 1), "PNG"), size=(40, 40),
                        check=lambda p: bool((p.image == 255).all())),
    "animated-gif": Upload(
        lambda: pf.animated_gif([PHOTO, np.zeros_like(PHOTO)]), filename="anim.gif",
        size=(48, 64), check=close_to(PHOTO, 6),
    ),
    "heic": Upload(lambda: pf.encode(PHOTO, "HEIF", quality=95), filename="IMG_1234.HEIC",
                   size=(48, 64), check=close_to(PHOTO)),
    "webp": Upload(lambda: pf.encode(PHOTO, "WEBP", quality=95), size=(48, 64),
                   check=lambda p: p.stored_extension == ".jpg"),
    "webp-lossless": Upload(lambda: pf.encode(PHOTO, "WEBP", lossless=True), size=(48, 64),
                            check=lambda p: p.stored_extension == ".png" and close_to(PHOTO, 0)(p)),
    "bmp": Upload(lambda: pf.encode(PHOTO, "BMP"), size=(48, 64), check=close_to(PHOTO, 0)),
    "tiff": Upload(lambda: pf.encode(PHOTO, "TIFF"), size=(48, 64), check=close_to(PHOTO, 0)),
    "multipage-tiff": Upload(_multipage_tiff, size=(48, 64), check=close_to(PHOTO, 0)),
    "grayscale-jpeg": Upload(
        lambda: pf.encode(PHOTO[..., 0], "JPEG", quality=95), size=(48, 64),
        check=lambda p: bool((p.image[..., 0] == p.image[..., 2]).all()),
    ),
    "progressive-jpeg": Upload(lambda: pf.encode(PHOTO, "JPEG", quality=95, progressive=True),
                               size=(48, 64), check=close_to(PHOTO)),
    **{
        f"exif-orientation-{o}": Upload(
            (lambda o=o: pf.encode(PHOTO, "JPEG", quality=95, exif=pf.exif_bytes(orientation=o))),
            size=(48, 64) if o <= 4 else (64, 48),
            check=close_to(pf.expected_after_orientation(PHOTO, o)),
        )
        for o in range(1, 9)
    },
    "exif-orientation-out-of-range": Upload(
        lambda: pf.encode(PHOTO, "JPEG", quality=95, exif=pf.exif_bytes(orientation=42)),
        size=(48, 64), check=close_to(PHOTO),
    ),
    "corrupt-exif-garbage": Upload(
        lambda: pf.jpeg_with_raw_app1(PHOTO, b"Exif\x00\x00" + b"\x13\x37" * 60),
        size=(48, 64), check=close_to(PHOTO),
    ),
    "corrupt-exif-bad-offset": Upload(
        lambda: pf.jpeg_with_raw_app1(PHOTO, b"Exif\x00\x00II*\x00\xff\xff\xff\x7f"),
        size=(48, 64), check=close_to(PHOTO),
    ),
    "gps-exif": Upload(
        lambda: pf.encode(PHOTO, "JPEG", exif=pf.exif_bytes(gps=True, orientation=1)),
        size=(48, 64), check=lambda p: b"GPS" not in p.stored_bytes,
    ),
    "very-long-filename": Upload(
        lambda: pf.encode(PHOTO, "PNG"), filename="visit-" * 200 + ".png", size=(48, 64),
        check=lambda p: len(p.filename) == 120 and p.filename.endswith(".png"),
    ),
    "unicode-filename": Upload(
        lambda: pf.encode(PHOTO, "PNG"), filename="Zoë Ωμέγα 顔 😀.png", size=(48, 64),
        check=lambda p: p.filename == "Zoë Ωμέγα 顔 😀.png",
    ),
    "path-like-filename": Upload(
        lambda: pf.encode(PHOTO, "PNG"), filename="../../../etc/passwd", size=(48, 64),
        check=lambda p: p.filename == "passwd",
    ),
    "control-characters-filename": Upload(
        lambda: pf.encode(PHOTO, "PNG"), filename="a\r\nb\x00c.png", size=(48, 64),
        check=lambda p: p.filename == "abc.png",
    ),
    "100-megapixel-png": Upload(
        lambda: pf.constant_png(10_000, 10_000, 90), filename="huge.png", size=(10_000, 10_000),
        check=lambda p: int(p.image[5_000, 5_000, 1]) == 90 and p.stored_extension == ".png",
    ),
}
SLOW = {"100-megapixel-png"}


def _params():
    for name, upload in UPLOADS.items():
        marks = [pytest.mark.slow] if name in SLOW else []
        yield pytest.param(upload, id=name, marks=marks)


def test_the_corpus_is_large_enough() -> None:
    assert len(UPLOADS) >= 30
    assert all((u.size is None) != (u.refusal is None) for u in UPLOADS.values())


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("upload", _params())
def test_upload_is_decoded_correctly_or_refused_with_a_reason(upload: Upload) -> None:
    data = upload.make()
    if upload.refusal is not None:
        with pytest.raises(PhotoError) as caught:
            decode_photo(data, filename=upload.filename)
        message = str(caught.value)
        assert upload.refusal in message
        assert message[0].isupper() or message.startswith("'")
        assert "Traceback" not in message and "Error" not in message
        return
    photo = decode_photo(data, filename=upload.filename)
    assert photo.image.dtype == np.uint8 and photo.image.shape == (*upload.size, 3)
    assert photo.stored_extension in (".jpg", ".png") and photo.stored_bytes
    if upload.check is not None:
        assert upload.check(photo)


# --- properties: nothing but PhotoError ever escapes ------------------------------------------

MAGIC = [
    b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00", b"\x89PNG\r\n\x1a\n", b"GIF89a",
    b"BM", b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x00\x18ftypheic", b"<svg", b"%PDF",
]


@pytest.mark.filterwarnings("ignore")
@given(st.binary(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_random_bytes_only_ever_raise_photo_error(data: bytes) -> None:
    with pytest.raises(PhotoError):
        decode_photo(data)


@pytest.mark.filterwarnings("ignore")
@given(st.sampled_from(MAGIC), st.binary(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_random_bytes_behind_an_image_signature_only_ever_raise_photo_error(
    magic: bytes, tail: bytes
) -> None:
    with pytest.raises(PhotoError):
        decode_photo(magic + tail)


VALID = {fmt: pf.encode(PHOTO, fmt) for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")}


@pytest.mark.filterwarnings("ignore")
@given(st.sampled_from(sorted(VALID)), st.data())
@settings(max_examples=150, deadline=None)
def test_a_photo_cut_off_anywhere_decodes_or_raises_photo_error(fmt: str, data) -> None:
    full = VALID[fmt]
    cut = data.draw(st.integers(0, len(full) - 1))
    try:
        photo = decode_photo(full[:cut])
    except PhotoError:
        return
    assert photo.image.shape == (48, 64, 3)  # some decoders tolerate a missing trailer


@pytest.mark.filterwarnings("ignore")
@given(st.sampled_from(sorted(VALID)), st.data())
@settings(max_examples=150, deadline=None)
def test_a_photo_with_flipped_bytes_decodes_or_raises_photo_error(fmt: str, data) -> None:
    corrupt = bytearray(VALID[fmt])
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(corrupt) - 1))
        corrupt[position] = data.draw(st.integers(0, 255))
    try:
        photo = decode_photo(bytes(corrupt))
    except PhotoError:
        return
    assert photo.image.dtype == np.uint8 and photo.image.ndim == 3
