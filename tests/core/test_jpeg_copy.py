"""An upright camera JPEG is stored as its own compressed pixels without metadata (issues 27
and 28: no 12 MP re-encode on save or import, and no loss), never with its location."""
import io

import numpy as np
import pytest
from PIL import Image

from core.imaging import decode_photo
from core.jpeg_copy import without_metadata


def _photo(size=(640, 480)) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size[1], 0:size[0]]
    base = np.stack([(x * 255 // size[0]), (y * 255 // size[1]), ((x + y) % 256)], axis=-1)
    return np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _camera_jpeg(pixels: np.ndarray, orientation: int = 1, **options) -> bytes:
    """A JPEG as a phone writes it: EXIF with GPS and orientation, XMP, a comment, a Photoshop
    block, and maker data after the end of the image."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (52.0, 13.0, 0.0), 3: "E", 4: (13.0, 24.0, 0.0)}  # GPS
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90, exif=exif.tobytes(),
                                 comment=b"Patient Jane Doe, room 12", **options)
    data = buffer.getvalue()
    extra = (_segment(0xED, b"Photoshop 3.0\x00IPTC Jane Doe")
             + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x>Doe</x>")
             + _segment(0xE0, b"JFXX\x00\x10thumbnail of Jane Doe"))  # an APP0 that is not JFIF
    return data[:2] + extra + data[2:] + b"SAMSUNG trailer: Jane Doe, 52.0N 13.4E"


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"subsampling": 0},
                                     {"restart_marker_blocks": 4}],
                         ids=["baseline", "progressive", "444", "restart markers"])
def test_the_copy_decodes_to_the_same_pixels_and_holds_no_metadata(options):
    original = _camera_jpeg(_photo(), **options)
    copy = without_metadata(original)
    assert copy is not None and copy.startswith(b"\xff\xd8") and copy.endswith(b"\xff\xd9")
    assert np.array_equal(_pixels(copy), _pixels(original))
    for secret in (b"Exif", b"Jane Doe", b"PhoneMaker", b"xap/1.0", b"Photoshop", b"SAMSUNG", b"JFXX"):
        assert secret not in copy
    with Image.open(io.BytesIO(copy)) as image:
        assert not image.getexif() and "comment" not in image.info and "icc_profile" not in image.info
    assert len(copy) < len(original)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8", b"not a jpeg at all", b"\xff\xd8\xff\xe0\x00",
                                  b"\xff\xd8\xff\xda\x00\x08abcdef\x00\x01\x02"])
def test_bytes_it_cannot_follow_give_none(data):
    assert without_metadata(data) is None


def test_a_truncated_scan_gives_none():
    original = _camera_jpeg(_photo())
    assert without_metadata(original[: len(original) // 2]) is None


def test_an_upright_upload_is_stored_as_its_own_pixels_not_re_encoded():
    """Before: every upload was decoded and re-encoded (JPEG quality 95): the stored photo's
    pixels differed from the ones analysed, and a 12 MP photo cost about half a second more."""
    upload = _camera_jpeg(_photo())
    photo = decode_photo(upload, filename="cheek.jpg")
    assert photo.stored_bytes == without_metadata(upload)
    assert np.array_equal(_pixels(photo.stored_bytes), photo.image)


def test_a_large_upright_upload_is_stored_without_a_full_decode():
    upload = _camera_jpeg(_photo((3400, 2200)))
    photo = decode_photo(upload, filename="big.jpg")
    assert photo.reduction > 1
    stored = photo.stored_bytes
    assert photo.__dict__.get("_image") is None  # nothing decoded the 12 MP pixels for it
    assert np.array_equal(_pixels(stored), photo.image)


def test_a_turned_photo_is_still_stored_upright_by_re_encoding():
    pixels = _photo()
    upload = _camera_jpeg(pixels, orientation=6)
    photo = decode_photo(upload, filename="turned.jpg")
    stored = _pixels(photo.stored_bytes)
    assert stored.shape[:2] == (pixels.shape[1], pixels.shape[0])  # upright: width and height swap
    assert b"Jane Doe" not in photo.stored_bytes and b"Exif" not in photo.stored_bytes
