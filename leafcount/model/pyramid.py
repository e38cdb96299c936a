"""Feature-pyramid pieces shared by the Lite0 encoder and the full-resolution heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def conv_relu(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2), nn.ReLU(inplace=True))


def _source_index(count: int, stride: int, out_stride: float, out_offset: float, like: Tensor) -> Tensor:
    """Fractional index into a backbone map (pixel i centred on input pixel
    ``stride * i + stride - 1``) of ``count`` positions ``out_stride * j + out_offset``."""
    positions = torch.arange(count, device=like.device, dtype=like.dtype) * out_stride + out_offset
    return (positions - (stride - 1)) / stride


def resample(x: Tensor, stride: int, size: tuple[int, int] | torch.Size, out_stride: float, out_offset: float) -> Tensor:
    """Bilinear resampling of a backbone map at stride ``stride`` onto the grid
    whose pixel j is centred on input pixel ``out_stride * j + out_offset``.

    TensorFlow's "SAME" padding pads after, not before, so pixel i of a
    stride-s map sees the input around ``s * i + s - 1``, not the centre of
    its cell, ``s * i + (s - 1) / 2``: each level lies (s - 1) / 2 input
    pixels off a plain ``interpolate``. Left as it was, the foreground map
    of a first model came out shifted by about 1.2 input pixels, and moving
    it back by hand raised its foreground Dice from 89.8 to 93.5.
    """
    rows = _source_index(size[0], stride, out_stride, out_offset, x)
    cols = _source_index(size[1], stride, out_stride, out_offset, x)
    height, width = x.shape[-2:]
    rows = rows * (2.0 / (height - 1)) - 1.0 if height > 1 else torch.zeros_like(rows)
    cols = cols * (2.0 / (width - 1)) - 1.0 if width > 1 else torch.zeros_like(cols)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij")[::-1], dim=-1)
    grid = grid.unsqueeze(0).expand(x.shape[0], -1, -1, -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
