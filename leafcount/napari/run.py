"""The network run behind the "Segment leaves (RIS)" widget, for napari's thread worker.

:func:`segment_live` composes the core as ``leafcount segment`` does for one
image (:func:`leafcount.inference.batch.segment_file`): the decoding the checkpoint
recommends, the RIS steps, the mirrored passes, the decoding and the
optional CRF, or for a tray the plants found by colour, one by one. It is a
generator, so napari's worker hands each step to the viewer as it is
found, and it returns the steps so the threshold can move afterwards
without the network (:func:`decode`).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leafcount.cancel import CancelToken
from leafcount.inference.crf import CrfConfig, refine_labels
from leafcount.inference.flips import with_mirrored_passes
from leafcount.model.checkpoint import load_checkpoint
from leafcount.analysis.plant_boxes import PlantBox, plants_to_meta
from leafcount.inference.segment import SegmentConfig, Step, decode_steps, segment_steps
from leafcount.inference.tray import PlantResult, detect_plants, looks_like_tray, segment_tray


@dataclass(frozen=True)
class RunSettings:
    """What the widget asks for; ``stop_threshold`` None keeps the checkpoint's."""

    model_path: Path
    stop_threshold: float | None = None
    flips: int = 1
    crf: bool = False
    tray: bool = False  # as ``leafcount segment --tray auto``: a tray when several plants are found


@dataclass(frozen=True)
class LiveStep:
    """One step as it is found, with the labels of the leaves so far (image size, no CRF)."""

    step: Step
    labels: np.ndarray


@dataclass(frozen=True)
class Run:
    """A finished run: its labels and all it takes to decode them again."""

    labels: np.ndarray
    config: SegmentConfig
    model_name: str
    crf: CrfConfig | None
    steps: list[Step] = field(default_factory=list)  # [] for a tray: its steps are per plant
    plants: list[PlantResult] = field(default_factory=list)

    @property
    def is_tray(self) -> bool:
        return bool(self.plants)

    def plant_leaf_counts(self) -> list[int]:
        """Leaves of each plant in the final labels (after the CRF), as ``counts.csv`` has them."""
        present = np.unique(self.labels)
        return [len(np.intersect1d(present, plant.leaf_ids)) for plant in self.plants]

    def sidecar_meta(self) -> dict[str, Any]:
        """The sidecar's record of this run, as ``leafcount segment`` writes it."""
        meta: dict[str, Any] = {"model": self.model_name, "stop_threshold": self.config.stop_threshold,
                                "assignment": self.config.assignment, "flips": self.config.flips,
                                "crf": self.crf is not None}
        if self.plants:
            meta["plants"] = plants_to_meta([plant.plant for plant in self.plants])
        return meta


def decode(steps: Sequence[Step], image: np.ndarray, config: SegmentConfig, crf: CrfConfig | None) -> np.ndarray:
    """Labels at the image size from kept steps, CRF-refined when ``crf`` is given (no network)."""
    labels = decode_steps(steps, image.shape[:2], config)
    return refine_labels(image, labels, config=crf) if crf is not None else labels


def segment_live(
    image: np.ndarray, settings: RunSettings, cancel: CancelToken | None = None
) -> Generator[LiveStep | list[PlantBox], None, Run]:
    """Segment ``image`` (H, W, 3) float in [0, 1]: yields each :class:`LiveStep`, or a
    tray's plant boxes once they are found, and returns the :class:`Run`."""
    model, info = load_checkpoint(settings.model_path)
    config = SegmentConfig.for_checkpoint(info.meta).replace(flips=settings.flips)
    if settings.stop_threshold is not None:
        config = config.replace(stop_threshold=settings.stop_threshold)
    crf = CrfConfig.for_checkpoint(info.meta) if settings.crf else None
    boxes = detect_plants(image) if settings.tray else []
    if looks_like_tray(boxes):
        yield boxes
        labels, plants = segment_tray(model, image, boxes, config, cancel=cancel)
        if crf is not None:
            labels = refine_labels(image, labels, config=crf)
        return Run(labels, config, info.name, crf, plants=plants)
    steps = []
    for step in segment_steps(model, image, config, cancel):
        steps.append(step)
        yield LiveStep(step, decode_steps(steps, image.shape[:2], config))
    steps = with_mirrored_passes(model, image, steps, config, cancel)
    return Run(decode(steps, image, config, crf), config, info.name, crf, steps=steps)
