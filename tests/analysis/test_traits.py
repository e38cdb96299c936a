"""Per-leaf and per-plant traits on synthetic shapes of known size."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from leafcount.analysis import traits
from leafcount.analysis.traits import LEAF_TRAIT_COLUMNS, leaf_traits, plant_traits
from leafcount.errors import ConfigError, ImageReadError, LabelFormatError

SQUARE_ID, DISK_ID = 3, 12
DISK_RADIUS = 25


@pytest.fixture
def square_and_disk() -> np.ndarray:
    """A 40 px square (id 3) and a disk of radius 25 (id 12), ids with gaps."""
    labels = np.zeros((120, 140), dtype=np.int32)
    labels[10:50, 20:60] = SQUARE_ID
    rows, cols = np.indices(labels.shape)
    labels[(rows - 80) ** 2 + (cols - 90) ** 2 <= DISK_RADIUS**2] = DISK_ID
    return labels


def test_docstring_examples_run() -> None:
    result = doctest.testmod(traits)
    assert result.attempted >= 5
    assert result.failed == 0


def test_leaf_traits_of_square_and_disk(square_and_disk: np.ndarray) -> None:
    table = leaf_traits(square_and_disk)
    assert list(table.columns) == list(LEAF_TRAIT_COLUMNS)
    assert table["leaf_id"].tolist() == [SQUARE_ID, DISK_ID]
    square, circle = table.iloc[0], table.iloc[1]

    assert square.area_px == 40 * 40
    # Through the boundary pixel centres: 4 * 39, within 5 % of 4 * 40.
    assert square.perimeter_px == pytest.approx(4 * 40, rel=0.05)
    assert (square.bbox_min_row, square.bbox_min_col, square.bbox_max_row, square.bbox_max_col) == (10, 20, 50, 60)
    assert (square.centroid_row, square.centroid_col) == (29.5, 39.5)
    assert square.solidity == 1.0

    assert circle.area_px == pytest.approx(math.pi * DISK_RADIUS**2, rel=0.01)
    assert circle.perimeter_px == pytest.approx(2 * math.pi * DISK_RADIUS, rel=0.05)
    assert (circle.centroid_row, circle.centroid_col) == pytest.approx((80, 90))
    assert circle.major_axis_px == pytest.approx(circle.minor_axis_px)
    assert circle.major_axis_px == pytest.approx(2 * DISK_RADIUS, rel=0.02)
    assert circle.eccentricity == pytest.approx(0, abs=1e-6)

    # No scale, no image: those columns are NaN; nothing is manual.
    assert table[["area_mm2", "perimeter_mm", "mean_r", "mean_g", "mean_b"]].isna().all().all()
    assert not table["is_manual"].any()


def test_leaf_traits_orientation_of_an_elongated_leaf() -> None:
    labels = np.zeros((30, 30), dtype=np.int32)
    labels[5:25, 13:17] = 1  # long in the row direction
    labels_across = np.zeros((30, 30), dtype=np.int32)
    labels_across[13:17, 5:25] = 1  # long in the column direction
    along = leaf_traits(labels).iloc[0]
    across = leaf_traits(labels_across).iloc[0]
    assert along.orientation_deg == pytest.approx(0.0)
    assert abs(across.orientation_deg) == pytest.approx(90.0)
    assert along.major_axis_px > 4 * along.minor_axis_px
    assert along.eccentricity > 0.9


def test_leaf_traits_scale_conversion(square_and_disk: np.ndarray) -> None:
    table = leaf_traits(square_and_disk, px_per_mm=4.0)
    assert table["area_mm2"].tolist() == pytest.approx((table["area_px"] / 16.0).tolist())
    assert table["perimeter_mm"].tolist() == pytest.approx((table["perimeter_px"] / 4.0).tolist())
    assert table.iloc[0].area_mm2 == 100.0


def test_leaf_traits_colour_means(square_and_disk: np.ndarray) -> None:
    image = np.zeros((*square_and_disk.shape, 3), dtype=np.float32)
    image[..., 1] = 0.5
    image[square_and_disk == DISK_ID] = (0.2, 0.8, 0.1)
    table = leaf_traits(square_and_disk, image=image)
    assert table[["mean_r", "mean_g", "mean_b"]].to_numpy() == pytest.approx(
        np.array([[0.0, 0.5, 0.0], [0.2, 0.8, 0.1]]), abs=1e-4
    )


def test_leaf_traits_marks_manual_leaves_and_ignores_stale_ids(square_and_disk: np.ndarray) -> None:
    table = leaf_traits(square_and_disk, manual_ids=[DISK_ID, 99])
    assert table["is_manual"].tolist() == [False, True]


def test_leaf_traits_without_background_and_with_huge_ids() -> None:
    labels = np.full((4, 6), 5, dtype=np.int64)
    labels[:, 4:] = 2**40
    table = leaf_traits(labels)
    assert table["leaf_id"].tolist() == [5, 2**40]
    assert table["area_px"].tolist() == [16, 8]


def test_leaf_traits_of_empty_labels_has_the_columns() -> None:
    table = leaf_traits(np.zeros((8, 8), dtype=np.int32), px_per_mm=2.0)
    assert table.empty
    assert list(table.columns) == list(LEAF_TRAIT_COLUMNS)
    assert table["leaf_id"].dtype == np.int64
    assert table["area_px"].dtype == np.int64
    assert table["is_manual"].dtype == bool
    assert table["solidity"].dtype == np.float64


def test_leaf_traits_column_dtypes(square_and_disk: np.ndarray) -> None:
    table = leaf_traits(square_and_disk)
    assert table["leaf_id"].dtype == np.int64
    assert table["bbox_max_col"].dtype == np.int64
    assert table["perimeter_px"].dtype == np.float64
    assert table["is_manual"].dtype == bool


@pytest.mark.parametrize("px_per_mm", [0, -2.5, math.nan, math.inf, "4", True])
def test_leaf_traits_rejects_bad_scale(square_and_disk: np.ndarray, px_per_mm: object) -> None:
    with pytest.raises(ConfigError, match=r"px_per_mm: expected a positive number of pixels per millimetre"):
        leaf_traits(square_and_disk, px_per_mm=px_per_mm)
    with pytest.raises(ConfigError, match=r"px_per_mm"):
        plant_traits(square_and_disk, px_per_mm=px_per_mm)


def test_leaf_traits_rejects_image_of_another_size(square_and_disk: np.ndarray) -> None:
    image = np.zeros((10, 10, 3), dtype=np.float32)
    with pytest.raises(LabelFormatError, match=r"labels shape \(120, 140\) does not match image shape \(10, 10, 3\)"):
        leaf_traits(square_and_disk, image=image)


@pytest.mark.parametrize(
    "image",
    [np.zeros((120, 140), dtype=np.float32), np.zeros((120, 140, 4), dtype=np.float32), np.zeros((120, 140, 3), np.uint8)],
)
def test_leaf_traits_rejects_image_that_is_not_float_rgb(square_and_disk: np.ndarray, image: np.ndarray) -> None:
    with pytest.raises(ImageReadError, match=r"expected an \(H, W, 3\) float array in \[0, 1\], found shape"):
        leaf_traits(square_and_disk, image=image)


def test_leaf_traits_rejects_bad_labels() -> None:
    with pytest.raises(LabelFormatError, match="expected an integer dtype, found float64"):
        leaf_traits(np.zeros((4, 4)))


def test_plant_traits_of_square_and_disk(square_and_disk: np.ndarray) -> None:
    plant = plant_traits(square_and_disk, px_per_mm=2.0)
    leaves = leaf_traits(square_and_disk)
    assert plant["leaf_count"] == 2
    assert plant["rosette_area_px"] == leaves["area_px"].sum()
    assert plant["rosette_area_mm2"] == pytest.approx(plant["rosette_area_px"] / 4.0)
    # The hull bridges the gap between the two leaves.
    assert plant["convex_hull_area_px"] > plant["rosette_area_px"]
    assert plant["convex_hull_area_mm2"] == pytest.approx(plant["convex_hull_area_px"] / 4.0)
    assert plant["compactness"] == pytest.approx(plant["rosette_area_px"] / plant["convex_hull_area_px"])
    # From the square's corner (10, 20) to the far side of the disk.
    far = math.dist((10, 20), (80, 90)) + DISK_RADIUS
    assert plant["rosette_diameter_px"] == pytest.approx(far, rel=0.03)
    assert plant["rosette_diameter_mm"] == pytest.approx(plant["rosette_diameter_px"] / 2.0)


def test_plant_traits_of_one_square_is_fully_compact() -> None:
    labels = np.zeros((20, 20), dtype=np.int32)
    labels[5:15, 5:15] = 1
    plant = plant_traits(labels)
    assert plant["compactness"] == 1.0
    assert plant["rosette_diameter_px"] == pytest.approx(10 * math.sqrt(2), rel=0.05)
    assert math.isnan(plant["rosette_area_mm2"])


def test_plant_traits_of_empty_labels() -> None:
    plant = plant_traits(np.zeros((5, 5), dtype=np.uint8), px_per_mm=3.0)
    assert plant["leaf_count"] == 0
    assert plant["rosette_area_px"] == 0
    assert plant["convex_hull_area_px"] == 0
    assert plant["rosette_area_mm2"] == 0.0
    assert math.isnan(plant["compactness"])
    assert plant["rosette_diameter_px"] == 0.0
