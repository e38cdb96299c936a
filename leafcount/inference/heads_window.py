"""The part of the full-resolution heads' input worth running them on: the plant and a margin.

The heads are the costliest part of a pass (160-170 ms on one thread for
a CVPPP image; the encoder 80, the 17 steps 115-140), and the decoding
reads their maps only on the plant: the foreground's largest piece and
what lies near it. The recurrent encoder has seen the image by then, and
its own foreground head (trained with it, 1.5 ms) says where the plant
is, so the heads run on the plant's box and a margin only; the rest of
the maps is background.

Near the window's edge the heads see zero padding where the whole input
had more background, so their maps differ there a little. With a
48-pixel margin, on 100 CVPPP images and the three bundled single-plant
photos (``benchmarks/heads_window.py --n 100 --demo``): the window is 77%
of the heads' input, the heads take 77-82% of their time (two runs), no
leaf count changes and the labels match the whole image's at SBD 0.9999
(lowest 0.999). With 32 pixels, the Col-0 photo lost a leaf (26 -> 25).
Where the plant the heads find reaches a side of the window, the heads
run again on the whole input (:func:`cut_off`). The window starts on a
multiple of the heads' coarsest stride, so every layer's grid is the
whole input's.
"""

from __future__ import annotations

import numpy as np

from leafcount.resize import Box

MARGIN = 48
"""Heads' input pixels kept around the plant's box (see the module's notes)."""

STRIDE = 16
"""The heads' coarsest stride: a window on its multiples keeps every layer's grid."""

EDGE = 4
"""Pixels along a window's side where plant foreground means the plant may go on past it."""

SIZE_STEP = 128
"""Window sides are multiples of this, so a folder's images share a few window shapes. oneDNN builds
kernels for each new shape (25-35 ms on one thread), and the process keeps memory for each: all 72
shapes of sides on multiples of 64 grew a process by 483 MB, the 20 of 128 by 127 MB. 100 CVPPP
images needed 6 shapes (77% of the input, against 68% and 12 shapes on multiples of 64)."""


def plant_window(
    foreground: np.ndarray, foreground_box: Box, heads_box: Box, heads_shape: tuple[int, int], margin: int = MARGIN
) -> tuple[slice, slice] | None:
    """Rows and columns of the heads' input holding the plant and ``margin`` pixels around it.

    ``foreground``: the encoder's plant-foreground logits over its own
    letterboxed input, with the image at ``foreground_box``; ``heads_box``:
    where the image sits in the heads' input of ``heads_shape``. None when
    no pixel is plant (the heads then run on the whole input: an empty
    foreground is not proof that there is no plant).
    """
    rows, cols = np.nonzero(foreground_box.crop(foreground) > 0.0)
    if rows.size == 0:
        return None
    scale_rows = heads_box.height / foreground_box.height
    scale_cols = heads_box.width / foreground_box.width
    top = heads_box.top + rows.min() * scale_rows - margin
    bottom = heads_box.top + (rows.max() + 1) * scale_rows + margin
    left = heads_box.left + cols.min() * scale_cols - margin
    right = heads_box.left + (cols.max() + 1) * scale_cols + margin
    return _on_stride(top, bottom, heads_shape[0]), _on_stride(left, right, heads_shape[1])


def _on_stride(start: float, stop: float, length: int) -> slice:
    """[start, stop) widened to multiples of :data:`STRIDE`, its size to a multiple of :data:`SIZE_STEP`
    (centred, moved back inside where it would leave [0, ``length``), clipped to it)."""
    first = max(0, int(np.floor(start / STRIDE)) * STRIDE)
    last = min(length, int(np.ceil(stop / STRIDE)) * STRIDE)
    size = min(length, -(-max(last - first, 1) // SIZE_STEP) * SIZE_STEP)
    first = max(0, first - (size - (last - first)) // 2 // STRIDE * STRIDE)
    first = min(first, max(0, (length - size) // STRIDE * STRIDE))
    return slice(first, max(min(length, first + size), last))  # an input not on the stride: to its end


def cut_off(foreground: np.ndarray, window: tuple[slice, slice], heads_shape: tuple[int, int]) -> bool:
    """Whether the heads' plant foreground (probabilities over ``window``) reaches a side of the window
    that is not the input's own: the plant goes on past it, where the encoder's coarser foreground
    missed it, and the heads must see the whole input. None of 100 CVPPP images and the three bundled
    single-plant photos did; with half of each plant hidden from the window, all of them."""
    rows, cols = window
    plant = foreground > 0.5
    sides = ((rows.start > 0, plant[:EDGE]), (rows.stop < heads_shape[0], plant[-EDGE:]),
             (cols.start > 0, plant[:, :EDGE]), (cols.stop < heads_shape[1], plant[:, -EDGE:]))
    return any(inside and side.any() for inside, side in sides)


def pasted(window_maps: np.ndarray, window: tuple[slice, slice], heads_box: Box) -> list[np.ndarray]:
    """The maps of the image (``heads_box`` of the heads' input) from the maps of ``window``
    (C, rows, cols): background (0) outside the window."""
    maps = np.zeros((window_maps.shape[0], heads_box.height, heads_box.width), dtype=window_maps.dtype)
    rows, cols = window
    top, left = max(rows.start, heads_box.top), max(cols.start, heads_box.left)
    bottom = min(rows.stop, heads_box.top + heads_box.height)
    right = min(cols.stop, heads_box.left + heads_box.width)
    if bottom > top and right > left:
        maps[:, top - heads_box.top : bottom - heads_box.top, left - heads_box.left : right - heads_box.left] = (
            window_maps[:, top - rows.start : bottom - rows.start, left - cols.start : right - cols.start])
    return list(maps)
