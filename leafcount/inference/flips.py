"""Test-time flips: RIS on mirrored copies of an image, fused leaf by leaf.

A single pass draws each leaf edge from one direction of the recurrent
sweep; the same leaf seen in the mirrored image gets a slightly different,
independent error. Averaging the two views sharpens the mask without giving
up what RIS decides: the first pass alone says which leaves exist, in which
order, with which confidence; the other passes only refine the masks of the
leaves they also found. On the CVPPP A1 training images this bought +1.4
SBD with 4 passes (benchmarks/accuracy.py reports it on validation), at 4x
the network time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from leafcount.cancel import CancelToken
from leafcount.inference.segment import SegmentConfig, Step, dense_maps, segment_steps
from leafcount.model.ris import RIS

__all__ = ["MIRRORS", "flipped_masks", "fuse_dense_maps", "fuse_steps", "with_mirrored_passes"]

MIRRORS = ((False, True), (True, False), (True, True))
"""(upside down, left-right) of the extra passes, in the order they are used."""

MATCH_IOU = 0.3
"""Below this overlap two passes' masks are different leaves and stay apart."""


def _mirror(array: np.ndarray, upside_down: bool, left_right: bool) -> np.ndarray:
    return np.ascontiguousarray(array[:: -1 if upside_down else 1, :: -1 if left_right else 1])


def flipped_masks(
    model: RIS, image: np.ndarray, config: SegmentConfig, cancel: CancelToken | None = None
) -> list[list[np.ndarray]]:
    """The step masks of RIS on ``config.flips - 1`` mirrored copies of ``image``,
    each mirrored back so it lies over the original image."""
    passes = []
    for upside_down, left_right in MIRRORS[: config.flips - 1]:
        mirrored = _mirror(image, upside_down, left_right)
        steps = segment_steps(model, mirrored, config, cancel)
        passes.append([_mirror(step.mask, upside_down, left_right) for step in steps])
    return passes


def fuse_steps(steps: Sequence[Step], other_passes: Sequence[Sequence[np.ndarray]]) -> list[Step]:
    """``steps`` with each mask averaged with its best match in every other pass.

    Matching is one-to-one (Hungarian) on the overlap of the masks above 0.5;
    a step whose match overlaps by less than :data:`MATCH_IOU`, or that has
    none, keeps its own mask. Every step is fused, not only those above the
    stop threshold, so the threshold can still move without a rerun. Scores
    and kappa maps are those of the first pass.
    """
    steps = list(steps)
    if not steps:
        return []
    total = [step.mask.astype(np.float32) for step in steps]
    views = [1] * len(steps)
    ours = np.stack([step.mask > 0.5 for step in steps]).reshape(len(steps), -1).astype(np.float32)
    for masks in other_passes:
        if not masks:
            continue
        theirs = np.stack([mask > 0.5 for mask in masks]).reshape(len(masks), -1).astype(np.float32)
        overlap = ours @ theirs.T
        iou = overlap / np.maximum(ours.sum(1)[:, None] + theirs.sum(1)[None] - overlap, 1)
        for i, j in zip(*linear_sum_assignment(-iou)):
            if iou[i, j] >= MATCH_IOU:
                total[i] = total[i] + masks[j]
                views[i] += 1
    return [dataclasses.replace(step, mask=mask / n) for step, mask, n in zip(steps, total, views)]


def fuse_dense_maps(
    model: RIS, image: np.ndarray, steps: Sequence[Step], passes: int, cancel: CancelToken | None = None
) -> list[Step]:
    """``steps`` with their dense maps (foreground, boundary, centre) averaged over ``passes``
    views of ``image`` (the first pass's and ``passes - 1`` mirrored copies).

    Only the encoder runs on the copies, a fraction of a recurrent pass, and a
    per-pixel map gains from the average what a leaf mask gains from
    :func:`fuse_steps`: leaf edges no longer depend on the direction of the
    convolutions' padding and strides.
    """
    steps = list(steps)
    if passes == 1 or not steps or steps[0].foreground is None:
        return steps
    names = [name for name in ("foreground", "boundary", "centre") if getattr(steps[0], name) is not None]
    total = {name: getattr(steps[0], name).astype(np.float32) for name in names}
    for upside_down, left_right in MIRRORS[: passes - 1]:
        if cancel is not None:
            cancel.raise_if_cancelled()
        for name, seen in zip(("foreground", "boundary", "centre"), dense_maps(model, _mirror(image, upside_down, left_right))):
            if name in total:
                total[name] = total[name] + _mirror(seen, upside_down, left_right)
    averaged = {name: value / passes for name, value in total.items()}
    return [dataclasses.replace(step, **averaged) for step in steps]


def with_mirrored_passes(
    model: RIS, image: np.ndarray, steps: Sequence[Step], config: SegmentConfig, cancel: CancelToken | None = None
) -> list[Step]:
    """``steps`` (the first pass on ``image``) fused with the mirrored passes
    that ``config.flips`` (masks) and ``config.dense_flips`` (dense maps) ask
    for; unchanged when they ask for none."""
    steps = list(steps)
    if config.flips > 1:
        steps = fuse_steps(steps, flipped_masks(model, image, config, cancel))
    return fuse_dense_maps(model, image, steps, config.dense_flips, cancel)
