"""Fitting images of any size into the network's fixed input grid and back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Box:
    """Where the image's content sits inside a padded array: rows, then columns."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, array: np.ndarray) -> np.ndarray:
        return array[self.top : self.top + self.height, self.left : self.left + self.width]

    def scaled(self, factor_rows: float, factor_cols: float) -> "Box":
        top, left = int(round(self.top * factor_rows)), int(round(self.left * factor_cols))
        return Box(top, left, max(1, int(round(self.height * factor_rows))), max(1, int(round(self.width * factor_cols))))


def resize_array(array: np.ndarray, shape: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Resize a (H, W) or (H, W, C) float array; area-averaging when shrinking.

    ``nearest=True`` keeps integer label values intact.
    """
    if array.shape[:2] == tuple(shape):
        return array.copy()
    if nearest:
        rows = np.minimum((np.arange(shape[0]) + 0.5) * array.shape[0] / shape[0], array.shape[0] - 1).astype(int)
        cols = np.minimum((np.arange(shape[1]) + 0.5) * array.shape[1] / shape[1], array.shape[1] - 1).astype(int)
        return array[rows[:, None], cols[None, :]]
    planes = _resized_planes(array, shape)
    return (planes[0] if array.ndim == 2 else planes.permute(1, 2, 0)).numpy()


def _resized_planes(array: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """A (H, W) or (H, W, C) float array resized to ``shape`` as :func:`resize_array` does it,
    as (1 or C, *shape) float32 planes."""
    tensor = torch.from_numpy(_positive_strides(np.ascontiguousarray(array, dtype=np.float32)))
    tensor = tensor[None, None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)[None]
    if array.shape[:2] == tuple(shape):
        return tensor[0]
    shrinking = shape[0] < array.shape[0] or shape[1] < array.shape[1]
    return F.interpolate(tensor, size=tuple(shape), mode="bilinear", align_corners=False, antialias=shrinking)[0]


def resized_window(arrays: Sequence[np.ndarray], shape: tuple[int, int], window: tuple[slice, slice]) -> np.ndarray:
    """(N, rows, cols) float32: ``resize_array(array, shape)[window]`` of each (H, W) float array, to
    float rounding, computed on the window alone.

    The decoding reads the steps' masks, upsampled to the photo's size, only
    on the plant's box: resizing each whole mask took two thirds of its time.
    Enlarging is bilinear, columns then rows each a blend of two source lines;
    arrays that shrink on either axis (area-averaged) are resized whole and
    cut. The arrays have one shape.
    """
    rows, cols = (range(*part.indices(size)) for part, size in zip(window, shape))
    if not (len(arrays) and len(rows) and len(cols)):
        return np.zeros((len(arrays), len(rows), len(cols)), dtype=np.float32)
    stack = np.stack([np.asarray(array, dtype=np.float32) for array in arrays])
    if stack.shape[1] > shape[0] or stack.shape[2] > shape[1]:
        return np.stack([resize_array(array, shape)[window] for array in stack])
    top, bottom, row_weight = _blend_lines(stack.shape[1], shape[0], rows)
    left, right, col_weight = _blend_lines(stack.shape[2], shape[1], cols)
    # Columns first, on the source rows the window reads; then whole rows, which are copied, not gathered.
    source = torch.from_numpy(stack)[:, int(top[0]) : int(bottom[-1]) + 1]
    lines = torch.lerp(source.index_select(2, left), source.index_select(2, right), col_weight)
    top, bottom = top - top[0], bottom - top[0]
    return torch.lerp(lines.index_select(1, top), lines.index_select(1, bottom), row_weight[:, None]).numpy()


def _blend_lines(size: int, new_size: int, positions: range) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each position on an axis enlarged from ``size`` to ``new_size``: its two source lines and the
    second's weight, as ``F.interpolate(mode="bilinear", align_corners=False)`` places them."""
    centres = (torch.tensor(positions, dtype=torch.float32) + 0.5) * (size / new_size) - 0.5
    centres = centres.clamp_(min=0.0)
    first = centres.long()
    return first, (first + 1).clamp_(max=size - 1), centres - first


def resize_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A label image (H, W) at ``shape`` by nearest neighbour, every id kept; the same
    array when it has that shape already. The result has the smallest unsigned type
    that holds the ids: a camera photo's labels at full size stay a quarter of int32's."""
    if labels.shape == tuple(shape):
        return labels
    small = labels.astype(np.min_scalar_type(int(labels.max(initial=0))))
    return resize_array(small, tuple(shape), nearest=True)


def _positive_strides(array: np.ndarray) -> np.ndarray:
    """torch refuses negative strides, and numpy calls a mirrored view contiguous
    when its mirrored axes have length 1 (a 1 x N image flipped), so it keeps them."""
    return array.copy() if any(stride < 0 for stride in array.strides) else array


def letterbox(image: np.ndarray, size: tuple[int, int], multiple: int = 1) -> tuple[np.ndarray, Box]:
    """Scale ``image`` (H, W, 3) to fit ``size`` keeping its aspect ratio, and pad.

    The padding takes the mean colour of the image border, which is
    background in a plant photo, so the network sees no artificial edge.
    Returns the (size[0], size[1], 3) float32 array and the content box.

    ``multiple``: the box's offsets and sides are multiples of it (within
    the input), so that on a map of that stride the content box has whole
    pixels. A network whose masks come at stride 2 otherwise crops its masks
    half a pixel off the content (a 530x500 CVPPP image at 256x272 sits 15
    pixels from the left), and every leaf lands a pixel too far left.
    """
    planes, box = letterbox_planes(image, size, multiple)
    return np.ascontiguousarray(planes.permute(1, 2, 0).numpy()), box


def letterbox_planes(image: np.ndarray, size: tuple[int, int], multiple: int = 1) -> tuple[torch.Tensor, Box]:
    """:func:`letterbox` as a (3, size[0], size[1]) float32 tensor, one plane per channel: the
    order the network takes. Resampling writes planes, so the network's input is built without
    going through pixel-major order and back (the full-resolution heads' input of a CVPPP image
    in 4.9-5.0 ms instead of 8.3-8.6, the recurrent part's in 2.3-2.5 instead of 3.2-3.4)."""
    h, w = image.shape[:2]
    scale = min(size[0] / h, size[1] / w)
    ch, cw = max(1, min(size[0], round(h * scale))), max(1, min(size[1], round(w * scale)))
    if multiple > 1:
        ch = max(1, min(size[0] // multiple * multiple, round(ch / multiple) * multiple)) if size[0] >= multiple else ch
        cw = max(1, min(size[1] // multiple * multiple, round(cw / multiple) * multiple)) if size[1] >= multiple else cw
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).reshape(-1, image.shape[2])
    out = torch.from_numpy(border.mean(axis=0).astype(np.float32))[:, None, None].repeat(1, *size)
    box = Box((size[0] - ch) // 2 // multiple * multiple, (size[1] - cw) // 2 // multiple * multiple, ch, cw)
    out[:, box.top : box.top + ch, box.left : box.left + cw] = _resized_planes(image, (ch, cw))
    return out, box
