"""Leaves as basins of the boundary map, counted and placed by the recurrent steps.

Full-resolution heads find the edges between leaves well: a watershed of
their boundary map, seeded from the pixels far from any edge, outlines
leaves better than any RIS mask (SBD 81.6 against 71.8 for "grow" on the
validation images, model card v2). What it does badly is count: two
touching leaves whose shared edge is too faint become one basin, and a
leaf crossed by a shadow can become two. RIS counts well (its steps stop
at the right number) and knows roughly where each leaf lies, so here the
steps correct the basins:

- when the steps are more than the basins, the basins that two steps each
  sit in (each step mostly inside the basin, the second holding a good
  share of it) are split between those steps, the clearest cases first,
  until the counts agree;
- when the basins are more than the steps, adjacent basins that one step
  covers both of are merged, the clearest cases first, until they agree.

Nothing else moves: every pixel keeps the basin the boundary map gave it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from skimage.measure import label as connected_pieces
from skimage.segmentation import watershed

from leafcount.inference.centres import MIN_SEED_PIXELS, centre_seeds, merge_fragments, split_at_centres
from leafcount.mask_window import mask_window
from leafcount.resize import Box, resized_window

MIN_CORE_PIXELS = 30
"""Cores (pixels far from any edge) smaller than this, at the maps' resolution, seed no basin of their own."""
OWN_FRACTION = 0.7
"""A step sits in a basin when this much of its mask lies inside it."""
SPLIT_SHARE = 0.3
"""... and a basin is split between two such steps when the second covers this much of it."""
MERGE_COVER = 0.6
"""Two adjacent basins are merged when one step covers this much of each."""


STRAY_DISTANCE = 0.25
"""Foreground farther than this fraction of the plant's size (the diagonal of
the largest foreground piece's box) from that piece is not the plant."""


def plant_pixels(foreground: np.ndarray, focus: Box | None = None) -> np.ndarray:
    """The plant: foreground > 0.5, less the pieces that lie away from its main piece.

    One image holds one plant (trays are cut into one crop per plant first),
    so a green patch of a colour card or a weed at the edge of the pot is
    not part of it, however plant-like the foreground map finds it; a leaf
    whose thin petiole the map misses stays, being close to the rest.

    The main piece is the largest, or, given ``focus`` (where the plant is
    known to lie, in the map's pixels), the piece with the most pixels inside
    it: a tray plant's crop can hold a bigger neighbour, which must not
    take the plant's place.
    """
    plant = foreground > 0.5
    pieces, count = connected_pieces(plant, connectivity=2, return_num=True)
    if count < 2:
        return plant
    main = _main_piece(pieces, focus)
    rows, cols = np.nonzero(pieces == main)
    size = float(np.hypot(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))
    distance = ndimage.distance_transform_edt(pieces != main)
    near = np.zeros(count + 1, dtype=bool)
    near[np.unique(pieces[(distance <= STRAY_DISTANCE * size) & plant])] = True
    near[0] = False
    return near[pieces]


def _main_piece(pieces: np.ndarray, focus: Box | None) -> int:
    """The id of the piece with the most pixels inside ``focus`` (the largest
    piece when there is no focus or no foreground inside it)."""
    if focus is not None:
        inside = np.bincount(focus.crop(pieces).ravel(), minlength=2)[1:]
        if inside.any():
            return int(np.argmax(inside)) + 1
    return int(np.argmax(np.bincount(pieces.ravel())[1:])) + 1


def boundary_basins(
    plant: np.ndarray, boundary: np.ndarray, core_threshold: float, min_share: float = 0.0
) -> np.ndarray:
    """Watershed of ``boundary`` over ``plant``, one basin per connected core
    (plant pixels where the boundary is below ``core_threshold``).

    A core smaller than :data:`MIN_CORE_PIXELS`, or than ``min_share`` of
    the median core that size or larger, seeds no basin: the pixels go to
    the basins around it. A speck of a core is more often a fold, a vein or
    the thin stalk of a leaf cut off by a faint false edge than a leaf,
    and how small a speck is depends on the plant's own leaf size, not on
    pixels. A young leaf's core that is dropped so is not lost where the
    centre map peaks inside it (:func:`~leafcount.inference.centres.split_at_centres`).
    """
    cores = connected_pieces(plant & (boundary < core_threshold), connectivity=1)
    sizes = np.bincount(cores.ravel())
    large = sizes[1:][sizes[1:] >= MIN_CORE_PIXELS]
    smallest = max(MIN_CORE_PIXELS, min_share * float(np.median(large))) if len(large) else MIN_CORE_PIXELS
    small = sizes < smallest
    small[0] = False
    cores[small[cores]] = 0
    return watershed(boundary, cores, mask=plant).astype(np.int32)


def _split_shared_basins(
    basins: np.ndarray, masks: Sequence[np.ndarray], probs: Sequence[np.ndarray], boundary: np.ndarray, budget: int
) -> np.ndarray:
    n = int(basins.max())
    sizes = np.bincount(basins.ravel(), minlength=n + 1)
    inside = [np.bincount(basins[m], minlength=n + 1) for m in masks]
    mask_sizes = [int(m.sum()) for m in masks]
    candidates = []
    for basin in range(1, n + 1):
        owners = [k for k in range(len(masks)) if inside[k][basin] >= OWN_FRACTION * mask_sizes[k]]
        if len(owners) < 2:
            continue
        shares = sorted(((inside[k][basin] / sizes[basin], k) for k in owners), reverse=True)
        if shares[1][0] >= SPLIT_SHARE:
            candidates.append((shares[1][0], basin, (shares[0][1], shares[1][1])))
    out = basins.copy()
    next_id = n + 1
    for _, basin, pair in sorted(candidates, reverse=True)[:budget]:
        region = basins == basin
        markers = np.zeros(basins.shape, np.int32)
        best = np.zeros(basins.shape, np.float32)
        for marker, k in enumerate(pair, start=1):
            claims = region & masks[k] & (probs[k] > best)
            best[claims] = probs[k][claims]
            markers[claims] = marker
        halves = watershed(boundary, markers, mask=region)
        out[halves == 2] = next_id
        next_id += 1
    return out


def _adjacent_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for a, b in ((labels[:-1], labels[1:]), (labels[:, :-1], labels[:, 1:])):
        touching = (a != b) & (a > 0) & (b > 0)
        low, high = np.minimum(a[touching], b[touching]), np.maximum(a[touching], b[touching])
        pairs.update(zip(low.tolist(), high.tolist()))
    return pairs


def _merge_covered_basins(basins: np.ndarray, masks: Sequence[np.ndarray], budget: int) -> np.ndarray:
    n = int(basins.max())
    sizes = np.bincount(basins.ravel(), minlength=n + 1).astype(np.float64)
    pairs = _adjacent_pairs(basins)
    candidates = []
    for mask in masks:
        cover = np.bincount(basins[mask], minlength=n + 1) / np.maximum(sizes, 1)
        candidates += [(min(cover[a], cover[b]), a, b) for a, b in pairs if min(cover[a], cover[b]) >= MERGE_COVER]
    parent = np.arange(n + 1)

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    merged = 0
    for _, a, b in sorted(candidates, reverse=True):
        if merged >= budget:
            break
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            merged += 1
    return np.array([root(i) for i in range(n + 1)], dtype=np.int32)[basins]


def ids_in_step_order(
    labels: np.ndarray, masks: Sequence[np.ndarray], step_ids: Sequence[int], first_free: int
) -> np.ndarray:
    """Each leaf takes the id of the step it matches best (one-to-one, by
    Dice), so leaf k is still "the leaf step k found"; the rest get ids from
    ``first_free`` on."""
    leaves = np.flatnonzero(np.bincount(labels.ravel()))  # np.unique's ids, without its sort of every pixel
    leaves = leaves[leaves > 0]
    if not len(leaves):
        return labels
    index = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    index[leaves] = np.arange(len(leaves))
    sizes = np.bincount(index[labels[labels > 0]], minlength=len(leaves))
    ids = np.zeros(int(labels.max()) + 1, dtype=np.int32)
    if masks:
        overlap = np.stack([np.bincount(index[labels[m & (labels > 0)]], minlength=len(leaves)) for m in masks])
        dice = 2 * overlap / (np.array([m.sum() for m in masks])[:, None] + sizes[None, :] + 1e-9)
        for k, leaf in zip(*linear_sum_assignment(-dice)):
            if dice[k, leaf] > 0:
                ids[leaves[leaf]] = step_ids[k]
    next_id = first_free
    for leaf in leaves:
        if ids[leaf] == 0:
            ids[leaf] = next_id
            next_id += 1
    return ids[labels]


def corrected_by_steps(
    basins: np.ndarray, probs: Sequence[np.ndarray], step_ids: Sequence[int], plant: np.ndarray,
    boundary: np.ndarray, mask_threshold: float = 0.5, steps_split: bool = True,
) -> np.ndarray:
    """``basins`` split (unless not ``steps_split``) and merged until their
    number is the kept steps' number where the steps say where (see the
    module notes), each leaf named after the step that found it."""
    first_free = max(step_ids, default=0) + 1
    masks = [(p > mask_threshold) & plant for p in probs]
    found = [k for k, m in enumerate(masks) if m.any()]
    probs, masks, step_ids = [probs[k] for k in found], [masks[k] for k in found], [step_ids[k] for k in found]
    shortfall = len(masks) - int(basins.max())
    if shortfall > 0 and steps_split:
        basins = _split_shared_basins(basins, masks, [p * plant for p in probs], boundary, shortfall)
    excess = len(np.unique(basins[basins > 0])) - len(masks)
    if excess > 0 and masks:
        basins = _merge_covered_basins(basins, masks, excess)
    return ids_in_step_order(basins, masks, step_ids, first_free)


def basin_leaves(
    probs: Sequence[np.ndarray],
    step_ids: Sequence[int],
    foreground: np.ndarray,
    boundary: np.ndarray,
    mask_threshold: float = 0.5,
    core_threshold: float = 0.1,
    centre: np.ndarray | None = None,
    centre_threshold: float = 0.4,
    steps_split: bool = True,
    fragment_threshold: float = 0.0,
    focus: Box | None = None,
    centre_min_pixels: int = MIN_SEED_PIXELS,
    core_min_share: float = 0.0,
) -> np.ndarray:
    """Labels at the maps' resolution: the boundary map's basins (split at the
    centre map's peaks when ``centre`` is given), split and merged until
    their number is the kept steps' number where the steps say where (see
    the module notes).

    Parameters
    ----------
    probs : sequence of float arrays of one shape
        The kept steps' masks y_t, at any size: they are resized to the
        maps' size on the plant's box alone (:func:`~leafcount.resize.resized_window`).
    step_ids : sequence of int
        The leaf id of each step (step index + 1).
    foreground, boundary : (H, W) float arrays
        The dense maps; plant is :func:`plant_pixels`.
    core_threshold : float
        A basin's core is where the boundary map is below it.
    core_min_share : float
        A core smaller than this share of the plant's median core seeds
        no basin (:func:`boundary_basins`).
    centre : (H, W) float array, optional
        The leaf-centre map (:mod:`leafcount.inference.centres`).
    centre_threshold : float
        A centre peak is where ``centre`` is above it.
    steps_split : bool
        Whether the steps may split a basin to reach their count. Their
        count hardly depends on the image (16-19 accepted steps on CVPPP
        plants of 11-20 leaves, 16-18 on tray seedlings of 8-11), so where
        the centre map already splits basins they are better left to merge only.
    fragment_threshold : float
        With ``centre``: basins whose centre peak is below it join a
        neighbour (:func:`~leafcount.inference.centres.merge_fragments`).
    focus : Box, optional
        Where the plant lies, at the maps' resolution (:func:`plant_pixels`).
    centre_min_pixels : int
        With ``centre``: a peak smaller than this splits no basin.
    """
    plant = plant_pixels(foreground, focus)
    # Every basin lies inside the plant, so the rest runs on the plant's box alone (a CVPPP plant's is
    # a fraction of the photo): each step keeps the pixels' raster order, so the same labels come out.
    labels = np.zeros(plant.shape, dtype=np.int32)
    box = mask_window(plant)
    if box is None:
        return labels
    plant, boundary = plant[box], boundary[box]
    basins = boundary_basins(plant, boundary, core_threshold, core_min_share)
    if centre is not None:
        centre = centre[box]
        basins = split_at_centres(basins, centre_seeds(plant, centre, centre_threshold, centre_min_pixels), boundary)
        basins = merge_fragments(basins, centre, fragment_threshold)
    probs = list(resized_window(probs, labels.shape, box))
    labels[box] = corrected_by_steps(basins, probs, step_ids, plant, boundary, mask_threshold, steps_split)
    return labels
