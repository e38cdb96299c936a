"""A fast PNG encoder for 8-bit RGB and grey previews.

Pillow filters every row of a colour PNG five ways and keeps the best
(adaptive filtering): on a 530 x 500 overlay that search alone costs more
than the compression (16 of Pillow's 24 ms), and it has no option to skip
it. An overlay is a preview written once per image of a batch, so here
every row takes PNG's "Sub" filter (each byte minus the one a pixel to its
left, in one numpy subtraction) and the result is deflated by ISA-L
(``isal``), whose level 1 is 4x faster than zlib's fastest level with its
run-length strategy and writes a slightly smaller stream: on the overlay
of a 12-megapixel photo, 88 ms and 10.0 MB against 353 ms and 10.5 MB.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from isal import isal_zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
SUB_FILTER = 1
COLOUR_TYPES = {1: 0, 3: 2}  # channels -> PNG colour type (grey, RGB)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(pixels: np.ndarray) -> bytes:
    """The PNG file of an (H, W) or (H, W, 3) uint8 array, losslessly."""
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) uint8 array, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"a PNG needs at least one pixel, got {pixels.shape}")
    channels = 1 if pixels.ndim == 2 else 3
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    filtered = np.empty((height, 1 + width * channels), dtype=np.uint8)
    filtered[:, 0] = SUB_FILTER
    filtered[:, 1 : 1 + channels] = rows[:, :channels]
    np.subtract(rows[:, channels:], rows[:, :-channels], out=filtered[:, 1 + channels :])  # wraps mod 256, as PNG's
    data = isal_zlib.compress(filtered, 1)
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[channels], 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
