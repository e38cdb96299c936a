"""A mask's outline at a level, as one Qt path: the canvas draws the shown step's with it.

pyqtgraph's ``IsocurveItem`` traces the curve in Python and took 16 ms on a
128 x 121 step mask, every time a step arrived, on the GUI thread that the
network's worker needs for each of its small ops; scikit-image's marching
squares is compiled and gives the same curve in well under a millisecond.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPainterPath
from skimage.measure import find_contours


def outline_path(mask: np.ndarray, level: float) -> QPainterPath:
    """The curves where ``mask`` (H, W) crosses ``level``, in the coordinates of an image
    item showing it row-major (pixel (r, c) spans x in [c, c + 1], y in [r, r + 1])."""
    mask = np.asarray(mask, dtype=np.float32)
    # Padded with its own edge, a curve that meets the border runs on to the padding's centres,
    # which clipping puts on the image's outer edge (pyqtgraph's "extendToEdge").
    curves = [c for c in find_contours(np.pad(mask, 1, mode="edge"), level) if len(c) > 1]
    if not curves:
        return QPainterPath()
    points = np.concatenate(curves) - 1.0
    np.clip(points, -0.5, np.array(mask.shape) - 0.5, out=points)
    connect = np.ones(len(points), dtype=np.int32)
    connect[np.cumsum([len(c) for c in curves]) - 1] = 0  # no segment from one curve's end to the next's start
    return pg.arrayToQPath(points[:, 1] + 0.5, points[:, 0] + 0.5, connect=connect)
