"""The coloured leaf overlay: an image item over the photo, updated box by box.

Leaf ids map to a 256-entry colour table (the CVPPP label palette, so the
overlay matches saved label PNGs); pyqtgraph draws an 8-bit image with a
lookup table without converting it to RGBA, which keeps a 12-megapixel
overlay cheap to redraw after each brush stroke.

Outlines are drawn opaque in one colour that stands out on green leaves and
dark soil, at least ``MIN_OUTLINE_PX`` screen pixels wide whatever the zoom:
zoomed out they are drawn on a coarser grid (every n-th label pixel, which
is also cheaper), zoomed in they widen with the pixels.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import math

from PySide6.QtCore import QRectF

from leafcount.data.cvppp import label_colors

Box = tuple[slice, slice]
OUTLINE_RGB = (255, 0, 255)  # magenta: the complement of leaf green, bright on soil
MIN_OUTLINE_PX = 2
MAX_OUTLINE_CELLS = 4


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


def outline_grid(screen_px_per_cell: float) -> tuple[int, int]:
    """(stride, width): outlines on every ``stride``-th label cell, ``width`` cells
    wide, so that they are at least MIN_OUTLINE_PX screen pixels wide.

    >>> outline_grid(4.0), outline_grid(1.0), outline_grid(0.25)
    ((1, 1), (1, 2), (4, 2))
    """
    if screen_px_per_cell <= 0:
        return 1, 1
    stride = max(1, int(1 / screen_px_per_cell))
    width = math.ceil(MIN_OUTLINE_PX / (stride * screen_px_per_cell) - 1e-9)
    return stride, min(max(width, 1), MAX_OUTLINE_CELLS)


def outline_mask(labels: np.ndarray, width: int) -> np.ndarray:
    """Leaf pixels within ``width`` pixels of another value (inner outlines)."""
    edge = boundary_mask(labels)
    leaf = labels > 0
    for _ in range(width - 1):
        grown = edge.copy()
        grown[1:] |= edge[:-1]
        grown[:-1] |= edge[1:]
        grown[:, 1:] |= edge[:, :-1]
        grown[:, :-1] |= edge[:, 1:]
        edge = grown & leaf
    return edge


def overlay_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA: transparent background, opaque leaf colours."""
    lut = np.full((256, 4), 255, dtype=np.uint8)
    lut[:, :3] = label_colors(255)
    lut[0] = 0
    return lut


def _outline_lut() -> np.ndarray:
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1:] = (*OUTLINE_RGB, 255)
    return lut


class LabelLayer(pg.ImageItem):
    """Shows a label image filled or as outlines; never changes the labels."""

    def __init__(self) -> None:
        super().__init__()
        self._fill_lut, self._outline_lut = overlay_lut(), _outline_lut()
        self._index: np.ndarray | None = None  # what is drawn: colour indices, or 0/1 outline cells
        self._labels: np.ndarray | None = None
        self._extent: tuple[int, int] | None = None
        self._screen_scale = 1.0  # screen pixels per image pixel
        self._grid = (1, 1)  # the outline (stride, width) drawn
        self._fill_opacity = 0.5
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
        self._grid = self._outline_grid()
        stride = self._grid[0] if self.outlines else 1
        self._index = self._render(labels[::stride, ::stride])
        self._draw()
        cell_h, cell_w = (stride * e / n for e, n in zip(self._extent, labels.shape))
        self.setRect(QRectF(0, 0, self._index.shape[1] * cell_w, self._index.shape[0] * cell_h))

    def update_box(self, box: Box | None) -> None:
        """Redraw after the labels changed inside ``box`` (None: everywhere)."""
        if self._labels is None:
            return
        coarse = self.outlines and self._grid[0] > 1  # a coarse grid is cheap to redraw whole
        if box is None or coarse or self._index is None or self._index.shape != self._labels.shape:
            self.show_labels(self._labels, self._extent)
            return
        # An outline pixel depends on its neighbours up to the outline width:
        # redraw a ring that wide around the box, computed with as much context again.
        margin = self._grid[1] if self.outlines else 0
        ring = _grown(box, margin, self._labels.shape)
        context = _grown(box, 2 * margin, self._labels.shape)
        rendered = self._render(self._labels[context])
        inner = tuple(slice(r.start - c.start, r.stop - c.start) for r, c in zip(ring, context))
        self._index[ring] = rendered[inner]
        self._draw()

    def set_outlines(self, outlines: bool) -> None:
        self.outlines = outlines
        self.setOpacity(1.0 if outlines else self._fill_opacity)  # outlines stay opaque to be seen
        if self._labels is not None:
            self.show_labels(self._labels, self._extent)

    def set_fill_opacity(self, opacity: float) -> None:
        self._fill_opacity = opacity
        if not self.outlines:
            self.setOpacity(opacity)

    def set_screen_scale(self, screen_px_per_image_px: float) -> None:
        """The zoom changed: redraw outlines whose width on screen it changes."""
        self._screen_scale = screen_px_per_image_px
        if self.outlines and self._labels is not None and self._outline_grid() != self._grid:
            self.show_labels(self._labels, self._extent)

    def _outline_grid(self) -> tuple[int, int]:
        cell = self._extent[1] / self._labels.shape[1] if self._labels is not None and self._labels.size else 1.0
        return outline_grid(self._screen_scale * cell)

    def _render(self, labels: np.ndarray) -> np.ndarray:
        if self.outlines:
            return outline_mask(labels, self._grid[1]).astype(np.uint8)
        return color_index(labels)

    def _draw(self) -> None:
        lut = self._outline_lut if self.outlines else self._fill_lut
        self.setImage(self._index, lut=lut, levels=(0, 255), autoLevels=False)


def _grown(box: Box, margin: int, shape: tuple[int, int]) -> Box:
    return tuple(
        slice(max(part.start - margin, 0), min(part.stop + margin, size))
        for part, size in zip(box, shape)
    )
