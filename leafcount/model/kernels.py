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

- The full-resolution heads' last layers upsample a 16-channel map to
  the image's size, concatenate the pixels and run a 3x3 convolution to
  eight channels: an upsampled copy, a concatenated copy and a
  convolution with half of oneDNN's vector width idle, at the largest
  size of the network. The upsampling is a fixed blend of neighbours, so
  the convolution of the upsampled map is, at each of the four output
  phases, a 3x3 convolution of the map itself: one convolution to 32
  channels at half the size, 1.6-1.9x faster for the three layers.

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


# Weight of map row i + a - 1 (a = 0, 1, 2) in row 2i + p + d - 1 of the map's bilinear x2 upsampling
# (align_corners=False), for output phase p (row 2i + p) and 3x3 tap d: the upsampling's 1/4-3/4 blends.
_UPSAMPLED_TAPS = torch.tensor([[[0.75, 0.25, 0.0], [0.25, 0.75, 0.0], [0.0, 0.75, 0.25]],
                                [[0.25, 0.75, 0.0], [0.0, 0.75, 0.25], [0.0, 0.25, 0.75]]], dtype=torch.float64)


def upsampled_conv_relu_conv(fine: Tensor, pixels: Tensor, weight: Tensor, bias: Tensor | None,
                             out_weight: Tensor, out_bias: Tensor | None) -> Tensor:
    """``conv1x1(relu(conv3x3(cat([up, pixels]))))``, ``up`` the bilinear x2 upsampling of ``fine``
    cropped to ``pixels``' size: the full-resolution heads' last layers.

    ``fine`` (B, C, ceil(H / 2), ceil(W / 2)); ``pixels`` (B, P, H, W); ``weight`` (O, C + P, 3, 3)
    with padding 1; ``out_weight`` (Q, O, 1, 1). On the fast path the upsampled map is never made:
    one convolution of ``fine`` (edges replicated, as the upsampling clamps) gives the four phases'
    shares, the pixels' share is added at full size, and the outermost rows and columns, where the
    3x3 convolution's zero padding meets the upsampled map, are computed the plain way on strips.
    """
    height, width = pixels.shape[-2:]
    if not (fast_path(fine) and _FUSED_ACTIVATION) or min(height, width) < 4:
        return _upsampled_conv_relu_conv_plain(fine, pixels, weight, bias, out_weight, out_bias)
    batch, channels, rows, cols = fine.shape
    outputs = weight.shape[0]
    shares = torch.ops.mkldnn._convolution_pointwise(
        F.pad(fine, (1, 1, 1, 1), mode="replicate").contiguous(memory_format=torch.channels_last),
        _phase_weight(weight[:, :channels]), None, [0, 0], [1, 1], [1, 1], 1, "none", [], None)
    even = F.pad(pixels, (0, 2 * cols - width, 0, 2 * rows - height)).contiguous(memory_format=torch.channels_last)
    hidden = torch.ops.mkldnn._convolution_pointwise(
        even, weight[:, channels:].contiguous(), bias, [1, 1], [1, 1], [1, 1], 1, "none", [], None)
    # hidden's memory is (b, 2i + p, 2j + q, o); the shares' (b, i, j, p, q, o).
    pixel_major = hidden.permute(0, 2, 3, 1).view(batch, rows, 2, cols, 2, outputs)
    pixel_major.add_(shares.permute(0, 2, 3, 1).view(batch, rows, cols, 2, 2, outputs).permute(0, 1, 3, 2, 4, 5))
    hidden.relu_()
    out = pointwise_conv(hidden, out_weight, out_bias)[..., :height, :width]

    def plain(fine_rows: slice, fine_cols: slice) -> Tensor:
        """The plain layers on a strip of ``fine`` and the pixels it covers."""
        pixel_rows, pixel_cols = (slice(2 * part.start, None if part.stop is None else 2 * part.stop)
                                  for part in (fine_rows, fine_cols))
        return _upsampled_conv_relu_conv_plain(fine[..., fine_rows, fine_cols], pixels[..., pixel_rows, pixel_cols],
                                               weight, bias, out_weight, out_bias)

    # Each strip's upsampling is exact but at its inner end, which the row or column kept does not read.
    every, row, col = slice(0, None), max(0, (height - 1) // 2 - 1), max(0, (width - 1) // 2 - 1)
    out[..., :1, :] = plain(slice(0, 2), every)[..., :1, :]
    out[..., -1:, :] = plain(slice(row, None), every)[..., -1:, :]
    out[..., :, :1] = plain(every, slice(0, 2))[..., :, :1]
    out[..., :, -1:] = plain(every, slice(col, None))[..., :, -1:]
    return out


def _phase_weight(weight: Tensor) -> Tensor:
    """(4 O, C, 3, 3) channels-last: output channel (2 p + q) O + o convolves the map at half size as
    ``weight`` (O, C, 3, 3) convolves its upsampling at output pixels (2i + p, 2j + q)."""
    outputs, channels = weight.shape[:2]
    phases = torch.einsum("ocde,pda,qeb->pqocab", weight.double(), _UPSAMPLED_TAPS, _UPSAMPLED_TAPS)
    return phases.reshape(4 * outputs, channels, 3, 3).to(weight.dtype).contiguous(memory_format=torch.channels_last)


def _upsampled_conv_relu_conv_plain(fine: Tensor, pixels: Tensor, weight: Tensor, bias: Tensor | None,
                                    out_weight: Tensor, out_bias: Tensor | None) -> Tensor:
    height, width = pixels.shape[-2:]
    up = F.interpolate(fine, scale_factor=2.0, mode="bilinear", align_corners=False)[..., :height, :width]
    hidden = F.relu(F.conv2d(torch.cat([up, pixels], dim=1), weight, bias, padding=1))
    return F.conv2d(hidden, out_weight, out_bias)
