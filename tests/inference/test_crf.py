"""Dense-CRF refinement: edges snap to colour, ids survive, errors are clear."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from leafcount.analysis.metrics import dice
from leafcount.errors import (
    ConfigError,
    ImageReadError,
    LabelFormatError,
    LeafcountError,
)
from leafcount.inference.crf import CrfConfig, is_crf_available, refine_labels

needs_crf = pytest.mark.skipif(not is_crf_available(), reason="pydensecrf2 does not import on this machine")

LEFT_ID, RIGHT_ID = 7, 3


@pytest.fixture
def two_leaf_scene() -> tuple[np.ndarray, np.ndarray]:
    """A 60x80 photo with two leaves of distinct colours on soil, and their true labels."""
    truth = np.zeros((60, 80), dtype=np.int32)
    truth[15:45, 20:35] = LEFT_ID
    truth[15:45, 35:50] = RIGHT_ID
    image = np.empty((60, 80, 3), dtype=np.float32)
    image[:] = (0.35, 0.25, 0.15)
    image[truth == LEFT_ID] = (0.1, 0.7, 0.2)
    image[truth == RIGHT_ID] = (0.5, 0.9, 0.1)
    return image, truth


def shifted(labels: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return np.roll(labels, (rows, cols), axis=(0, 1))


@needs_crf
def test_refinement_moves_shifted_leaves_onto_their_edges(two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    image, truth = two_leaf_scene
    guess = shifted(truth, 3, 4)
    refined = refine_labels(image, guess)
    assert refined.dtype == np.int32
    assert refined.shape == truth.shape
    assert set(np.unique(refined)) <= {0, LEFT_ID, RIGHT_ID}
    for leaf in (LEFT_ID, RIGHT_ID):
        before = dice(guess == leaf, truth == leaf)
        after = dice(refined == leaf, truth == leaf)
        assert after > before + 0.1, (leaf, before, after)


@needs_crf
def test_refinement_from_blurry_probabilities(two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    image, truth = two_leaf_scene
    guess = shifted(truth, -3, 3)
    # Soft, shifted maps: background first, then leaves in increasing id order.
    maps = np.stack([gaussian_filter((guess == v).astype(np.float32), 3.0) for v in (0, RIGHT_ID, LEFT_ID)])
    maps /= maps.sum(axis=0, keepdims=True)
    refined = refine_labels(image, guess, prob_stack=maps)
    for leaf in (LEFT_ID, RIGHT_ID):
        assert dice(refined == leaf, truth == leaf) > dice(guess == leaf, truth == leaf) + 0.1


@needs_crf
def test_refinement_keeps_right_labels_and_large_ids() -> None:
    truth = np.zeros((40, 40), dtype=np.int64)
    truth[10:30, 10:30] = 2**31 - 1
    image = np.zeros((40, 40, 3), dtype=np.float32)
    image[truth > 0] = (0.2, 0.8, 0.2)
    refined = refine_labels(image, truth)
    assert refined.dtype == np.int32
    np.testing.assert_array_equal(refined, truth)


@needs_crf
def test_labels_without_leaves_come_back_unchanged(two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    image, _ = two_leaf_scene
    empty = np.zeros(image.shape[:2], dtype=np.int32)
    refined = refine_labels(image, empty)
    assert refined.dtype == np.int32
    np.testing.assert_array_equal(refined, empty)


def test_unavailable_crf_is_reported(monkeypatch: pytest.MonkeyPatch, two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    # A None entry in sys.modules makes the import raise ImportError, as on a
    # machine where the package or its compiled module is missing.
    monkeypatch.setitem(sys.modules, "pydensecrf", None)
    monkeypatch.setitem(sys.modules, "pydensecrf.densecrf", None)
    assert is_crf_available() is False
    image, truth = two_leaf_scene
    with pytest.raises(LeafcountError, match=r"dense CRF is unavailable: install pydensecrf2") as info:
        refine_labels(image, truth)
    assert isinstance(info.value.__cause__, ImportError)


def test_rejects_image_of_another_size(two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    image, truth = two_leaf_scene
    with pytest.raises(LabelFormatError, match=r"labels shape \(60, 80\) does not match image shape \(60, 79, 3\)"):
        refine_labels(image[:, :79], truth)


@pytest.mark.parametrize(
    "image",
    [np.zeros((60, 80), np.float32), np.zeros((60, 80, 3), np.uint8), np.zeros((60, 80, 4), np.float32)],
)
def test_rejects_image_that_is_not_float_rgb(two_leaf_scene: tuple[np.ndarray, np.ndarray], image: np.ndarray) -> None:
    _, truth = two_leaf_scene
    with pytest.raises(ImageReadError, match=r"expected an \(H, W, 3\) float array in \[0, 1\], found shape"):
        refine_labels(image, truth)


def test_rejects_non_finite_image(two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    image, truth = two_leaf_scene
    image[0, 0, 0] = np.nan
    with pytest.raises(ImageReadError, match="found NaN or infinity"):
        refine_labels(image, truth)


def test_rejects_bad_labels(two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    image, truth = two_leaf_scene
    with pytest.raises(LabelFormatError, match="expected an integer dtype, found float32"):
        refine_labels(image, truth.astype(np.float32))
    with pytest.raises(LabelFormatError, match=r"leaf ids must fit int32, found 2147483648"):
        refine_labels(image, np.where(truth > 0, 2**31, 0))


def test_rejects_prob_stack_of_wrong_shape(two_leaf_scene: tuple[np.ndarray, np.ndarray]) -> None:
    image, truth = two_leaf_scene
    with pytest.raises(LabelFormatError, match=r"expected shape \(3, 60, 80\) \(background \+ 2 leaves\), found \(2, 60, 80\)"):
        refine_labels(image, truth, prob_stack=np.full((2, 60, 80), 0.5, np.float32))


@pytest.mark.parametrize(
    ("maps", "message"),
    [
        (np.full((3, 60, 80), 1.5, np.float32), r"expected probabilities in \[0, 1\]"),
        (np.full((3, 60, 80), np.nan, np.float32), r"expected probabilities in \[0, 1\]"),
        (np.ones((3, 60, 80), np.uint8), "expected float probabilities, found dtype uint8"),
    ],
)
def test_rejects_prob_stack_with_bad_values(
    two_leaf_scene: tuple[np.ndarray, np.ndarray], maps: np.ndarray, message: str
) -> None:
    image, truth = two_leaf_scene
    with pytest.raises(LabelFormatError, match=message):
        refine_labels(image, truth, prob_stack=maps)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("iterations", 0),
        ("iterations", 2.5),
        ("iterations", True),
        ("gaussian_sxy", 0.0),
        ("bilateral_sxy", -1.0),
        ("bilateral_srgb", float("nan")),
        ("gaussian_compat", -0.5),
        ("bilateral_compat", "10"),
        ("gt_prob", 1.0),
        ("gt_prob", 0.0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"^{field} must be"):
        CrfConfig(**{field: value})


def test_config_round_trips_through_dict() -> None:
    config = CrfConfig(iterations=8, bilateral_srgb=20.0)
    assert CrfConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert CrfConfig.from_dict({}) == CrfConfig()


def test_config_from_dict_rejects_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown CRF setting 'sigma'"):
        CrfConfig.from_dict({"iterations": 3, "sigma": 2.0})


def test_checkpoint_settings_override_the_defaults() -> None:
    tuned = CrfConfig.for_checkpoint({"crf": {"gt_prob": 0.8, "bilateral_sxy": 20.0}})
    assert tuned == CrfConfig(gt_prob=0.8, bilateral_sxy=20.0)
    assert CrfConfig.for_checkpoint({"model": "old, untuned"}) == CrfConfig()


@pytest.mark.parametrize(
    ("meta", "message"),
    [({"crf": [0.8]}, "checkpoint meta 'crf' must be a mapping, got list"),
     ({"crf": {"sharpness": 2}}, "unknown CRF setting 'sharpness'"),
     ({"crf": {"gt_prob": 1.5}}, "gt_prob must be a probability in")],
)
def test_bad_checkpoint_settings_are_named(meta: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CrfConfig.for_checkpoint(meta)
