"""Trays: find the individual plants in a photo of many pots, segment each
one leaf by leaf, and put the leaves back into one label image of the tray.

Plants are found by colour (excess-green plant pixels, leafcount.analysis.baseline.plant_mask), then a
closing joins the leaves of one rosette across its thin petioles, and each
remaining region is one plant. Rows and columns come from the plants'
centres (auto), or from a grid the user gives (rows x columns), in which
case regions falling in the same grid cell are one plant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np
from skimage import measure, morphology

from leafcount.analysis.baseline import plant_mask
from leafcount.analysis.plant_boxes import PlantBox
from leafcount.cancel import CancelToken
from leafcount.errors import ConfigError
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import SegmentConfig, Step
from leafcount.mask_window import mask_window
from leafcount.model.ris import RIS
from leafcount.resize import Box


def parse_grid(text: str) -> tuple[int, int]:
    """Parse ``ROWSxCOLS``: ``"3x5"`` -> (3, 5)."""
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise ConfigError(f"tray grid must look like ROWSxCOLS (e.g. 4x5), got {text!r}") from exc
    if rows < 1 or cols < 1:
        raise ConfigError(f"tray grid needs at least one row and one column, got {text!r}")
    return rows, cols


def _group_positions(values: np.ndarray, groups: int | None, gap: float) -> np.ndarray:
    """1-D clustering of centre coordinates into ordered groups (rows or columns).

    With ``groups`` given: split at the ``groups - 1`` widest gaps; otherwise
    split wherever consecutive sorted values are more than ``gap`` apart.
    """
    order = np.argsort(values)
    sorted_values = values[order]
    diffs = np.diff(sorted_values)
    if groups is None:
        cuts = np.flatnonzero(diffs > gap)
    else:
        cuts = np.sort(np.argsort(diffs)[::-1][: max(0, groups - 1)])
    assignment = np.zeros(len(values), dtype=int)
    assignment[order] = np.searchsorted(cuts, np.arange(len(values)), side="left")
    return assignment


DETECT_SIDE = 1024
"""Plants are found on a copy subsampled to about this many pixels on the long
side (a 4000 px photo: every 4th pixel); boxes are given in full pixels."""


def closed_by_disk(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` closed with a disk of ``radius``: the pixels with no pixel of the
    image outside the dilated mask within ``radius``, the dilated mask being the
    pixels with a mask pixel within ``radius`` (:func:`dilated_by_disk`, in
    linear time: binary_closing took 0.4 s at 1000 px). Only over the mask's
    bounding box and a margin, since nothing farther lies within ``radius`` of
    the mask (the result is the same; a single plant's photo is mostly that
    margin's outside: half the work on CVPPP images)."""
    closed = np.zeros(mask.shape, dtype=bool)
    window = mask_window(mask, margin=radius + 2)  # the window's edge rows and columns stay outside the dilation
    if window is None:
        return closed
    closed[window] = ~dilated_by_disk(~dilated_by_disk(mask[window], radius), radius)
    return closed


def dilated_by_disk(mask: np.ndarray, radius: int) -> np.ndarray:
    """The pixels of ``mask``'s array within Euclidean distance ``radius`` of a pixel of ``mask``.

    A pixel dy rows away lies within the disk when it is at most
    isqrt(radius^2 - dy^2) columns away, so the dilation is the union, over
    the disk's 2 radius + 1 rows, of the mask widened along its rows by that
    half-width (a difference of running sums) and shifted by dy: the
    closing's two take 2.3-2.8 ms on a CVPPP image's plant mask, where two
    Euclidean distance transforms took 11-16 (and a bundled tray photo's plants
    are found in 41-56 ms instead of 152-163).
    """
    height, width = mask.shape
    running = np.zeros((height, width + 1), dtype=np.int32)
    np.cumsum(mask, axis=1, out=running[:, 1:])  # running[:, j]: mask pixels left of column j
    widened: dict[int, np.ndarray] = {}
    out = np.zeros(mask.shape, dtype=bool)
    for dy in range(-min(radius, height - 1), min(radius, height - 1) + 1):
        half = math.isqrt(radius * radius - dy * dy)
        if half not in widened:  # mask pixels in columns j - half .. j + half, counted within the array
            edges = np.pad(running, ((0, 0), (half, half)), mode="edge")
            widened[half] = edges[:, 2 * half + 1 : 2 * half + 1 + width] > edges[:, :width]
        rows = widened[half]
        if dy >= 0:
            out[: height - dy] |= rows[dy:]
        else:
            out[-dy:] |= rows[: height + dy]
    return out


def detect_plants(image: np.ndarray, grid: tuple[int, int] | None = None, *, min_area_fraction: float = 1e-4) -> list[PlantBox]:
    """Find the plants of a tray photo.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float32 in [0, 1]
    grid : (rows, cols), optional
        The tray's layout. Without it, rows and columns are found from gaps
        between plant centres larger than 0.6 x the typical plant size.
        Regions that share a grid cell are merged into one plant.
    min_area_fraction : float
        Regions smaller than this fraction of the image are noise (moss, algae).

    Returns
    -------
    list of PlantBox
        Ordered row by row, left to right; ``index`` follows that order.
    """
    full_h, full_w = image.shape[:2]
    stride = max(1, int(np.ceil(max(full_h, full_w) / DETECT_SIDE)))
    image = image[::stride, ::stride]  # plants are found by colour: every pixel of a 20 MP photo is not needed
    h, w = image.shape[:2]
    # Every green pixel, uncleaned (the regions below are filtered by size): a seedling's thin leaves count.
    green = plant_mask(image, among_green=False, opening_radius=0, min_object_fraction=0)
    mask = morphology.remove_small_objects(green, max_size=max(4, int(2e-5 * h * w)))
    joined = closed_by_disk(mask, max(2, int(round(0.012 * max(h, w)))))
    regions = [r for r in measure.regionprops(measure.label(joined)) if r.area >= min_area_fraction * h * w]
    if not regions:
        return []
    centres = np.array([r.centroid for r in regions])
    sizes = np.array([[r.bbox[2] - r.bbox[0], r.bbox[3] - r.bbox[1]] for r in regions], dtype=float)
    typical = np.median(sizes, axis=0)
    rows = _group_positions(centres[:, 0], grid[0] if grid else None, 0.6 * typical[0])
    cols = _group_positions(centres[:, 1], grid[1] if grid else None, 0.6 * typical[1])
    cells: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(zip(rows.tolist(), cols.tolist())):
        cells.setdefault(key, []).append(i)
    plants = []
    for index, (row, col) in enumerate(sorted(cells)):
        boxes = np.array([regions[i].bbox for i in cells[(row, col)]])
        top, left = int(boxes[:, 0].min()) * stride, int(boxes[:, 1].min()) * stride
        bottom, right = min(full_h, int(boxes[:, 2].max()) * stride), min(full_w, int(boxes[:, 3].max()) * stride)
        plants.append(PlantBox(index, int(row), int(col), top, left, bottom, right))
    return plants


MIN_PLANT_SIDE = 16
"""Pixels: a plant narrower than this cannot be segmented leaf by leaf anyway."""


def looks_like_tray(plants: Sequence[PlantBox]) -> bool:
    """Whether :func:`detect_plants` found a tray rather than one plant with stray bits.

    A tray holds several plants of about the same size; around a single
    plant the other regions (moss, a loose leaf, a label) are far smaller.
    On all 100 CVPPP A1 images exactly one region is at least half the size
    of the largest; on the two bundled trays 14 and 17 are. Specks under
    ``MIN_PLANT_SIDE`` pixels (noise, a thumbnail) are no plants.
    """
    sizes = [max(p.height, p.width) for p in plants if min(p.height, p.width) >= MIN_PLANT_SIDE]
    return sum(size >= 0.5 * max(sizes) for size in sizes) >= 2 if sizes else False


@dataclass(frozen=True)
class PlantResult:
    """One plant's segmentation: its steps (for the step view) and leaf ids in the tray labels."""

    plant: PlantBox
    crop: PlantBox
    steps: list[Step]
    leaf_ids: list[int]


CVPPP_MARGIN = 0.25
"""A quarter of the plant's size on each side: the plant then fills about 65%
of the crop, the median for the CVPPP A1 training images."""
MAX_MARGIN = 1.0
"""The plant still fills a third of the crop: the smallest plants seen in
training (median framing at the lowest training zoom, 0.5)."""


def crop_margin(plant: PlantBox, input_size: tuple[int, int]) -> float:
    """How much surroundings to crop around a plant for a model with this input (H, W).

    Framed like a CVPPP image, a plant smaller than the model's input would
    be enlarged and look blurrier than anything seen in training; the model
    then splits its leaves (5 leaves too many per plant on the bundled
    arabidopsis tray). A small plant therefore gets more surroundings instead,
    until the crop reaches the input size (no enlargement), within
    [CVPPP_MARGIN, MAX_MARGIN].
    """
    relative = max(plant.height / input_size[0], plant.width / input_size[1])
    return float(np.clip((1 / relative - 1) / 2, CVPPP_MARGIN, MAX_MARGIN))


def segment_tray_plants(
    model: RIS,
    image: np.ndarray,
    plants: Sequence[PlantBox],
    config: SegmentConfig = SegmentConfig(),
    *,
    margin: float | None = None,
    cancel: CancelToken | None = None,
) -> Generator[PlantResult, None, tuple[np.ndarray, list[PlantResult]]]:
    """Segment every plant of a tray leaf by leaf, yielding each plant's result as it
    is done; returns one label image for the tray and the results.

    Each plant is cropped with ``margin`` x its size on each side (None: the
    :func:`crop_margin` for the model's input size), segmented at the model's
    input size, and its leaves pasted back inside its own expanded box only,
    so a neighbour's leaves reaching into the crop are never claimed twice.
    The decoding is told where the plant lies in its crop, so a bigger
    neighbour in the crop is not taken for the plant.
    Leaf ids run on across plants (plant 1: 1..n1, plant 2: n1+1..).
    """
    labels = np.zeros(image.shape[:2], dtype=np.int32)
    results = []
    next_id = 1
    for plant in plants:
        around = crop_margin(plant, model.config.input_size) if margin is None else margin
        crop = plant.expanded(around, image.shape[:2])
        patch = image[crop.top : crop.bottom, crop.left : crop.right]
        focus = Box(plant.top - crop.top, plant.left - crop.left, plant.height, plant.width)
        segmented = segment_image(model, patch, config, cancel, focus)
        steps, local = segmented.steps, segmented.labels
        own = plant.expanded(0.1, image.shape[:2])
        window = np.zeros_like(local, dtype=bool)
        window[own.top - crop.top : own.bottom - crop.top, own.left - crop.left : own.right - crop.left] = True
        target = labels[crop.top : crop.bottom, crop.left : crop.right]
        ids = []
        for leaf in np.unique(local[window & (local > 0)]):
            pixels = (local == leaf) & window & (target == 0)
            if pixels.any():
                target[pixels] = next_id
                ids.append(next_id)
                next_id += 1
        result = PlantResult(plant, crop, steps, ids)
        results.append(result)
        yield result
    return labels, results


def segment_tray(
    model: RIS,
    image: np.ndarray,
    plants: Sequence[PlantBox],
    config: SegmentConfig = SegmentConfig(),
    *,
    margin: float | None = None,
    cancel: CancelToken | None = None,
    on_plant: Callable[[PlantResult], None] | None = None,
) -> tuple[np.ndarray, list[PlantResult]]:
    """:func:`segment_tray_plants` run to its end; ``on_plant`` gets each plant's result."""
    plant_results = segment_tray_plants(model, image, plants, config, margin=margin, cancel=cancel)
    while True:
        try:
            result = next(plant_results)
        except StopIteration as end:
            return end.value
        if on_plant is not None:
            on_plant(result)
