"""Coloured leaf overlays for saved previews and reports (Qt-free)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.segmentation import find_boundaries

from leafcount.atomic import write_atomic
from leafcount.data.cvppp import label_colors
from leafcount.io.png import encode_png
from leafcount.mask_window import mask_window


def overlay_labels(image: np.ndarray, labels: np.ndarray, *, opacity: float = 0.45) -> np.ndarray:
    """Blend leaf colours over ``image`` and draw leaf outlines.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float32 in [0, 1]
    labels : ndarray, shape (H, W), int
    opacity : float
        Weight of the leaf colour inside leaves.

    Returns
    -------
    ndarray, shape (H, W, 3), uint8
    """
    # In place after the one float copy: a 12-megapixel preview is 144 MB per float RGB array.
    ids = np.asarray(labels)
    ids = ids if ids.dtype.kind in "iu" else ids.astype(np.int64)  # no int64 copy of integer labels
    colors = label_colors(int(ids.max()) if ids.size else 0).astype(np.float32) / 255.0
    out = np.asarray(image, dtype=np.float32).copy()
    inside = ids > 0
    out[inside] = (1 - opacity) * out[inside] + opacity * colors[ids[inside]]
    edges = np.zeros_like(inside)
    box = mask_window(inside, margin=1)  # a pixel's outline needs its neighbours alone: trace the leaves' box
    if box is not None:
        edges[box] = find_boundaries(ids[box], mode="inner") & inside[box]
    out[edges] = colors[ids[edges]]
    np.clip(out, 0, 1, out=out)
    out *= 255
    out += 0.5
    return out.astype(np.uint8)


def write_rgb_png(path: str | Path, rgb: np.ndarray) -> None:
    """Save an (H, W, 3) uint8 array as a PNG, atomically.

    An overlay is a preview written for every image of a batch, so it takes
    the fast encoder (:func:`leafcount.io.png.encode_png`): 9-10 ms for a
    CVPPP overlay against 24 ms through Pillow at zlib level 1 (16 ms with
    no compression at all).
    """
    write_atomic(path, encode_png(np.asarray(rgb)))
