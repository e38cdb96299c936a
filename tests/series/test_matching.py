"""Alignment of a plant between dates and the matching of its leaves."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from leafcount.data.synth import make_rosette
from leafcount.series.align import Alignment, align_frames, angle_around, fit_alignment
from leafcount.series.frames import plant_frames
from leafcount.series.linking import match_dates
from leafcount.series.naming import SeriesImage


def _frame(labels: np.ndarray, day: int = 1):
    image = SeriesImage(Path(f"p_{day}.png"), "p", datetime(2026, 3, day), f"p_{day}")
    return plant_frames(image, labels, [])[0]


def test_the_turn_and_growth_of_a_rosette_are_found(moved):
    _, labels = make_rosette(np.random.default_rng(12), (180, 190), n_leaves=9)
    later = moved(labels, 1.15, 17.0, (5.0, -7.0))
    alignment = align_frames(_frame(labels), _frame(later, 2))
    assert alignment.turn_deg == pytest.approx(17.0, abs=3.0)
    assert alignment.scale == pytest.approx(1.15, rel=0.05)


def test_matched_points_give_the_exact_similarity():
    truth = Alignment((50.0, 60.0), (58.0, 51.0), scale=1.3, turn_deg=-22.0)
    points = np.random.default_rng(0).uniform(0, 100, (6, 2))
    fitted = fit_alignment(points, truth.apply(points), np.ones(6))
    assert fitted.turn_deg == pytest.approx(-22.0) and fitted.scale == pytest.approx(1.3)
    assert np.allclose(fitted.apply(points), truth.apply(points))


def test_angles_run_counter_clockwise_from_east_as_on_screen():
    centre = np.array([10.0, 10.0])
    points = np.array([[10.0, 15.0], [5.0, 10.0], [10.0, 5.0], [15.0, 10.0]])  # right, up, left, down
    assert angle_around(points, centre).tolist() == [0.0, 90.0, 180.0, 270.0]


def test_leaves_are_matched_through_a_turn_and_a_vanished_leaf_is_not_replaced(moved):
    _, labels = make_rosette(np.random.default_rng(13), (180, 190), n_leaves=8)
    later = moved(labels, 1.1, 12.0, (4.0, 3.0))
    later[later == 2] = 0
    matches = match_dates(_frame(labels), _frame(later, 2))  # its big leaf gone, the area ratio misleads
    present = set(np.unique(later[later > 0]).tolist())
    assert matches == {leaf: leaf for leaf in present}
