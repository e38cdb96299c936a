"""Where a tray's plant boxes go when the user adds or removes one: pure geometry."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from leafcount.analysis.plant_boxes import PlantBox


def reindexed(plants: Sequence[PlantBox]) -> list[PlantBox]:
    """Row by row, left to right, numbered in that order.

    >>> boxes = [PlantBox(0, 1, 0, 50, 0, 60, 10), PlantBox(1, 0, 0, 0, 0, 10, 10)]
    >>> [(p.index, p.row) for p in reindexed(boxes)]
    [(0, 0), (1, 1)]
    """
    ordered = sorted(plants, key=lambda p: (p.row, p.col, p.left))
    return [dataclasses.replace(p, index=i) for i, p in enumerate(ordered)]


def new_plant_at(plants: Sequence[PlantBox], row: float, col: float, shape: tuple[int, int]) -> PlantBox:
    """A box centred on a click, as big as a typical plant, in the nearest row and column
    (a new row or column when the click is beyond half a plant from every one).

    >>> new_plant_at([PlantBox(0, 0, 0, 0, 0, 10, 10)], 5, 25, (40, 40))
    PlantBox(index=1, row=0, col=1, top=0, left=20, bottom=10, right=30)
    """
    if plants:
        height = int(np.median([p.height for p in plants]))
        width = int(np.median([p.width for p in plants]))
        nearest_row = min(plants, key=lambda p: abs((p.top + p.bottom) / 2 - row))
        nearest_col = min(plants, key=lambda p: abs((p.left + p.right) / 2 - col))
        grid_row = nearest_row.row if abs((nearest_row.top + nearest_row.bottom) / 2 - row) < height / 2 else (
            max(p.row for p in plants) + 1)
        grid_col = nearest_col.col if abs((nearest_col.left + nearest_col.right) / 2 - col) < width / 2 else (
            max(p.col for p in plants) + 1)
    else:
        height = width = max(2, min(shape) // 5)
        grid_row = grid_col = 0
    top, left = int(np.clip(row - height / 2, 0, shape[0] - 2)), int(np.clip(col - width / 2, 0, shape[1] - 2))
    return PlantBox(len(plants), grid_row, grid_col, top, left, min(shape[0], top + height), min(shape[1], left + width))
