"""Runs the model for the window: one image, a new threshold, or the whole folder.

Every job is the core's :func:`leafcount.inference.pipeline.segment_photo`
(or its ``redecode``) on a :class:`~leafcount.gui.workers.Worker`; results
come back here on the GUI thread and go into the documents, through the
history whenever they would replace hand edits or saved labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from leafcount.analysis.plant_boxes import PlantBox
from leafcount.cancel import CancelToken
from leafcount.data.folder import read_image_size
from leafcount.editing.changes import ModelRelabel
from leafcount.editing.document import TO_SEGMENT, PackedLabels
from leafcount.editing.edits import replace_edit
from leafcount.errors import Cancelled
from leafcount.gui.document import ImageDoc
from leafcount.gui.workers import JobRunner, Worker
from leafcount.inference.crf import CrfConfig
from leafcount.inference.pipeline import (
    LabelsReady,
    PipelineResult,
    PipelineSettings,
    read_working_photo,
    redecode,
    run_pipeline,
    segment_photo,
)
from leafcount.inference.run_meta import ModelRun
from leafcount.inference.segment import SegmentConfig, Step
from leafcount.inference.tray import PlantResult
from leafcount.model.checkpoint import CheckpointInfo, load_checkpoint
from leafcount.model.ris import RIS

MODEL_JOB, DECODE_JOB, BATCH_JOB = "segment", "decode", "segment all"
MODEL_JOBS = (MODEL_JOB, BATCH_JOB)  # one of these at a time


@dataclass(frozen=True)
class PackedResult:
    """A pipeline result for an image that is not open: its labels packed (keep them small)."""

    labels: PackedLabels
    full_shape: tuple[int, int]
    run: ModelRun
    steps: list[Step]
    plants: list[PlantResult]
    notes: tuple[str, ...]
    areas: np.ndarray

    @classmethod
    def pack(cls, result: PipelineResult) -> PackedResult:
        return cls(PackedLabels.pack(result.labels), result.full_shape, result.run, result.steps, result.plants,
                   result.notes, result.areas)


def apply_model_labels(
    doc: ImageDoc,
    labels: np.ndarray | PackedLabels,
    steps: list[Step],
    run: ModelRun,
    text: str,
    areas: np.ndarray | None = None,
) -> None:
    """New model labels decoded from ``doc``'s own steps; undoable when they replace work."""
    if not doc.has_labels or not doc.holds_work:
        doc.set_model_result(labels, steps, run, areas)
        return
    if isinstance(labels, PackedLabels):
        labels = labels.unpack()
    doc.push(ModelRelabel(replace_edit(doc.labels, labels, text), steps, run, text))


def apply_model_result(doc: ImageDoc, result: PipelineResult | PackedResult, text: str) -> None:
    """A pipeline run's labels, steps, notes and plants into ``doc``; undoable when they replace work."""
    doc.file_shape = result.full_shape
    plants = list(result.plants) if result.plants else None
    if not doc.has_labels or not doc.holds_work:
        doc.set_model_result(result.labels, result.steps, result.run, result.areas, notes=result.notes,
                             plants=plants)
        return
    labels = result.labels.unpack() if isinstance(result.labels, PackedLabels) else result.labels
    doc.push(ModelRelabel(replace_edit(doc.labels, labels, text), result.steps, result.run, text, result.notes,
                          plants))


def segment_each(
    model: RIS,
    info: CheckpointInfo,
    paths: Sequence[Path],
    settings: Mapping[Path, PipelineSettings],
    cancel: CancelToken,
) -> Iterator[tuple[Path, PackedResult | Exception, int]]:
    """Segment all's job: each image through the pipeline, one after another; yields
    (path, result, images done), the result's labels packed (these images are not
    open: keep them small), or the exception when the image failed."""
    for done, path in enumerate(paths, start=1):
        cancel.raise_if_cancelled()
        try:
            result = run_pipeline(model, info, read_working_photo(path), read_image_size(path), settings[path], cancel)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - reported per image, the batch goes on
            yield path, exc, done
        else:
            yield path, PackedResult.pack(result), done


class Segmenter(QObject):
    """Holds the model and its jobs; one model job at a time."""

    model_changed = Signal(object)  # CheckpointInfo or None
    busy_changed = Signal(bool)
    step_ready = Signal(object, object)  # ImageDoc, Step
    labels_ready = Signal(object, object)  # ImageDoc, labels (H, W): final, while the steps run on for the slider
    run_finished = Signal(object)  # ImageDoc
    run_cancelled = Signal(object)  # ImageDoc
    failed = Signal(object)  # exception
    batch_progress = Signal(int, int)  # done, total
    batch_image_done = Signal(object)  # Path
    batch_image_failed = Signal(object, object)  # Path, exception (the document is marked failed)
    batch_ended = Signal(bool)  # True when every image was processed
    decoded = Signal(object)  # ImageDoc
    tray_plant_done = Signal(object, object)  # ImageDoc, PlantResult
    tray_finished = Signal(object, object)  # ImageDoc, list[PlantResult]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self)
        self.model: RIS | None = None
        self.info: CheckpointInfo | None = None
        self._context: dict[Worker, tuple] = {}
        self._latest_decode: dict[ImageDoc, Worker] = {}

    def settings(self, config: SegmentConfig, crf: bool, plants: Sequence[PlantBox] | None = None,
                 tray: str = "off") -> PipelineSettings:
        """The pipeline's settings: the loaded checkpoint's CRF settings when the CRF step is on; the
        heads beside the steps (one photo at a time has the cores to itself)."""
        crf_config = CrfConfig.for_checkpoint(self.info.meta) if crf else None
        return PipelineSettings(config, crf_config, tray, tuple(plants) if plants else None, heads_alongside=True)

    @property
    def is_busy(self) -> bool:
        return any(worker.kind in MODEL_JOBS for worker in self._context)

    def load_model(self, path: Path) -> None:
        """Load a checkpoint; raises CheckpointError and keeps the old model then."""
        model, info = load_checkpoint(path)
        self.model, self.info = model, info
        self.model_changed.emit(info)

    def segment(self, doc: ImageDoc, config: SegmentConfig, crf: bool, plants: Sequence[PlantBox] = ()) -> None:
        """The open image: one plant step by step, or the tray ``plants`` plant by plant."""
        model, info, photo, shape = self.model, self.info, doc.photo, doc.file_shape
        settings = self.settings(config, crf, plants)
        worker = Worker(lambda cancel, _emit: segment_photo(model, info, photo, shape, settings, cancel), MODEL_JOB)
        self._context[worker] = (doc,)
        worker.yielded.connect(self._on_segment_yielded)
        worker.returned.connect(self._on_segment_returned)
        self._start(worker)

    def redecode(self, doc: ImageDoc, config: SegmentConfig, crf: bool) -> None:
        """Labels for a new stop threshold from the kept steps (no network)."""
        previous = self._latest_decode.get(doc)
        if previous is not None:
            previous.cancel()
        steps, image, crf_config = list(doc.steps), doc.image, self.settings(config, crf).crf
        worker = Worker(lambda _cancel, _emit: redecode(steps, image, config, crf_config), DECODE_JOB)
        run = dataclasses.replace(doc.run, config=config, crf=crf)
        old = doc.run.config.stop_threshold
        self._context[worker] = (doc, run, f"stop threshold {old:.2f} → {config.stop_threshold:.2f}")
        self._latest_decode[doc] = worker
        worker.returned.connect(self._on_decode_returned)
        self._start(worker)

    def segment_all(
        self,
        docs: list[ImageDoc],
        config: SegmentConfig,
        crf: bool,
        trays: Mapping[Path, Sequence[PlantBox]] | None = None,
    ) -> int:
        """Segment every image not segmented yet, again those that failed before
        (``trays``: the plant boxes of tray images, by path; the others are checked
        for a tray, as ``leafcount segment`` does); returns how many will run."""
        todo = {doc.path: doc for doc in docs if doc.status in TO_SEGMENT}
        if not todo:
            return 0
        trays = dict(trays or {})
        settings = {path: self.settings(config, crf, trays.get(path), "auto") for path in todo}
        model, info, paths = self.model, self.info, list(todo)
        worker = Worker(lambda cancel, _emit: segment_each(model, info, paths, settings, cancel), BATCH_JOB)
        self._context[worker] = (todo,)
        worker.yielded.connect(self._on_batch_yielded)
        worker.returned.connect(self._on_batch_returned)
        self._start(worker)
        self.batch_progress.emit(0, len(todo))
        return len(todo)

    def cancel(self) -> None:
        for kind in MODEL_JOBS:
            self.runner.cancel(kind)

    def shutdown(self) -> bool:
        return self.runner.shutdown()

    def _start(self, worker: Worker) -> None:
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        self.runner.start(worker)
        if worker.kind in MODEL_JOBS:
            self.busy_changed.emit(True)

    def _end(self, worker: Worker) -> tuple:
        """Forget a worker that reported its outcome; the model is free again after this."""
        context = self._context.pop(worker)
        if worker.kind == DECODE_JOB and self._latest_decode.get(context[0]) is worker:
            del self._latest_decode[context[0]]
        if worker.kind in MODEL_JOBS and not self.is_busy:
            self.busy_changed.emit(False)
        return context

    @Slot(object)
    def _on_segment_yielded(self, event: object) -> None:
        (doc,) = self._context[self.sender()]
        if isinstance(event, Step):
            self.step_ready.emit(doc, event)
        elif isinstance(event, LabelsReady):
            self.labels_ready.emit(doc, event.labels)
        elif isinstance(event, PlantResult):
            self.tray_plant_done.emit(doc, event)

    @Slot(object)
    def _on_segment_returned(self, result: PipelineResult) -> None:
        (doc,) = self._end(self.sender())
        kind = "segment tray" if result.plants else "segment"
        apply_model_result(doc, result, f"{kind} with {result.run.model_name}")
        if result.plants:
            self.tray_finished.emit(doc, result.plants)
        self.run_finished.emit(doc)

    @Slot(object)
    def _on_decode_returned(self, decoded: tuple[np.ndarray, np.ndarray]) -> None:
        worker = self.sender()
        is_latest = self._latest_decode.get(self._context[worker][0]) is worker
        doc, run, text = self._end(worker)
        if is_latest:  # else a newer threshold is being decoded
            labels, areas = decoded
            apply_model_labels(doc, labels, doc.steps, run, text, areas)
            self.decoded.emit(doc)

    @Slot(object)
    def _on_batch_yielded(self, item: tuple) -> None:
        (todo,) = self._context[self.sender()]
        path, outcome, done = item
        doc = todo[path]
        if isinstance(outcome, Exception):
            doc.mark_failed(outcome)
            self.batch_image_failed.emit(path, outcome)
        else:
            if doc.status in TO_SEGMENT:  # not drawn on by hand meanwhile
                apply_model_result(doc, outcome, f"segment with {outcome.run.model_name}")
            self.batch_image_done.emit(path)
        self.batch_progress.emit(done, len(todo))

    @Slot(object)
    def _on_batch_returned(self, _nothing: object) -> None:
        self._end(self.sender())
        self.batch_ended.emit(True)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        worker = self.sender()
        self._end(worker)
        if worker.kind == BATCH_JOB:
            self.batch_ended.emit(False)
        self.failed.emit(exc)

    @Slot()
    def _on_cancelled(self) -> None:
        worker = self.sender()
        context = self._end(worker)
        if worker.kind == MODEL_JOB:
            self.run_cancelled.emit(context[0])
        elif worker.kind == BATCH_JOB:
            self.batch_ended.emit(False)
