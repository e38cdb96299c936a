import numpy as np
import pytest

from leafcount.editing.edits import (
    LabelEdit,
    delete_edit,
    erase_edit,
    fill_holes_edit,
    merge_edit,
    next_free_label,
    paint_edit,
    replace_edit,
    split_edit,
)
from leafcount.errors import LabelFormatError


def two_leaves() -> np.ndarray:
    labels = np.zeros((40, 50), dtype=np.int32)
    labels[5:20, 5:20] = 1
    labels[22:35, 10:45] = 4
    return labels


def check_round_trip(labels: np.ndarray, edit: LabelEdit) -> np.ndarray:
    """Apply then revert, checking the exact arrays; returns the edited labels."""
    before = labels.copy()
    edit.apply(labels)
    after = labels.copy()
    assert not np.array_equal(before, after)
    edit.revert(labels)
    np.testing.assert_array_equal(labels, before)
    edit.apply(labels)
    np.testing.assert_array_equal(labels, after)
    edit.revert(labels)
    return after


def test_builders_do_not_modify_their_input():
    labels = two_leaves()
    before = labels.copy()
    paint_edit(labels, [(10, 10), (30, 40)], 3, 2)
    erase_edit(labels, [(10, 10)], 4)
    delete_edit(labels, 1)
    merge_edit(labels, 1, 4)
    split_edit(labels, 4, [(20, 25), (40, 25)])
    np.testing.assert_array_equal(labels, before)


def test_paint_single_point_is_a_disc():
    labels = np.zeros((11, 11), dtype=np.int32)
    edit = paint_edit(labels, [(5, 5)], 2, 3)
    after = check_round_trip(labels, edit)
    rows, cols = np.mgrid[:11, :11]
    np.testing.assert_array_equal(after == 3, (rows - 5) ** 2 + (cols - 5) ** 2 <= 4)
    assert edit.box == (slice(3, 8), slice(3, 8))
    assert edit.leaf_ids == {3}
    assert edit.description == "paint leaf 3"


def test_paint_polyline_covers_the_path_between_points():
    labels = np.zeros((20, 30), dtype=np.int32)
    after = check_round_trip(labels, paint_edit(labels, [(10, 2), (10, 27)], 1, 1))
    assert np.all(after[9:12, 2:28] == 1)
    assert np.all(after[:8] == 0) and np.all(after[13:] == 0)


def test_paint_radius_zero_paints_the_crossed_pixels():
    labels = np.zeros((5, 5), dtype=np.int32)
    after = check_round_trip(labels, paint_edit(labels, [(0, 0), (4, 4)], 0, 2))
    np.testing.assert_array_equal(after, np.eye(5, dtype=np.int32) * 2)


def test_paint_overwrites_other_leaves_unless_only_background():
    labels = two_leaves()
    over = check_round_trip(labels, paint_edit(labels, [(12, 12), (12, 30)], 3, 2))
    assert np.all(over[12, 12:31] == 2)
    edit = paint_edit(labels, [(12, 12), (12, 30)], 3, 2, only_background=True)
    kept = check_round_trip(labels, edit)
    assert np.all(kept[labels == 1] == 1)
    assert np.all(kept[12, 21:31] == 2)
    assert edit.leaf_ids == {2}


def test_paint_off_the_image_keeps_the_part_inside():
    labels = np.zeros((10, 10), dtype=np.int32)
    after = check_round_trip(labels, paint_edit(labels, [(-5, 5), (2, 5)], 1, 1))
    assert after[0, 5] == 1 and after[3, 5] == 1 and after[4, 5] == 0
    assert paint_edit(labels, [(-20, -20), (-20, 30)], 3, 1) is None


def test_edits_that_change_nothing_are_none():
    labels = two_leaves()
    assert paint_edit(labels, [(10, 10)], 2, 1) is None
    assert paint_edit(labels, [(10, 10)], 2, 5, only_background=True) is None
    assert erase_edit(labels, [(2, 45)], 1) is None
    assert delete_edit(labels, 9) is None
    assert merge_edit(labels, 1, 9) is None
    assert merge_edit(labels, 1, 1) is None
    assert fill_holes_edit(labels, 1) is None
    assert split_edit(labels, 1, [(0, 30), (3, 45)]) is None  # line misses the leaf
    assert replace_edit(labels, labels.copy(), "same") is None


def test_erase_sets_background_and_names_touched_leaves():
    labels = two_leaves()
    edit = erase_edit(labels, [(21, 15)], 3)
    after = check_round_trip(labels, edit)
    assert after[19, 15] == 0 and after[23, 15] == 0
    assert edit.leaf_ids == {1, 4}
    assert set(np.unique(edit.new_values)) == {0}


def test_delete_removes_only_that_leaf():
    labels = two_leaves()
    edit = delete_edit(labels, 4)
    after = check_round_trip(labels, edit)
    assert 4 not in after
    np.testing.assert_array_equal(after == 1, labels == 1)
    assert edit.box == (slice(22, 35), slice(10, 45))


def test_merge_relabels_the_other_leaf():
    labels = two_leaves()
    edit = merge_edit(labels, 1, 4)
    after = check_round_trip(labels, edit)
    np.testing.assert_array_equal(after == 1, labels > 0)
    assert edit.leaf_ids == {1, 4}


def test_split_along_a_line_gives_two_leaves_and_keeps_every_pixel():
    labels = two_leaves()
    edit = split_edit(labels, 4, [(18, 20), (38, 20)])  # cuts leaf 4 at column 20
    after = check_round_trip(labels, edit)
    np.testing.assert_array_equal(after > 0, labels > 0)  # line pixels joined a part
    assert set(np.unique(after)) == {0, 1, 4, 5}
    # The larger part (right of the cut) keeps the id, the left part is new.
    assert after[28, 40] == 4 and after[28, 12] == 5
    assert edit.leaf_ids == {4, 5}
    assert np.all(after[labels == 1] == 1)


def test_split_keeps_an_undivided_fragment_with_the_leaf():
    labels = two_leaves()
    labels[0:2, 40:42] = 1  # a detached fragment of leaf 1, far from the cut
    after = check_round_trip(labels, split_edit(labels, 1, [(12, 0), (12, 30)]))
    assert np.all(after[0:2, 40:42] == 1)
    assert set(np.unique(after[5:20, 5:20])) == {1, 5}


def test_split_gives_several_new_ids_for_several_cuts():
    labels = two_leaves()
    edit = split_edit(labels, 4, [(18, 20), (38, 20), (38, 30), (18, 30)])
    after = check_round_trip(labels, edit)
    assert set(np.unique(after[22:35, 10:45])) == {4, 5, 6}


def test_fill_holes_fills_background_but_keeps_enclosed_leaves():
    labels = np.zeros((12, 12), dtype=np.int32)
    labels[1:11, 1:11] = 1
    labels[3:5, 3:5] = 0  # a hole
    labels[7:9, 7:9] = 2  # another leaf inside
    edit = fill_holes_edit(labels, 1)
    after = check_round_trip(labels, edit)
    assert np.all(after[3:5, 3:5] == 1)
    assert np.all(after[7:9, 7:9] == 2)
    assert edit.box == (slice(3, 5), slice(3, 5))


def test_replace_edit_diffs_two_label_images():
    labels = two_leaves()
    new = labels.copy()
    new[0, 0] = 7
    edit = replace_edit(labels, new, "model run")
    check_round_trip(labels, edit)
    assert edit.box == (slice(0, 1), slice(0, 1))
    assert edit.description == "model run"


def test_next_free_label():
    assert next_free_label(two_leaves()) == 5


def test_sequences_of_edits_undo_and_redo_exactly():
    rng = np.random.default_rng(7)
    labels = two_leaves()
    history = [labels.copy()]
    edits = []
    for _ in range(30):
        kind = rng.integers(5)
        points = [tuple(rng.uniform(-5, 45, size=2)) for _ in range(rng.integers(1, 5))]
        present = [int(v) for v in np.unique(labels) if v]
        leaf = int(rng.choice(present)) if present else 1
        if kind == 0:
            edit = paint_edit(labels, points, rng.uniform(0, 6), int(rng.integers(1, 8)))
        elif kind == 1:
            edit = erase_edit(labels, points, rng.uniform(0, 4))
        elif kind == 2:
            edit = split_edit(labels, leaf, points)
        elif kind == 3:
            edit = merge_edit(labels, leaf, int(rng.choice(present)) if present else 1)
        else:
            edit = fill_holes_edit(labels, leaf)
        if edit is None:
            continue
        edit.apply(labels)
        edits.append(edit)
        history.append(labels.copy())
    assert len(edits) > 10
    for edit, before in zip(reversed(edits), reversed(history[:-1])):
        edit.revert(labels)
        np.testing.assert_array_equal(labels, before)
    for edit, after in zip(edits, history[1:]):
        edit.apply(labels)
        np.testing.assert_array_equal(labels, after)


def test_a_brush_stroke_on_a_large_image_stores_only_its_box():
    labels = np.zeros((4000, 3000), dtype=np.int32)
    points = [(1000 + i, 1200 + 2 * i) for i in range(0, 200, 5)]
    edit = paint_edit(labels, points, 10, 1)
    assert edit.box == (slice(990, 1206), slice(1190, 1601))
    assert edit.nbytes < 0.05 * labels.nbytes
    assert edit.changed.shape == (216, 411)


def test_edit_arrays_are_read_only():
    edit = paint_edit(np.zeros((5, 5), dtype=np.int32), [(2, 2)], 1, 1)
    with pytest.raises(ValueError, match="read-only"):
        edit.new_values[0] = 3


@pytest.mark.parametrize("bad", [np.zeros((3, 3, 3), dtype=np.int32), np.zeros((3, 3))])
def test_bad_label_arrays_are_rejected(bad):
    with pytest.raises(LabelFormatError, match="labels: expected"):
        paint_edit(bad, [(1, 1)], 1, 1)


def test_replace_edit_rejects_a_shape_mismatch():
    with pytest.raises(LabelFormatError, match=r"shape \(4, 4\).*\(3, 3\)"):
        replace_edit(np.zeros((3, 3), np.int32), np.zeros((4, 4), np.int32), "x")


def test_bad_arguments_are_rejected():
    labels = two_leaves()
    with pytest.raises(ValueError, match="leaf_id must be >= 1"):
        paint_edit(labels, [(1, 1)], 1, 0)
    with pytest.raises(ValueError, match="radius must be >= 0"):
        erase_edit(labels, [(1, 1)], -1)
    with pytest.raises(ValueError, match="at least one point"):
        paint_edit(labels, [], 1, 1)
    with pytest.raises(ValueError, match="at least one point"):
        split_edit(labels, 1, [])
    with pytest.raises(ValueError, match="keep_id must be"):
        merge_edit(labels, 0, 1)
