"""Inference kernels for the few layers where torch's own choice is slow on one CPU thread.

A batch worker runs the network on one thread, and there torch's defaults
leave time on the table in three places (figures for the layers as they
run on a 530 x 500 CVPPP image; ``benchmarks/speed.py`` times the whole pass):

- On one thread torch sends a 1x1 convolution to its own matrix-multiply
  path, not oneDNN, taking its own as the faster there. On channels-last
  data it is not: oneDNN's is 1.1-2x faster for the EfficientNet
  expand/project layers and 3-4x for a layer with three outputs.
- ``torch.tanh`` runs about 5x slower than ``torch.sigmoid`` on the
  ConvLSTM's small maps; ``tanh(x) = 2 sigmoid(2x) - 1`` is the same
  function, to float rounding.
- A convolution followed by ReLU or ReLU6 writes its output and reads
  it back for the clamp, a second pass over the largest maps of the
  network; oneDNN clamps in the convolution's own loop (a post-op),
  1.2-1.5x faster for the EfficientNet expand and depthwise layers.
- A 3x3 convolution with one output channel (the last layer of the
  mask refinement, run at every step) uses a sixteenth of oneDNN's vector
  width. One matrix product gives the nine taps' responses, and nine
  shifted additions sum them: 3-4x faster.

Each kernel gives the plain op's result to float rounding; the fast paths
run only without autograd (training keeps torch's ops and their
gradients) and on float32 CPU tensors. Set :data:`ENABLED` to False to run
the plain ops everywhere (the tests compare the two).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ENABLED = True

_ONEDNN = torch.backends.mkldnn.is_available()
_FUSED_ACTIVATION = _ONEDNN and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def fast_path(x: Tensor) -> bool:
    """Whether ``x`` takes the fast kernels: they are on, autograd is off, and ``x`` is float32 on the CPU."""
    return ENABLED and not torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype == torch.float32


def pointwise_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.conv2d(x, weight, bias)`` for a 1x1 ``weight`` (stride 1, no groups), on oneDNN when it can."""
    if fast_path(x) and _ONEDNN:
        return torch.mkldnn_convolution(x, weight, bias, [0, 0], [1, 1], [1, 1], 1)
    return F.conv2d(x, weight, bias)


class PointwiseConv2d(nn.Conv2d):
    """A 1x1 ``nn.Conv2d`` (same parameters and state-dict names) run by :func:`pointwise_conv`."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return pointwise_conv(x, self.weight, self.bias)


def conv2d_clamped(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int = 1, padding: int | tuple[int, int] = 0,
                   groups: int = 1, upper: float | None = None) -> Tensor:
    """``F.conv2d(x, weight, bias, stride, padding, 1, groups)`` clamped to [0, ``upper``]
    (ReLU when ``upper`` is None, ReLU6 when it is 6), with the clamp in oneDNN's convolution when it can."""
    if fast_path(x) and _FUSED_ACTIVATION:
        attr, scalars = ("relu", []) if upper is None else ("hardtanh", [0.0, float(upper)])
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, _pair(padding), [stride, stride], [1, 1], groups, attr, scalars, None)
    y = F.conv2d(x, weight, bias, stride, padding, 1, groups)
    return F.relu_(y) if upper is None else F.hardtanh_(y, 0.0, float(upper))


def _pair(padding: int | tuple[int, int]) -> list[int]:
    return [padding, padding] if isinstance(padding, int) else list(padding)


def conv2d_add_relu(x: Tensor, weight: Tensor, other: Tensor, padding: int | tuple[int, int] = 0) -> Tensor:
    """``F.relu(other + F.conv2d(x, weight, padding=padding))``, the sum and the clamp in oneDNN's
    convolution loop when it can (``other`` has the output's shape and memory order)."""
    if fast_path(x) and _FUSED_ACTIVATION:
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, weight, None, _pair(padding), [1, 1], [1, 1], 1, "add", 1.0, "relu", [], None)
    return F.relu(other + F.conv2d(x, weight, padding=padding))


class Conv2dReLU(nn.Sequential):
    """``nn.Sequential(conv, nn.ReLU())`` (same state-dict names) with the ReLU in the convolution's own loop."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        conv = self[0]
        return conv2d_clamped(x, conv.weight, conv.bias, padding=conv.padding)


def tanh(x: Tensor) -> Tensor:
    """``torch.tanh(x)``, through the faster sigmoid when autograd is off."""
    if fast_path(x):
        return torch.sigmoid(2.0 * x).mul_(2.0).sub_(1.0)
    return torch.tanh(x)


def conv3x3_to_one(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.conv2d(x, weight, bias, padding=1)`` for a (1, C, 3, 3) ``weight`` and a batch of one."""
    if not fast_path(x) or x.shape[0] != 1:
        return F.conv2d(x, weight, bias, padding=1)
    channels, height, width = x.shape[1:]
    pixels = x.permute(0, 2, 3, 1).reshape(height * width, channels)  # a view for channels-last x
    taps = torch.mm(weight[0].reshape(channels, 9).t(), pixels.t()).view(9, height, width)
    out = taps[4].clone()
    if bias is not None:
        out += bias[0]
    # Tap (dy, dx) of output pixel (i, j) is input pixel (i + dy - 1, j + dx - 1); outside the map it
    # is the zero padding, so each tap adds to the output pixels whose input lies inside (no padded copy).
    for tap in (0, 1, 2, 3, 5, 6, 7, 8):
        (rows_out, rows_in), (cols_out, cols_in) = _shifted(tap // 3 - 1, height), _shifted(tap % 3 - 1, width)
        out[rows_out, cols_out] += taps[tap, rows_in, cols_in]
    return out[None, None]


def _shifted(offset: int, length: int) -> tuple[slice, slice]:
    """Output and input slices of one axis for a tap ``offset`` pixels away (-1, 0 or 1)."""
    return slice(max(0, -offset), length - max(0, offset)), slice(max(0, offset), length + min(0, offset))
