"""Feature-pyramid pieces shared by the Lite0 encoder and the full-resolution heads."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from leafcount.model.kernels import Conv2dReLU


def conv_relu(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Sequential:
    return Conv2dReLU(in_channels, out_channels, kernel)


def _source_index(count: int, stride: int, out_stride: float, out_offset: float, like: Tensor) -> Tensor:
    """Fractional index into a backbone map (pixel i centred on input pixel
    ``stride * i + stride - 1``) of ``count`` positions ``out_stride * j + out_offset``."""
    positions = torch.arange(count, device=like.device, dtype=like.dtype) * out_stride + out_offset
    return (positions - (stride - 1)) / stride


def _axis_weights(count: int, stride: int, out_stride: float, out_offset: float, length: int, like: Tensor
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """The two source pixels and the weight of the second for each of ``count``
    output positions along one axis (clamped at the border)."""
    source = _source_index(count, stride, out_stride, out_offset, like).clamp(0, length - 1)
    low = source.floor().long().clamp(max=max(length - 2, 0))
    return low, (low + 1).clamp(max=length - 1), source - low


def resample(x: Tensor, stride: int, size: tuple[int, int] | torch.Size, out_stride: float, out_offset: float) -> Tensor:
    """Bilinear resampling of a backbone map at stride ``stride`` onto the grid
    whose pixel j is centred on input pixel ``out_stride * j + out_offset``.

    TensorFlow's "SAME" padding pads after, not before, so pixel i of a
    stride-s map sees the input around ``s * i + s - 1``, not the centre of
    its cell, ``s * i + (s - 1) / 2``: each level lies (s - 1) / 2 input
    pixels off a plain ``interpolate``. Left as it was, the foreground map
    of a first model came out shifted by about 1.2 input pixels, and moving
    it back by hand raised its foreground Dice from 89.8 to 93.5.

    Rows, then columns, each a blend of two gathered lines, on the
    pixel-major view of ``x``: the result is channels-last, the order the
    convolutions after it run fastest on (``grid_sample`` writes NCHW, which
    made the heads' next convolution 2x slower; a copy to channels-last
    costs as much as the resampling itself).
    """
    height, width = x.shape[-2:]
    pixels = x.permute(0, 2, 3, 1)
    low, high, weight = _axis_weights(size[0], stride, out_stride, out_offset, height, x)
    rows = torch.lerp(pixels.index_select(1, low), pixels.index_select(1, high), weight.view(1, -1, 1, 1))
    low, high, weight = _axis_weights(size[1], stride, out_stride, out_offset, width, x)
    out = torch.lerp(rows.index_select(2, low), rows.index_select(2, high), weight.view(1, 1, -1, 1))
    return out.permute(0, 3, 1, 2)
