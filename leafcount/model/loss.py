"""The matching loss of eq. (5): Hungarian matching on soft IoU plus a
confidence term, so the order in which leaves come out does not matter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor


@dataclass
class MatchingLoss:
    """The loss and its parts (the parts are detached, for logging)."""

    total: Tensor
    iou: float  # mean soft IoU of the matched pairs
    confidence: float  # summed BCE of the confidences
    pixel: float  # mean pixel BCE of the matched masks
    pred_index: np.ndarray  # matched prediction steps
    truth_index: np.ndarray  # the ground-truth leaf each one got


def soft_iou(pred: Tensor, truth: Tensor) -> Tensor:
    """Soft IoU between every predicted mask and every true leaf.

    Parameters
    ----------
    pred : Tensor, shape (T, P)
        Mask probabilities in [0, 1], pixels flattened.
    truth : Tensor, shape (N, P)
        Binary leaf masks as floats.

    Returns
    -------
    Tensor, shape (T, N)
        ``sum(y * y*) / sum(y + y* - y * y*)`` for each pair (section 3.3).
    """
    inter = pred @ truth.T
    union = pred.sum(dim=1, keepdim=True) + truth.sum(dim=1)[None, :] - inter
    return inter / union.clamp_min(1e-6)


def matching_loss(
    mask_logits: Tensor,
    score_logits: Tensor,
    truth_masks: Tensor,
    *,
    confidence_weight: float = 1.0,
    pixel_weight: float = 0.0,
) -> MatchingLoss:
    """Eq. (5) for one image.

    Parameters
    ----------
    mask_logits : Tensor, shape (T, h, w)
        Logits of the T predicted masks.
    score_logits : Tensor, shape (T,)
        Logits of the confidences s_t.
    truth_masks : Tensor, shape (N, h, w)
        The N true leaves as float masks at the same size; N may be 0.
    confidence_weight : float
        lambda of eq. (5); the paper uses 1.
    pixel_weight : float
        Weight of an extra pixel-wise BCE between matched masks and their
        leaves (0 = the paper's loss). Soft IoU alone gives weak gradients to
        pixels far outside a leaf; BCE sharpens the edges.

    Returns
    -------
    MatchingLoss
        ``total = -sum(matched IoU) + lambda * sum_t BCE([t < N], s_t)
        + pixel_weight * mean BCE(matched)``.

    Notes
    -----
    The matching runs on detached IoUs (the assignment is not
    differentiable); the gradient flows through the IoUs of the matched
    pairs only. With T < N (curriculum) only T leaves are matched and all
    confidence targets are 1.
    """
    steps = mask_logits.shape[0]
    n_true = truth_masks.shape[0]
    probs = torch.sigmoid(mask_logits).reshape(steps, -1)
    targets = (torch.arange(steps, device=score_logits.device) < n_true).to(score_logits.dtype)
    confidence = F.binary_cross_entropy_with_logits(score_logits, targets, reduction="sum")
    total = confidence_weight * confidence
    pred_index = truth_index = np.zeros(0, dtype=np.int64)
    iou_mean = pixel_mean = 0.0
    if n_true and steps:
        truth_flat = truth_masks.reshape(n_true, -1)
        iou = soft_iou(probs, truth_flat)
        pred_index, truth_index = linear_sum_assignment(iou.detach().cpu().numpy(), maximize=True)
        matched = iou[pred_index, truth_index]
        total = total - matched.sum()
        iou_mean = float(matched.detach().mean())
        if pixel_weight:
            pixel = F.binary_cross_entropy_with_logits(
                mask_logits.reshape(steps, -1)[pred_index], truth_flat[truth_index]
            )
            total = total + pixel_weight * pixel
            pixel_mean = float(pixel.detach())
    return MatchingLoss(total, iou_mean, float(confidence.detach()), pixel_mean, pred_index, truth_index)


BOUNDARY_WEIGHT = 5.0
"""Leaf-boundary pixels are a few percent of an image: their positives count this much more."""


def dense_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-pixel loss of plant foreground, leaf boundary and (with a third
    channel) leaf-centre maps: binary cross-entropy of each, (B, C, H, W)
    logits against (B, C, H, W) targets in [0, 1], boundary positives
    weighted by :data:`BOUNDARY_WEIGHT`; the centre map's soft targets are
    learnt on the plant pixels only (off the plant it means nothing).

    ``targets`` may carry one channel more than ``logits``: per-pixel
    weights of the boundary and centre terms
    (:func:`leafcount.train_dense.leaf_weights`)."""
    weights = targets[:, logits.shape[1]] if targets.shape[1] > logits.shape[1] else None
    fg = F.binary_cross_entropy_with_logits(logits[:, 0], targets[:, 0])
    positive = torch.tensor(BOUNDARY_WEIGHT, device=logits.device)
    edge = F.binary_cross_entropy_with_logits(logits[:, 1], targets[:, 1], weight=weights, pos_weight=positive)
    if logits.shape[1] < 3:
        return fg + edge
    plant = targets[:, 0] if weights is None else targets[:, 0] * weights
    centre = F.binary_cross_entropy_with_logits(logits[:, 2], targets[:, 2], weight=plant, reduction="sum")
    return fg + edge + centre / plant.sum().clamp(min=1.0)


def labels_to_masks(labels: np.ndarray) -> np.ndarray:
    """(H, W) integer labels -> (N, H, W) float32 masks, one per distinct leaf."""
    ids = np.unique(labels)
    ids = ids[ids != 0]
    return (labels[None] == ids[:, None, None]).astype(np.float32)
