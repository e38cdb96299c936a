"""Tests for leafcount.data.augment: image and labels move together."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from leafcount.data.augment import AugmentConfig, augment
from leafcount.errors import ConfigError, LabelFormatError

NO_COLOUR = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0}


def _marked(height: int = 20, width: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """A random image and labels with one marked pixel at (2, 5), label 7."""
    image = np.random.default_rng(0).uniform(0.2, 0.8, (height, width, 3)).astype(np.float32)
    labels = np.zeros((height, width), np.int32)
    labels[8:14, 6:12] = 3
    labels[2, 5] = 7
    image[2, 5] = (1.0, 0.0, 0.0)
    return image, labels


def _transforms(image: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The four flip combinations and the three quarter turns."""
    flips = [(image, labels), (image[:, ::-1], labels[:, ::-1]), (image[::-1], labels[::-1]),
             (image[::-1, ::-1], labels[::-1, ::-1])]  # fmt: skip
    turns = [(np.rot90(image, k), np.rot90(labels, k)) for k in (1, 3)]
    return flips + turns


def _which(result, candidates) -> int:
    """Index of the candidate the result equals exactly (image and labels alike)."""
    matches = [
        i
        for i, (image, labels) in enumerate(candidates)
        if np.array_equal(result[0], image) and np.array_equal(result[1], labels)
    ]
    assert len(matches) >= 1, "not an exact flip or quarter turn"
    return matches[0]


def test_identity_when_everything_is_off():
    image, labels = _marked()
    config = AugmentConfig(p_flip=0.0, p_rotate=0.0, scale_range=(1.0, 1.0), **NO_COLOUR)
    out_image, out_labels = augment(image, labels, np.random.default_rng(0), config)
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_labels, labels)


def test_both_flips_move_the_marked_pixel_with_its_label():
    image, labels = _marked(20, 30)
    config = AugmentConfig(p_flip=1.0, p_rotate=0.0, scale_range=(1.0, 1.0), **NO_COLOUR)
    out_image, out_labels = augment(image, labels, np.random.default_rng(0), config)
    assert out_labels[20 - 1 - 2, 30 - 1 - 5] == 7
    np.testing.assert_array_equal(out_image[17, 24], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(out_image, image[::-1, ::-1])


def test_flips_are_exact_and_every_combination_occurs():
    image, labels = _marked()
    config = AugmentConfig(p_flip=0.5, p_rotate=0.0, scale_range=(1.0, 1.0), **NO_COLOUR)
    candidates = _transforms(image, labels)
    seen = {
        _which(augment(image, labels, np.random.default_rng(seed), config), candidates)
        for seed in range(40)
    }
    assert seen == {0, 1, 2, 3}


def test_quarter_turns_of_a_square_image_are_exact():
    image, labels = _marked()
    config = AugmentConfig(
        p_flip=0.0, p_rotate=1.0, rotate="right_angles", scale_range=(1.0, 1.0), **NO_COLOUR
    )
    candidates = _transforms(image, labels)
    seen = set()
    for seed in range(30):
        out_image, out_labels = augment(image, labels, np.random.default_rng(seed), config)
        seen.add(_which((out_image, out_labels), candidates))
        row, col = np.argwhere(out_labels == 7)[0]
        np.testing.assert_array_equal(out_image[row, col], [1.0, 0.0, 0.0])
    assert seen == {3, 4, 5}  # 180 degrees equals both flips


def test_quarter_turn_of_a_non_square_image_keeps_the_shape():
    image, labels = _marked(20, 30)
    config = AugmentConfig(
        p_flip=0.0, p_rotate=1.0, rotate="right_angles", scale_range=(1.0, 1.0), **NO_COLOUR
    )
    for seed in range(10):
        out_image, out_labels = augment(image, labels, np.random.default_rng(seed), config)
        assert out_image.shape == (20, 30, 3) and out_labels.shape == (20, 30)
        assert set(np.unique(out_labels)) <= {0, 3, 7}


def test_any_angle_keeps_shape_dtype_and_only_input_ids():
    image, labels = _marked(40, 50)
    labels[20:30, 30:45] = 12
    config = AugmentConfig(p_rotate=1.0)
    for seed in range(10):
        out_image, out_labels = augment(image, labels, np.random.default_rng(seed), config)
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        assert out_labels.shape == labels.shape and out_labels.dtype == np.int32
        assert set(np.unique(out_labels)) <= {0, 3, 7, 12}
        assert 0.0 <= out_image.min() and out_image.max() <= 1.0


def test_rotation_fills_corners_with_image_and_background_labels():
    image = np.full((40, 40, 3), 0.5, np.float32)
    labels = np.ones((40, 40), np.int32)  # a leaf everywhere
    config = AugmentConfig(p_flip=0.0, p_rotate=1.0, scale_range=(1.0, 1.0), **NO_COLOUR)
    out_image, out_labels = augment(image, labels, np.random.default_rng(3), config)
    assert out_image.min() > 0.45  # edge-filled, no black corners
    if not np.all(out_labels == 1):  # an angle off the right angles: corners come from outside
        assert out_labels[0, 0] == 0 or out_labels[0, -1] == 0
    np.testing.assert_array_equal(out_labels[15:25, 15:25], 1)


def test_rotation_moves_labels_with_the_image():
    """After any rotation the red square and label 5 still coincide.

    The square stays clear of the borders, whose mirror image fills the
    margins unlabelled when zooming out.
    """
    image = np.zeros((60, 60, 3), np.float32)
    labels = np.zeros((60, 60), np.int32)
    image[18:30, 30:42, 0] = 1.0
    labels[18:30, 30:42] = 5
    config = AugmentConfig(p_flip=0.5, p_rotate=1.0, scale_range=(0.8, 1.2), **NO_COLOUR)
    for seed in range(8):
        out_image, out_labels = augment(image, labels, np.random.default_rng(seed), config)
        red = out_image[..., 0] > 0.5
        assert (red & (out_labels == 5)).sum() / red.sum() > 0.9


def test_zoom_in_enlarges_leaves():
    image = np.zeros((40, 40, 3), np.float32)
    labels = np.zeros((40, 40), np.int32)
    labels[15:25, 15:25] = 1
    config = AugmentConfig(p_flip=0.0, p_rotate=0.0, scale_range=(2.0, 2.0), **NO_COLOUR)
    _, out_labels = augment(image, labels, np.random.default_rng(0), config)
    assert 350 <= (out_labels == 1).sum() <= 450  # 100 pixels, 4 times the area


def test_colour_jitter_changes_only_the_image():
    image, labels = _marked()
    config = AugmentConfig(
        p_flip=0.0, p_rotate=0.0, scale_range=(1.0, 1.0),
        brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2,
    )  # fmt: skip
    out_image, out_labels = augment(image, labels, np.random.default_rng(1), config)
    np.testing.assert_array_equal(out_labels, labels)
    assert not np.allclose(out_image, image)
    assert 0.0 <= out_image.min() and out_image.max() <= 1.0


def test_hue_and_saturation_leave_grey_grey():
    image = np.full((8, 8, 3), 0.4, np.float32)
    config = AugmentConfig(
        p_flip=0.0, p_rotate=0.0, scale_range=(1.0, 1.0),
        brightness=0.0, contrast=0.0, saturation=0.9, hue=0.5,
    )  # fmt: skip
    out_image, _ = augment(image, np.zeros((8, 8), np.int32), np.random.default_rng(2), config)
    np.testing.assert_allclose(out_image, 0.4, atol=1e-5)


def test_same_seed_same_output_and_seeds_differ():
    image, labels = _marked(30, 40)
    first = augment(image, labels, np.random.default_rng(5))
    second = augment(image, labels, np.random.default_rng(5))
    third = augment(image, labels, np.random.default_rng(6))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], third[0])


def test_inputs_are_not_modified():
    image, labels = _marked()
    image_copy, labels_copy = image.copy(), labels.copy()
    augment(image, labels, np.random.default_rng(0), AugmentConfig(p_flip=1.0, p_rotate=1.0))
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(labels, labels_copy)


def test_augment_is_fast():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (250, 265, 3)).astype(np.float32)
    labels = rng.integers(0, 20, (250, 265)).astype(np.int32)
    config = AugmentConfig(p_rotate=1.0)
    augment(image, labels, rng, config)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        augment(image, labels, rng, config)
        timings.append(time.perf_counter() - start)
    # About 10 ms on an idle core; room for a busy CI machine.
    assert min(timings) < 0.04


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": np.zeros((4, 4))}, r"image must have shape \(H, W, 3\), got \(4, 4\)"),
        ({"labels": np.zeros((4, 5), np.int32)}, r"labels shape \(4, 5\) does not match"),
        ({"labels": np.zeros((4, 4), np.float32)}, "labels must be integers, got dtype float32"),
    ],
)
def test_augment_rejects_bad_arrays(kwargs, message):
    arrays = {"image": np.zeros((4, 4, 3), np.float32), "labels": np.zeros((4, 4), np.int32)}
    arrays.update(kwargs)
    error = ValueError if "image" in kwargs else LabelFormatError
    with pytest.raises(error, match=message):
        augment(arrays["image"], arrays["labels"], np.random.default_rng(0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p_flip": 1.5}, r"p_flip must be in \[0, 1\], got 1.5"),
        ({"p_rotate": -0.1}, r"p_rotate must be in \[0, 1\], got -0.1"),
        ({"rotate": "some"}, "rotate must be \"any\" or \"right_angles\", got 'some'"),
        ({"scale_range": (1.2, 0.8)}, "scale_range must be"),
        ({"scale_range": (0.0, 1.0)}, "scale_range must be"),
        ({"scale_range": (1.0,)}, "scale_range must be"),
        ({"brightness": 1.5}, r"brightness must be in \[0, 1\]"),
        ({"contrast": -1.0}, r"contrast must be in \[0, 1\]"),
        ({"saturation": 2.0}, r"saturation must be in \[0, 1\]"),
        ({"hue": 0.6}, r"hue must be in \[0, 0.5\], got 0.6"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AugmentConfig(**kwargs)


def test_config_round_trips_through_json():
    config = AugmentConfig(p_flip=0.2, rotate="right_angles", scale_range=(0.9, 1.1), hue=0.0)
    restored = AugmentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config
    assert restored.scale_range == (0.9, 1.1)


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown augmentation setting 'p_flop'"):
        AugmentConfig.from_dict({"p_flop": 0.5})
