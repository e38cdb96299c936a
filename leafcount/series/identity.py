"""How well a tracker kept leaf identities, against labels whose ids are the truth.

A ground-truth series gives each leaf the same id on every date (CVPPP
labels turned and zoomed, :func:`leafcount.data.synth.make_growing_rosette`).
A tracked series is scored leaf by leaf: on each date a truth leaf *has*
the track id that covers most of its pixels, and for each pair of
consecutive dates on which it is present its identity is *kept* when that
id is the same on both. Every pair where it is not is an ID switch, as the
MOT benchmarks count them. Used by the tests and ``benchmarks/tracking.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IdentityScore:
    """Counts over one series: ``pairs`` of (leaf, consecutive dates) with the leaf on both."""

    pairs: int
    kept: int

    @property
    def switches(self) -> int:
        """Pairs on which a leaf's track id changed."""
        return self.pairs - self.kept

    @property
    def kept_fraction(self) -> float:
        """``kept / pairs``; 1.0 for a series with no leaf on two consecutive dates."""
        return self.kept / self.pairs if self.pairs else 1.0

    def __add__(self, other: IdentityScore) -> IdentityScore:
        return IdentityScore(self.pairs + other.pairs, self.kept + other.kept)


def track_ids_of_truth(truth: np.ndarray, tracked: np.ndarray) -> dict[int, int]:
    """Each truth leaf's track id: the tracked value on most of its pixels (0 when mostly background).

    Parameters
    ----------
    truth, tracked : ndarray, shape (H, W), int
        Label images of one date, 0 = background.

    Returns
    -------
    dict
        Truth leaf id -> track id.

    Raises
    ------
    ValueError
        When the shapes differ.

    Examples
    --------
    >>> truth = np.array([[1, 1, 2], [1, 0, 2]])
    >>> tracked = np.array([[7, 7, 3], [5, 0, 3]])
    >>> track_ids_of_truth(truth, tracked)
    {1: 7, 2: 3}
    """
    if truth.shape != tracked.shape:
        raise ValueError(f"truth is {truth.shape} but the tracked labels are {tracked.shape}")
    leaves = truth.ravel() > 0
    pairs = np.stack([truth.ravel()[leaves], tracked.ravel()[leaves]], axis=1).astype(np.int64)
    if not len(pairs):
        return {}
    combos, counts = np.unique(pairs, axis=0, return_counts=True)
    # np.unique sorts by truth id; within one, the largest count wins (ties: the lower track id).
    best: dict[int, tuple[int, int]] = {}
    for (leaf, track), count in zip(combos.tolist(), counts.tolist()):
        if count > best.get(leaf, (0, 0))[1]:
            best[leaf] = (track, count)
    return {leaf: track for leaf, (track, _) in best.items()}


def identity_score(truth: Sequence[np.ndarray], tracked: Sequence[np.ndarray]) -> IdentityScore:
    """How many leaves kept their track id from each date to the next.

    Parameters
    ----------
    truth : sequence of ndarray, shape (H, W), int
        The dates' truth labels, in time order; a leaf has the same id on every date.
    tracked : sequence of ndarray, shape (H, W), int
        The tracker's labels of the same dates.

    Returns
    -------
    IdentityScore

    Raises
    ------
    ValueError
        When the two series differ in length or a date's shapes differ.

    Examples
    --------
    Leaf 2 is given another id on the last date: one switch in four pairs.

    >>> a = np.array([[1, 2]])
    >>> score = identity_score([a, a, a], [np.array([[4, 5]]), np.array([[4, 5]]), np.array([[4, 6]])])
    >>> score.pairs, score.kept, score.switches
    (4, 3, 1)
    """
    if len(truth) != len(tracked):
        raise ValueError(f"{len(truth)} truth dates but {len(tracked)} tracked ones")
    ids = [track_ids_of_truth(t, k) for t, k in zip(truth, tracked)]
    pairs = kept = 0
    for earlier, later in zip(ids, ids[1:]):
        for leaf in earlier.keys() & later.keys():
            pairs += 1
            kept += earlier[leaf] == later[leaf] != 0
    return IdentityScore(pairs, kept)
