"""Decode, validate, orient, re-encode and hash uploads; resize pixel arrays.

`decode_photo` is the single gate every upload goes through (dashboard, CLI, batch import):
whatever a phone, a camera or a confused user sends, it either returns an EXIF-oriented RGB
uint8 image with metadata-free bytes to store, or raises `PhotoError` with a sentence a person
understands.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import stat
import unicodedata
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms

from core.errors import PhotoError
from core.jpeg_copy import without_metadata
from core.types import DecodedPhoto

MIN_SIDE_PX = 32
# A large JPEG is decoded for the analysis at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling,
# several times faster than a full decode) while its long side stays at least this long: the
# face detector looks at 800 px, the segmenter at a face 274 px wide. The full photo is decoded
# only when asked for (the viewer, the stored file, a face too small for the reduced copy).
ANALYSIS_LONG_SIDE = 1600
MAX_FILENAME_CHARS = 120
SUPPORTED = "JPEG, PNG, HEIC, WebP, TIFF, BMP or GIF"
# Parsers PIL may try; anything else (EPS, PSD, ICO...) is refused before a parser runs.
# (JPEG's parser also yields MPO, the multi-picture JPEG of phones with depth maps.)
_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "TIFF", "BMP", "GIF")
_LOSSY_FORMATS = {"JPEG", "MPO", "HEIF", "AVIF"}  # WEBP is decided per file
_ORIENTATION_TAG, _EXIF_IFD, _DATETIME_ORIGINAL, _DATETIME, _MAKE, _MODEL = (
    0x0112, 0x8769, 0x9003, 0x0132, 0x010F, 0x0110
)
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SNIFFS = (  # (magic test, what the file looks like), for a helpful "not a photo" message
    (lambda head: head.startswith(b"%PDF"), "a PDF document"),
    (lambda head: head.startswith(b"PK\x03\x04"), "a ZIP archive or an Office document"),
    (lambda head: b"<svg" in head.lower(), "an SVG drawing"),
    (lambda head: b"<html" in head.lower() or b"<!doctype" in head.lower(), "a web page (HTML)"),
)


def encode_png(array: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 gray (H x W) or RGB (H x W x 3) array."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


@functools.cache
def _open_formats(heif: bool = True) -> tuple[str, ...]:
    """The parsers PIL may try. With `heif` (a file in an ISO box container, `ftyp`), the
    HEIC/HEIF reader is registered first, once; other files never pay for importing it."""
    if heif:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # HEIC uploads are then refused as "not a photo"
            pass
    Image.init()
    return tuple(fmt for fmt in _FORMATS if fmt in Image.OPEN and (heif or fmt != "HEIF"))


def sanitize_filename(name: str | None) -> str:
    """Display name without folders or control characters, at most 120 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if not unicodedata.category(c).startswith("C"))
    base = re.sub(r'[<>:"|?*]', "_", base).strip().lstrip(".").strip()
    if not base:
        return "photo"
    if len(base) > MAX_FILENAME_CHARS:
        stem, ext = os.path.splitext(base)
        ext = ext if len(ext) <= 10 else ""
        base = stem[: MAX_FILENAME_CHARS - len(ext)].rstrip() + ext
    return base


_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")


def _starts_like_image(data: bytes) -> bool:
    return (
        data.startswith(_IMAGE_MAGIC)
        or (data[:2] == b"BM" and data[6:10] == b"\x00" * 4)  # BMP: reserved bytes are zero
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        or (data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS)
    )


def _damaged_message(name: str) -> str:
    return (
        f"'{name}' is damaged or incomplete (the upload may have been cut off); "
        "please send the original photo again."
    )


def _not_an_image_message(data: bytes, name: str) -> str:
    if _starts_like_image(data):  # starts like a photo, then breaks off
        return _damaged_message(name)
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    kind = next((what for test, what in _SNIFFS if test(head)), None)
    if kind is None and head.startswith(b"<?xml"):
        kind = "an XML document"
    if kind is None and data[4:8] == b"ftyp":  # an MP4 / MOV container that is not HEIF
        kind = "a video"
    if kind is None:
        try:
            text = data[:4096].decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if text.strip() and all(c.isprintable() or c in "\t\r\n" for c in text):
            kind = "a text file"
    found = f"it looks like {kind}" if kind else "its contents are not a picture this app reads"
    return f"'{name}' is not a photo: {found}. Please upload a {SUPPORTED} photo."


def _is_lossy(image: Image.Image, data: bytes) -> bool:
    if image.format != "WEBP":
        return image.format in _LOSSY_FORMATS
    # WebP is a RIFF container: a "VP8 " chunk is lossy, "VP8L" lossless (walk the chunks).
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk in (b"VP8 ", b"VP8L"):
            return chunk == b"VP8 "
        pos += 8 + size + (size & 1)
    return True


def _clean_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "ignore")
    if not isinstance(value, str):
        return None
    text = "".join(c for c in value if not unicodedata.category(c).startswith("C")).strip()
    return text or None


def _read_exif(image: Image.Image) -> tuple[int, datetime | None, str | None]:
    """Orientation, capture time (camera wall clock, no time zone) and device; safe on junk."""
    try:
        exif = image.getexif()
        orientation = exif.get(_ORIENTATION_TAG, 1)
        stamp = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
        make, model = _clean_text(exif.get(_MAKE)), _clean_text(exif.get(_MODEL))
    except Exception:  # a corrupt EXIF block must not cost the photo: use it unrotated
        return 1, None, None
    captured_at = None
    stamp_text = _clean_text(stamp)
    if stamp_text:
        try:
            captured_at = datetime.strptime(stamp_text[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            captured_at = None  # "0000:00:00 00:00:00" and other blanks
    if make and model and model.lower().startswith(make.lower()):
        make = None  # "Canon" + "Canon EOS R5" reads better as the model alone
    device = " ".join(part for part in (make, model) if part)[:MAX_FILENAME_CHARS] or None
    return orientation if isinstance(orientation, int) else 1, captured_at, device


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    """Any PIL mode -> 8-bit RGB; transparency is composited on white."""
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        # PIL's own conversion clips 16-bit values at 255; scale the full range instead.
        values = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        image = Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8), "L")
        mode = "L"
    if mode == "F":
        raise PhotoError(f"'{name}' holds floating-point measurements, not a photo.")
    icc = image.info.get("icc_profile")
    if icc and mode in ("RGB", "CMYK"):
        try:  # wide-gamut phone photos (Display P3) and CMYK scans look right in sRGB
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
        except Exception:  # a broken profile: fall back to the plain conversion
            pass
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":  # already what is needed: no copy (6 ms for a reduced 12 MP photo)
        return image
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise PhotoError(f"'{name}' uses a colour mode ({mode}) this app cannot read.") from exc


def decode_photo(
    data: bytes,
    *,
    filename: str | None = None,
    max_pixels: int = 120_000_000,
    max_bytes: int = 60_000_000,
    reduced_decode: bool = True,
) -> DecodedPhoto:
    """Decode and validate an upload into an oriented RGB photo, or raise `PhotoError`.

    A JPEG of more than ANALYSIS_LONG_SIDE x 2 pixels is decoded at a reduced size
    (`DecodedPhoto.reduced`, `reduction`); its `image` is decoded in full on first use.
    `reduced_decode=False` decodes every photo in full at once."""
    name = sanitize_filename(filename)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PhotoError(f"Expected the bytes of '{name}', got {type(data).__name__}.")
    data = bytes(data)
    if not data:
        raise PhotoError(f"'{name}' is empty (0 bytes). Please choose the photo again.")
    if len(data) > max_bytes:
        raise PhotoError(
            f"'{name}' is {len(data) / 1e6:.1f} MB; the largest photo accepted is "
            f"{max_bytes / 1e6:.0f} MB."
        )
    formats = _open_formats(heif=data[4:8] == b"ftyp")
    try:
        with warnings.catch_warnings():
            # PIL only warns between its default limit and twice it; max_pixels decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as exc:
        raise PhotoError(f"'{name}' declares far too many pixels to be a photo.") from exc
    except Exception as exc:  # PIL signals unreadable input with many exception types
        raise PhotoError(_not_an_image_message(data, name)) from exc
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise PhotoError(
                f"'{name}' is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels);"
                f" the largest photo accepted is {max_pixels / 1e6:.0f} megapixels."
            )
        if min(width, height) < MIN_SIDE_PX:
            raise PhotoError(
                f"'{name}' is only {width} x {height} pixels: too small to analyse "
                f"(at least {MIN_SIDE_PX} x {MIN_SIDE_PX} is needed)."
            )
        # iPhone JPEGs with depth maps open as MPO; they are JPEG files to a person.
        source_format = "JPEG" if image.format == "MPO" else str(image.format)
        lossy = _is_lossy(image, data)
        reduction = _reduction(width, height) if reduced_decode and source_format == "JPEG" else 1
        if reduction > 1:
            image.draft(None, (width // reduction, height // reduction))
            expected = (-(-width // reduction), -(-height // reduction))  # libjpeg rounds up
            reduction = reduction if image.size == expected else 1
        try:
            # Every byte is decoded (at DCT scale for a reduced JPEG), so truncated and corrupt
            # files fail here, not later.
            image.load()
            orientation, captured_at, device = _read_exif(image)  # PNG keeps EXIF after pixels
            # An upright camera JPEG decodes to the same pixels without its metadata: it is
            # stored as its own bytes less the metadata (core.jpeg_copy), not re-encoded.
            copy_as_is = (image.format == "JPEG" and image.mode == "RGB" and orientation not in _TRANSPOSE
                          and not image.info.get("icc_profile"))
            rgb = _to_rgb(image, name)
            if orientation in _TRANSPOSE:
                rgb = rgb.transpose(_TRANSPOSE[orientation])
            pixels = np.asarray(rgb)  # inside `with`: `rgb` may be the opened image itself
        except PhotoError:
            raise
        except (Image.DecompressionBombError, MemoryError) as exc:
            raise PhotoError(f"'{name}' is too large to open as a photo.") from exc
        except Exception as exc:
            raise PhotoError(_damaged_message(name)) from exc
    common = dict(upload_sha256=hashlib.sha256(data).hexdigest(), source_format=source_format,
                  stored_extension=".jpg" if lossy else ".png", filename=name,
                  captured_at=captured_at, device=device)
    full = _FullDecode(data, formats, name, orientation) if reduction > 1 else None
    encode = functools.partial(_stored_bytes, pixels, lossy) if full is None \
        else functools.partial(_stored_from, full, lossy)
    # Partials, not closures, so that the photo still pickles.
    common["encode_stored"] = functools.partial(_stored_as_is, data, encode) if copy_as_is else encode
    if full is None:
        return DecodedPhoto(image=pixels, **common)
    size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    return DecodedPhoto(image=None, load_image=full, reduced=pixels, reduction=reduction, size=size,
                        **common)


def _stored_from(full: Callable[[], np.ndarray], lossy: bool) -> bytes:
    return _stored_bytes(full(), lossy)


def _stored_as_is(data: bytes, encode: Callable[[], bytes]) -> bytes:
    """The stored copy of an upright JPEG: its own bytes without metadata, or `encode()` where
    the file's structure cannot be followed."""
    return without_metadata(data) or encode()


def _reduction(width: int, height: int) -> int:
    """The coarsest JPEG DCT scale (1, 2, 4 or 8) keeping the long side >= ANALYSIS_LONG_SIDE."""
    long_side = max(width, height)
    return next((k for k in (8, 4, 2) if long_side // k >= ANALYSIS_LONG_SIDE), 1)


class _FullDecode:
    """The full decode of a photo that was first decoded reduced: the same steps at scale 1,
    done once, on first use (thread-safe enough: a second caller at worst decodes again)."""

    def __init__(self, data: bytes, formats: tuple[str, ...], name: str, orientation: int) -> None:
        self._data, self._formats, self._name, self._orientation = data, formats, name, orientation
        self._pixels: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._pixels is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    with Image.open(io.BytesIO(self._data), formats=self._formats) as image:
                        image.load()
                        rgb = _to_rgb(image, self._name)
                        if self._orientation in _TRANSPOSE:
                            rgb = rgb.transpose(_TRANSPOSE[self._orientation])
                        pixels = np.asarray(rgb)
            except PhotoError:
                raise
            except Exception as exc:  # the reduced decode of the same bytes worked
                raise PhotoError(_damaged_message(self._name)) from exc
            self._pixels = pixels
        return self._pixels


def blocks_to_size(reduced: np.ndarray, k: int, shape: tuple[int, int]) -> np.ndarray:
    """`reduced` with each pixel repeated over a k x k block, cut to `shape` (height, width):
    libjpeg rounds a reduced size up."""
    height, width = reduced.shape[:2]
    expanded = cv2.resize(reduced, (width * k, height * k), interpolation=cv2.INTER_NEAREST)
    if expanded.shape[:2] != tuple(shape):
        expanded = np.ascontiguousarray(expanded[: shape[0], : shape[1]])
    return expanded


def _stored_bytes(pixels: np.ndarray, lossy: bool) -> bytes:
    """The photo as stored: its pixels only (no EXIF, location, comment or ICC profile), as a
    JPEG for a lossy upload (4:4:4 keeps lesion colour) and a PNG otherwise."""
    buffer = io.BytesIO()
    if lossy:
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=95, subsampling=0)
    else:
        Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def preview_jpeg(data: bytes, long_side: int = 320) -> bytes:
    """A small JPEG of a stored photo's bytes, at most `long_side` pixels on its long side: for a
    thumbnail, without decoding a 12 MP photo in full (JPEG's own reduced decode)."""
    if long_side < 1:
        raise ValueError(f"long_side must be a positive number of pixels, got {long_side}")
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (long_side, long_side))  # JPEG only: decodes at 1/2 to 1/8 scale
        picture = image.convert("RGB")
    picture.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def read_photo_file(path: str | Path, **kwargs: object) -> DecodedPhoto:
    """`decode_photo` on a file on disk; missing files and folders give a `PhotoError`."""
    path = Path(path)
    max_bytes = kwargs.get("max_bytes", 60_000_000)
    # One open (O_NONBLOCK: a named pipe does not hang it); the kind and size come from that
    # descriptor's fstat and the bytes from the same descriptor, so what was checked is read.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PhotoError(f"There is no photo file at '{path}'.") from None
    except IsADirectoryError:
        raise PhotoError(f"'{path}' is a folder, not a photo.") from None
    except OSError as exc:
        raise PhotoError(f"'{path}' could not be read ({exc.strerror or exc}).") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise PhotoError(f"'{path}' is a folder, not a photo.")
        raise PhotoError(f"'{path}' is not a plain file (a pipe, socket or device), not a photo.")
    with os.fdopen(fd, "rb") as handle:
        limit = max_bytes if isinstance(max_bytes, int) else None
        if limit is not None and info.st_size > limit:
            raise PhotoError(
                f"'{path.name}' is {info.st_size / 1e6:.1f} MB; the largest photo accepted is "
                f"{limit / 1e6:.0f} MB."
            )
        try:
            data = handle.read() if limit is None else handle.read(limit + 1)
        except OSError as exc:
            raise PhotoError(f"'{path}' could not be read ({exc.strerror or exc}).") from exc
    kwargs.setdefault("filename", path.name)
    return decode_photo(data, **kwargs)  # type: ignore[arg-type]


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or 0 in image.shape[:2]:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"expected an H x W or H x W x C image array, got {shape}")
    if image.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        raise ValueError(f"cannot resize an image of dtype {image.dtype}")


def resize_by(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize by a factor: area averaging when shrinking (no aliasing), bilinear when enlarging."""
    _check_image(image)
    if not isinstance(scale, (int, float, np.number)) or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return image.copy()
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, size, interpolation=interpolation)
    # OpenCV drops a single channel axis; callers passing H x W x 1 get H x W x 1 back.
    return resized[..., None] if image.ndim == 3 and resized.ndim == 2 else resized


def resize_to_long_side(image: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """Resize so the longer side is `long_side` pixels; returns (resized, scale applied)."""
    _check_image(image)
    if isinstance(long_side, bool) or not isinstance(long_side, (int, np.integer)) or long_side < 1:
        raise ValueError(f"long_side must be a positive whole number of pixels, got {long_side!r}")
    scale = int(long_side) / max(image.shape[:2])
    return resize_by(image, scale), scale
