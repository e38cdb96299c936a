"""Per-leaf and per-plant traits measured from a label image.

Measures come from :func:`skimage.measure.regionprops_table`, so they follow
scikit-image's definitions (see its documentation for each property). Lengths
and areas are given in pixels and, when the image scale is known, in
millimetres.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from skimage.measure import regionprops, regionprops_table

from leafcount.analysis.metrics import relabel_consecutive
from leafcount.arrays import check_image
from leafcount.errors import ConfigError

__all__ = ["LEAF_TRAIT_COLUMNS", "leaf_traits", "plant_traits"]

LEAF_TRAIT_COLUMNS = (
    "leaf_id",
    "area_px",
    "area_mm2",
    "perimeter_px",
    "perimeter_mm",
    "centroid_row",
    "centroid_col",
    "bbox_min_row",
    "bbox_min_col",
    "bbox_max_row",
    "bbox_max_col",
    "major_axis_px",
    "minor_axis_px",
    "eccentricity",
    "solidity",
    "orientation_deg",
    "mean_r",
    "mean_g",
    "mean_b",
    "is_manual",
)

_INTEGER_COLUMNS = ("leaf_id", "area_px", "bbox_min_row", "bbox_min_col", "bbox_max_row", "bbox_max_col")

# regionprops_table column -> our column.
_REGIONPROPS_COLUMNS = {
    "area": "area_px",
    "perimeter": "perimeter_px",
    "centroid-0": "centroid_row",
    "centroid-1": "centroid_col",
    "bbox-0": "bbox_min_row",
    "bbox-1": "bbox_min_col",
    "bbox-2": "bbox_max_row",
    "bbox-3": "bbox_max_col",
    "axis_major_length": "major_axis_px",
    "axis_minor_length": "minor_axis_px",
    "eccentricity": "eccentricity",
    "solidity": "solidity",
    "orientation": "orientation_deg",
}
_REGIONPROPS_PROPERTIES = (
    "label",
    "area",
    "perimeter",
    "centroid",
    "bbox",
    "axis_major_length",
    "axis_minor_length",
    "eccentricity",
    "solidity",
    "orientation",
)
_COLOUR_COLUMNS = {"intensity_mean-0": "mean_r", "intensity_mean-1": "mean_g", "intensity_mean-2": "mean_b"}


def _check_scale(px_per_mm: float | None) -> float | None:
    if px_per_mm is None:
        return None
    if isinstance(px_per_mm, bool) or not isinstance(px_per_mm, Real) or not (
        math.isfinite(px_per_mm) and px_per_mm > 0
    ):
        raise ConfigError(f"px_per_mm: expected a positive number of pixels per millimetre, found {px_per_mm!r}")
    return float(px_per_mm)


def _empty_leaf_table() -> pd.DataFrame:
    columns = {}
    for name in LEAF_TRAIT_COLUMNS:
        dtype = np.int64 if name in _INTEGER_COLUMNS else bool if name == "is_manual" else np.float64
        columns[name] = pd.Series([], dtype=dtype)
    return pd.DataFrame(columns)


def leaf_traits(
    labels: ArrayLike,
    image: ArrayLike | None = None,
    px_per_mm: float | None = None,
    manual_ids: Iterable[int] = (),
) -> pd.DataFrame:
    """One row of shape, size and colour traits per leaf.

    Parameters
    ----------
    labels : array_like, shape (H, W), integer dtype
        0 = background, any other value = one leaf; ids may have gaps.
    image : array_like, shape (H, W, 3), float, optional
        The RGB photo in [0, 1]; without it the colour columns are NaN.
    px_per_mm : float, optional
        Image scale in pixels per millimetre; without it the ``_mm`` and
        ``_mm2`` columns are NaN.
    manual_ids : iterable of int
        Ids of leaves drawn or corrected by hand (``is_manual``). Ids absent
        from ``labels`` are ignored: a hand-edited leaf may since be deleted.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LEAF_TRAIT_COLUMNS`, one row per leaf in increasing
        ``leaf_id`` order; no rows (same columns) when there is no leaf.

    Raises
    ------
    LabelFormatError
        When ``labels`` is not a 2-D array of non-negative integers or its
        shape differs from the image's.
    ImageReadError
        When ``image`` is not an (H, W, 3) float array.
    ConfigError
        When ``px_per_mm`` is not a positive finite number.

    Notes
    -----
    scikit-image's definitions apply: ``perimeter_px`` runs through the centres
    of the boundary pixels (a 20 px square measures 76); ``bbox_max_*`` are
    exclusive, like slice ends; ``orientation_deg`` is the angle between the
    row (vertical) axis and the major axis, counter-clockwise, in [-90, 90];
    ``major_axis_px`` and ``minor_axis_px`` are the axes of the ellipse with
    the leaf's second moments; ``solidity`` is area over convex hull area.
    Colour means are of the values in ``image`` over the leaf's pixels.

    Examples
    --------
    >>> labels = np.zeros((6, 6), dtype=np.int32)
    >>> labels[1:4, 1:4] = 5
    >>> row = leaf_traits(labels, px_per_mm=2.0).iloc[0]
    >>> int(row.leaf_id), int(row.area_px), float(row.area_mm2)
    (5, 9, 2.25)
    """
    leaf_ids, consecutive = relabel_consecutive(labels)
    scale = _check_scale(px_per_mm)
    colour = check_image(image, consecutive.shape) if image is not None else None
    if leaf_ids.size == 0:
        return _empty_leaf_table()

    properties = _REGIONPROPS_PROPERTIES + (("intensity_mean",) if colour is not None else ())
    measured = regionprops_table(consecutive, intensity_image=colour, properties=properties)

    table = pd.DataFrame({"leaf_id": leaf_ids[measured["label"] - 1].astype(np.int64)})
    for source, name in {**_REGIONPROPS_COLUMNS, **(_COLOUR_COLUMNS if colour is not None else {})}.items():
        table[name] = measured[source]
    for name in _COLOUR_COLUMNS.values():
        if name not in table:
            table[name] = np.nan
    table["orientation_deg"] = np.degrees(table["orientation_deg"])
    table["area_mm2"] = table["area_px"] / scale**2 if scale else np.nan
    table["perimeter_mm"] = table["perimeter_px"] / scale if scale else np.nan
    table["is_manual"] = np.isin(table["leaf_id"], np.fromiter(manual_ids, dtype=np.int64))
    table = table[list(LEAF_TRAIT_COLUMNS)]
    return table.astype({name: np.int64 for name in _INTEGER_COLUMNS})


def plant_traits(labels: ArrayLike, px_per_mm: float | None = None) -> dict[str, float | int]:
    """Whole-rosette traits of one image: count, area, hull, compactness, diameter.

    Parameters
    ----------
    labels : array_like, shape (H, W), integer dtype
        0 = background, any other value = one leaf; ids may have gaps.
    px_per_mm : float, optional
        Image scale in pixels per millimetre; without it the ``_mm`` and
        ``_mm2`` values are NaN.

    Returns
    -------
    dict
        ``leaf_count`` (distinct leaf ids), ``rosette_area_px`` (plant pixels),
        ``convex_hull_area_px``, ``compactness`` (rosette area / convex hull
        area; NaN with no plant), ``rosette_diameter_px`` (maximum Feret
        diameter; 0.0 with no plant) and the ``_mm2`` / ``_mm`` versions.

    Raises
    ------
    LabelFormatError
        When ``labels`` is not a 2-D array of non-negative integers.
    ConfigError
        When ``px_per_mm`` is not a positive finite number.

    Notes
    -----
    The rosette is the union of all leaves, measured as one region: gaps
    between leaves belong to the convex hull, not to the rosette area.

    Examples
    --------
    A ring of two leaves around a one-pixel hole:

    >>> labels = np.array([[1, 1, 1],
    ...                    [1, 0, 4],
    ...                    [4, 4, 4]])
    >>> traits = plant_traits(labels, px_per_mm=2.0)
    >>> traits["leaf_count"], traits["rosette_area_px"], traits["convex_hull_area_px"]
    (2, 8, 9)
    >>> round(traits["compactness"], 3), traits["rosette_area_mm2"]
    (0.889, 2.0)
    """
    leaf_ids, consecutive = relabel_consecutive(labels)
    scale = _check_scale(px_per_mm)
    plant = (consecutive > 0).astype(np.uint8)
    regions = regionprops(plant)
    if regions:
        rosette = regions[0]
        area, hull_area = int(rosette.area), int(rosette.area_convex)
        compactness, diameter = area / hull_area, float(rosette.feret_diameter_max)
    else:
        area, hull_area, compactness, diameter = 0, 0, math.nan, 0.0
    return {
        "leaf_count": int(leaf_ids.size),
        "rosette_area_px": area,
        "rosette_area_mm2": area / scale**2 if scale else math.nan,
        "convex_hull_area_px": hull_area,
        "convex_hull_area_mm2": hull_area / scale**2 if scale else math.nan,
        "compactness": compactness,
        "rosette_diameter_px": diameter,
        "rosette_diameter_mm": diameter / scale if scale else math.nan,
    }
