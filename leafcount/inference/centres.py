"""Boundary basins split at the peaks of the heads' leaf-centre map.

The boundary map's basins ("basins") lose leaves: two leaves whose shared
edge is faint, often a young leaf at the rosette's centre against an older
one, fill one basin (on the validation images 48 of 320 leaves were lost
so, median 350 pixels against 1,837 for all leaves). The centre map is
each leaf's distance to its own edge over the largest distance in that
leaf, so it peaks at 1 inside a small leaf as inside a big one, and two
leaves in one basin show as two separate peaks even where the edge between
them does not show at all. Here a basin that holds two or more such peaks
is split between them along the boundary map, before the recurrent steps
split, merge and name the leaves (:func:`~leafcount.inference.basins.basin_leaves`
with a centre map: the "centres" decoding).

The same map finds the opposite error, a leaf cut into two basins by a
false edge (a shadow, a fold, a vein): the piece cut off holds none of
the leaf's middle, so its centre map stays low all over, where a whole leaf,
however small, peaks near 1. On the training images 40 of the 48 basins
whose peak was below 0.5 matched no leaf (IoU 0.5), against 49 of 1,187
of the basins peaking above 0.6; :func:`merge_fragments` gives such a piece
to the neighbour it shares most border with.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import label as connected_pieces
from skimage.segmentation import watershed

MIN_SEED_PIXELS = 32
"""Peaks (pixels above the centre threshold) smaller than this, at the maps'
resolution, split no basin: a fold or a shadow inside a leaf makes such specks.
The default of ``SegmentConfig.centre_min_pixels``; a checkpoint stores its own."""


def centre_seeds(
    plant: np.ndarray, centre: np.ndarray, threshold: float, min_pixels: int = MIN_SEED_PIXELS
) -> np.ndarray:
    """One label per connected piece of plant where ``centre`` exceeds ``threshold``,
    pieces under ``min_pixels`` left out."""
    seeds = connected_pieces(plant & (centre > threshold), connectivity=1)
    sizes = np.bincount(seeds.ravel())
    small = sizes < min_pixels
    small[0] = False
    seeds[small[seeds]] = 0
    return seeds.astype(np.int32)


def split_at_centres(basins: np.ndarray, seeds: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """``basins`` with every basin that holds two or more ``seeds`` divided
    between them by a watershed of ``boundary``; other basins unchanged."""
    out = basins.copy()
    next_id = int(basins.max()) + 1
    inside = (seeds > 0) & (basins > 0)
    span = int(seeds.max()) + 1
    pairs = np.unique(basins[inside].astype(np.int64) * span + seeds[inside])  # (basin, seed) pairs that meet
    seeds_per_basin = np.bincount(pairs // span, minlength=next_id)
    for basin in np.flatnonzero(seeds_per_basin >= 2):
        region = basins == basin
        parts = watershed(boundary, np.where(region, seeds, 0), mask=region)
        for part in np.unique(parts[region])[1:]:  # the first seed keeps the basin's id
            out[parts == part] = next_id
            next_id += 1
    return out


def merge_fragments(basins: np.ndarray, centre: np.ndarray, threshold: float) -> np.ndarray:
    """``basins`` with each basin whose ``centre`` peak is below ``threshold``
    joined to the adjacent basin it shares the longest border with, the
    weakest first; a basin with no neighbour stays (it may be a leaf on its own)."""
    count = int(basins.max())
    if count == 0 or threshold <= 0:
        return basins
    peaks = {basin: float(centre[where][basins[where] == basin].max())
             for basin, where in enumerate(ndimage.find_objects(basins), start=1) if where is not None}
    weak = [basin for basin, peak in peaks.items() if peak < threshold]
    out = basins.copy()
    cross = ndimage.generate_binary_structure(2, 1)
    for basin in sorted(weak, key=lambda b: peaks[b]):
        piece = out == basin
        border = ndimage.binary_dilation(piece, cross) & ~piece & (out > 0)
        if not border.any():
            continue
        out[piece] = np.bincount(out[border]).argmax()
    return out
