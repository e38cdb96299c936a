"""Any folder of images: list the images and read them as float RGB arrays.

Pillow reads PNG, JPEG, BMP and GIF (its first frame); tifffile reads TIFF (8, 16 and 32 bit,
float, planar, palette), with Pillow as the fallback for TIFF compressions
tifffile cannot decode without the optional ``imagecodecs`` package (LZW,
JPEG). Every failure is an :class:`~leafcount.errors.ImageReadError` naming
the file and the problem.
"""

from __future__ import annotations

import errno
import io
import math
import re
import stat
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import ExifTags, Image, UnidentifiedImageError

from leafcount.errors import ConfigError, EmptyFolderError, ImageReadError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif"})
DEFAULT_MAX_PIXELS = 40_000_000

# Companion files of an image (ours and CVPPP's), never images to segment.
_COMPANION_ENDINGS = ("_label.png", "_fg.png", "_overlay.png")

# Pillow refuses files above 2 * MAX_IMAGE_PIXELS (about 179 megapixels by
# default) as decompression bombs, but a 12000 x 9000 camera photo is real
# data and read_image shrinks it before the float conversion. Refuse only
# above 1 gigapixel, which still stops a crafted header claiming terabytes.
_PILLOW_PIXEL_LIMIT = 500_000_000
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < _PILLOW_PIXEL_LIMIT:
    Image.MAX_IMAGE_PIXELS = _PILLOW_PIXEL_LIMIT

_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# What Pillow and tifffile raise on a file that is not what its header says.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def list_images(folder: str | Path) -> list[Path]:
    """List the image files of a folder, in natural order.

    Parameters
    ----------
    folder : str or Path
        The folder to list (not recursive).

    Returns
    -------
    list of Path
        Entries whose suffix is in :data:`IMAGE_SUFFIXES` (any case), sorted
        so that ``img2`` comes before ``img10``. Hidden files (``.name``,
        including our ``.name.partial`` temporaries), companion files
        (``*_label.png``, ``*_fg.png``, ``*_overlay.png``) and folders are
        skipped. Broken and looping symbolic links are listed, so that
        reading them names the problem instead of skipping them unseen.

    Raises
    ------
    EmptyFolderError
        When ``folder`` is missing or not a folder, cannot be listed, or
        holds no image.
    """
    folder = Path(folder).absolute()
    if not folder.is_dir():
        raise EmptyFolderError("not a folder", folder)
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise EmptyFolderError(f"cannot list the folder ({exc.strerror or exc})", folder) from exc
    images = [entry for entry in entries if _is_image_file(entry)]
    if not images:
        raise EmptyFolderError("no images (.png, .jpg, .tif) in this folder", folder)
    return sorted(images, key=_natural_key)


OVERSIZED_METADATA = "oversized colour profile or metadata block"


@dataclass(frozen=True)
class Photo:
    """An image as :func:`read_photo` read it, with what it noticed on the way."""

    pixels: np.ndarray  # (H, W, 3) float32 in [0, 1], as read_image returns it
    grey: bool = False  # one channel, or three equal ones: no colour to tell a plant by
    transparent: np.ndarray | None = None  # (H, W) bool: fully transparent pixels; None when there are none
    notes: tuple[str, ...] = ()  # what was ignored: the other frames of an animated GIF, oversized metadata


def read_image(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB floats in [0, 1], fully decoded (see :func:`read_photo`)."""
    return read_photo(path, max_pixels).pixels


def read_photo(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Photo:
    """Read an image file as RGB floats in [0, 1], fully decoded, and say what kind it is.

    Parameters
    ----------
    path : str or Path
        A PNG, JPEG, BMP, GIF or TIFF file (the format is taken from the
        file's first bytes, not its suffix).
    max_pixels : int or None
        An image with more pixels is downscaled by the smallest integer
        factor ``f`` that brings it under this count (box average; JPEGs are
        decoded at reduced scale directly), giving ``(H // f, W // f)``.
        ``None`` keeps the full size.

    Returns
    -------
    Photo
        ``pixels``, shape (H, W, 3), float32: values in [0, 1]. Grey images
        are repeated into three channels (``grey`` is then True, as for an
        RGB file whose channels are equal), alpha becomes ``transparent``
        (the pixels whose alpha is 0; CVPPP's alpha is always 255), palettes
        are expanded, a GIF gives its first frame. Integer data is divided
        by its type's maximum (255 for 8 bit, 65535 for 16 bit, so 12-bit
        data stored in 16 bits looks dark); float data is clipped to [0, 1]
        with NaN as 0. A JPEG's EXIF orientation is applied so a camera
        photo is the right way up. A PNG colour profile or text block too
        large for Pillow is skipped (``notes`` says so): leafcount uses
        neither.

    Raises
    ------
    ImageReadError
        When the file is missing, unreadable, empty, truncated, corrupt,
        not an image, or has no pixels.
    ConfigError
        When ``max_pixels`` is less than 1.
    """
    path = Path(path)
    if max_pixels is not None and max_pixels < 1:
        raise ConfigError(f"max_pixels must be at least 1 or None, got {max_pixels}")
    if _is_tiff(_read_head(path)):
        return _read_tiff(path, max_pixels)
    return _read_with_pillow(path, max_pixels)


def read_image_size(path: str | Path) -> tuple[int, int]:
    """Return ``(H, W)`` of an image file from its header, without decoding pixels.

    The size is the file's own, with the EXIF orientation applied as
    :func:`read_image` does but before any downscaling by ``max_pixels``.

    Raises
    ------
    ImageReadError
        When the file is missing, unreadable, empty or not an image.
    """
    path = Path(path)
    if _is_tiff(_read_head(path)):
        with _translate_errors(path), tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            return int(page.imagelength), int(page.imagewidth)
    try:
        return _pillow_size(path, path)
    except _MetadataTooLarge:
        return _pillow_size(_png_without_metadata(path), path)


def _pillow_size(source: Path | BinaryIO, path: Path) -> tuple[int, int]:
    with _translate_errors(path), Image.open(source) as img:
        width, height = img.size
        if _orientation(img) in (5, 6, 7, 8):
            width, height = height, width
        return height, width


def _is_image_file(path: Path) -> bool:
    name = path.name.lower()
    return (
        not name.startswith(".")
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not name.endswith(_COMPANION_ENDINGS)
        and not path.is_dir()
    )


def _natural_key(path: Path) -> tuple[list[str | int], str]:
    parts = re.split(r"(\d+)", path.name.lower())
    return [int(part) if i % 2 else part for i, part in enumerate(parts)], path.name


def _read_head(path: Path) -> bytes:
    """First bytes of the file; turns missing, forbidden, empty and non-files into errors."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ImageReadError("is a folder, not an image file", path)
        if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
            raise ImageReadError("not a regular file", path)
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError as exc:
        broken = path.is_symlink()
        raise ImageReadError("broken symbolic link (its target does not exist)" if broken else "file not found",
                             path) from exc
    except PermissionError as exc:
        raise ImageReadError("permission denied", path) from exc
    except IsADirectoryError as exc:
        raise ImageReadError("is a folder, not an image file", path) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageReadError("symbolic link loop (the link leads back to itself)", path) from exc
        raise ImageReadError(f"cannot open the file ({exc.strerror or exc})", path) from exc
    if not head:
        raise ImageReadError("empty file (0 bytes)", path)
    return head


def _is_tiff(head: bytes) -> bool:
    return head[:4] in _TIFF_MAGICS


class _MetadataTooLarge(ImageReadError):
    """Pillow refused to decompress a PNG colour profile or text block (over MAX_TEXT_CHUNK)."""


def _is_metadata_overflow(exc: BaseException) -> bool:
    # PngImagePlugin's words for an iCCP, zTXt or iTXt chunk over its decompression limits
    return isinstance(exc, ValueError) and ("MAX_TEXT_CHUNK" in str(exc) or "MAX_TEXT_MEMORY" in str(exc))


@contextmanager
def _translate_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except UnidentifiedImageError as exc:
        message = "not a readable image (unknown format or corrupt header)"
        raise ImageReadError(message, path) from exc
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"image too large to read ({exc})", path) from exc
    except MemoryError as exc:
        raise ImageReadError("not enough memory to read the image", path) from exc
    except _DECODE_ERRORS as exc:
        if _is_metadata_overflow(exc):
            raise _MetadataTooLarge(OVERSIZED_METADATA, path) from exc
        raise ImageReadError(f"corrupt or truncated image ({exc})", path) from exc


_METADATA_CHUNKS = (b"iCCP", b"tEXt", b"zTXt", b"iTXt")


def _png_without_metadata(path: Path) -> BinaryIO:
    """The PNG's bytes without its colour profile and text chunks, which leafcount
    does not use, for a file whose metadata Pillow refuses to decompress."""
    out = io.BytesIO()
    with _translate_errors(path), open(path, "rb") as f:
        out.write(f.read(8))  # the signature
        while len(header := f.read(8)) == 8:
            length, kind = struct.unpack(">I4s", header)
            if kind in _METADATA_CHUNKS:
                f.seek(length + 4, io.SEEK_CUR)  # data and CRC
            else:
                out.write(header + f.read(length + 4))
        out.write(header)  # a truncated tail stays truncated
    out.seek(0)
    return out


def _reduction_factor(height: int, width: int, max_pixels: int | None) -> int:
    if max_pixels is None or height * width <= max_pixels:
        return 1
    return math.ceil(math.sqrt(height * width / max_pixels))


def _orientation(img: Image.Image) -> int:
    """EXIF orientation of a camera JPEG (MPO: a phone's multi-picture JPEG); else 1.

    Only JPEGs: their EXIF sits in the header, while Pillow decodes a whole
    PNG to look for one, and tifffile ignores the TIFF orientation tag.
    """
    if img.format not in ("JPEG", "MPO"):
        return 1
    return int(img.getexif().get(ExifTags.Base.Orientation, 1))


def _read_with_pillow(path: Path, max_pixels: int | None) -> Photo:
    try:
        return _decode_with_pillow(path, path, max_pixels)
    except _MetadataTooLarge:
        pass
    try:
        return _decode_with_pillow(_png_without_metadata(path), path, max_pixels,
                                   notes=(f"{OVERSIZED_METADATA} ignored",))
    except ImageReadError as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
        raise ImageReadError(f"{OVERSIZED_METADATA}, and the pixels cannot be read either{cause}", path) from exc


def _decode_with_pillow(source: Path | BinaryIO, path: Path, max_pixels: int | None,
                        notes: tuple[str, ...] = ()) -> Photo:
    with _translate_errors(path), Image.open(source) as img:
        width, height = img.size
        orientation = _orientation(img)
        frames = getattr(img, "n_frames", 1) if img.format == "GIF" else 1
        factor = _reduction_factor(height, width, max_pixels)
        target = (max(1, width // factor), max(1, height // factor))
        if factor > 1:
            img.draft(None, target)  # JPEG only: decode at 1/2, 1/4 or 1/8 scale
        img.load()  # full decode now, so a truncated file fails here
        img = _normalise_mode(img)
        if img.size != target:
            img = img.resize(target, Image.Resampling.BOX)
        if orientation in _ORIENTATION_TRANSPOSE:
            img = img.transpose(_ORIENTATION_TRANSPOSE[orientation])
        pixels = np.asarray(img)
    if img.mode == "I":  # 32-bit integer images from Pillow hold 16-bit data
        pixels = np.clip(pixels, 0, 65535).astype(np.uint16)
    if frames > 1:
        notes += (f"animated GIF: the first of its {frames} frames is used",)
    return _to_photo(pixels, path, max_pixels=None, notes=notes)  # already downscaled


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Bring a Pillow image to L, LA, RGB, RGBA, 16-bit, 32-bit integer or float mode."""
    transparency = "transparency" in img.info  # a palette's or a colour key's transparent entry
    if img.mode in ("L", "RGB") and transparency:
        return img.convert("LA" if img.mode == "L" else "RGBA")
    if img.mode in ("L", "LA", "RGB", "RGBA", "I", "F") or img.mode.startswith("I;16"):
        return img
    if img.mode == "1":
        return img.convert("L")
    if img.mode == "La":
        return img.convert("LA")
    if img.mode in ("PA", "RGBa") or transparency:
        return img.convert("RGBA")
    return img.convert("RGB")  # palette, CMYK, YCbCr, ...


def _read_tiff(path: Path, max_pixels: int | None) -> Photo:
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            pixels = page.asarray()
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and pixels.ndim == 3:
                pixels = np.moveaxis(pixels, 0, -1)
            if page.photometric == tifffile.PHOTOMETRIC.PALETTE and page.colormap is not None:
                pixels = _palette_colours(page.colormap)[pixels]
            elif page.photometric == tifffile.PHOTOMETRIC.MINISWHITE:
                pixels = _invert(pixels)
            alpha = any(sample in (tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA)
                        for sample in page.extrasamples)
    except MemoryError as exc:
        raise ImageReadError("not enough memory to read the image", path) from exc
    except _DECODE_ERRORS as exc:
        # tifffile needs the optional imagecodecs package for LZW and JPEG
        # compression, which Pillow decodes; a broken file fails both ways.
        try:
            return _read_with_pillow(path, max_pixels)
        except ImageReadError:
            raise ImageReadError(f"corrupt or unsupported TIFF ({exc})", path) from exc
    return _to_photo(pixels, path, max_pixels, alpha=alpha)


def _palette_colours(colormap: np.ndarray) -> np.ndarray:
    """TIFF colormap (3, N), 16 bit, as an (N, 3) table."""
    if np.all(colormap % 256 == 0):  # 8-bit colours stored as v * 256 (Pillow does this)
        return (colormap.T // 256).astype(np.uint8)
    return colormap.T


def _invert(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == bool:
        return ~pixels
    if np.issubdtype(pixels.dtype, np.integer):
        return np.iinfo(pixels.dtype).max - pixels
    return 1.0 - pixels


GREY_TOLERANCE = 2 / 255
"""Channels this close everywhere are one grey channel (a JPEG's rounding included)."""


def _to_photo(pixels: np.ndarray, path: Path, max_pixels: int | None, notes: tuple[str, ...] = (),
              alpha: bool | None = None) -> Photo:
    """Scale to [0, 1], keep three colour channels, shrink under ``max_pixels`` (box average).

    ``alpha``: whether the last of 2 or 4 channels is alpha (None: it is).
    """
    if pixels.size == 0:
        raise ImageReadError(f"image has no pixels (array shape {pixels.shape})", path)
    if pixels.ndim == 2:
        pixels = pixels[..., np.newaxis]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ImageReadError(
            f"expected a grey or colour image, found pixel data of shape {pixels.shape}", path
        )
    opacity = pixels[..., -1] if pixels.shape[2] in (2, 4) and alpha is not False else None
    pixels = pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., :1]
    if pixels.dtype == bool:
        full_scale = 1.0
    elif np.issubdtype(pixels.dtype, np.integer):
        full_scale = float(np.iinfo(pixels.dtype).max)
    elif np.issubdtype(pixels.dtype, np.floating):
        full_scale = 1.0
    else:
        raise ImageReadError(f"unsupported pixel type {pixels.dtype}", path)
    factor = _reduction_factor(pixels.shape[0], pixels.shape[1], max_pixels)
    if factor > 1:
        pixels = _block_mean(pixels, factor)
        opacity = _block_mean(opacity[..., np.newaxis], factor)[..., 0] if opacity is not None else None
    # In place after the one float copy: a 40-megapixel image is 480 MB as float32.
    image = pixels.astype(np.float32)
    image /= np.float32(full_scale)
    if np.issubdtype(pixels.dtype, np.floating):  # integers hold no NaN or infinity (3 ms saved a CVPPP image)
        np.nan_to_num(image, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(image, 0.0, 1.0, out=image)
    grey = image.shape[2] == 1 or _channels_equal(image)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    transparent = opacity == 0 if opacity is not None else None
    if transparent is not None and not transparent.any():
        transparent = None
    return Photo(np.ascontiguousarray(image, dtype=np.float32), grey, transparent, notes)


def _channels_equal(image: np.ndarray) -> bool:
    """Whether an RGB image is grey, judged on about a million of its pixels.

    The channels' spread is the largest of their three pairwise differences;
    a colour photo shows one in every 8th row and column already, so most
    photos are told apart in a fraction of a millisecond (``np.ptp`` over
    the channel axis took 19 ms on a CVPPP image).
    """
    step = max(1, math.isqrt(image.shape[0] * image.shape[1] // 1_000_000))
    sample = image[::step, ::step]
    for view in (sample[::8, ::8], sample):
        red, green, blue = view[..., 0], view[..., 1], view[..., 2]
        if any(np.abs(a - b).max() > GREY_TOLERANCE for a, b in ((red, green), (red, blue), (green, blue))):
            return False
    return True


def _block_mean(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` blocks (float32), dropping the ragged edge."""
    row_factor = min(factor, pixels.shape[0])
    col_factor = min(factor, pixels.shape[1])
    rows, cols = pixels.shape[0] // row_factor, pixels.shape[1] // col_factor
    blocks = pixels[: rows * row_factor, : cols * col_factor].reshape(
        rows, row_factor, cols, col_factor, pixels.shape[2]
    )
    return blocks.mean(axis=(1, 3), dtype=np.float32)
