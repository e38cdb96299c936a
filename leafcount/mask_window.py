"""The window of an array that holds a mask's pixels: where work on a small mask in a big image can be confined.

A plant fills a fraction of its photo, and steps that only need the plant's
pixels and their neighbours (its outlines, its basins, its closing) give
the same result on this window as on the whole image, for less work.
"""

from __future__ import annotations

import numpy as np


def mask_window(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice] | None:
    """Row and column slices of the box around ``mask``'s True pixels, widened by ``margin``
    pixels on every side (as far as the array goes); None when no pixel is True."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (slice(max(0, rows[0] - margin), rows[-1] + 1 + margin),
            slice(max(0, cols[0] - margin), cols[-1] + 1 + margin))
