"""Tests for leafcount.data.synth: procedural rosettes and synthetic CVPPP folders."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
from PIL import Image

from leafcount.data.cvppp import list_samples, load_pair, load_split
from leafcount.data.synth import make_growing_rosette, make_rosette, write_series_folder, write_synth_folder
from leafcount.errors import ConfigError, LeafcountError


def test_rosette_arrays_follow_the_conventions():
    image, labels = make_rosette(np.random.default_rng(0))
    assert image.shape == (250, 265, 3) and image.dtype == np.float32
    assert labels.shape == (250, 265) and labels.dtype == np.int32
    assert 0.0 <= image.min() and image.max() <= 1.0
    n = labels.max()
    assert 2 <= n <= 20
    np.testing.assert_array_equal(np.unique(labels), np.arange(n + 1))  # consecutive


@pytest.mark.parametrize("seed", range(12))
def test_every_leaf_is_visible_enough(seed):
    _, labels = make_rosette(np.random.default_rng(seed))
    areas = np.bincount(labels.ravel())[1:]
    assert areas.min() >= 30


@pytest.mark.parametrize("n_leaves", [0, 1, 5, 12, 20])
def test_requested_leaf_count(n_leaves):
    _, labels = make_rosette(np.random.default_rng(n_leaves), n_leaves=n_leaves)
    assert labels.max() == n_leaves


def test_same_generator_state_same_rosette():
    first = make_rosette(np.random.default_rng(7), shape=(120, 130))
    second = make_rosette(np.random.default_rng(7), shape=(120, 130))
    third = make_rosette(np.random.default_rng(8), shape=(120, 130))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], third[0])


def test_other_shapes():
    image, labels = make_rosette(np.random.default_rng(3), shape=(64, 200), n_leaves=4)
    assert image.shape == (64, 200, 3) and labels.shape == (64, 200)
    assert labels.max() == 4


def test_leaves_are_green_and_soil_is_not():
    for seed in range(5):
        image, labels = make_rosette(np.random.default_rng(seed))
        leaf, soil = image[labels > 0], image[labels == 0]
        assert (leaf[:, 1] > leaf[:, 0]).mean() > 0.75  # green above red (some leaves yellow)
        assert (soil[:, 1] > soil[:, 0] + 0.1).mean() < 0.2


def test_younger_leaves_lie_nearer_the_centre():
    """Later (younger) leaves are shorter, so their pixels sit closer to the centre."""
    _, labels = make_rosette(np.random.default_rng(11), n_leaves=15)
    rows, cols = np.nonzero(labels)
    centre = rows.mean(), cols.mean()
    distance = np.hypot(rows - centre[0], cols - centre[1])
    mean_distance = np.bincount(labels[rows, cols], weights=distance)[1:] / np.bincount(
        labels[rows, cols]
    )[1:]
    assert np.corrcoef(np.arange(len(mean_distance)), mean_distance)[0, 1] < -0.5


def test_labels_follow_the_painted_leaves():
    """Pixels change colour where the labels change: the labels are what is visible."""
    image, labels = make_rosette(np.random.default_rng(5), n_leaves=6)
    for leaf in range(1, 7):
        inside = image[labels == leaf].mean(axis=0)
        soil = image[labels == 0].mean(axis=0)
        assert np.abs(inside - soil).sum() > 0.15


def test_rosette_is_fast():
    rng = np.random.default_rng(0)
    make_rosette(rng, n_leaves=20)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        make_rosette(rng, n_leaves=20)
        timings.append(time.perf_counter() - start)
    # About 20 ms on an idle core; the bound leaves room for a loaded 2-core CI
    # machine (0.13 s seen beside a training job) and still fails for anything
    # that loops over pixels in Python (seconds).
    assert min(timings) < 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": (20, 100)}, r"shape must be at least \(32, 32\), got \(20, 100\)"),
        ({"n_leaves": -1}, r"n_leaves must be in \[0, 50\], got -1"),
        ({"n_leaves": 51}, r"n_leaves must be in \[0, 50\], got 51"),
    ],
)
def test_make_rosette_rejects_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_rosette(np.random.default_rng(0), **kwargs)


def _leaf_centroids(labels: np.ndarray) -> dict[int, np.ndarray]:
    return {int(leaf): np.argwhere(labels == leaf).mean(axis=0) for leaf in np.unique(labels[labels > 0])}


def test_a_growing_rosette_keeps_its_leaf_ids_and_grows_new_ones_at_the_centre():
    series = make_growing_rosette(np.random.default_rng(2), 4, (120, 128), n_leaves=10, first_leaves=5,
                                  max_turn_deg=0.0, max_shift=0.0)
    ids = [set(np.unique(labels[labels > 0]).tolist()) for _, labels in series]
    assert ids[0] <= set(range(1, 6)) and ids[-1] == set(range(1, 11))
    assert all(a <= b for a, b in zip(ids, ids[1:]))  # nothing vanishes while it grows
    areas = [(labels > 0).sum() for _, labels in series]
    assert all(a < b for a, b in zip(areas, areas[1:]))
    first, last = _leaf_centroids(series[0][1]), _leaf_centroids(series[-1][1])
    centre = np.argwhere(series[-1][1] > 0).mean(axis=0)
    for leaf in first:  # still the same leaf: it points the same way, only further out
        before, after = first[leaf] - centre, last[leaf] - centre
        assert np.dot(before, after) / (np.linalg.norm(before) * np.linalg.norm(after)) > 0.9
    newcomers = sorted(ids[-1] - ids[0])
    old = np.mean([np.linalg.norm(last[leaf] - centre) for leaf in ids[0]])
    assert np.mean([np.linalg.norm(last[leaf] - centre) for leaf in newcomers]) < old


def test_a_growing_rosette_moves_and_turns_between_dates():
    still = make_growing_rosette(np.random.default_rng(4), 2, (96, 96), n_leaves=6, first_leaves=6,
                                 max_turn_deg=0.0, max_shift=0.0)
    moving = make_growing_rosette(np.random.default_rng(4), 2, (96, 96), n_leaves=6, first_leaves=6,
                                  max_turn_deg=20.0, max_shift=6.0)
    np.testing.assert_array_equal(still[0][1], moving[0][1])  # the first date is where the plant starts
    assert not np.array_equal(still[1][1], moving[1][1])
    again = make_growing_rosette(np.random.default_rng(4), 2, (96, 96), n_leaves=6, first_leaves=6,
                                 max_turn_deg=20.0, max_shift=6.0)
    np.testing.assert_array_equal(moving[1][0], again[1][0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_dates": 0}, "n_dates must be at least 1, got 0"),
        ({"n_leaves": 0}, r"n_leaves must be in \[1, 50\], got 0"),
        ({"n_leaves": 4, "first_leaves": 5}, r"first_leaves must be in \[1, n_leaves=4\], got 5"),
        ({"shape": (31, 64)}, r"shape must be at least \(32, 32\), got \(31, 64\)"),
    ],
)
def test_make_growing_rosette_rejects_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_growing_rosette(np.random.default_rng(0), **{"n_dates": 2, **kwargs})


def test_write_synth_folder_is_a_cvppp_folder(tmp_path):
    out = tmp_path / "synth"
    paths = write_synth_folder(out, 5, seed=3, shape=(80, 90))
    assert [p.name for p in paths] == [f"plant00{i}_rgb.png" for i in range(1, 6)]
    with Image.open(paths[0]) as img:
        assert img.mode == "RGB"
    with Image.open(out / "plant001_label.png") as img:
        assert img.mode == "P"

    samples = list_samples(out)
    assert [s.image_path for s in samples] == paths
    with open(out / "Leaf_counts.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert [row[0] for row in rows] == [p.name for p in paths]
    for sample, row in zip(samples, rows):
        image, labels = load_pair(sample)
        assert image.shape == (80, 90, 3)
        assert int(row[1]) == len(np.unique(labels)) - 1 >= 1

    split = load_split(out)
    assert len(split["train"]) == 4 and len(split["val"]) == 1
    assert sorted(split["train"] + split["val"]) == [s.name for s in samples]


def test_write_synth_folder_is_deterministic(tmp_path):
    write_synth_folder(tmp_path / "a", 2, seed=9, shape=(64, 64))
    write_synth_folder(tmp_path / "b", 2, seed=9, shape=(64, 64))
    for name in ("plant002_rgb.png", "plant002_label.png", "Leaf_counts.csv", "split.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_write_synth_folder_single_plant_has_no_val(tmp_path):
    write_synth_folder(tmp_path, 1, shape=(64, 64))
    assert load_split(tmp_path) == {"train": ["plant001"], "val": []}


def test_write_synth_folder_rejects_zero_plants(tmp_path):
    with pytest.raises(ConfigError, match="n must be at least 1, got 0"):
        write_synth_folder(tmp_path, 0)


def test_write_synth_folder_into_a_file(tmp_path):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(LeafcountError, match="taken: cannot create the folder"):
        write_synth_folder(tmp_path / "taken", 1)


def test_write_series_folder_is_a_series_with_its_truth_aside(tmp_path):
    from leafcount.data.cvppp import read_labels
    from leafcount.series.naming import read_series

    paths = write_series_folder(tmp_path / "series", 2, 3, seed=1, shape=(64, 64), days_between=3)
    assert [p.name for p in paths[:3]] == ["plant01_2026-03-01.png", "plant01_2026-03-04.png", "plant01_2026-03-07.png"]
    listing = read_series([tmp_path / "series"])
    assert [(i.plant, i.time.day) for i in listing.images] == [("plant01", d) for d in (1, 4, 7)] + [
        ("plant02", d) for d in (1, 4, 7)]
    assert listing.left_out == ()  # the truth/ folder is neither a date nor photos of the series
    first, last = (read_labels(tmp_path / "series" / "truth" / f"plant02_2026-03-0{d}_label.png") for d in (1, 7))
    assert set(np.unique(first)) <= set(np.unique(last)) and last.max() > first.max()


def test_write_series_folder_rejects_bad_counts(tmp_path):
    with pytest.raises(ConfigError, match="n_plants must be at least 1, got 0"):
        write_series_folder(tmp_path, 0, 3)
    with pytest.raises(ConfigError, match="days_between must be at least 1, got 0"):
        write_series_folder(tmp_path, 1, 3, days_between=0)
