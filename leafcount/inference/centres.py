"""Leaves seeded at the peaks of the heads' leaf-centre map, named by the recurrent steps.

The boundary map's basins ("basins") lose the small young leaves at the
rosette's centre: their interior far from any edge is a few pixels, below
any core size that keeps noise out, so they drown in a neighbour's basin
(on the validation images 48 of 320 leaves, median 350 pixels against
1,837 for all leaves). The centre map is each leaf's distance to its own
edge over the largest distance in that leaf, so a leaf of 100 pixels
peaks at 1 as a leaf of 10,000 does: thresholding it gives one seed per
leaf whatever its size, and a watershed of the boundary map from those
seeds gives each leaf its pixels.

The steps name the leaves (leaf k is the one step k found, so the app's
step view and the edits keep pointing at the same leaf); with
``steps_count`` they also split and merge the leaves to their own count,
as in :mod:`leafcount.inference.basins`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.measure import label as connected_pieces
from skimage.segmentation import watershed

from leafcount.inference.basins import corrected_by_steps, ids_in_step_order

MIN_SEED_PIXELS = 4
"""Seeds smaller than this, at the maps' resolution, are noise, not a leaf."""


def centre_seeds(plant: np.ndarray, centre: np.ndarray, threshold: float) -> np.ndarray:
    """One label per connected piece of plant where ``centre`` exceeds ``threshold``."""
    seeds = connected_pieces(plant & (centre > threshold), connectivity=1)
    sizes = np.bincount(seeds.ravel())
    small = sizes < MIN_SEED_PIXELS
    small[0] = False
    seeds[small[seeds]] = 0
    return seeds.astype(np.int32)


def centre_leaves(
    probs: Sequence[np.ndarray],
    step_ids: Sequence[int],
    foreground: np.ndarray,
    boundary: np.ndarray,
    centre: np.ndarray,
    mask_threshold: float = 0.5,
    seed_threshold: float = 0.5,
    steps_count: bool = False,
) -> np.ndarray:
    """Labels at the maps' resolution: one leaf per seed of the centre map,
    grown over the plant along the boundary map (see the module notes).

    Parameters
    ----------
    probs : sequence of (H, W) float arrays
        The kept steps' masks y_t, resized to the maps' size.
    step_ids : sequence of int
        The leaf id of each step (step index + 1).
    foreground, boundary, centre : (H, W) float arrays
        The dense maps; plant is foreground > 0.5.
    seed_threshold : float
        A seed is where the centre map exceeds it.
    steps_count : bool
        Let the steps split and merge the leaves to their own number.
    """
    plant = foreground > 0.5
    seeds = centre_seeds(plant, centre, seed_threshold)
    leaves = watershed(boundary, seeds, mask=plant).astype(np.int32)
    if steps_count:
        return corrected_by_steps(leaves, probs, step_ids, plant, boundary, mask_threshold)
    masks = [(p * plant) > mask_threshold for p in probs]
    return ids_in_step_order(leaves, masks, step_ids, max(step_ids, default=0) + 1)
