"""One plant on one date: its leaves as the alignment and the matching see them.

A tray photo holds many plants; each tray position (``tray1_B3``) is its own
plant through the series, and owns the leaves that lie mostly in its box
(:func:`leafcount.plant_boxes.leaf_owners`; a leaf outside every box goes to
the nearest one, so every leaf of the label image gets a track). Leaves are
compared on a copy subsampled to about :data:`MATCH_SIDE` pixels: overlap
needs no more, and a 20 MP photo then costs what a small one does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage.measure import regionprops

from leafcount.analysis.plant_boxes import PlantBox, leaf_owners, plant_name
from leafcount.series.naming import SeriesImage

MATCH_SIDE = 512


@dataclass(frozen=True)
class PlantFrame:
    """One plant of one image.

    ``leaf_ids`` are the ids in the image's label file, with the full-size
    ``centroids`` (row, col) and ``areas`` of those leaves; ``small`` holds
    only this plant's leaves, every ``stride``-th pixel of the window whose
    top-left corner is ``origin`` in the image.
    """

    plant: str
    position: str  # the tray position (B3); empty for a photo of one plant
    image: SeriesImage
    leaf_ids: np.ndarray
    centroids: np.ndarray
    areas: np.ndarray
    small: np.ndarray
    origin: tuple[int, int]
    stride: int
    window: tuple[int, int, int, int]  # top, left, bottom, right (end-exclusive) in the image
    leaf_box: tuple[int, int, int, int] | None  # the same around its leaves only; None without leaves

    @property
    def area(self) -> int:
        """The rosette's pixels (all its leaves)."""
        return int(self.areas.sum())

    @property
    def centre(self) -> np.ndarray:
        """The rosette centre: the centroid of all its leaf pixels (the window's centre without leaves)."""
        if self.area == 0:
            top, left, bottom, right = self.window
            return np.array([(top + bottom) / 2, (left + right) / 2])
        return (self.centroids * self.areas[:, None]).sum(axis=0) / self.area


def plant_frames(image: SeriesImage, labels: np.ndarray, boxes: Sequence[PlantBox]) -> list[PlantFrame]:
    """The plants of one labelled image: one frame, or one per tray box."""
    regions = regionprops(labels)
    ids = np.array([r.label for r in regions], dtype=np.int64)
    centroids = np.array([r.centroid for r in regions], dtype=float).reshape(-1, 2)
    areas = np.array([r.area for r in regions], dtype=np.int64)
    bboxes = np.array([r.bbox for r in regions], dtype=np.int64).reshape(-1, 4)
    stride = max(1, math.ceil(max(labels.shape) / MATCH_SIDE))
    if not boxes:
        whole = (0, 0, labels.shape[0], labels.shape[1])
        return [_frame(image.plant, "", image, labels, np.ones(len(ids), bool), ids, centroids, areas, bboxes,
                       whole, stride)]
    owner = _owners(labels, boxes, ids, centroids)
    return [
        _frame(f"{image.plant}_{plant_name(box)}", plant_name(box), image, labels, owner == position, ids,
               centroids, areas, bboxes, (box.top, box.left, box.bottom, box.right), stride)
        for position, box in enumerate(boxes)
    ]


def _owners(labels: np.ndarray, boxes: Sequence[PlantBox], ids: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each leaf's box (position in ``boxes``): the one holding most of it, else the nearest centre."""
    owned = leaf_owners(labels, boxes)
    box_centres = np.array([[(b.top + b.bottom) / 2, (b.left + b.right) / 2] for b in boxes])
    nearest = np.linalg.norm(centroids[:, None, :] - box_centres[None], axis=2).argmin(axis=1)
    return np.array([owned.get(int(leaf), int(near)) for leaf, near in zip(ids, nearest)], dtype=np.int64)


def _frame(plant: str, position: str, image: SeriesImage, labels: np.ndarray, mine: np.ndarray, ids: np.ndarray,
           centroids: np.ndarray, areas: np.ndarray, bboxes: np.ndarray, box: tuple[int, int, int, int],
           stride: int) -> PlantFrame:
    top, left, bottom, right = box
    leaf_box = None
    if mine.any():
        leaf_box = (int(bboxes[mine, 0].min()), int(bboxes[mine, 1].min()), int(bboxes[mine, 2].max()),
                    int(bboxes[mine, 3].max()))
        top, left = min(top, leaf_box[0]), min(left, leaf_box[1])
        bottom, right = max(bottom, leaf_box[2]), max(right, leaf_box[3])
    # The window starts on the subsampling grid, so every frame of an image samples the same pixels.
    top, left = top - top % stride, left - left % stride
    small = labels[top:bottom:stride, left:right:stride]
    small = np.where(np.isin(small, ids[mine]), small, 0)
    return PlantFrame(plant, position, image, ids[mine], centroids[mine], areas[mine], small, (top, left), stride,
                      (top, left, bottom, right), leaf_box)
