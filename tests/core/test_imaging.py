"""core.imaging: decoding every accepted kind of photo, orientation, metadata, resizing."""
from __future__ import annotations

import hashlib
import io
import pickle
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, features

from core.errors import PhotoError
from core.imaging import (
    decode_photo,
    read_photo_file,
    resize_by,
    resize_to_long_side,
    sanitize_filename,
)
from tests.core import photo_factory as pf

PHOTO = pf.asymmetric_rgb()  # 48 x 64


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- EXIF orientation -------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_png_orientation_gives_the_exact_expected_transpose(orientation: int) -> None:
    data = pf.encode(PHOTO, "PNG", exif=pf.exif_bytes(orientation=orientation))
    photo = decode_photo(data)
    expected = pf.expected_after_orientation(PHOTO, orientation)
    np.testing.assert_array_equal(photo.image, expected)
    assert (photo.width, photo.height) == (expected.shape[1], expected.shape[0])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_orientation_matches_the_expected_transpose(orientation: int) -> None:
    data = pf.encode(PHOTO, "JPEG", quality=95, exif=pf.exif_bytes(orientation=orientation))
    photo = decode_photo(data)
    expected = pf.expected_after_orientation(PHOTO, orientation)
    assert mean_abs_diff(photo.image, expected) < 4
    # The red block must land in the right corner, not merely somewhere.
    wrong = [o for o in range(1, 9) if not np.array_equal(
        pf.expected_after_orientation(PHOTO, o), expected)]
    for other in wrong:
        candidate = pf.expected_after_orientation(PHOTO, other)
        if candidate.shape == expected.shape:
            assert mean_abs_diff(photo.image, candidate) > 20


def test_stored_bytes_are_already_upright_and_carry_no_orientation() -> None:
    photo = decode_photo(pf.encode(PHOTO, "PNG", exif=pf.exif_bytes(orientation=6)))
    with Image.open(io.BytesIO(photo.stored_bytes)) as stored:
        assert stored.getexif().get(pf.ORIENTATION_TAG) is None
        np.testing.assert_array_equal(np.asarray(stored), photo.image)


def test_heic_orientation_is_applied_once() -> None:
    data = pf.encode(PHOTO, "HEIF", quality=95, exif=pf.exif_bytes(orientation=6))
    photo = decode_photo(data, filename="IMG_0001.HEIC")
    assert photo.source_format == "HEIF"
    assert mean_abs_diff(photo.image, pf.expected_after_orientation(PHOTO, 6)) < 4


@given(orientation=st.integers(min_value=0, max_value=65535))
@settings(max_examples=40, deadline=None)
def test_any_orientation_tag_gives_a_valid_image_of_the_expected_shape(orientation: int) -> None:
    data = pf.encode(PHOTO, "PNG", exif=pf.exif_bytes(orientation=orientation))
    photo = decode_photo(data)
    expected = pf.expected_after_orientation(PHOTO, orientation)  # out of range: unrotated
    assert photo.image.dtype == np.uint8
    np.testing.assert_array_equal(photo.image, expected)


# --- every accepted kind of file --------------------------------------------------------------


def _check_rgb(photo, expected: np.ndarray, tolerance: float) -> None:
    assert photo.image.dtype == np.uint8 and photo.image.ndim == 3 and photo.image.shape[2] == 3
    assert mean_abs_diff(photo.image, expected) <= tolerance


LOSSLESS = [
    ("PNG", {}, "PNG"),
    ("TIFF", {"compression": "tiff_lzw"}, "TIFF"),
    ("BMP", {}, "BMP"),
    ("WEBP", {"lossless": True}, "WEBP"),
]
LOSSY = [
    ("JPEG", {"quality": 95}, "JPEG"),
    ("JPEG", {"quality": 95, "progressive": True}, "JPEG"),
    ("WEBP", {"quality": 95}, "WEBP"),
    ("HEIF", {"quality": 95}, "HEIF"),
]


@pytest.mark.parametrize(("fmt", "kwargs", "source"), LOSSLESS, ids=[c[0] for c in LOSSLESS])
def test_lossless_formats_decode_exactly_and_are_stored_as_png(fmt, kwargs, source) -> None:
    photo = decode_photo(pf.encode(PHOTO, fmt, **kwargs))
    np.testing.assert_array_equal(photo.image, PHOTO)
    assert photo.source_format == source
    assert photo.stored_extension == ".png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(photo.stored_bytes))), PHOTO)


@pytest.mark.parametrize(
    ("fmt", "kwargs", "source"), LOSSY, ids=["jpeg", "progressive-jpeg", "webp", "heic"]
)
def test_lossy_formats_decode_closely_and_are_stored_as_jpeg(fmt, kwargs, source) -> None:
    photo = decode_photo(pf.encode(PHOTO, fmt, **kwargs))
    _check_rgb(photo, PHOTO, tolerance=4)
    assert photo.source_format == source
    assert photo.stored_extension == ".jpg"
    assert photo.stored_bytes.startswith(b"\xff\xd8\xff")
    stored = np.asarray(Image.open(io.BytesIO(photo.stored_bytes)))
    assert mean_abs_diff(stored, photo.image) < 2  # quality 95, 4:4:4


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF codec")
def test_avif_decodes_and_is_stored_as_jpeg() -> None:
    photo = decode_photo(pf.encode(PHOTO, "AVIF", quality=95))
    _check_rgb(photo, PHOTO, tolerance=5)
    assert (photo.source_format, photo.stored_extension) == ("AVIF", ".jpg")


def test_gif_gives_its_first_frame() -> None:
    second = np.full_like(PHOTO, 30)
    photo = decode_photo(pf.animated_gif([PHOTO, second]), filename="anim.gif")
    assert photo.source_format == "GIF" and photo.stored_extension == ".png"
    _check_rgb(photo, PHOTO, tolerance=6)  # GIF palette quantisation


def test_grayscale_becomes_three_equal_channels() -> None:
    gray = PHOTO[..., 0]
    photo = decode_photo(pf.encode(gray, "PNG"))
    for channel in range(3):
        np.testing.assert_array_equal(photo.image[..., channel], gray)


def test_palette_png_decodes_to_its_colours() -> None:
    palette = Image.fromarray(PHOTO).quantize(colors=16)
    expected = np.asarray(palette.convert("RGB"))
    np.testing.assert_array_equal(decode_photo(pf.encode(palette, "PNG")).image, expected)


def test_rgba_is_composited_on_white() -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = (200, 0, 100)
    rgba[:20, :, 3] = 0  # transparent top half
    rgba[20:, :, 3] = 255
    image = decode_photo(pf.encode(rgba, "PNG")).image
    assert (image[:20] == 255).all()
    assert (image[20:] == (200, 0, 100)).all()


def test_half_transparent_la_blends_with_white() -> None:
    la = Image.new("LA", (40, 40), (0, 128))
    image = decode_photo(pf.encode(la, "PNG")).image
    assert np.all(np.abs(image.astype(int) - 127) <= 1)


def test_cmyk_jpeg_becomes_rgb() -> None:
    red = Image.new("CMYK", (40, 40), (0, 255, 255, 0))
    image = decode_photo(pf.encode(red, "JPEG", quality=95)).image
    assert np.all(np.abs(image.astype(int) - (255, 0, 0)) <= 3)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (40, 1))
    image = decode_photo(pf.encode(ramp, "PNG")).image
    expected = np.round(ramp / 257.0)
    assert np.abs(image[..., 0] - expected).max() <= 1
    assert image[0, 31, 0] not in (0, 255)  # a mid-ramp value stays mid-grey


def test_48_bit_rgb_png_keeps_the_high_byte() -> None:
    rgb16 = PHOTO.astype(np.uint16) * 257
    ok, encoded = cv2.imencode(".png", rgb16[..., ::-1])  # OpenCV writes 16-bit BGR
    assert ok
    np.testing.assert_array_equal(decode_photo(encoded.tobytes()).image, PHOTO)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_colour_profile_is_applied_then_dropped(fmt: str) -> None:
    # Under a profile whose red and green primaries are swapped, "pure red" pixels are green.
    swapped = pf.rgb_icc_profile(pf.SRGB_GREEN, pf.SRGB_RED, pf.SRGB_BLUE)
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    photo = decode_photo(pf.encode(red, fmt, icc_profile=swapped))
    assert np.all(np.abs(photo.image.astype(int) - (0, 255, 0)) <= 3)
    with Image.open(io.BytesIO(photo.stored_bytes)) as stored:
        assert "icc_profile" not in stored.info


def test_broken_colour_profile_is_ignored() -> None:
    data = pf.encode(PHOTO, "PNG", icc_profile=b"not a profile" * 20)
    np.testing.assert_array_equal(decode_photo(data).image, PHOTO)


# --- metadata ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_gps_and_all_exif_are_absent_from_stored_bytes(fmt: str) -> None:
    exif = pf.exif_bytes(gps=True, make="Apple", model="iPhone 15", taken="2024:03:01 08:00:00")
    data = pf.encode(PHOTO, fmt, exif=exif)
    with Image.open(io.BytesIO(data)) as original:  # the test input really has GPS
        assert original.getexif().get_ifd(pf.GPS_IFD)
    photo = decode_photo(data)
    with Image.open(io.BytesIO(photo.stored_bytes)) as stored:
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info
    assert b"GPS" not in photo.stored_bytes
    assert b"Exif" not in photo.stored_bytes
    assert b"iPhone" not in photo.stored_bytes


def test_jpeg_comment_is_not_stored() -> None:
    data = pf.encode(PHOTO, "JPEG", comment=b"patient Jane Doe")
    assert b"Jane Doe" in data
    assert b"Jane Doe" not in decode_photo(data).stored_bytes


def test_capture_time_and_device_come_from_exif() -> None:
    exif = pf.exif_bytes(taken="2024:05:01 10:11:12", make="Apple", model="iPhone 13")
    photo = decode_photo(pf.encode(PHOTO, "JPEG", exif=exif))
    assert photo.captured_at == datetime(2024, 5, 1, 10, 11, 12)
    assert photo.device == "Apple iPhone 13"


def test_capture_time_falls_back_to_datetime_tag() -> None:
    exif = Image.Exif()
    exif[0x0132] = "2023:12:31 23:59:58"
    photo = decode_photo(pf.encode(PHOTO, "PNG", exif=exif.tobytes()))
    assert photo.captured_at == datetime(2023, 12, 31, 23, 59, 58)


def test_blank_capture_time_and_missing_exif_give_none() -> None:
    blank = decode_photo(pf.encode(PHOTO, "JPEG", exif=pf.exif_bytes(taken="0000:00:00 00:00:00")))
    assert blank.captured_at is None
    bare = decode_photo(pf.encode(PHOTO, "JPEG"))
    assert (bare.captured_at, bare.device) == (None, None)


def test_device_does_not_repeat_the_make() -> None:
    exif = pf.exif_bytes(make="Canon", model="Canon EOS R5")
    assert decode_photo(pf.encode(PHOTO, "JPEG", exif=exif)).device == "Canon EOS R5"


def test_upload_sha256_is_of_the_raw_bytes() -> None:
    data = pf.encode(PHOTO, "JPEG")
    assert decode_photo(data).upload_sha256 == hashlib.sha256(data).hexdigest()


def test_decoded_image_is_read_only() -> None:
    photo = decode_photo(pf.encode(PHOTO, "PNG"))
    with pytest.raises(ValueError):
        photo.image[0, 0, 0] = 1


# --- file names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        (None, "photo"),
        ("", "photo"),
        ("../../x.jpg", "x.jpg"),
        ("C:\\Users\\ana\\Pictures\\face.jpg", "face.jpg"),
        ("/etc/", "photo"),
        ("..", "photo"),
        (".hidden.png", "hidden.png"),
        ("visage été 😀.jpg", "visage été 😀.jpg"),
        ("顔写真.heic", "顔写真.heic"),
        ("bad\x00name\x1b[31m.jpg", "badname[31m.jpg"),
        ("spoof\u202egpj.exe", "spoofgpj.exe"),
        ('a<b>c:d"e|f?g*.png', "a_b_c_d_e_f_g_.png"),
    ],
)
def test_filename_is_sanitised(given_name, expected) -> None:
    assert sanitize_filename(given_name) == expected


def test_long_filename_is_cut_to_120_characters_keeping_the_extension() -> None:
    name = sanitize_filename("é" * 500 + ".jpeg")
    assert len(name) == 120 and name.endswith(".jpeg") and name.startswith("é")


def test_decode_photo_uses_the_sanitised_filename() -> None:
    assert decode_photo(pf.encode(PHOTO, "PNG"), filename="../../a/b.png").filename == "b.png"


# --- rejections -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>Login</body></html>", "web page"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"just some notes\n", "text file"),
        (pf.encode(PHOTO, "JPEG")[:-400], "damaged or incomplete"),
        (pf.constant_png(16, 16), "too small to analyse"),
        (pf.constant_png(60_000, 60_000, full_data=False), "too many pixels"),
        (pf.constant_png(11_000, 11_000, full_data=False), "120 megapixels"),
    ],
    ids=["empty", "html", "svg", "text", "truncated", "tiny", "pil-bomb", "over-max-pixels"],
)
def test_rejections_explain_themselves(data: bytes, fragment: str) -> None:
    with pytest.raises(PhotoError) as caught:
        decode_photo(data, filename="upload.jpg")
    message = str(caught.value)
    assert fragment in message
    assert "upload.jpg" in message and message.endswith(".")


def test_declared_size_is_checked_before_decoding() -> None:
    # The file holds one row of pixels: decoding it would fail as "damaged", not "too large".
    data = pf.constant_png(8_000, 8_000, full_data=False)
    with pytest.raises(PhotoError, match="megapixels"):
        decode_photo(data, max_pixels=50_000_000)


def test_too_many_bytes_is_refused_before_decoding() -> None:
    with pytest.raises(PhotoError, match="largest photo accepted is 0 MB"):
        decode_photo(pf.encode(PHOTO, "PNG"), max_bytes=100)


def test_non_bytes_are_refused() -> None:
    with pytest.raises(PhotoError, match="got str"):
        decode_photo("not bytes")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_block_falls_back_to_unrotated() -> None:
    data = pf.jpeg_with_raw_app1(PHOTO, b"Exif\x00\x00MM\x00*\x00\x00\xff\xff")
    _check_rgb(decode_photo(data), PHOTO, tolerance=4)


# --- files on disk ----------------------------------------------------------------------------


def test_read_photo_file_reads_and_names_the_photo(tmp_path) -> None:
    path = tmp_path / "visit 1.png"
    path.write_bytes(pf.encode(PHOTO, "PNG"))
    photo = read_photo_file(path)
    assert photo.filename == "visit 1.png"
    np.testing.assert_array_equal(photo.image, PHOTO)
    assert read_photo_file(str(path), filename="other.png").filename == "other.png"


def test_read_photo_file_explains_missing_files_folders_and_size(tmp_path) -> None:
    with pytest.raises(PhotoError, match="no photo file"):
        read_photo_file(tmp_path / "missing.jpg")
    with pytest.raises(PhotoError, match="is a folder"):
        read_photo_file(tmp_path)
    path = tmp_path / "big.png"
    path.write_bytes(pf.encode(PHOTO, "PNG"))
    with pytest.raises(PhotoError, match="largest photo accepted"):
        read_photo_file(path, max_bytes=10)


# --- resizing ---------------------------------------------------------------------------------


def test_resize_to_long_side_keeps_the_aspect_ratio() -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    resized, scale = resize_to_long_side(image, 200)
    assert resized.shape == (150, 200, 3) and scale == 0.5
    portrait, scale = resize_to_long_side(np.zeros((400, 300), np.uint8), 800)
    assert portrait.shape == (800, 600) and scale == 2.0


def test_shrinking_averages_areas_instead_of_aliasing() -> None:
    # One bright pixel in every 4 x 4 block: area averaging keeps its light (255 / 16 = 16),
    # point sampling (nearest, bilinear) would land between the dots and see black.
    dots = np.zeros((64, 64), np.uint8)
    dots[::4, ::4] = 255
    small = resize_by(dots, 0.25)
    assert small.shape == (16, 16)
    assert np.all(np.abs(small.astype(int) - 16) <= 1)


def test_enlarging_interpolates_linearly() -> None:
    image = np.array([[0, 100]], np.uint8).repeat(2, axis=0)
    big = resize_by(image, 4.0)
    assert big.shape == (8, 8)
    row = big[0].astype(int)
    assert np.all(np.diff(row) >= 0) and 0 < row[3] < 100 and len(set(row)) > 2


def test_resize_keeps_a_single_channel_axis_and_returns_a_copy_at_scale_one() -> None:
    image = np.zeros((40, 60, 1), np.float32)
    assert resize_by(image, 0.5).shape == (20, 30, 1)
    same = resize_by(image, 1.0)
    assert same.shape == image.shape and same is not image


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf"), "2"])
def test_resize_by_rejects_bad_scales(scale) -> None:
    with pytest.raises(ValueError, match="scale"):
        resize_by(np.zeros((10, 10), np.uint8), scale)


@pytest.mark.parametrize("long_side", [0, -5, 2.5, True])
def test_resize_to_long_side_rejects_bad_sizes(long_side) -> None:
    with pytest.raises(ValueError, match="long_side"):
        resize_to_long_side(np.zeros((10, 10), np.uint8), long_side)


@pytest.mark.parametrize(
    "image", [np.zeros((0, 5), np.uint8), np.zeros(5, np.uint8), np.zeros((4, 4), bool), [[1]]]
)
def test_resize_rejects_non_images(image) -> None:
    with pytest.raises(ValueError):
        resize_by(image, 0.5)


# --- properties -------------------------------------------------------------------------------


@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(32, 48), st.integers(32, 48), st.just(3)),
        elements=st.integers(0, 255),
    )
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_rgb_array_round_trips_exactly_through_png(array: np.ndarray) -> None:
    photo = decode_photo(pf.encode(array, "PNG"))
    np.testing.assert_array_equal(photo.image, array)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(photo.stored_bytes))), array)


def test_preview_jpeg_is_a_small_upright_copy() -> None:
    from core.imaging import preview_jpeg

    big = np.zeros((3000, 4000, 3), np.uint8)
    big[:, :2000] = (200, 40, 40)  # left half red, right half black
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="JPEG", quality=90)
    with Image.open(io.BytesIO(preview_jpeg(buffer.getvalue(), 320))) as small:
        assert small.format == "JPEG" and small.size == (320, 240)
        pixels = np.asarray(small)
    assert pixels[120, 40, 0] > 150 and pixels[120, 280, 0] < 40
    with pytest.raises(ValueError, match="long_side"):
        preview_jpeg(buffer.getvalue(), 0)


# --- a large JPEG decoded at the size the analysis needs (issue 27) ---------------------------


def _large_jpeg(width: int = 3400, height: int = 2200, **save: object) -> bytes:
    """A textured photo large enough for the reduced decode (long side >= 2 x 1600)."""
    rng = np.random.default_rng(7)
    small = rng.integers(0, 256, (height // 50 + 1, width // 50 + 1, 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return pf.encode(image, "JPEG", quality=90, **save)


def test_a_large_jpeg_is_decoded_reduced_and_in_full_only_on_first_use() -> None:
    from core.imaging import ANALYSIS_LONG_SIDE

    data = _large_jpeg()
    full = decode_photo(data, reduced_decode=False)

    photo = decode_photo(data)

    assert photo.reduction == 2 and 3400 // 2 >= ANALYSIS_LONG_SIDE
    assert photo.reduced.shape == (1100, 1700, 3)
    assert (photo.width, photo.height) == (3400, 2200)
    assert photo.__dict__["_image"] is None  # nothing decoded in full yet
    copy = pickle.loads(pickle.dumps(photo))  # st.cache_data pickles what it keeps
    assert np.array_equal(copy.image, full.image) and copy.stored_bytes == full.stored_bytes
    assert np.array_equal(photo.image, full.image)  # the full photo, when asked for
    assert photo.stored_bytes == full.stored_bytes  # the stored file is the full photo's
    assert photo.upload_sha256 == full.upload_sha256
    assert full.reduced is None and full.reduction == 1
    # The reduced decode is the photo at half size: close to the full photo's 2 x 2 means.
    means = full.image.reshape(1100, 2, 1700, 2, 3).mean(axis=(1, 3))
    assert mean_abs_diff(photo.reduced, means.round().astype(np.uint8)) < 2.0


def test_blocks_to_size_repeat_each_reduced_pixel_over_its_block() -> None:
    from core.imaging import blocks_to_size

    photo = decode_photo(_large_jpeg(3401, 2203))  # odd sizes: libjpeg rounds the reduced size up

    blocks = blocks_to_size(photo.reduced, photo.reduction, (photo.height, photo.width))

    assert photo.reduced.shape == (1102, 1701, 3)
    assert blocks.shape == (2203, 3401, 3) and blocks.flags["C_CONTIGUOUS"]
    assert np.array_equal(blocks[::2, ::2], photo.reduced[:, :, :])
    assert np.array_equal(blocks[1::2, 1::2], photo.reduced[:1101, :1700])


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_reduced_decode_is_oriented_like_the_full_one(orientation: int) -> None:
    data = _large_jpeg(exif=pf.exif_bytes(orientation=orientation))
    full = decode_photo(data, reduced_decode=False)

    photo = decode_photo(data)

    upright = (2200, 3400) if orientation in (6, 8) else (3400, 2200)
    assert (photo.width, photo.height) == upright == (full.width, full.height)
    assert photo.reduced.shape[:2] == (upright[1] // 2, upright[0] // 2)
    assert np.array_equal(photo.image, full.image)


def test_small_jpegs_and_other_formats_are_decoded_in_full_at_once() -> None:
    small = decode_photo(_large_jpeg(3000, 2000))  # long side under 2 x 1600
    png = decode_photo(pf.encode(np.zeros((2200, 3400, 3), np.uint8), "PNG"))
    for photo in (small, png):
        assert photo.reduced is None and photo.reduction == 1 and photo.__dict__["_image"] is not None


def test_a_truncated_large_jpeg_is_refused_by_the_reduced_decode_too() -> None:
    data = _large_jpeg()
    with pytest.raises(PhotoError, match="damaged or incomplete"):
        decode_photo(data[: len(data) * 2 // 3], filename="cut.jpg")


def test_an_analysis_of_a_reduced_decode_reports_the_full_photo() -> None:
    """Positions, size and masks are the full photo's; a face too small for the reduced copy
    sends the analysis to the full decode (core.pipeline.finest_reduction)."""
    from core.pipeline import finest_reduction
    from core.segmentation import SegmenterConfig
    from core.types import FaceResult

    config = SegmenterConfig(face_width_px=273.6, train_image_side=384)
    big_face = FaceResult(found=True, box=(1000.0, 500.0, 2600.0, 2300.0))
    small_face = FaceResult(found=True, box=(1000.0, 500.0, 1400.0, 950.0))
    assert finest_reduction(big_face, (3024, 4032), config) == 2  # 1600 px face: 3.9x / 1.5
    assert finest_reduction(small_face, (3024, 4032), config) == 1  # 400 px: it would be enlarged
    no_face = FaceResult(found=False)
    assert finest_reduction(no_face, (3024, 4032), config) == 2  # the detector: 4032 px to 800
    rough = FaceResult(found=True, rough=True, box=(0.0, 0.0, 300.0, 300.0))
    assert finest_reduction(rough, (3024, 4032), config) == 1  # its box is the sharpness crop


ACNE04 = Path(__file__).resolve().parents[3] / "shared" / "data" / "acne04"


@pytest.mark.slow  # 20 analyses of 12 MP photos with the shipped models
@pytest.mark.skipif(not (ACNE04 / "images" / "valid").is_dir(), reason="needs ../shared/data/acne04")
def test_the_reduced_decode_keeps_the_results_of_acne04_photos_at_12_mp() -> None:
    """ACNE04 valid photos enlarged to 12 MP (benchmarks/check_reduced_decode.py; read from
    ../shared at run time): the same grades and assessability, lesions where they were (most
    boxes within 1 px on the full photo), the same counts on most photos. (On all 283 valid
    photos, and against the noise floor of an imperceptible re-encoding, see that script.)"""
    from benchmarks.check_reduced_decode import compare, enlarged_jpeg, summarise
    from core.manifest import DEFAULT_WEIGHTS_DIR
    from core.pipeline import load_analyzer

    analyzer = load_analyzer(DEFAULT_WEIGHTS_DIR, threads=1)
    rows = []
    for path in sorted((ACNE04 / "images" / "valid").glob("*.jpg"))[:10]:
        upload = enlarged_jpeg(path, 12.0)
        full = decode_photo(upload, reduced_decode=False)
        reduced = decode_photo(upload)
        assert reduced.reduction == 2 and (reduced.width, reduced.height) == (full.width, full.height)
        rows.append(compare(analyzer.analyze(full).to_dict(), analyzer.analyze(reduced).to_dict()))

    summary = summarise(rows)
    assert summary["photos_same_grade"] == summary["photos_same_assessable"] == 10, summary
    assert summary["photos_same_counts"] >= 8, summary
    assert summary["lesions_unmatched"] == 0 and summary["lesions"] >= 20, summary
    assert summary["lesions_within_1px"] >= 0.75 * summary["lesions"], summary
    assert summary["face_box_shift_max_px"] < 10, summary


@pytest.mark.slow  # builds the tiny test model and analyses two 11 MP photos
def test_the_analysis_of_a_large_jpeg_decodes_it_in_full_only_for_a_small_face(tmp_path: Path) -> None:
    """Sizes, masks and boxes are the full photo's either way; a face big enough for the
    reduced decode is analysed without decoding the photo in full (the CLI never does), a small
    one makes the analysis decode it (core.pipeline.finest_reduction)."""
    from skimage import data

    from core.pipeline import load_analyzer
    from tests.model_factory import build_tiny_weights

    analyzer = load_analyzer(build_tiny_weights(tmp_path / "weights"))

    def photo_of(face: np.ndarray, side: int) -> bytes:
        canvas = np.full((3400, 3400, 3), 190, np.uint8)
        canvas[200:200 + side, 300:300 + side] = cv2.resize(face, (side, side),
                                                            interpolation=cv2.INTER_CUBIC)
        return pf.encode(canvas, "JPEG", quality=92)

    close = decode_photo(photo_of(data.astronaut()[0:240, 104:344], 2700))  # face ~1000 px
    far = decode_photo(photo_of(data.astronaut(), 1400))  # face ~230 px
    for photo, decoded_in_full in ((close, False), (far, True)):
        analysis = analyzer.analyze(photo)
        assert photo.reduction == 2 and analysis.face.found
        assert (analysis.width, analysis.height) == (3400, 3400)
        assert analysis.kind_mask.shape == analysis.probability_map.shape == (3400, 3400)
        assert all(0 <= l.bbox[0] < l.bbox[2] <= 3400 for l in analysis.lesions)
        assert (photo.__dict__["_image"] is not None) is decoded_in_full
        full = analyzer.analyze(decode_photo(photo_of(
            data.astronaut()[0:240, 104:344] if photo is close else data.astronaut(),
            2700 if photo is close else 1400), reduced_decode=False))
        # The detector sees the reduced decode's pixels: its box moves by a small fraction of
        # the face (on ACNE04 at 12 MP as much as an imperceptible re-encoding moves it).
        face_width = full.face.box[2] - full.face.box[0]
        assert max(abs(a - b) for a, b in zip(analysis.face.box, full.face.box)) < 0.02 * face_width
