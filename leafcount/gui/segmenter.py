"""Runs the model for the window: one image step by step, a new threshold, or the whole folder.

Each job is a worker on its own thread; results come back here on the GUI
thread and go into the documents, through the undo stack whenever they would
replace hand edits or saved labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from leafcount.inference.crf import CrfConfig
from leafcount.editing.edits import replace_edit
from leafcount.gui.commands import ModelRunCommand
from leafcount.gui.document import TO_SEGMENT, ImageDoc, ModelRun, PackedLabels
from leafcount.gui.workers import (
    DecodeWorker,
    JobRunner,
    SegmentAllWorker,
    SegmentWorker,
    TrayWorker,
    Worker,
)
from leafcount.model.checkpoint import CheckpointInfo, load_checkpoint
from leafcount.model.ris import RIS
from leafcount.analysis.plant_boxes import PlantBox, plants_to_meta
from leafcount.inference.segment import SegmentConfig, Step
from leafcount.inference.tray import PlantResult

MODEL_JOBS = (SegmentWorker, SegmentAllWorker, TrayWorker)  # one of these at a time


def apply_model_labels(
    doc: ImageDoc,
    labels: np.ndarray | PackedLabels,
    steps: list[Step],
    run: ModelRun,
    text: str,
    areas: np.ndarray | None = None,
) -> None:
    """Give ``doc`` new model labels; undoable when they replace work."""
    if not doc.has_labels or not doc.holds_work:
        doc.set_model_result(labels, steps, run, areas)
        return
    if isinstance(labels, PackedLabels):
        labels = labels.unpack()
    edit = replace_edit(doc.labels, labels, text)
    doc.undo_stack.push(ModelRunCommand(doc, edit, steps, run, text))


class Segmenter(QObject):
    """Holds the model and its jobs; one model job at a time."""

    model_changed = Signal(object)  # CheckpointInfo or None
    busy_changed = Signal(bool)
    step_ready = Signal(object, object)  # ImageDoc, Step
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
        self._latest_decode: dict[ImageDoc, DecodeWorker] = {}

    def _run(self, config: SegmentConfig, crf: bool) -> ModelRun:
        created = str(self.info.meta.get("created", ""))
        return ModelRun(self.info.name, config, crf, created)

    def _crf(self, crf: bool) -> CrfConfig | None:
        """The loaded checkpoint's CRF settings when the CRF step is on."""
        return CrfConfig.for_checkpoint(self.info.meta) if crf else None

    @property
    def is_busy(self) -> bool:
        return any(isinstance(w, MODEL_JOBS) for w in self._context)

    def load_model(self, path: Path) -> None:
        """Load a checkpoint; raises CheckpointError and keeps the old model then."""
        model, info = load_checkpoint(path)
        self.model, self.info = model, info
        self.model_changed.emit(info)

    def segment(self, doc: ImageDoc, config: SegmentConfig, crf: bool) -> None:
        worker = SegmentWorker(self.model, doc.image, config, self._crf(crf))
        self._context[worker] = (doc, self._run(config, crf))
        worker.step_ready.connect(self._on_step_ready)
        worker.finished.connect(self._on_segment_finished)
        self._start(worker)

    def segment_tray(self, doc: ImageDoc, plants: list[PlantBox], config: SegmentConfig) -> None:
        """Every plant of a tray photo, leaf by leaf, into one label image."""
        worker = TrayWorker(self.model, doc.image, plants, config)
        self._context[worker] = (doc, self._run(config, False))
        worker.plant_done.connect(self._on_tray_plant_done)
        worker.finished.connect(self._on_tray_finished)
        self._start(worker)

    def redecode(self, doc: ImageDoc, config: SegmentConfig, crf: bool) -> None:
        """Labels for a new stop threshold from the kept steps (no network)."""
        previous = self._latest_decode.get(doc)
        if previous is not None:
            previous.cancel()
        worker = DecodeWorker(doc.steps, doc.image, config, self._crf(crf))
        run = dataclasses.replace(doc.run, config=config, crf=crf)
        old = doc.run.config.stop_threshold
        self._context[worker] = (doc, run, f"stop threshold {old:.2f} → {config.stop_threshold:.2f}")
        self._latest_decode[doc] = worker
        worker.finished.connect(self._on_decode_finished)
        self._start(worker)

    def segment_all(
        self,
        docs: list[ImageDoc],
        config: SegmentConfig,
        crf: bool,
        trays: Mapping[Path, Sequence[PlantBox]] | None = None,
    ) -> int:
        """Segment every image not segmented yet, again those that failed before
        (``trays``: the plant boxes of tray images, by path); returns how many will run."""
        todo = {doc.path: doc for doc in docs if doc.status in TO_SEGMENT}
        if not todo:
            return 0
        worker = SegmentAllWorker(self.model, list(todo), config, self._crf(crf), trays)
        self._context[worker] = (todo, self._run(config, crf))
        worker.progress_changed.connect(self.batch_progress)
        worker.image_done.connect(self._on_batch_image_done)
        worker.image_failed.connect(self._on_batch_image_failed)
        worker.finished.connect(self._on_batch_finished)
        self._start(worker)
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
        if isinstance(worker, MODEL_JOBS):
            self.busy_changed.emit(True)

    def _end(self, worker: Worker) -> tuple:
        """Forget a worker that reported its outcome; the model is free again after this."""
        context = self._context.pop(worker)
        if isinstance(worker, DecodeWorker) and self._latest_decode.get(context[0]) is worker:
            del self._latest_decode[context[0]]
        if isinstance(worker, MODEL_JOBS) and not self.is_busy:
            self.busy_changed.emit(False)
        return context

    @Slot(object)
    def _on_step_ready(self, step: Step) -> None:
        doc, _ = self._context[self.sender()]
        self.step_ready.emit(doc, step)

    @Slot(object, object, object)
    def _on_segment_finished(self, labels: np.ndarray, steps: list[Step], areas: np.ndarray) -> None:
        doc, run = self._end(self.sender())
        apply_model_labels(doc, labels, steps, run, f"segment with {run.model_name}", areas)
        self.run_finished.emit(doc)

    @Slot(object)
    def _on_tray_plant_done(self, result: PlantResult) -> None:
        doc, _ = self._context[self.sender()]
        self.tray_plant_done.emit(doc, result)

    @Slot(object, object, object)
    def _on_tray_finished(self, labels: np.ndarray, results: list[PlantResult], areas: np.ndarray) -> None:
        doc, run = self._end(self.sender())
        apply_model_labels(doc, labels, [], run, f"segment tray with {run.model_name}", areas)
        self.tray_finished.emit(doc, results)
        self.run_finished.emit(doc)

    @Slot(object, object)
    def _on_decode_finished(self, labels: np.ndarray, areas: np.ndarray) -> None:
        worker = self.sender()
        is_latest = self._latest_decode.get(self._context[worker][0]) is worker
        doc, run, text = self._end(worker)
        if is_latest:  # else a newer threshold is being decoded
            apply_model_labels(doc, labels, doc.steps, run, text, areas)
            self.decoded.emit(doc)

    @Slot(object, object, object, object, object)
    def _on_batch_image_done(
        self, path: Path, labels: PackedLabels, steps: list[Step], areas: np.ndarray, plants: list[PlantBox]
    ) -> None:
        todo, run = self._context[self.sender()]
        doc = todo[path]
        if doc.status in TO_SEGMENT:  # not drawn on by hand meanwhile
            if plants:  # saved with the labels; tray mode shows them when the image is opened
                doc.extra_meta["plants"] = plants_to_meta(plants)
            apply_model_labels(doc, labels, steps, run, f"segment with {run.model_name}", areas)
        self.batch_image_done.emit(path)

    @Slot(object, object)
    def _on_batch_image_failed(self, path: Path, exc: BaseException) -> None:
        todo, _ = self._context[self.sender()]
        todo[path].mark_failed(exc)
        self.batch_image_failed.emit(path, exc)

    @Slot()
    def _on_batch_finished(self) -> None:
        self._end(self.sender())
        self.batch_ended.emit(True)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        worker = self.sender()
        self._end(worker)
        if isinstance(worker, SegmentAllWorker):
            self.batch_ended.emit(False)
        self.failed.emit(exc)

    @Slot()
    def _on_cancelled(self) -> None:
        worker = self.sender()
        context = self._end(worker)
        if isinstance(worker, (SegmentWorker, TrayWorker)):
            self.run_cancelled.emit(context[0])
        elif isinstance(worker, SegmentAllWorker):
            self.batch_ended.emit(False)
