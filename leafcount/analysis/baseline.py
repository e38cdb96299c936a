"""A classical leaf segmentation: excess-green threshold + distance-transform watershed.

No learning: the plant is the pixels greener than Otsu's threshold on the
excess-green index, and leaves are the watershed basins of the negated
distance to the plant's edge, one per distance peak. Leaf blades are wide and
joined by narrow petioles, so each blade has its own distance peak. It is
the reference a learned model has to beat (``benchmarks/accuracy.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.filters import threshold_otsu
from skimage.morphology import disk
from skimage.segmentation import watershed

from leafcount.arrays import check_image
from leafcount.errors import ConfigError

__all__ = ["excess_green", "plant_mask", "segment_classical"]


def excess_green(image: ArrayLike) -> np.ndarray:
    """Excess-green index ``2G - R - B`` of an RGB image.

    Parameters
    ----------
    image : array_like, shape (H, W, 3), float
        RGB in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (H, W), float32
        In [-2, 2]; green plant tissue is high, soil, trays and grey
        backgrounds are near or below 0.

    Raises
    ------
    ImageReadError
        When ``image`` is not an (H, W, 3) float array.

    Notes
    -----
    Woebbecke et al. (1995). The raw channels are used, not chromaticity
    (each divided by ``R + G + B``): chromaticity makes dark moss and algae
    on the soil as green as a leaf, the raw index keeps them low.

    Examples
    --------
    >>> pixels = np.array([[[0.25, 0.75, 0.25], [0.5, 0.5, 0.5]]], dtype=np.float32)
    >>> excess_green(pixels).round(2).tolist()
    [[1.0, 0.0]]
    """
    rgb = np.clip(check_image(image).astype(np.float32, copy=False), 0.0, 1.0)
    return 2.0 * rgb[..., 1] - rgb[..., 0] - rgb[..., 2]


MIN_EXCESS_GREEN = 0.05
"""No pixel with a lower excess-green index is plant, whatever Otsu's threshold."""


def plant_mask(
    image: ArrayLike, *, among_green: bool = True, opening_radius: int | None = None, min_object_fraction: float = 0.001
) -> np.ndarray:
    """The plant pixels: excess green above Otsu's threshold, cleaned.

    Parameters
    ----------
    image : array_like, shape (H, W, 3), float
        RGB in [0, 1].
    among_green : bool
        Compute Otsu's threshold among the greenish pixels (see the notes),
        which leaves moss out; ``False`` computes it over all pixels, which
        keeps every green pixel of a plant (finding the plants of a tray,
        where a threshold among the leaves would cut their darker parts off).
    opening_radius : int, optional
        Radius (pixels) of the disk that opens the mask, removing specks and
        thin strands of moss; ``None`` picks ``min(H, W) / 160`` (3 pixels on
        a 500-pixel CVPPP image), at least 1; 0 turns it off.
    min_object_fraction : float
        Connected green regions smaller than this fraction of the image are
        dropped; holes smaller than it are filled.

    Returns
    -------
    numpy.ndarray, shape (H, W), bool

    Raises
    ------
    ImageReadError
        When ``image`` is not an (H, W, 3) float array.
    ConfigError
        When ``opening_radius`` is negative or ``min_object_fraction`` is not
        in [0, 1).

    Notes
    -----
    Otsu's threshold is computed over the pixels whose index is positive
    (greener than grey) when there are two levels among them, else over all
    pixels. A red tray or dark soil would otherwise form one class and
    everything green (leaves and moss alike) the other; among the green
    pixels, the threshold separates bright leaves from moss.

    Examples
    --------
    >>> image = np.full((40, 40, 3), 0.4, dtype=np.float32)
    >>> image[10:30, 10:30] = (0.2, 0.7, 0.2)  # a green square on grey soil
    >>> mask = plant_mask(image, opening_radius=0)
    >>> int(mask.sum()), bool(mask[10, 10]), bool(mask[9, 9])
    (400, True, False)
    """
    if opening_radius is not None and opening_radius < 0:
        raise ConfigError(f"opening_radius: expected a radius >= 0 pixels, found {opening_radius!r}")
    if not 0.0 <= min_object_fraction < 1.0:
        raise ConfigError(f"min_object_fraction: expected a fraction in [0, 1), found {min_object_fraction!r}")
    index = excess_green(image)
    greenish = index[index > 0]
    values = greenish if among_green and greenish.size and greenish.min() < greenish.max() else index.ravel()
    if values.min() == values.max():
        return np.zeros(index.shape, dtype=bool)  # a flat image has no plant to find
    # The floor keeps a photo of bare soil (where Otsu splits noise) from becoming plant.
    plant = index > max(float(threshold_otsu(values)), MIN_EXCESS_GREEN)
    radius = max(1, round(min(index.shape) / 160)) if opening_radius is None else opening_radius
    if radius > 0:
        plant = ndimage.binary_opening(plant, structure=disk(radius))
    min_pixels = math.ceil(min_object_fraction * plant.size)
    plant = _drop_small_regions(plant, min_pixels)
    return ~_drop_small_regions(~plant, min_pixels)


def segment_classical(
    image: ArrayLike,
    *,
    min_distance_fraction: float = 0.05,
    smoothing: float = 1.0,
    opening_radius: int | None = None,
    min_object_fraction: float = 0.001,
) -> np.ndarray:
    """Segment leaves without learning: excess-green mask, then watershed.

    Parameters
    ----------
    image : array_like, shape (H, W, 3), float
        RGB in [0, 1].
    min_distance_fraction : float
        Two leaf centres are at least this fraction of the plant's size
        (the square root of its area) apart: distance peaks closer than
        that are one leaf. Larger values give fewer leaves.
    smoothing : float
        Gaussian sigma (pixels) applied to the distance map before peaks are
        found, so a ragged edge does not split a leaf.
    opening_radius : int, optional
        See :func:`plant_mask`.
    min_object_fraction : float
        See :func:`plant_mask`.

    Returns
    -------
    numpy.ndarray, shape (H, W), int32
        0 = background, leaves 1..n.

    Raises
    ------
    ImageReadError
        When ``image`` is not an (H, W, 3) float array.
    ConfigError
        When an option is out of range.

    Notes
    -----
    Steps: :func:`plant_mask`; Euclidean distance transform of the mask;
    markers at the local maxima of the smoothed distance
    (:func:`skimage.feature.peak_local_max`, at least ``min_distance`` apart,
    within each connected plant region); watershed of the negated distance
    restricted to the mask. Peaks are searched per connected plant region,
    so every region has at least one leaf. Scale-free: the minimum peak
    distance follows the plant's size, not the image's. The defaults were
    chosen on the CVPPP A1 training split (not the validation split).
    """
    if not 0.0 < min_distance_fraction < 1.0:
        raise ConfigError(f"min_distance_fraction: expected a fraction in (0, 1), found {min_distance_fraction!r}")
    if smoothing < 0:
        raise ConfigError(f"smoothing: expected a sigma >= 0 pixels, found {smoothing!r}")
    plant = plant_mask(image, opening_radius=opening_radius, min_object_fraction=min_object_fraction)
    labels = np.zeros(plant.shape, dtype=np.int32)
    if not plant.any():
        return labels
    distance = ndimage.distance_transform_edt(plant)
    if smoothing > 0:
        distance = ndimage.gaussian_filter(distance, smoothing)
    regions, _ = ndimage.label(plant)
    min_distance = max(2, round(min_distance_fraction * math.sqrt(int(plant.sum()))))
    peaks = peak_local_max(distance, min_distance=min_distance, labels=regions, exclude_border=False)
    markers = np.zeros(plant.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels[:] = watershed(-distance, markers, mask=plant)
    return labels


def _drop_small_regions(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """``mask`` without its 4-connected regions of fewer than ``min_pixels`` pixels."""
    if min_pixels <= 1:  # every region has a pixel: nothing to drop, and no labelling to pay for
        return mask
    regions, _ = ndimage.label(mask)
    sizes = np.bincount(regions.ravel())
    keep = sizes >= min_pixels
    keep[0] = False
    return keep[regions]
