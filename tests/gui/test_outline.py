"""The shown step's outline: where the mask crosses the threshold, on the mask's own pixels."""

import numpy as np
import pytest

from leafcount.gui.outline import outline_path


def rect_of(path):
    r = path.boundingRect()
    return (r.x(), r.y(), r.width(), r.height())


def test_a_single_pixel_is_outlined_halfway_to_its_neighbours(qapp):
    mask = np.zeros((10, 12), np.float32)
    mask[5, 7] = 1.0
    # Pixel (5, 7) spans x 7..8, y 5..6; at level 0.5 the curve runs between it and its neighbours' centres.
    assert rect_of(outline_path(mask, 0.5)) == (7.0, 5.0, 1.0, 1.0)


def test_the_level_moves_the_curve(qapp):
    mask = np.zeros((10, 12), np.float32)
    mask[5, 7] = 1.0
    assert rect_of(outline_path(mask, 0.25)) == (6.75, 4.75, 1.5, 1.5)


def test_a_leaf_cut_by_the_border_is_outlined_to_the_image_edge(qapp):
    mask = np.zeros((10, 12), np.float32)
    mask[:4, :3] = 1.0
    assert rect_of(outline_path(mask, 0.5)) == (0.0, 0.0, 3.0, 4.0)


def test_separate_leaves_are_separate_curves(qapp):
    mask = np.zeros((20, 20), np.float32)
    mask[2:6, 2:6] = 1.0
    mask[12:18, 10:16] = 1.0
    curves = outline_path(mask, 0.5).toSubpathPolygons()
    assert len(curves) == 2
    boxes = sorted((c.boundingRect().x(), c.boundingRect().y()) for c in curves)
    assert boxes == [(2.0, 2.0), (10.0, 12.0)]


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_a_mask_that_never_crosses_the_level_has_no_outline(qapp, value):
    assert outline_path(np.full((5, 6), value, np.float32), 0.5).isEmpty()

