"""The coloured leaf overlay: an image item over the photo, updated box by box.

Leaf ids map to a 256-entry colour table (the CVPPP label palette, so the
overlay matches saved label PNGs); pyqtgraph draws an 8-bit image with a
lookup table without converting it to RGBA, which keeps a 12-megapixel
overlay cheap to redraw after each brush stroke.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from leafcount.data.cvppp import label_colors

Box = tuple[slice, slice]


def color_index(labels: np.ndarray) -> np.ndarray:
    """Leaf ids to colour-table indices 0..255 (ids above 255 reuse colours)."""
    if labels.size == 0 or int(labels.max()) <= 255:
        return labels.astype(np.uint8)
    return np.where(labels > 0, (labels - 1) % 255 + 1, 0).astype(np.uint8)


def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Leaf pixels with a 4-neighbour of another value (inner outlines)."""
    edge = np.zeros(labels.shape, dtype=bool)
    vertical = labels[1:] != labels[:-1]
    horizontal = labels[:, 1:] != labels[:, :-1]
    edge[1:] |= vertical
    edge[:-1] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge & (labels > 0)


def overlay_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA: transparent background, opaque leaf colours."""
    lut = np.full((256, 4), 255, dtype=np.uint8)
    lut[:, :3] = label_colors(255)
    lut[0] = 0
    return lut


class LabelLayer(pg.ImageItem):
    """Shows a label image filled or as outlines; never changes the labels."""

    def __init__(self) -> None:
        super().__init__()
        self._lut = overlay_lut()
        self._index: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._extent: tuple[int, int] | None = None
        self.outlines = False

    @property
    def labels(self) -> np.ndarray | None:
        return self._labels

    def show_labels(self, labels: np.ndarray | None, extent: tuple[int, int] | None = None) -> None:
        """Show ``labels``; ``extent`` (H, W) stretches a small preview over the image."""
        self._labels = labels
        if labels is None:
            self._index = None
            self.clear()
            return
        self._extent = extent if extent is not None else labels.shape
        self._index = self._render(labels)
        self._draw()
        self.setRect(QRectF(0, 0, self._extent[1], self._extent[0]))

    def update_box(self, box: Box | None) -> None:
        """Redraw after the labels changed inside ``box`` (None: everywhere)."""
        if self._labels is None:
            return
        if box is None or self._index is None or self._index.shape != self._labels.shape:
            self.show_labels(self._labels)
            return
        # An outline pixel depends on its neighbours: redraw a one-pixel ring
        # around the box, computed with one more pixel of context.
        ring = _grown(box, 1, self._labels.shape)
        context = _grown(box, 2, self._labels.shape)
        rendered = self._render(self._labels[context])
        inner = tuple(slice(r.start - c.start, r.stop - c.start) for r, c in zip(ring, context))
        self._index[ring] = rendered[inner]
        self._draw()

    def set_outlines(self, outlines: bool) -> None:
        self.outlines = outlines
        if self._labels is not None:
            self.show_labels(self._labels, self._extent)

    def _render(self, labels: np.ndarray) -> np.ndarray:
        index = color_index(labels)
        if self.outlines:
            index[~boundary_mask(labels)] = 0
        return index

    def _draw(self) -> None:
        self.setImage(self._index, lut=self._lut, levels=(0, 255), autoLevels=False)


def _grown(box: Box, margin: int, shape: tuple[int, int]) -> Box:
    return tuple(
        slice(max(part.start - margin, 0), min(part.stop + margin, size))
        for part, size in zip(box, shape)
    )
