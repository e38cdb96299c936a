"""Scoring a tracker's leaf identities against truth labels."""

from __future__ import annotations

import numpy as np
import pytest

from leafcount.series.identity import identity_score, track_ids_of_truth


def test_a_leaf_given_another_id_is_one_switch_and_a_missing_leaf_no_pair():
    truth = [np.array([[1, 2, 3]]), np.array([[1, 2, 0]]), np.array([[1, 2, 3]])]
    tracked = [np.array([[5, 6, 7]]), np.array([[5, 8, 0]]), np.array([[5, 8, 9]])]
    score = identity_score(truth, tracked)
    assert (score.pairs, score.kept, score.switches) == (4, 3, 1)  # leaf 3 is absent on date 2
    assert score.kept_fraction == pytest.approx(0.75)


def test_a_leaf_the_tracker_missed_does_not_count_as_kept():
    truth = [np.array([[1, 1]]), np.array([[1, 1]])]
    score = identity_score(truth, [np.array([[0, 0]]), np.array([[0, 0]])])
    assert (score.pairs, score.kept) == (1, 0)


def test_the_id_on_most_of_a_leaf_is_its_id():
    truth = np.array([[1, 1, 1, 2]])
    assert track_ids_of_truth(truth, np.array([[4, 4, 9, 9]])) == {1: 4, 2: 9}


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError, match="2 truth dates but 1 tracked ones"):
        identity_score([np.zeros((2, 2), int)] * 2, [np.zeros((2, 2), int)])
    with pytest.raises(ValueError, match=r"truth is \(2, 2\) but the tracked labels are \(2, 3\)"):
        track_ids_of_truth(np.zeros((2, 2), int), np.zeros((2, 3), int))
