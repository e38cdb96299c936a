"""Feature-pyramid pieces shared by the Lite0 encoder and the full-resolution heads."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from leafcount.model.kernels import Conv2dReLU, fast_path


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


def resample(x: Tensor, stride: int, size: tuple[int, int] | torch.Size, out_stride: float, out_offset: float,
             out: Tensor | None = None) -> Tensor:
    """Bilinear resampling of a backbone map at stride ``stride`` onto the grid
    whose pixel j is centred on input pixel ``out_stride * j + out_offset``.

    TensorFlow's "SAME" padding pads after, not before, so pixel i of a
    stride-s map sees the input around ``s * i + s - 1``, not the centre of
    its cell, ``s * i + (s - 1) / 2``: each level lies (s - 1) / 2 input
    pixels off a plain ``interpolate``. Left as it was, the foreground map
    of a first model came out shifted by about 1.2 input pixels, and moving
    it back by hand raised its foreground Dice from 89.8 to 93.5.

    Rows, then columns, each a blend of two lines, on the pixel-major view
    of ``x``: the result is channels-last, the order the convolutions after
    it run fastest on (``grid_sample`` writes NCHW, which made the heads'
    next convolution 2x slower; a copy to channels-last costs as much as the
    resampling itself). ``out``: a channels-last (B, C, *size) map (a channel
    slice of a concatenation) to write the result into instead of a new one.
    """
    height, width = x.shape[-2:]
    target = None if out is None else out.permute(0, 2, 3, 1)
    rows = _blend_axis(x.permute(0, 2, 3, 1), 1, size[0], stride, out_stride, out_offset, height)
    cols = _blend_axis(rows, 2, size[1], stride, out_stride, out_offset, width, target)
    return cols.permute(0, 3, 1, 2)


def resample_concat(maps: list[tuple[Tensor, int]], size: tuple[int, int] | torch.Size, out_stride: float,
                    out_offset: float) -> Tensor:
    """The channel concatenation of each (map, its stride) resampled onto one grid (:func:`resample`),
    each written straight into its channel slice of the channels-last result when the fast kernels run."""
    if not fast_path(maps[0][0]):
        return torch.cat([resample(x, stride, size, out_stride, out_offset) for x, stride in maps], dim=1)
    first = maps[0][0]
    out = torch.empty((first.shape[0], sum(x.shape[1] for x, _ in maps), *size), dtype=first.dtype,
                      memory_format=torch.channels_last)
    start = 0
    for x, stride in maps:
        resample(x, stride, size, out_stride, out_offset, out=out[:, start : start + x.shape[1]])
        start += x.shape[1]
    return out


def _blend_axis(pixels: Tensor, dim: int, count: int, stride: int, out_stride: float, out_offset: float, length: int,
                out: Tensor | None = None) -> Tensor:
    """``count`` lines along ``dim`` of ``pixels`` (B, H, W, C), each a blend of its two source lines,
    written into ``out`` when given."""
    phased = fast_path(pixels) and stride % out_stride == 0  # not with autograd on (training)
    plan = _axis_plan(count, stride, out_stride, out_offset, length) if phased else None
    if plan is None or not plan.runs:  # every line gathered
        blended = _gathered(pixels, dim, *_axis_weights(count, stride, out_stride, out_offset, length, pixels))
        return blended if out is None else out.copy_(blended)
    if out is None:
        shape = list(pixels.shape)
        shape[dim] = count
        out = pixels.new_empty(shape)
    for first, last, step, source, blend in plan.runs:
        lines = (last - first) // step + 1
        torch.lerp(pixels.narrow(dim, source, lines), pixels.narrow(dim, source + 1, lines), blend,
                   out=_strided(out, dim, first, last, step))
    if len(plan.rest):
        out.index_copy_(dim, plan.rest, _gathered(pixels, dim, plan.low, plan.high, plan.weight))
    return out


def _gathered(pixels: Tensor, dim: int, low: Tensor, high: Tensor, weight: Tensor) -> Tensor:
    """Lines ``low`` and ``high`` of ``pixels`` along ``dim``, gathered and blended by ``weight``."""
    view = [1] * pixels.ndim
    view[dim] = -1
    return torch.lerp(pixels.index_select(dim, low), pixels.index_select(dim, high), weight.view(view))


@dataclass(frozen=True)
class _AxisPlan:
    """How :func:`_blend_axis` makes one axis's output lines on the fast path.

    When the output grid is the source grid refined by a whole factor r,
    the lines r apart advance by one source line with the same weight:
    away from the clamped border, phase by phase, one blend of two slices
    of the source gives them all (``runs``), with no gathered copy. The
    other lines (``rest``) are gathered from ``low`` and ``high``.
    """

    runs: tuple[tuple[int, int, int, int, float], ...]  # (first line, last line, step, first source, weight)
    rest: Tensor
    low: Tensor
    high: Tensor
    weight: Tensor


@functools.lru_cache(maxsize=64)
def _axis_plan(count: int, stride: int, out_stride: float, out_offset: float, length: int) -> _AxisPlan:
    """The plan of one axis geometry: the same for every image, so worked out once
    (the Python scan takes about 0.1 ms an axis, some 2 ms a pass)."""
    low, high, weight = _axis_weights(count, stride, out_stride, out_offset, length, torch.empty(0))
    runs = _uniform_runs(low.tolist(), high.tolist(), weight.tolist(), int(stride // out_stride))
    covered = torch.zeros(count, dtype=torch.bool)
    for first, last, step, _, _ in runs:
        covered[first : last + 1 : step] = True
    rest = (~covered).nonzero().flatten()
    return _AxisPlan(tuple(runs), rest, low[rest], high[rest], weight[rest])


def _strided(x: Tensor, dim: int, first: int, last: int, step: int) -> Tensor:
    index = [slice(None)] * x.ndim
    index[dim] = slice(first, last + 1, step)
    return x[tuple(index)]


def _uniform_runs(low: list[int], high: list[int], weight: list[float], factor: int
                  ) -> list[tuple[int, int, int, int, float]]:
    """For each phase of a refinement by ``factor``, its longest stretch of output lines
    (first, last, step) whose sources advance one line a step with one weight: (..., first source, weight)."""
    runs = []
    for phase in range(min(factor, len(low))):
        lines = range(phase, len(low), factor)
        best, start = None, lines[0]
        for previous, line in zip(lines, [*lines[1:], None]):
            continues = (line is not None and low[line] == low[previous] + 1 and weight[line] == weight[previous]
                         and high[line] == low[line] + 1)
            if not continues:
                if high[start] == low[start] + 1 and (best is None or previous - start > best[1] - best[0]):
                    best = (start, previous)
                start = line
        if best is not None and best[1] > best[0]:
            runs.append((best[0], best[1], factor, low[best[0]], weight[best[0]]))
    return runs
