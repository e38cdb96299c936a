"""Letterboxing: the network's input holds the resampled image in a box of its aspect ratio, on the
mean colour of the image's border, built straight in the network's channel planes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from leafcount.inference.segment import image_to_tensor
from leafcount.resize import letterbox, letterbox_planes, resize_array, resized_window


def _expected_planes(image: np.ndarray, size: tuple[int, int], box) -> torch.Tensor:
    """Built the plain way: interpolate the channel planes, paste them on the border's mean colour."""
    planes = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[None]
    content = (box.height, box.width)
    if content != image.shape[:2]:
        shrinking = content[0] < image.shape[0] or content[1] < image.shape[1]
        planes = F.interpolate(planes, size=content, mode="bilinear", align_corners=False, antialias=shrinking)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).astype(np.float32).mean(axis=0)
    out = torch.from_numpy(border.astype(np.float32))[:, None, None].repeat(1, *size)
    out[:, box.top : box.top + box.height, box.left : box.left + box.width] = planes[0]
    return out


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (37, 5), (300, 1200), (530, 500), (64, 64)])
@pytest.mark.parametrize("size, multiple", [((256, 272), 2), ((64, 64), 1), ((33, 17), 4)])
def test_the_input_is_the_resampled_image_on_the_border_colour_in_a_box_of_its_aspect(shape, size, multiple):
    image = np.random.default_rng(sum(shape)).random((*shape, 3)).astype(np.float32)
    planes, box = letterbox_planes(image, size, multiple)
    assert planes.shape == (3, *size) and planes.dtype == torch.float32
    assert box.top + box.height <= size[0] and box.left + box.width <= size[1]
    if min(size) >= multiple:
        assert box.top % multiple == box.left % multiple == 0
    if min(box.height, box.width) > 8 and min(shape) > 8:  # aspect kept, to the rounding of a side
        assert abs(box.width / box.height - shape[1] / shape[0]) < 0.1 * shape[1] / shape[0]
    torch.testing.assert_close(planes, _expected_planes(image, size, box), rtol=0, atol=0)
    # The network's batch of one and the pixel-major array are the same pixels.
    tensor, tensor_box = image_to_tensor(image, size, multiple)
    fitted, fitted_box = letterbox(image, size, multiple)
    assert tensor_box == fitted_box == box and tensor.shape == (1, 3, *size)
    assert torch.equal(tensor[0], planes) and np.array_equal(fitted, planes.permute(1, 2, 0).numpy())
    assert fitted.flags.c_contiguous


def test_a_mirrored_view_and_a_float64_photo_give_the_plain_input():
    image = np.random.default_rng(3).random((90, 70, 3)).astype(np.float32)
    expected, box = letterbox_planes(image, (64, 64))
    mirrored, _ = letterbox_planes(image[:, ::-1], (64, 64))
    assert torch.equal(mirrored, _expected_planes(image[:, ::-1], (64, 64), box))
    # The network takes float32: a float64 photo is converted before anything is computed.
    tensor, _ = image_to_tensor(image.astype(np.float64), (64, 64))
    assert torch.equal(tensor[0], expected)


@pytest.mark.parametrize(("source", "shape", "window"), [
    ((32, 30), (125, 117), (slice(20, 90), slice(0, 117))),  # enlarged, a window inside and one at the edges
    ((32, 30), (125, 117), (slice(0, 125), slice(100, 117))),
    ((32, 30), (32, 97), (slice(3, 30), slice(5, 60))),  # one axis kept
    ((40, 44), (25, 60), (slice(2, 20), slice(10, 50))),  # shrunk on one axis: area-averaged, whole then cut
    ((10, 12), (10, 12), (slice(1, 9), slice(0, 12))),  # the same size
])
def test_a_window_of_the_resized_masks_is_that_window_of_each_whole_resized_mask(source, shape, window):
    rng = np.random.default_rng(7)
    masks = [rng.random(source, dtype=np.float32) for _ in range(3)]
    expected = np.stack([resize_array(mask, shape)[window] for mask in masks])
    got = resized_window(masks, shape, window)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert float(np.abs(np.diff(got, axis=-1)).max()) > 1e-3  # not a constant: the blend is tested


def test_no_masks_or_an_empty_window_give_an_empty_stack_of_the_windows_size():
    assert resized_window([], (50, 40), (slice(5, 15), slice(0, 40))).shape == (0, 10, 40)
    assert resized_window([np.ones((5, 4), np.float32)], (50, 40), (slice(5, 5), slice(0, 40))).shape == (1, 0, 40)
