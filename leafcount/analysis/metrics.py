"""Leaf counting and segmentation scores with the CVPPP conventions.

The CVPPP leaf segmentation challenge (and the RIS paper, Table 2) reports
four numbers per image, then their mean and standard deviation over images:

- SBD, symmetric best Dice: ``min(BestDice(P, G), BestDice(G, P))``;
- FBD, foreground-background Dice: Dice of the two plant masks;
- DiC, difference in count: ``count(P) - count(G)``;
- |DiC|, its absolute value.

Label images are 2-D integer arrays with 0 for background and any other value
for a leaf; ids need not be consecutive. The organisers' code assumes the
smallest value is background and that ids are consecutive; here background is
always 0 and ids are relabelled first, which gives the same numbers on every
CVPPP label image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from leafcount.arrays import check_labels
from leafcount.errors import LabelFormatError, LeafcountError

__all__ = [
    "SUMMARY_KEYS",
    "ImageScores",
    "abs_difference_in_count",
    "best_dice",
    "check_labels",
    "count_leaves",
    "dice",
    "difference_in_count",
    "foreground_dice",
    "format_summary",
    "relabel_consecutive",
    "score_image",
    "summarize",
    "symmetric_best_dice",
]

SUMMARY_KEYS = ("sbd", "fbd", "dic", "abs_dic")


def _check_same_shape(pred: np.ndarray, truth: np.ndarray) -> None:
    if pred.shape != truth.shape:
        raise LabelFormatError(
            f"prediction and ground truth differ in shape: prediction {pred.shape}, truth {truth.shape}"
        )


def _check_pair(pred: ArrayLike, truth: ArrayLike, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    pred_array = check_labels(pred, names[0])
    truth_array = check_labels(truth, names[1])
    _check_same_shape(pred_array, truth_array)
    return pred_array, truth_array


def _relabel(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids of ``labels`` and each pixel's index into them (flat)."""
    flat = labels.ravel()
    highest = int(flat.max())
    if highest <= flat.size:
        # A lookup table is O(pixels), about 15x faster than np.unique's sort on
        # a 4000x3000 image; it is only used while it is no larger than the image.
        flat = flat.astype(np.intp, copy=False)
        present = np.bincount(flat, minlength=highest + 1) > 0
        ids = np.flatnonzero(present)
        lookup = np.zeros(highest + 1, dtype=np.intp)
        lookup[ids] = np.arange(ids.size)
        return ids, lookup[flat]
    ids, inverse = np.unique(flat, return_inverse=True)
    return ids, inverse.reshape(-1)


def relabel_consecutive(labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Renumber the leaves 1..n in order of their ids, background staying 0.

    Parameters
    ----------
    labels : array_like, shape (H, W), integer dtype
        0 = background, any other value = one leaf; ids may have gaps.

    Returns
    -------
    leaf_ids : numpy.ndarray, shape (n,)
        The original leaf ids, sorted: leaf ``k`` of the result was
        ``leaf_ids[k - 1]``.
    consecutive : numpy.ndarray, shape (H, W), intp
        The label image with leaves numbered 1..n.

    Raises
    ------
    LabelFormatError
        When ``labels`` is not a 2-D array of non-negative integers.

    Examples
    --------
    >>> leaf_ids, consecutive = relabel_consecutive([[0, 30], [7, 7]])
    >>> leaf_ids.tolist(), consecutive.tolist()
    ([7, 30], [[0, 2], [1, 1]])
    """
    array = check_labels(labels)
    ids, index = _relabel(array)
    if ids[0] != 0:
        # No background pixel: index 0 is a leaf and must become 1.
        return ids, (index + 1).reshape(array.shape)
    return ids[1:], index.reshape(array.shape)


def count_leaves(labels: ArrayLike) -> int:
    """Number of leaves in a label image: its distinct non-zero values.

    Parameters
    ----------
    labels : array_like, shape (H, W), integer dtype
        0 = background, any other value = one leaf.

    Returns
    -------
    int
        The number of distinct non-zero labels.

    Raises
    ------
    LabelFormatError
        When ``labels`` is not a 2-D array of non-negative integers.

    Notes
    -----
    CVPPP counts distinct labels, never ``max - min``: ids may have gaps
    after a leaf is deleted or merged.

    Examples
    --------
    >>> count_leaves([[0, 3], [7, 7]])
    2
    """
    ids, _ = _relabel(check_labels(labels))
    return int(np.count_nonzero(ids))


def dice(mask_a: ArrayLike, mask_b: ArrayLike) -> float:
    """Dice coefficient ``2 |A & B| / (|A| + |B|)`` of two boolean masks.

    Parameters
    ----------
    mask_a, mask_b : array_like of bool, same shape
        The two masks.

    Returns
    -------
    float
        In [0, 1]; 0.0 when both masks are empty.

    Raises
    ------
    LabelFormatError
        When a mask is not boolean or the shapes differ.

    Notes
    -----
    Two empty masks score 0.0, as in the organisers' ``Dice`` (which returns 0
    when ``|A| + |B|`` is zero), so an empty prediction on an empty image
    scores FBD 0.0 exactly as in the CVPPP evaluation.

    Examples
    --------
    >>> a = [[True, True], [False, False]]
    >>> b = [[True, False], [False, False]]
    >>> round(dice(a, b), 4)
    0.6667
    """
    arrays = []
    for name, mask in (("mask_a", mask_a), ("mask_b", mask_b)):
        array = np.asarray(mask)
        if array.dtype != np.bool_:
            raise LabelFormatError(f"{name}: expected a boolean mask, found dtype {array.dtype}")
        arrays.append(array)
    a, b = arrays
    if a.shape != b.shape:
        raise LabelFormatError(f"masks differ in shape: mask_a {a.shape}, mask_b {b.shape}")
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    if total == 0:
        return 0.0
    return 2.0 * int(np.count_nonzero(a & b)) / total


@dataclass(frozen=True)
class _Overlaps:
    """Sparse contingency table: the leaf pairs of A and B that share pixels."""

    rows: np.ndarray  # leaf index in A of each overlapping pair
    cols: np.ndarray  # leaf index in B of each overlapping pair
    shared: np.ndarray  # pixels the pair shares, > 0
    size_a: np.ndarray  # area of every leaf of A
    size_b: np.ndarray  # area of every leaf of B


def _overlaps(labels_a: np.ndarray, labels_b: np.ndarray) -> _Overlaps:
    ids_a, index_a = _relabel(labels_a)
    ids_b, index_b = _relabel(labels_b)
    n_a, n_b = ids_a.size, ids_b.size
    pair = index_a.astype(np.int64) * n_b + index_b
    if n_a * n_b <= pair.size:
        counts = np.bincount(pair, minlength=n_a * n_b)
        codes = np.flatnonzero(counts)
        shared = counts[codes]
    else:
        # Many labels (noise, over-segmentation): a dense table could exceed
        # memory, so count only the pairs that occur.
        codes, shared = np.unique(pair, return_counts=True)
    rows, cols = np.divmod(codes, n_b)
    # Ids are sorted, so background (0), when present, is index 0.
    skip_a, skip_b = int(ids_a[0] == 0), int(ids_b[0] == 0)
    keep = (rows >= skip_a) & (cols >= skip_b)
    return _Overlaps(
        rows=rows[keep] - skip_a,
        cols=cols[keep] - skip_b,
        shared=shared[keep],
        size_a=np.bincount(index_a, minlength=n_a)[skip_a:],
        size_b=np.bincount(index_b, minlength=n_b)[skip_b:],
    )


def _best_dice_rows(overlaps: _Overlaps) -> float:
    if overlaps.size_a.size == 0 or overlaps.size_b.size == 0:
        return 0.0
    pair_dice = 2.0 * overlaps.shared / (overlaps.size_a[overlaps.rows] + overlaps.size_b[overlaps.cols])
    best = np.zeros(overlaps.size_a.size)
    np.maximum.at(best, overlaps.rows, pair_dice)
    return float(best.mean())


def _transpose(overlaps: _Overlaps) -> _Overlaps:
    return _Overlaps(
        rows=overlaps.cols,
        cols=overlaps.rows,
        shared=overlaps.shared,
        size_a=overlaps.size_b,
        size_b=overlaps.size_a,
    )


def best_dice(labels_a: ArrayLike, labels_b: ArrayLike) -> float:
    """Mean over the leaves of A of the best Dice with any leaf of B.

    Parameters
    ----------
    labels_a, labels_b : array_like, shape (H, W), integer dtype
        Label images, 0 = background. Ids need not be consecutive.

    Returns
    -------
    float
        In [0, 1]. 0.0 when A or B has no leaf.

    Raises
    ------
    LabelFormatError
        When an input is not a 2-D non-negative integer array or the shapes differ.

    Notes
    -----
    CVPPP ``BestDice``: background is excluded on both sides and a leaf of B
    may be the best match of several leaves of A. Like the organisers' code,
    the score is 0 when A has no leaf (their "trivial solution" guard) and
    when B has none (no match scores above 0), so ``best_dice(empty, empty)``
    is 0.0. All pairwise overlaps come from one contingency table, so the cost
    is a few passes over the pixels whatever the number of leaves.

    Examples
    --------
    >>> a = [[1, 1, 0, 0],
    ...      [1, 1, 0, 0],
    ...      [0, 0, 2, 2],
    ...      [0, 0, 2, 2]]
    >>> b = [[5, 5, 0, 0],
    ...      [5, 5, 0, 0],
    ...      [0, 0, 9, 0],
    ...      [0, 0, 0, 0]]
    >>> best_dice(a, b)  # leaf 1: 8/8, leaf 2: 2/5
    0.7
    """
    a, b = _check_pair(labels_a, labels_b, ("labels_a", "labels_b"))
    return _best_dice_rows(_overlaps(a, b))


def symmetric_best_dice(pred: ArrayLike, truth: ArrayLike) -> float:
    """SBD: ``min(best_dice(pred, truth), best_dice(truth, pred))``.

    Parameters
    ----------
    pred, truth : array_like, shape (H, W), integer dtype
        Predicted and ground-truth label images, 0 = background.

    Returns
    -------
    float
        In [0, 1]; 0.0 when either image has no leaf.

    Raises
    ------
    LabelFormatError
        When an input is not a 2-D non-negative integer array or the shapes differ.

    Notes
    -----
    Taking the minimum penalises both missed leaves and spurious ones (CVPPP).

    Examples
    --------
    >>> pred = [[1, 1], [2, 2]]
    >>> truth = [[1, 1], [1, 1]]
    >>> symmetric_best_dice(pred, truth)  # truth -> pred 2/3; pred -> truth 2/3
    0.6666666666666666
    """
    a, b = _check_pair(pred, truth, ("prediction", "truth"))
    overlaps = _overlaps(a, b)
    return min(_best_dice_rows(overlaps), _best_dice_rows(_transpose(overlaps)))


def foreground_dice(pred: ArrayLike, truth: ArrayLike) -> float:
    """FBD: Dice of the plant masks (every non-zero label is plant).

    Parameters
    ----------
    pred, truth : array_like, shape (H, W), integer dtype
        Predicted and ground-truth label images, 0 = background.

    Returns
    -------
    float
        In [0, 1]; 0.0 when both images are all background (see :func:`dice`).

    Raises
    ------
    LabelFormatError
        When an input is not a 2-D non-negative integer array or the shapes differ.

    Examples
    --------
    >>> foreground_dice([[1, 2], [0, 0]], [[4, 0], [0, 0]])
    0.6666666666666666
    """
    a, b = _check_pair(pred, truth, ("prediction", "truth"))
    return dice(a != 0, b != 0)


def difference_in_count(pred: ArrayLike, truth: ArrayLike) -> int:
    """DiC: ``count_leaves(pred) - count_leaves(truth)``; positive = too many leaves.

    Parameters
    ----------
    pred, truth : array_like, shape (H, W), integer dtype
        Predicted and ground-truth label images, 0 = background.

    Returns
    -------
    int
        The signed difference in leaf count.

    Raises
    ------
    LabelFormatError
        When an input is not a 2-D non-negative integer array or the shapes differ.

    Examples
    --------
    >>> difference_in_count([[1, 2], [3, 0]], [[1, 1], [8, 0]])
    1
    """
    a, b = _check_pair(pred, truth, ("prediction", "truth"))
    return count_leaves(a) - count_leaves(b)


def abs_difference_in_count(pred: ArrayLike, truth: ArrayLike) -> int:
    """|DiC|: the absolute difference in leaf count.

    Parameters
    ----------
    pred, truth : array_like, shape (H, W), integer dtype
        Predicted and ground-truth label images, 0 = background.

    Returns
    -------
    int
        ``abs(difference_in_count(pred, truth))``.

    Raises
    ------
    LabelFormatError
        When an input is not a 2-D non-negative integer array or the shapes differ.

    Examples
    --------
    >>> abs_difference_in_count([[1, 0], [0, 0]], [[1, 2], [3, 0]])
    2
    """
    return abs(difference_in_count(pred, truth))


@dataclass(frozen=True)
class ImageScores:
    """The CVPPP scores of one image; SBD and FBD are fractions in [0, 1]."""

    name: str
    sbd: float
    fbd: float
    dic: int
    abs_dic: int
    count_pred: int
    count_true: int


def score_image(pred: ArrayLike, truth: ArrayLike, name: str = "") -> ImageScores:
    """All CVPPP scores of one predicted label image against its ground truth.

    Parameters
    ----------
    pred, truth : array_like, shape (H, W), integer dtype
        Predicted and ground-truth label images, 0 = background.
    name : str
        The image's name, carried into the record (e.g. ``"plant012"``).

    Returns
    -------
    ImageScores
        SBD, FBD, DiC, |DiC| and both leaf counts.

    Raises
    ------
    LabelFormatError
        When an input is not a 2-D non-negative integer array or the shapes
        differ; the message gives both shapes.

    Examples
    --------
    >>> s = score_image([[1, 1], [0, 2]], [[1, 1], [0, 0]], name="plant001")
    >>> s.dic, s.abs_dic, s.count_pred, s.count_true
    (1, 1, 2, 1)
    """
    a, b = _check_pair(pred, truth, ("prediction", "truth"))
    overlaps = _overlaps(a, b)
    count_pred, count_true = len(overlaps.size_a), len(overlaps.size_b)
    return ImageScores(
        name=name,
        sbd=min(_best_dice_rows(overlaps), _best_dice_rows(_transpose(overlaps))),
        fbd=dice(a != 0, b != 0),
        dic=count_pred - count_true,
        abs_dic=abs(count_pred - count_true),
        count_pred=count_pred,
        count_true=count_true,
    )


def summarize(scores: Sequence[ImageScores]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation over images of SBD, FBD, DiC and |DiC|.

    Parameters
    ----------
    scores : sequence of ImageScores
        One record per image, as returned by :func:`score_image`.

    Returns
    -------
    dict of str to (float, float)
        Keys ``'sbd'``, ``'fbd'``, ``'dic'``, ``'abs_dic'``; values
        ``(mean, std)``. SBD and FBD stay fractions in [0, 1].

    Raises
    ------
    LeafcountError
        When ``scores`` is empty: a mean over no image is undefined.

    Notes
    -----
    The std uses N - 1 (``ddof=1``) to match the organisers' Matlab code
    (``std``). For a single image it is 0.0, which is also what Matlab's
    ``std`` returns for one value. (The organisers' later Python script uses
    ``np.std``, i.e. N; the paper's numbers come from the Matlab code.)

    Examples
    --------
    >>> rows = [ImageScores("a", 0.5, 0.9, 1, 1, 3, 2),
    ...         ImageScores("b", 0.7, 0.8, -1, 1, 1, 2)]
    >>> mean, std = summarize(rows)["dic"]
    >>> float(mean), round(float(std), 4)  # sqrt(((1-0)^2 + (-1-0)^2) / (2-1))
    (0.0, 1.4142)
    """
    if len(scores) == 0:
        raise LeafcountError("no image scores to summarize: the evaluation covered no image")
    summary = {}
    for key in SUMMARY_KEYS:
        values = np.array([getattr(record, key) for record in scores], dtype=np.float64)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        summary[key] = (float(values.mean()), std)
    return summary


def format_summary(summary: dict[str, tuple[float, float]]) -> dict[str, str]:
    """Format :func:`summarize` output as the paper does: ``"56.8 (8.2)"``.

    Parameters
    ----------
    summary : dict of str to (float, float)
        As returned by :func:`summarize`.

    Returns
    -------
    dict of str to str
        Same keys; SBD and FBD as percentages, DiC and |DiC| as counts, all
        with one decimal.

    Examples
    --------
    >>> format_summary({"sbd": (0.568, 0.082), "dic": (0.2, 1.4)})
    {'sbd': '56.8 (8.2)', 'dic': '0.2 (1.4)'}
    """
    formatted = {}
    for key, (mean, std) in summary.items():
        scale = 100.0 if key in ("sbd", "fbd") else 1.0
        formatted[key] = f"{mean * scale:.1f} ({std * scale:.1f})"
    return formatted

