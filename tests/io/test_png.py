"""The fast PNG encoder writes files any reader decodes to the same pixels."""

import io

import numpy as np
import pytest
from PIL import Image

from leafcount.io.png import encode_png


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3), (40, 33, 3), (1, 1), (9, 17), (64, 3)])
def test_random_pixels_read_back_exactly(shape):
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    image = decoded(encode_png(pixels))
    assert image.format == "PNG" and image.mode == ("RGB" if len(shape) == 3 else "L")
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_views_with_odd_strides_are_encoded_as_they_look():
    pixels = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    view = pixels[::-2, 1::3]
    np.testing.assert_array_equal(np.asarray(decoded(encode_png(view))), view)


def test_a_flat_preview_compresses_well():
    flat = np.full((200, 300, 3), (30, 160, 40), dtype=np.uint8)
    assert len(encode_png(flat)) < flat.nbytes // 50


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((4,), np.uint8), np.zeros((0, 4, 3), np.uint8)])
def test_arrays_that_are_not_8_bit_grey_or_rgb_are_refused(bad):
    with pytest.raises(ValueError):
        encode_png(bad)
