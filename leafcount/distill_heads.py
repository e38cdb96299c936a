"""Full-resolution heads that read the recurrent encoder's context, distilled from heads with their own backbone.

Heads with their own backbone run it to stride 16 for the context an edge
or a leaf centre needs; on a CVPPP image the six stride-16 blocks cost
about 33 ms of a 300 ms pass, and the recurrent encoder has by then
computed a feature pyramid of the same image with more context still.
Heads built with ``ModelConfig.dense_context`` read the encoder's
stride-8 level (stride 16 of their input) instead of those blocks
(:class:`~leafcount.model.dense.FullResolutionHeads`).

They learn from the heads they replace: on each augmented training image
the new heads are pulled towards the old heads' probabilities, so no
labels are needed and what the decoding was tuned on is what they learn
to give. Every layer they keep starts from the old heads' weights, and the
new context convolution from the least-squares map of the encoder's level
onto the stride-16 map of the blocks it replaces (on the validation
images, 8.7% of that map's variance left unexplained, against 13% for
the centre pixel alone).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from leafcount.data.augment import augment
from leafcount.errors import ConfigError
from leafcount.inference.segment import SegmentConfig, image_to_tensor
from leafcount.model.config import ModelConfig
from leafcount.model.dense import FullResolutionHeads
from leafcount.model.efficientnet_lite import to_lite_input
from leafcount.model.ris import RIS
from leafcount.train import TrainingPair, validation_scores
from leafcount.train_dense import HeadsTrainer

BATCH = 2  # whole images at the heads' input size: the encoder's context is of the whole image
CHANNEL_WEIGHTS = (1.0, 2.0, 4.0)
"""Foreground, boundary, centre: the centre map's peaks set the leaf count, and it was the map
the first distilled heads got most wrong (mean difference 0.018 against 0.002 for the foreground)."""
LSTSQ_IMAGES = 40  # images whose pixels fit the context convolution's first weights
RIDGE = 1e-3


def _own_context_map(heads: FullResolutionHeads, image: torch.Tensor) -> torch.Tensor:
    """What the encoder's context replaces in heads with their own backbone: the top
    (stride-16) level of their pyramid."""
    return heads.lateral[2](heads.backbone.features(to_lite_input(image))[-1])


def with_context_heads(model: RIS, images: Sequence[np.ndarray]) -> RIS:
    """A copy of ``model`` whose full-resolution heads read the encoder's context.

    The backbone's stages to stride 8, their laterals and the fine and
    full layers are ``model``'s heads' own; the context branch starts as
    the least-squares map from the 3x3 neighbourhoods of the encoder's
    stride-8 level to the stride-16 map it replaces over the pixels of
    ``images`` (each (H, W, 3) in [0, 1], fitted to the heads' input size).
    """
    if model.dense is None or model.config.dense_context:
        raise ConfigError("distilling needs a model whose full-resolution heads run their own backbone")
    config = ModelConfig.from_dict({**model.config.to_dict(), "dense_context": True})
    student = RIS(config).eval()  # a new module trains: its BatchNorm would learn these images' statistics
    state = {k: v for k, v in model.state_dict().items() if k in student.state_dict()}
    missing, _ = student.load_state_dict(state, strict=False)
    if not missing or any(not key.startswith("dense.context.") for key in missing):
        raise ConfigError(f"cannot build context heads from this model: {missing} missing")
    inputs, targets = [], []
    with torch.inference_mode():
        for image in images[:LSTSQ_IMAGES]:
            small, _ = image_to_tensor(image, config.input_size, config.output_stride)
            large, _ = image_to_tensor(image, config.dense_input_size)
            inputs.append(neighbourhoods(student.encode(small, aux=False).context))
            targets.append(_own_context_map(model.dense, large)[0].flatten(1).t())
    weight, bias = least_squares(torch.cat(inputs), torch.cat(targets))
    # The branch's ReLU passes relu(y) and relu(-y) and its 1x1 layer takes their difference: y itself.
    spread, merge = student.dense.context[0][0], student.dense.context[1]
    with torch.no_grad():
        spread.weight.copy_(torch.cat([weight, -weight]).reshape(spread.weight.shape))
        spread.bias.copy_(torch.cat([bias, -bias]))
        identity = torch.eye(len(bias))
        merge.weight.copy_(torch.cat([identity, -identity], dim=1)[:, :, None, None])
        merge.bias.zero_()
    return student


def neighbourhoods(x: torch.Tensor) -> torch.Tensor:
    """(pixels, C * 9): each pixel's 3x3 neighbourhood of the (1, C, H, W) ``x`` (zero outside), in the
    order of a 3x3 convolution's flattened weight."""
    return F.unfold(x, 3, padding=1)[0].t()


def least_squares(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight (T, I), bias (T,)) minimising ``|inputs @ weight.T + bias - targets|^2`` over the rows
    (pixels), with a small ridge (:data:`RIDGE`) for channels that barely vary."""
    x = torch.cat([inputs, torch.ones(len(inputs), 1, dtype=inputs.dtype)], dim=1).double()
    solution = torch.linalg.solve(x.t() @ x + RIDGE * torch.eye(x.shape[1], dtype=x.dtype), x.t() @ targets.double())
    return solution[:-1].t().to(inputs.dtype), solution[-1].to(inputs.dtype)


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the heads' maps against the teacher's probabilities, mean over
    pixels and images, summed over the maps with :data:`CHANNEL_WEIGHTS`."""
    per_map = F.binary_cross_entropy_with_logits(logits, torch.sigmoid(teacher_logits), reduction="none").mean((0, 2, 3))
    return (per_map * per_map.new_tensor(CHANNEL_WEIGHTS[: per_map.numel()])).sum()


class HeadsDistiller(HeadsTrainer):
    """:class:`~leafcount.train_dense.HeadsTrainer` for context heads (``model.dense``) learning from ``teacher``,
    heads with their own backbone, on the same images.

    The training pairs must be fitted to ``model.config.dense_input_size``;
    an iteration is :data:`BATCH` augmented whole images, each also fitted
    to the encoder's input for its context; validation segments the
    held-out images with ``decoding`` (the one the teacher's maps were
    tuned for) and reports the distillation loss as the loss.
    """

    def __init__(self, model: RIS, teacher: FullResolutionHeads, decoding: SegmentConfig,
                 train_pairs: Sequence[TrainingPair], val_pairs: Sequence[TrainingPair] = (),
                 *args: Any, **kwargs: Any) -> None:
        if model.dense is None or not model.config.dense_context:
            raise ConfigError("distilling trains heads that read the encoder's context (ModelConfig.dense_context)")
        super().__init__(model, train_pairs, val_pairs, *args, **kwargs)
        self.teacher = copy.deepcopy(teacher).to(self.device).eval().requires_grad_(False)
        self.decoding = decoding
        self._val_teacher: dict[str, torch.Tensor] = {}  # the frozen teacher's logits of each held-out image

    def _inputs(self, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The image at the heads' input and the encoder's context of it."""
        config = self.model.config
        large = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(self.device)
        small, _ = image_to_tensor(image, config.input_size, config.output_stride)
        with torch.no_grad():
            return large, self.model.encode(small.to(self.device), aux=False).context

    def train_step(self) -> tuple[float, float, int]:
        self.model.dense.train()
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(BATCH):
            pair = self.train_pairs[int(self.rng.integers(len(self.train_pairs)))]
            image, _ = augment(pair.image, pair.labels, self.rng, self.config.augment)
            large, context = self._inputs(np.asarray(image, dtype=np.float32))
            with torch.no_grad():
                teacher = self.teacher(large)
            loss = distillation_loss(self.model.dense(large, context), teacher) / BATCH
            loss.backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_value_(self.model.dense.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.iteration += 1
        return total, math.nan, 0

    def validate(self, segment_config: SegmentConfig | None = None) -> dict[str, float]:
        segment_config = segment_config or self.decoding
        self.model.eval()
        losses = []
        with torch.inference_mode():
            for pair in self.val_pairs:
                large, context = self._inputs(pair.image)
                if pair.name not in self._val_teacher:
                    self._val_teacher[pair.name] = self.teacher(large)
                losses.append(float(distillation_loss(self.model.dense(large, context), self._val_teacher[pair.name])))
        return {**validation_scores(self.model, self.val_pairs, segment_config), "loss": float(np.mean(losses))}
