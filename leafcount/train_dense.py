"""Training the full-resolution heads of a trained RIS network, the rest frozen.

The recurrent network and its heads are trained by :mod:`leafcount.train`
at the working size; the full-resolution heads
(:class:`~leafcount.model.dense.FullResolutionHeads`) only need pixels and
their foreground/boundary targets, so they learn from batches of random
crops at about the image's own size, every pixel a training signal. The
loop, resume state, validation and plateau schedule are the RIS trainer's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from skimage.segmentation import find_boundaries

from leafcount.data.augment import augment
from leafcount.errors import ConfigError
from leafcount.model.config import ModelConfig
from leafcount.model.loss import dense_loss
from leafcount.model.ris import RIS
from leafcount.inference.segment import SegmentConfig
from leafcount.train import Trainer, backbone_groups, validation_scores

CROP = 256
BATCH = 4


def with_dense_heads(model: RIS, input_size: tuple[int, int], *, pretrained: bool = True) -> RIS:
    """A copy of ``model`` with full-resolution heads at ``input_size`` added
    (backbone from ImageNet when ``pretrained``), every other weight kept."""
    config = ModelConfig.from_dict({**model.config.to_dict(), "dense_input_size": list(input_size)})
    grown = RIS(config)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not key.startswith("dense.") for key in missing):
        raise ConfigError(f"cannot add heads: weights do not match ({unexpected or missing})")
    if pretrained:
        grown.dense.load_imagenet()
    return grown


def with_centre_map(model: RIS) -> RIS:
    """A copy of ``model`` (which has full-resolution heads) whose heads also
    emit the leaf-centre map. Every weight is kept; the new output starts as
    the boundary output negated, since a leaf's centre is where its edge is
    farthest, so training starts from a rough centre map instead of noise."""
    if model.dense is None:
        raise ConfigError("a centre map needs the full-resolution heads: add them with --dense-heads first")
    grown = RIS(ModelConfig.from_dict({**model.config.to_dict(), "dense_centres": True}))
    state = model.state_dict()
    last = grown.dense.full[-1]
    prefix = next(name for name, p in grown.named_parameters() if p is last.weight).removesuffix("weight")
    for name in ("weight", "bias"):
        old = state[prefix + name]
        state[prefix + name] = torch.cat([old, -old[1:2]])
    grown.load_state_dict(state)
    return grown


def leaf_centres(labels: np.ndarray) -> np.ndarray:
    """(H, W) float32: each leaf pixel's distance to its leaf's edge over the
    largest such distance in that leaf (1 at the centre of every leaf,
    small or big), 0 off the plant."""
    centres = np.zeros(labels.shape, np.float32)
    for leaf, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        inside = np.pad(labels[box] == leaf, 1)
        distance = ndimage.distance_transform_edt(inside)[1:-1, 1:-1]
        centres[box] = np.where(labels[box] == leaf, distance / max(float(distance.max()), 1.0), centres[box])
    return centres


def leaf_weights(labels: np.ndarray, balance: float) -> np.ndarray:
    """(H, W) float32: each leaf pixel weighs (median leaf area / its leaf's
    area) ** ``balance``, scaled to a mean of 1 over the plant; 1 off it.

    Pixel-wise losses let a big leaf outvote a small one by its area: on the
    CVPPP training images 110 of the 159 leaves the model missed were under
    500 pixels, against a median leaf of about 1,800.
    """
    weights = np.ones(labels.shape, np.float32)
    plant = labels > 0
    if balance == 0 or not plant.any():
        return weights
    areas = np.bincount(labels.ravel()).astype(np.float64)
    per_leaf = np.zeros_like(areas)
    present = areas > 0
    present[0] = False
    per_leaf[present] = (np.median(areas[present]) / areas[present]) ** balance
    leaf = per_leaf[labels[plant]]
    weights[plant] = leaf / leaf.mean()
    return weights


def dense_targets(labels: np.ndarray, centres: bool = False, balance: float = 0.0) -> torch.Tensor:
    """(2, H, W): plant foreground and the inner boundary pixels of every
    leaf; (3, H, W) with the :func:`leaf_centres` map when ``centres``; one
    more channel, the :func:`leaf_weights`, when ``balance`` > 0."""
    maps = [labels > 0, find_boundaries(labels, mode="inner")]
    if centres:
        maps.append(leaf_centres(labels))
    if balance > 0:
        maps.append(leaf_weights(labels, balance))
    return torch.from_numpy(np.stack(maps).astype(np.float32))


def random_crop(image: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` x ``size`` window of both arrays (the whole array along a shorter side)."""
    top = int(rng.integers(max(1, image.shape[0] - size + 1)))
    left = int(rng.integers(max(1, image.shape[1] - size + 1)))
    window = (slice(top, top + size), slice(left, left + size))
    return image[window], labels[window]


class HeadsTrainer(Trainer):
    """:class:`~leafcount.train.Trainer` for ``model.dense`` alone: every other weight stays, and
    there is no sequence to grow (the plateau schedule counts from the start)."""

    def parameter_groups(self) -> list[dict[str, Any]]:
        if self.model.dense is None:
            raise ConfigError("the model has no full-resolution heads (ModelConfig.dense_input_size)")
        self.model.requires_grad_(False)
        self.model.dense.requires_grad_(True)
        return backbone_groups(self.model.dense, self.model.dense.backbone, self.config)

    @property
    def curriculum_done(self) -> bool:
        return True


class DenseTrainer(HeadsTrainer):
    """:class:`HeadsTrainer` learning the heads' maps from the labels.

    The training pairs must be fitted to ``model.config.dense_input_size``;
    an iteration is a batch of :data:`BATCH` augmented :data:`CROP`-pixel
    crops; validation segments the held-out images with the whole model
    (decoded by ``config.val_assignment``, "grow" being the one that uses
    these heads) and reports the heads' own loss as the loss.
    """

    def parameter_groups(self) -> list[dict[str, Any]]:
        if self.model.config.dense_context:
            raise ConfigError("heads that read the encoder's context learn from heads with their own backbone "
                              "(leafcount train --distill-heads), not from crops")
        return super().parameter_groups()

    def train_step(self) -> tuple[float, float, int]:
        images, targets = [], []
        for _ in range(BATCH):
            pair = self.train_pairs[int(self.rng.integers(len(self.train_pairs)))]
            image, labels = augment(pair.image, pair.labels, self.rng, self.config.augment)
            image, labels = random_crop(image, labels, CROP, self.rng)
            images.append(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))))
            targets.append(dense_targets(labels, self.model.config.dense_centres, self.config.leaf_size_balance))
        batch = torch.stack(images).to(self.device)
        target = torch.stack(targets).to(self.device)
        self.model.dense.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = dense_loss(self.model.dense(batch), target)
        loss.backward()
        torch.nn.utils.clip_grad_value_(self.model.dense.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.iteration += 1
        return float(loss.detach()), math.nan, 0

    def validate(self, segment_config: SegmentConfig | None = None) -> dict[str, float]:
        if segment_config is None:
            segment_config = SegmentConfig(assignment=self.config.val_assignment)
        self.model.eval()
        losses = []
        with torch.inference_mode():
            for pair in self.val_pairs:
                tensor = torch.from_numpy(np.ascontiguousarray(pair.image.transpose(2, 0, 1)))[None].to(self.device)
                losses.append(float(dense_loss(self.model.dense(tensor), dense_targets(pair.labels, self.model.config.dense_centres, self.config.leaf_size_balance)[None].to(self.device))))
        return {**validation_scores(self.model, self.val_pairs, segment_config), "loss": float(np.mean(losses))}
