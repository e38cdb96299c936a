"""The network run behind the "Segment leaves (RIS)" widget, for napari's thread worker.

:func:`segment_live` runs :func:`leafcount.inference.pipeline.segment_photo`,
the composition ``leafcount segment`` runs, with the decoding the checkpoint
recommends. It is a generator, so napari's worker hands each step to the
viewer as it is found (with the labels of the leaves so far), and the
finished :class:`Run` keeps the steps so the threshold can move afterwards
without the network (:func:`leafcount.inference.pipeline.redecode`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leafcount.analysis.plant_boxes import PlantBox
from leafcount.cancel import CancelToken
from leafcount.data.folder import Photo
from leafcount.inference.crf import CrfConfig
from leafcount.inference.pipeline import LabelsReady, PipelineResult, PipelineSettings, PlantsFound, segment_photo
from leafcount.inference.segment import SegmentConfig, Step, decode_steps
from leafcount.inference.tray import PlantResult
from leafcount.model.checkpoint import load_checkpoint


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
    """One step as it is found, with the labels of the leaves so far (image size, no CRF); once a
    step's confidence has fallen under the stop threshold, the run's final labels instead."""

    step: Step
    labels: np.ndarray


@dataclass(frozen=True)
class Run:
    """A finished run: the pipeline's result and all it takes to decode it again."""

    result: PipelineResult
    crf: CrfConfig | None
    steps: list[Step] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        return self.result.labels

    @property
    def config(self) -> SegmentConfig:
        return self.result.run.config

    @property
    def plants(self) -> list[PlantResult]:
        return self.result.plants

    @property
    def is_tray(self) -> bool:
        return bool(self.result.plants)

    def plant_leaf_counts(self) -> list[int]:
        """Leaves of each plant in the final labels (after the CRF), as ``counts.csv`` has them."""
        return self.result.plant_leaf_counts()

    def sidecar_meta(self) -> dict[str, Any]:
        """The sidecar's record of this run, as ``leafcount segment`` writes it."""
        return self.result.sidecar_meta()


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
    pipeline = PipelineSettings(config, crf, "auto" if settings.tray else "off", heads_alongside=True)
    events = segment_photo(model, info, Photo(image), image.shape[:2], pipeline, cancel)
    steps: list[Step] = []
    final = None  # the labels, once the pipeline has them: the steps after that are for the slider
    while True:
        try:
            event = next(events)
        except StopIteration as end:
            result = end.value
            return Run(result, crf, result.steps)
        if isinstance(event, Step):
            steps.append(event)
            yield LiveStep(event, final if final is not None else decode_steps(steps, image.shape[:2], config))
        elif isinstance(event, LabelsReady):
            final = event.labels
        elif isinstance(event, PlantsFound):
            yield list(event.plants)
