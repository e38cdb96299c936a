"""The plants of a tray photo as boxes: names, which leaves each one owns,
and how the boxes are stored in a label sidecar.

Kept apart from :mod:`leafcount.inference.tray` (detection and segmentation) so a
report or the GUI can read plant boxes without loading the network code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_BOX_KEYS = ("row", "col", "top", "left", "bottom", "right")


@dataclass(frozen=True)
class PlantBox:
    """One plant of a tray: grid position and bounding box (end-exclusive)."""

    index: int
    row: int
    col: int
    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def expanded(self, margin: float, shape: tuple[int, int]) -> PlantBox:
        """The box grown by ``margin`` x its size on every side, clipped to the image."""
        dy, dx = round(margin * self.height), round(margin * self.width)
        return PlantBox(self.index, self.row, self.col, max(0, self.top - dy), max(0, self.left - dx),
                        min(shape[0], self.bottom + dy), min(shape[1], self.right + dx))

    def rescaled(self, shape: tuple[int, int], new_shape: tuple[int, int]) -> PlantBox:
        """The box in an image of ``shape`` moved to the same image resized to ``new_shape``.

        >>> PlantBox(0, 0, 0, 10, 20, 30, 40).rescaled((100, 100), (200, 50))
        PlantBox(index=0, row=0, col=0, top=20, left=10, bottom=60, right=20)
        """
        if tuple(shape) == tuple(new_shape):
            return self
        fy, fx = new_shape[0] / shape[0], new_shape[1] / shape[1]
        return dataclasses.replace(self, top=round(self.top * fy), left=round(self.left * fx),
                                   bottom=round(self.bottom * fy), right=round(self.right * fx))


def plant_name(plant: PlantBox) -> str:
    """Tray position as on a multiwell plate: row letter, column number (``B3``)."""
    letters = ""
    row = plant.row
    while True:
        row, rest = divmod(row, 26)
        letters = chr(65 + rest) + letters
        if row == 0:
            break
        row -= 1
    return f"{letters}{plant.col + 1}"


def leaf_owners(labels: np.ndarray, plants: Sequence[PlantBox]) -> dict[int, int]:
    """Which plant each leaf belongs to: leaf id -> position in ``plants``.

    A leaf belongs to the box holding most of its pixels (a tie goes to the
    earlier box); a leaf outside every box belongs to none.

    >>> labels = np.zeros((4, 8), dtype=np.int32)
    >>> labels[1:3, 1:3], labels[1:3, 5:7], labels[0, 3:5] = 1, 2, 3
    >>> boxes = [PlantBox(0, 0, 0, 0, 0, 4, 4), PlantBox(1, 0, 1, 0, 4, 4, 8)]
    >>> leaf_owners(labels, boxes)
    {1: 0, 3: 0, 2: 1}
    """
    best: dict[int, tuple[int, int]] = {}  # leaf id -> (pixels in the box, plant position)
    for position, plant in enumerate(plants):
        inside = np.bincount(labels[plant.top : plant.bottom, plant.left : plant.right].ravel())
        for leaf in np.flatnonzero(inside[1:]) + 1:
            if inside[leaf] > best.get(int(leaf), (0, -1))[0]:
                best[int(leaf)] = (int(inside[leaf]), position)
    return {leaf: position for leaf, (_, position) in best.items()}


def plant_leaf_counts(labels: np.ndarray, plants: Sequence[PlantBox]) -> list[int]:
    """Leaves per plant, each leaf counted for its owner (:func:`leaf_owners`).

    >>> labels = np.zeros((4, 8), dtype=np.int32)
    >>> labels[1:3, 1:3], labels[1:3, 5:7], labels[0, 3:5] = 1, 2, 3
    >>> boxes = [PlantBox(0, 0, 0, 0, 0, 4, 4), PlantBox(1, 0, 1, 0, 4, 4, 8)]
    >>> plant_leaf_counts(labels, boxes)  # leaf 3 straddles both boxes: a tie goes to the first
    [2, 1]
    """
    counts = [0] * len(plants)
    for position in leaf_owners(labels, plants).values():
        counts[position] += 1
    return counts


def plants_to_meta(plants: Sequence[PlantBox]) -> list[dict[str, Any]]:
    """JSON records of the boxes, for a label sidecar's ``"plants"``."""
    return [{"plant": plant_name(p), **{key: getattr(p, key) for key in _BOX_KEYS}} for p in plants]


def plants_from_meta(records: Any) -> list[PlantBox]:
    """Boxes saved by :func:`plants_to_meta`; [] when there are none or they are damaged."""
    try:
        return [PlantBox(i, *(int(record[key]) for key in _BOX_KEYS)) for i, record in enumerate(records)]
    except (KeyError, TypeError, ValueError):
        return []
