"""Which leaf of one date is which leaf of the next.

Once the earlier plant is moved onto the later one (:mod:`.align`), each
pair of leaves costs a weighted sum of three dissimilarities in [0, 1]:
missing overlap (1 - IoU of the moved leaf and the later one), the distance
between the moved and the later centroid (over the rosette radius) and the
difference of their angles around the rosette centre (over 180 degrees).
Overlap is the strongest cue but drops as leaves grow or the alignment is a
few degrees off; position and angle carry the match then. The Hungarian
method pairs leaves at the least total cost, where leaving a leaf unpaired
has a price too; a pair above :data:`MAX_COST` is no match, so a new leaf
starts a track and a vanished leaf's track ends instead of taking over a
neighbour's.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from leafcount.series.align import Alignment, angle_around
from leafcount.series.frames import PlantFrame

WEIGHTS = {"overlap": 0.5, "distance": 0.3, "angle": 0.2}
MAX_COST = 0.6
"""A grown leaf with half its pixels overlapping costs about 0.3; a neighbour
(no overlap, a third of the radius away, 60 degrees round) about 0.67."""


def leaf_costs(earlier: PlantFrame, later: PlantFrame, alignment: Alignment) -> np.ndarray:
    """(earlier leaves, later leaves) matrix of match costs in [0, 1], in ``leaf_ids`` order."""
    moved = alignment.apply(earlier.centroids)
    radius = max(math.sqrt(later.area / math.pi), 1.0)
    distance = np.linalg.norm(moved[:, None, :] - later.centroids[None, :, :], axis=2) / radius
    turned = angle_around(moved, later.centre)
    angle = np.abs((turned[:, None] - angle_around(later.centroids, later.centre)[None, :] + 180.0) % 360.0 - 180.0)
    return (WEIGHTS["overlap"] * (1.0 - _moved_iou(earlier, later, alignment))
            + WEIGHTS["distance"] * np.minimum(distance, 1.0)
            + WEIGHTS["angle"] * angle / 180.0)


def match_leaves(earlier: PlantFrame, later: PlantFrame, alignment: Alignment,
                 max_cost: float = MAX_COST) -> dict[int, int]:
    """Later leaf id -> earlier leaf id, for the pairs of least total cost under ``max_cost``.

    Leaving a leaf unmatched costs ``max_cost / 2`` on each side, so a pair is
    made only when it is cheaper than a track ending plus a track starting,
    and one doubtful pair is never forced to make room for another.
    """
    n_earlier, n_later = len(earlier.leaf_ids), len(later.leaf_ids)
    if not n_earlier or not n_later:
        return {}
    costs = leaf_costs(earlier, later, alignment)
    never = 1e6
    padded = np.full((n_earlier + n_later, n_later + n_earlier), never)
    padded[:n_earlier, :n_later] = np.where(costs <= max_cost, costs, never)
    padded[np.arange(n_earlier), n_later + np.arange(n_earlier)] = max_cost / 2  # earlier leaf ends
    padded[n_earlier + np.arange(n_later), np.arange(n_later)] = max_cost / 2  # later leaf starts
    padded[n_earlier:, n_later:] = 0.0
    rows, cols = linear_sum_assignment(padded)
    return {int(later.leaf_ids[c]): int(earlier.leaf_ids[r]) for r, c in zip(rows, cols)
            if r < n_earlier and c < n_later and costs[r, c] <= max_cost}


def _moved_iou(earlier: PlantFrame, later: PlantFrame, alignment: Alignment) -> np.ndarray:
    """IoU of every earlier leaf, moved onto the later image, with every later leaf (subsampled pixels)."""
    # Each later sample point, mapped back into the earlier frame's subsampled grid.
    inverse = alignment.rotation().T / alignment.scale
    matrix = inverse * later.stride / earlier.stride
    offset = (inverse @ (np.array(later.origin) - np.array(alignment.to))
              + np.array(alignment.origin) - np.array(earlier.origin)) / earlier.stride
    moved = ndimage.affine_transform(earlier.small, matrix, offset, output_shape=later.small.shape, order=0)
    earlier_index = _positions(moved, earlier.leaf_ids)
    later_index = _positions(later.small, later.leaf_ids)
    n_earlier, n_later = len(earlier.leaf_ids) + 1, len(later.leaf_ids) + 1
    joint = np.bincount((earlier_index * n_later + later_index).ravel(), minlength=n_earlier * n_later)
    joint = joint.reshape(n_earlier, n_later)
    sizes_earlier, sizes_later = joint.sum(axis=1)[1:], joint.sum(axis=0)[1:]
    overlap = joint[1:, 1:]
    union = sizes_earlier[:, None] + sizes_later[None, :] - overlap
    return np.divide(overlap, union, out=np.zeros(overlap.shape), where=union > 0)


def _positions(labels: np.ndarray, leaf_ids: np.ndarray) -> np.ndarray:
    """Each pixel's leaf as 1 + its position in ``leaf_ids``; 0 for background."""
    order = np.argsort(leaf_ids)
    found = np.searchsorted(leaf_ids[order], labels)
    found = np.clip(found, 0, len(leaf_ids) - 1)
    hit = (labels > 0) & (leaf_ids[order][found] == labels)
    return np.where(hit, order[found] + 1, 0)
