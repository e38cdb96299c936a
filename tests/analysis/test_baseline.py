"""The classical excess-green + watershed baseline."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from leafcount.analysis import baseline
from leafcount.analysis.baseline import excess_green, plant_mask, segment_classical
from leafcount.analysis.metrics import count_leaves, score_image
from leafcount.data.synth import make_rosette
from leafcount.errors import ConfigError, ImageReadError


def _discs(
    shape: tuple[int, int], centres: list[tuple[int, int]], radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Green discs on grey-brown soil with sensor noise, and their boolean union."""
    rows, cols = np.indices(shape)
    inside = np.zeros(shape, dtype=bool)
    for row, col in centres:
        inside |= (rows - row) ** 2 + (cols - col) ** 2 <= radius**2
    image = np.empty((*shape, 3), dtype=np.float32)
    image[:] = (0.4, 0.38, 0.3)
    image[inside] = (0.25, 0.65, 0.2)
    image += np.random.default_rng(0).normal(0.0, 0.02, image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0), inside


def test_doctests_pass():
    result = doctest.testmod(baseline)
    assert result.attempted >= 2 and result.failed == 0


def test_excess_green_is_2g_minus_r_minus_b():
    image = np.array([[[0.1, 0.9, 0.3], [1.0, 0.0, 0.0]]], dtype=np.float32)
    np.testing.assert_allclose(excess_green(image), [[1.4, -1.0]], atol=1e-6)


def test_plant_mask_finds_the_green_discs_and_drops_a_speck():
    image, inside = _discs((120, 120), [(40, 40), (80, 85)], radius=15)
    image[5, 110] = (0.2, 0.7, 0.2)  # one green pixel: below the minimum object size
    mask = plant_mask(image)
    assert not mask[5, 110]
    assert (mask == inside).mean() > 0.99



def test_plant_mask_without_cleaning_keeps_every_speck_and_hole():
    image, inside = _discs((120, 120), [(40, 40), (80, 85)], radius=15)
    image[5, 110] = (0.2, 0.7, 0.2)  # a one-pixel speck
    image[40, 40] = (0.4, 0.38, 0.3)  # a one-pixel hole in a disc
    mask = plant_mask(image, among_green=False, opening_radius=0, min_object_fraction=0)
    assert mask[5, 110] and not mask[40, 40]
    cleaned = plant_mask(image, among_green=False, opening_radius=0)
    assert not cleaned[5, 110] and cleaned[40, 40]

def test_plant_mask_leaves_out_dark_moss_on_a_red_tray():
    # Otsu over all pixels would split tray from the rest (threshold about
    # 0.19) and keep the moss (excess green 0.32); among the green pixels it
    # splits moss from leaves.
    image, inside = _discs((120, 160), [(60, 100)], radius=20)
    image[:, :60] = (0.7, 0.35, 0.25)  # terracotta tray
    image[90:, 60:] = (0.2, 0.32, 0.12)  # dull, dark green moss on the soil
    mask = plant_mask(image)
    assert not mask[90:, 60:].any()
    assert (mask == inside).mean() > 0.99


def test_plant_mask_of_a_flat_image_is_empty():
    assert not plant_mask(np.full((30, 40, 3), 0.5, dtype=np.float32)).any()


def test_separate_discs_become_separate_leaves():
    image, _ = _discs((120, 160), [(40, 40), (60, 120)], radius=18)
    labels = segment_classical(image)
    assert labels.dtype == np.int32 and labels.shape == (120, 160)
    assert count_leaves(labels) == 2
    assert len(np.unique(labels[40, 40:42])) == 1 and labels[40, 40] != labels[60, 120]


def test_two_touching_discs_are_split_at_the_neck():
    image, _ = _discs((100, 140), [(50, 45), (50, 95)], radius=22)
    labels = segment_classical(image)
    assert count_leaves(labels) == 2
    assert labels[50, 35] != labels[50, 105]


def test_no_plant_gives_no_leaf():
    labels = segment_classical(np.full((50, 60, 3), 0.3, dtype=np.float32))
    assert labels.shape == (50, 60) and not labels.any()


@pytest.mark.parametrize("seed", range(4))
def test_synthetic_rosette_foreground_and_count(seed):
    image, truth = make_rosette(np.random.default_rng(seed), n_leaves=6)
    scores = score_image(segment_classical(image), truth)
    assert scores.fbd > 0.8
    assert 3 <= scores.count_pred <= 12


def test_larger_min_distance_gives_fewer_leaves():
    image, _ = make_rosette(np.random.default_rng(7), n_leaves=10)
    many = count_leaves(segment_classical(image, min_distance_fraction=0.03))
    few = count_leaves(segment_classical(image, min_distance_fraction=0.3))
    assert few < many


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((10, 10), dtype=np.float32),
        np.zeros((10, 10, 4), dtype=np.float32),
        np.zeros((10, 10, 3), dtype=np.uint8),
    ],
)
def test_bad_image_is_rejected(image):
    with pytest.raises(ImageReadError, match=r"expected an \(H, W, 3\) float array"):
        segment_classical(image)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_distance_fraction": 0.0}, "min_distance_fraction: expected a fraction in"),
        ({"min_distance_fraction": 1.5}, "min_distance_fraction: expected a fraction in"),
        ({"smoothing": -1.0}, "smoothing: expected a sigma >= 0"),
        ({"opening_radius": -1}, "opening_radius: expected a radius >= 0"),
        ({"min_object_fraction": 1.0}, r"min_object_fraction: expected a fraction in \[0, 1\)"),
    ],
)
def test_bad_options_are_rejected(options, message):
    image, _ = _discs((40, 40), [(20, 20)], radius=8)
    with pytest.raises(ConfigError, match=message):
        segment_classical(image, **options)
