import doctest

import numpy as np

from leafcount.analysis.plant_boxes import PlantBox
from leafcount.editing import plant_layout, targets
from leafcount.editing.plant_layout import new_plant_at, reindexed
from leafcount.editing.targets import paint_target, split_target


def test_doctests_pass():
    assert doctest.testmod(targets).failed == 0 and doctest.testmod(plant_layout).failed == 0


def test_a_new_plant_joins_the_nearest_row_and_column_or_opens_new_ones():
    boxes = [PlantBox(0, 0, 0, 0, 0, 10, 10), PlantBox(1, 0, 1, 0, 20, 10, 30)]
    assert new_plant_at(boxes, 5.0, 45.0, (100, 100)) == PlantBox(2, 0, 2, 0, 40, 10, 50)
    assert new_plant_at(boxes, 50.0, 25.0, (100, 100)) == PlantBox(2, 1, 1, 45, 20, 55, 30)
    assert new_plant_at([], 50.0, 50.0, (100, 100)) == PlantBox(0, 0, 0, 40, 40, 60, 60)


def test_reindexed_orders_row_by_row():
    boxes = [PlantBox(5, 1, 0, 50, 0, 60, 10), PlantBox(9, 0, 1, 0, 20, 10, 30), PlantBox(2, 0, 0, 0, 0, 10, 10)]
    assert [(b.row, b.col, b.index) for b in reindexed(boxes)] == [(0, 0, 0), (0, 1, 1), (1, 0, 2)]


def test_a_stroke_paints_the_selected_leaf_else_the_one_it_starts_on_else_a_new_one():
    labels = np.zeros((10, 10), np.int32)
    labels[:5] = 2
    assert paint_target(labels, 0, (2, 2)) == 2 and paint_target(labels, 0, (8, 8)) == 3
    assert paint_target(labels, 5, (8, 8)) == 5


def test_a_split_line_cuts_the_selected_leaf_if_crossed_else_the_most_crossed():
    labels = np.zeros((10, 10), np.int32)
    labels[:, :3], labels[:, 3:] = 1, 2
    line = [(5, 0), (5, 9)]
    assert split_target(labels, 0, line) == 2 and split_target(labels, 1, line) == 1
    assert split_target(np.zeros((4, 4), np.int32), 0, [(0, 0), (3, 3)]) == 0
