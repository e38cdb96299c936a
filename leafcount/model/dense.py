"""Plant foreground and leaf boundary at the image's own resolution.

The recurrent part decides which leaves exist and roughly where; which
leaf a pixel belongs to is decided by where the leaf edges run, and those
are one or two pixels wide on a CVPPP image. At the recurrent network's
working size (half the image) and mask stride (2) they are gone. A quick
check in the model-v2 issue measured the difference: dense heads at full
resolution gave SBD 78.6 with a plain seeded watershed after 25 minutes of
training, where the same watershed on the stride-4 maps of the recurrent
network gives less than 70.

:class:`FullResolutionHeads` is that network: the first four stages of an
ImageNet-pretrained EfficientNet-Lite0 (stride 16, enough context for an
edge, a fifth of the full backbone's weights), a small feature pyramid
back to stride 2 and one convolution at full resolution that sees the
pixels themselves. It is fully convolutional, so it trains on crops and
runs on any size.

Built with ``context_channels``, the heads keep the backbone's stages to
stride 8 and take the coarser context from the recurrent encoder's
feature pyramid (its stride-8 level, stride 16 of the heads'
twice-as-large input): the encoder has run on the same image by then, and
the six stride-16 blocks it replaces were about 33 of the heads' 110-130 ms.
Such heads are distilled from heads with their own backbone
(:mod:`leafcount.distill_heads`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from leafcount.model.efficientnet_lite import FEATURE_CHANNELS, EfficientNetLite0, load_imagenet_weights, to_lite_input
from leafcount.model.kernels import PointwiseConv2d, upsampled_conv_relu_conv
from leafcount.model.pyramid import conv_relu, resample, resample_concat

LEVELS = 4  # backbone stages up to stride 16
CONTEXT_LEVELS = 3  # with the encoder's context: the backbone stages up to stride 8
CONTEXT_STRIDE = 16  # the encoder's pyramid level the heads read, in the heads' input pixels


class FullResolutionHeads(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] -> (B, ``outputs``, H, W) logits of plant
    foreground, leaf boundary and, when ``outputs`` is 3, leaf centre.

    The backbone's BatchNorm statistics stay those of ImageNet, as in the
    recurrent network's encoder: a handful of crops per batch would make
    them noise.

    ``context_channels`` > 0: the coarse context comes from the encoder's
    pyramid (``forward``'s ``context``, that many channels at stride
    :data:`CONTEXT_STRIDE`) through a 3x3 convolution with ReLU and a 1x1
    one (the non-linear step the six blocks it replaces took), and the
    backbone stops at stride 8.
    """

    def __init__(self, width: int = 32, fine: int = 16, full: int = 8, outputs: int = 2,
                 context_channels: int = 0) -> None:
        super().__init__()
        self.backbone = EfficientNetLite0(classifier=False, levels=CONTEXT_LEVELS if context_channels else LEVELS)
        c2, c4, c8, c16 = FEATURE_CHANNELS[:LEVELS]
        self.lateral = nn.ModuleList(PointwiseConv2d(c, width) for c in ((c4, c8) if context_channels else (c4, c8, c16)))
        self.context = (nn.Sequential(conv_relu(context_channels, 2 * width), PointwiseConv2d(2 * width, width))
                        if context_channels else None)
        self.fine = nn.Sequential(conv_relu(width + c2, fine), conv_relu(fine, fine))
        self.full = nn.Sequential(conv_relu(fine + 3, full), PointwiseConv2d(full, outputs))

    def load_imagenet(self) -> None:
        """Start the backbone from the ImageNet weights (training only)."""
        load_imagenet_weights(self.backbone)

    def train(self, mode: bool = True) -> "FullResolutionHeads":
        super().train(mode)
        for module in self.backbone.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def forward(self, image: Tensor, context: Tensor | None = None) -> Tensor:
        """Logits of ``image``; ``context``: the encoder's pyramid level (heads built with
        ``context_channels`` need it, others take none)."""
        if (context is None) != (self.context is None):
            raise ValueError("heads built with context_channels need the encoder's context, others take none")
        height, width = image.shape[-2:]
        pixels = to_lite_input(image)
        f2, *levels = self.backbone.features(pixels)
        top = None if context is None else self.context(context)
        strides = (8, 4) if context is not None else (16, 8, 4)
        for stride, lateral, level in zip(strides, reversed(self.lateral), reversed(levels)):
            x = lateral(level)
            top = x if top is None else x + resample(top, 2 * stride, x.shape[-2:], stride, stride - 1)
        half = (-(-height // 2), -(-width // 2))
        fine = self.fine(resample_concat([(f2, 2), (top, 4)], half, 2, 0.5))
        # Stride-2 cells centred on input pixel 2j + 0.5: a plain bilinear x2 lands them on the pixels.
        conv, out = self.full[0][0], self.full[1]
        return upsampled_conv_relu_conv(fine, pixels.contiguous(memory_format=torch.channels_last), conv.weight,
                                        conv.bias, out.weight, out.bias)
