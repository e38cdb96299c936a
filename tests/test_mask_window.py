"""The window around a mask's pixels, widened by a margin within the array."""

import numpy as np

from leafcount.mask_window import mask_window


def test_the_window_holds_every_pixel_of_the_mask_and_no_empty_row_or_column():
    mask = np.zeros((10, 12), bool)
    mask[3, 4] = mask[6, 9] = True
    window = mask_window(mask)
    assert window == (slice(3, 7), slice(4, 10))
    assert mask[window].sum() == mask.sum()


def test_a_margin_widens_the_window_as_far_as_the_array_goes():
    mask = np.zeros((10, 12), bool)
    mask[1, 8:11] = True
    rows, cols = mask_window(mask, margin=2)
    assert (rows.start, rows.stop, cols.start) == (0, 4, 6)
    assert mask[rows, cols].shape == (4, 6)  # the columns stop at the array's edge


def test_an_empty_mask_has_no_window():
    assert mask_window(np.zeros((4, 5), bool)) is None
