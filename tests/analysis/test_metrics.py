"""CVPPP metrics: hand-computed values, conventions and input validation."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from leafcount.analysis import metrics
from leafcount.analysis.metrics import (
    ImageScores,
    abs_difference_in_count,
    best_dice,
    check_labels,
    count_leaves,
    dice,
    difference_in_count,
    foreground_dice,
    format_summary,
    relabel_consecutive,
    score_image,
    summarize,
    symmetric_best_dice,
)
from leafcount.errors import LabelFormatError, LeafcountError

# Two 2x2 leaves in the corners of a 4x4 image.
TRUTH = np.array(
    [
        [1, 1, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 2, 2],
        [0, 0, 2, 2],
    ],
    dtype=np.int32,
)
# Leaf 1 exact; leaf 2 cut to its top row and one extra background pixel.
PRED = np.array(
    [
        [1, 1, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 2, 2],
        [0, 2, 0, 0],
    ],
    dtype=np.int32,
)


def brute_force_best_dice(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """The organisers' loop, written from the CVPPP definition (reference only)."""
    leaves_a = [v for v in np.unique(labels_a) if v != 0]
    leaves_b = [v for v in np.unique(labels_b) if v != 0]
    if not leaves_a:
        return 0.0
    total = 0.0
    for i in leaves_a:
        mask_a = labels_a == i
        best = 0.0
        for j in leaves_b:
            mask_b = labels_b == j
            best = max(best, 2 * np.sum(mask_a & mask_b) / (mask_a.sum() + mask_b.sum()))
        total += best
    return total / len(leaves_a)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(metrics)
    assert result.attempted >= 10
    assert result.failed == 0


def test_count_leaves_counts_distinct_labels_not_max_minus_min() -> None:
    labels = np.array([[0, 3], [7, 7]], dtype=np.int32)
    assert count_leaves(labels) == 2
    assert count_leaves(np.zeros((3, 3), dtype=np.uint8)) == 0
    # No background at all: every label is a leaf.
    assert count_leaves(np.array([[4, 5], [5, 6]], dtype=np.uint16)) == 3


def test_count_leaves_with_huge_ids_uses_same_count() -> None:
    labels = np.array([[0, 2**40], [5, 5]], dtype=np.int64)
    assert count_leaves(labels) == 2


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
def test_relabel_consecutive_keeps_background_and_order(dtype: type) -> None:
    labels = np.array([[0, 9], [4, 9]], dtype=dtype)
    leaf_ids, consecutive = relabel_consecutive(labels)
    assert leaf_ids.tolist() == [4, 9]
    assert consecutive.tolist() == [[0, 2], [1, 2]]


def test_relabel_consecutive_without_background_and_with_huge_ids() -> None:
    labels = np.array([[2**40, 6], [6, 6]], dtype=np.int64)
    leaf_ids, consecutive = relabel_consecutive(labels)
    assert leaf_ids.tolist() == [6, 2**40]
    assert consecutive.tolist() == [[2, 1], [1, 1]]


def test_dice_hand_computed() -> None:
    a = np.array([[True, True], [True, False]])
    b = np.array([[True, False], [False, False]])
    assert dice(a, b) == pytest.approx(2 * 1 / (3 + 1))
    assert dice(a, a) == 1.0
    assert dice(a, ~a) == 0.0


def test_dice_of_two_empty_masks_is_zero_like_cvppp() -> None:
    empty = np.zeros((2, 2), dtype=bool)
    assert dice(empty, empty) == 0.0


def test_dice_rejects_non_boolean_masks() -> None:
    with pytest.raises(LabelFormatError, match=r"mask_b: expected a boolean mask, found dtype int64"):
        dice(np.ones((2, 2), dtype=bool), np.ones((2, 2), dtype=np.int64))


def test_dice_rejects_shape_mismatch() -> None:
    with pytest.raises(LabelFormatError, match=r"mask_a \(2, 2\), mask_b \(3, 2\)"):
        dice(np.ones((2, 2), dtype=bool), np.ones((3, 2), dtype=bool))


def test_best_dice_hand_computed_both_directions() -> None:
    # PRED leaf 1 vs TRUTH leaf 1: 2*4/(4+4) = 1.
    # PRED leaf 2 (3 px) vs TRUTH leaf 2 (4 px) sharing 2 px: 2*2/7 = 4/7.
    assert best_dice(PRED, TRUTH) == pytest.approx((1 + 4 / 7) / 2)
    assert best_dice(TRUTH, PRED) == pytest.approx((1 + 4 / 7) / 2)


def test_best_dice_is_asymmetric_and_sbd_takes_the_minimum() -> None:
    merged = np.where(TRUTH > 0, 1, 0).astype(np.int32)  # both leaves as one
    # merged -> truth: its one leaf (8 px) best matches a 4 px leaf: 8/12.
    assert best_dice(merged, TRUTH) == pytest.approx(2 / 3)
    # truth -> merged: each 4 px leaf against the 8 px leaf: 8/12 each.
    assert best_dice(TRUTH, merged) == pytest.approx(2 / 3)
    split = np.array(
        [
            [1, 3, 0, 0],
            [1, 3, 0, 0],
            [0, 0, 2, 2],
            [0, 0, 2, 2],
        ],
        dtype=np.int32,
    )
    # split -> truth: 2*2/6 for leaves 1 and 3, 1 for leaf 2.
    forward = (2 / 3 + 2 / 3 + 1) / 3
    # truth -> split: 2/3 for leaf 1, 1 for leaf 2.
    backward = (2 / 3 + 1) / 2
    assert best_dice(split, TRUTH) == pytest.approx(forward)
    assert best_dice(TRUTH, split) == pytest.approx(backward)
    assert symmetric_best_dice(split, TRUTH) == pytest.approx(min(forward, backward))


def test_best_dice_ignores_label_values() -> None:
    renamed = np.select([PRED == 1, PRED == 2], [7, 3], 0).astype(np.int32)
    assert best_dice(renamed, TRUTH) == pytest.approx(best_dice(PRED, TRUTH))
    huge = np.select([PRED == 1, PRED == 2], [10**9, 5], 0).astype(np.int64)
    assert best_dice(huge, TRUTH) == pytest.approx(best_dice(PRED, TRUTH))
    assert best_dice(TRUTH, huge) == pytest.approx(best_dice(TRUTH, PRED))


def test_best_dice_with_empty_images_is_zero() -> None:
    empty = np.zeros_like(TRUTH)
    assert best_dice(empty, TRUTH) == 0.0
    assert best_dice(TRUTH, empty) == 0.0
    assert best_dice(empty, empty) == 0.0
    assert symmetric_best_dice(empty, empty) == 0.0


def test_best_dice_matches_brute_force_with_many_labels() -> None:
    rng = np.random.default_rng(3)
    # 40 distinct ids per side on 8x8 pixels: the sparse table path.
    a = rng.integers(0, 40, size=(8, 8)).astype(np.int32)
    b = rng.integers(0, 40, size=(8, 8)).astype(np.int32)
    assert best_dice(a, b) == pytest.approx(brute_force_best_dice(a, b))
    assert best_dice(b, a) == pytest.approx(brute_force_best_dice(b, a))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.int32, (6, 7), elements=st.integers(0, 5)),
    hnp.arrays(np.int32, (6, 7), elements=st.integers(0, 5)),
)
def test_best_dice_matches_brute_force(labels_a: np.ndarray, labels_b: np.ndarray) -> None:
    assert best_dice(labels_a, labels_b) == pytest.approx(brute_force_best_dice(labels_a, labels_b))
    assert symmetric_best_dice(labels_a, labels_b) == pytest.approx(
        min(brute_force_best_dice(labels_a, labels_b), brute_force_best_dice(labels_b, labels_a))
    )


def test_foreground_dice_hand_computed() -> None:
    # Plant masks: PRED 7 px, TRUTH 8 px, 6 shared.
    assert foreground_dice(PRED, TRUTH) == pytest.approx(12 / 15)
    empty = np.zeros_like(TRUTH)
    assert foreground_dice(empty, TRUTH) == 0.0


def test_difference_in_count_signs() -> None:
    three = np.array([[1, 2], [9, 0]], dtype=np.int32)
    one = np.array([[5, 5], [0, 0]], dtype=np.int32)
    assert difference_in_count(three, one) == 2
    assert difference_in_count(one, three) == -2
    assert abs_difference_in_count(one, three) == 2


def test_score_image_collects_all_scores() -> None:
    scores = score_image(PRED, TRUTH, name="plant001")
    assert scores == ImageScores(
        name="plant001",
        sbd=pytest.approx((1 + 4 / 7) / 2),
        fbd=pytest.approx(12 / 15),
        dic=0,
        abs_dic=0,
        count_pred=2,
        count_true=2,
    )
    empty = score_image(np.zeros_like(TRUTH), TRUTH)
    assert (empty.sbd, empty.fbd, empty.dic, empty.abs_dic) == (0.0, 0.0, -2, 2)


def test_score_image_rejects_shape_mismatch_naming_both_shapes() -> None:
    with pytest.raises(LabelFormatError, match=r"prediction \(4, 4\), truth \(4, 5\)"):
        score_image(TRUTH, np.zeros((4, 5), dtype=np.int32))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros(5, dtype=np.int32), r"expected a 2-D \(H, W\) array, found shape \(5,\)"),
        (np.zeros((2, 2, 3), dtype=np.int32), r"found shape \(2, 2, 3\)"),
        (np.zeros((0, 4), dtype=np.int32), r"expected a non-empty image, found shape \(0, 4\)"),
        (np.zeros((2, 2), dtype=np.float32), r"expected an integer dtype, found float32"),
        (np.zeros((2, 2), dtype=bool), r"expected an integer dtype, found bool"),
        (np.array([[0, -3], [1, 1]]), r"labels must be >= 0 \(0 = background\), found -3"),
        ([[1, 2], [3]], r"expected a 2-D integer array, got list"),
    ],
)
def test_check_labels_rejects_bad_input(labels: object, message: str) -> None:
    with pytest.raises(LabelFormatError, match=message):
        check_labels(labels, name="plant007_label")


def test_check_labels_names_the_array() -> None:
    with pytest.raises(LabelFormatError, match=r"^truth: expected an integer dtype"):
        score_image(TRUTH, TRUTH.astype(np.float64))


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(
        dtype=st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes()),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
    ),
)
def test_random_arrays_raise_only_label_format_errors(array: np.ndarray) -> None:
    for pred, truth in ((array, array), (array, TRUTH), (TRUTH, array)):
        try:
            scores = score_image(pred, truth)
        except LabelFormatError:
            continue
        assert 0.0 <= scores.sbd <= 1.0
        assert 0.0 <= scores.fbd <= 1.0


def test_summarize_uses_n_minus_1_std() -> None:
    rows = [
        ImageScores("a", sbd=0.5, fbd=0.9, dic=1, abs_dic=1, count_pred=3, count_true=2),
        ImageScores("b", sbd=0.7, fbd=0.9, dic=-1, abs_dic=1, count_pred=1, count_true=2),
        ImageScores("c", sbd=0.9, fbd=0.9, dic=3, abs_dic=3, count_pred=5, count_true=2),
    ]
    summary = summarize(rows)
    assert set(summary) == {"sbd", "fbd", "dic", "abs_dic"}
    # Deviations from the mean 0.7 are -0.2, 0, 0.2: sqrt(0.08 / 2) = 0.2 (N would give 0.163).
    assert summary["sbd"] == pytest.approx((0.7, 0.2))
    assert summary["fbd"] == pytest.approx((0.9, 0.0))
    # Deviations from 1 are 0, -2, 2: sqrt(8 / 2) = 2.
    assert summary["dic"] == pytest.approx((1.0, 2.0))
    assert summary["abs_dic"] == pytest.approx((5 / 3, np.std([1, 1, 3], ddof=1)))


def test_summarize_one_image_has_zero_std_like_matlab() -> None:
    summary = summarize([ImageScores("a", 0.6, 0.8, -2, 2, 1, 3)])
    assert summary["sbd"] == pytest.approx((0.6, 0.0))
    assert summary["dic"] == (-2.0, 0.0)


def test_summarize_rejects_no_scores() -> None:
    with pytest.raises(LeafcountError, match="no image scores to summarize"):
        summarize([])


def test_format_summary_matches_paper_style() -> None:
    summary = {"sbd": (0.568, 0.082), "fbd": (0.95, 0.021), "dic": (0.2, 1.4), "abs_dic": (1.1, 0.94)}
    assert format_summary(summary) == {
        "sbd": "56.8 (8.2)",
        "fbd": "95.0 (2.1)",
        "dic": "0.2 (1.4)",
        "abs_dic": "1.1 (0.9)",
    }
