"""Every pass of RIS over one image, decoded: the first pass, the mirrored ones, the labels.

Kept apart from :mod:`leafcount.inference.segment` (one pass, decoding) and
:mod:`leafcount.inference.flips` (the mirrored passes, which build on one
pass), so neither of those has to import the other's caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leafcount.cancel import CancelToken
from leafcount.inference.flips import with_mirrored_passes
from leafcount.inference.segment import SegmentConfig, Step, decode_steps, segment_steps
from leafcount.model.ris import RIS
from leafcount.resize import Box


@dataclass(frozen=True)
class SegmentResult:
    """Labels (H, W) int32 at the image's size and the steps they were decoded from."""

    labels: np.ndarray
    steps: list[Step]


def all_steps(
    model: RIS,
    image: np.ndarray,
    config: SegmentConfig = SegmentConfig(),
    cancel: CancelToken | None = None,
) -> list[Step]:
    """Every step of ``model`` on ``image``, with masks fused over the mirrored
    passes when ``config.flips`` > 1, and dense maps over ``config.dense_flips``
    (see :mod:`leafcount.inference.flips`)."""
    return with_mirrored_passes(model, image, list(segment_steps(model, image, config, cancel)), config, cancel)


def segment_image(
    model: RIS,
    image: np.ndarray,
    config: SegmentConfig = SegmentConfig(),
    cancel: CancelToken | None = None,
    focus: Box | None = None,
) -> SegmentResult:
    """Run all steps and decode them: labels at the image size plus the steps
    (fused with the mirrored passes when ``config.flips`` > 1); ``focus``:
    where the plant lies when the image may hold a bigger one
    (:func:`~leafcount.inference.segment.decode_steps`)."""
    steps = all_steps(model, image, config, cancel)
    return SegmentResult(decode_steps(steps, image.shape[:2], config, focus), steps)
