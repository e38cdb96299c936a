"""Which leaf an edit acts on: the rules behind a click, a brush stroke and a split line.

Pure functions of the label image (H, W) int32 and (row, col) points in its
pixels, so the canvas only asks and tests need no window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leafcount.editing.edits import next_free_label

Point = tuple[float, float]


def leaf_at(labels: np.ndarray, row: float, col: float) -> int:
    """Leaf id under a pixel position, -1 outside the image.

    >>> leaf_at(np.array([[0, 2]]), 0, 1.2), leaf_at(np.array([[0, 2]]), 3, 0)
    (2, -1)
    """
    r, c = int(round(row)), int(round(col))
    if 0 <= r < labels.shape[0] and 0 <= c < labels.shape[1]:
        return int(labels[r, c])
    return -1


def paint_target(labels: np.ndarray, selected: int, start: Point) -> int:
    """The leaf a brush stroke paints: the selected one, else the leaf where the
    stroke starts, else a new one.

    >>> labels = np.array([[0, 3]])
    >>> paint_target(labels, 0, (0, 1)), paint_target(labels, 0, (0, 0)), paint_target(labels, 7, (0, 0))
    (3, 4, 7)
    """
    if selected:
        return selected
    under = leaf_at(labels, *start)
    return under if under > 0 else next_free_label(labels)


def split_target(labels: np.ndarray, selected: int, points: Sequence[Point]) -> int:
    """The leaf a split line cuts: the selected one if the line crosses it, else the
    leaf the line crosses most; 0 when it crosses none.

    >>> labels = np.array([[1, 1, 2]])
    >>> split_target(labels, 0, [(0, 0), (0, 2)]), split_target(labels, 2, [(0, 0), (0, 2)])
    (1, 2)
    """
    crossed = [leaf for leaf in (leaf_at(labels, r, c) for r, c in densified(points)) if leaf > 0]
    if not crossed:
        return 0
    if selected in crossed:
        return selected
    return int(np.bincount(crossed).argmax())


def densified(points: Sequence[Point]) -> list[Point]:
    """Points every pixel or so along a polyline.

    >>> [round(col, 2) for _, col in densified([(0, 0), (0, 2)])]
    [0, 0.67, 1.33, 2.0]
    """
    out = [points[0]]
    for (r0, c0), (r1, c1) in zip(points, points[1:]):
        n = int(max(abs(r1 - r0), abs(c1 - c0))) + 1
        out.extend((float(r0 + (r1 - r0) * t), float(c0 + (c1 - c0) * t)) for t in np.linspace(0, 1, n + 1)[1:])
    return out
