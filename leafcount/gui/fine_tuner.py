"""Fine-tunes the model in use on the open folder's saved labels, and keeps the model list.

The worker trains a deep copy of the current model; the copy never comes
back to the GUI thread. What comes back is a new checkpoint file, which
the window loads like any other when the user (or a better held-out score)
picks it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from leafcount.editing.document import ImageStatus
from leafcount.errors import CheckpointError
from leafcount.finetune import (
    FineTuneResult,
    checkpoints_dir,
    fine_tune,
    list_checkpoints,
    new_checkpoint_path,
)
from leafcount.gui.errors import show_error
from leafcount.gui.fine_tune_panel import FineTunePanel
from leafcount.gui.models_view import ModelsView
from leafcount.gui.segmenter import Segmenter
from leafcount.gui.session import FolderSession
from leafcount.gui.workers import JobRunner, Worker
from leafcount.model.checkpoint import (
    CheckpointInfo,
    find_default_model,
    read_checkpoint_info,
)
from leafcount.train import TrainEvent


def metric_change(before: dict[str, float], after: dict[str, float]) -> str:
    """``held-out SBD 7.1 → 49.0 %, |DiC| 2.00 → 1.00``."""
    return (f"held-out SBD {100 * before['sbd']:.1f} → {100 * after['sbd']:.1f} %, "
            f"|DiC| {before['abs_dic']:.2f} → {after['abs_dic']:.2f}")


@dataclass(frozen=True)
class LossPoints:
    """Training losses since the last batch: [(iteration, loss), ...] and the time trained."""

    points: list[tuple[int, float]]
    elapsed_s: float


@dataclass(frozen=True)
class HeldOutScores:
    iteration: int
    metrics: dict[str, float]


class LossBatches:
    """``fine_tune``'s events as progress items: losses in batches at most every
    ``EVERY_S`` (a tiny model trains hundreds of iterations a second), held-out scores at once."""

    EVERY_S = 0.1

    def __init__(self, emit: Callable[[object], None]) -> None:
        self._emit = emit
        self._points: list[tuple[int, float]] = []
        self._elapsed = 0.0
        self._sent_at = 0.0

    def __call__(self, event: TrainEvent) -> None:
        if event.kind == "iteration":
            self._points.append((event.iteration, event.loss))
            self._elapsed = event.elapsed_s
            if time.monotonic() - self._sent_at >= self.EVERY_S:
                self.flush()
        elif event.kind == "validation":
            self.flush()
            self._emit(HeldOutScores(event.iteration, dict(event.metrics)))

    def flush(self) -> None:
        if self._points:
            self._emit(LossPoints(self._points, self._elapsed))
            self._points = []
        self._sent_at = time.monotonic()


class FineTuner(QObject):
    """One fine-tune at a time; the window connects ``switch_requested`` to its model loading."""

    switch_requested = Signal(object)  # Path of a checkpoint to segment with
    busy_changed = Signal(bool)
    ended = Signal(str)  # the outcome
    message = Signal(str)  # for the status bar

    def __init__(
        self,
        session: FolderSession,
        segmenter: Segmenter,
        panel: FineTunePanel,
        models_view: ModelsView,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self._window = window
        self.session, self.segmenter, self.panel, self.models_view = session, segmenter, panel, models_view
        self.runner = JobRunner(self)
        self.shipped = find_default_model()
        self._worker: Worker | None = None
        self._out: Path | None = None  # the checkpoint the running fine-tune writes
        self._used: list[Path] = []  # every checkpoint loaded this session, to roll back to
        self._parent_name = ""
        session.folder_opened.connect(lambda _paths: self.refresh())
        session.doc_status_changed.connect(lambda _row: self.refresh_images())
        segmenter.model_changed.connect(self._on_model_changed)
        panel.start_clicked.connect(self.start)
        panel.stop_clicked.connect(self.stop)
        models_view.model_chosen.connect(self.switch_requested)

    @property
    def is_busy(self) -> bool:
        return self._worker is not None

    @property
    def checkpoints_dir(self) -> Path | None:
        if self.session.folder is None:
            return None
        return checkpoints_dir(self.session.folder, self.session.out_dir)

    def refresh(self) -> None:
        self.refresh_images()
        self.refresh_models()

    def refresh_images(self) -> None:
        """List the open folder's images that have labels on disk (what training reads)."""
        images = []
        for doc in self.session.docs:
            if doc.saved is not None and not doc.saved.problem:  # an unreadable sidecar would stop training
                kind = "corrected" if doc.saved.is_leafcount else "label file"
                if doc.status is ImageStatus.EDITED:
                    kind += " (unsaved edits not used)"
                images.append((doc.name, kind))
        self.panel.set_images(images)

    def refresh_models(self) -> None:
        models: list[CheckpointInfo] = []
        broken: list[CheckpointError] = []
        if self.shipped is not None:
            try:
                models.append(read_checkpoint_info(self.shipped))
            except CheckpointError as exc:
                broken.append(exc)
        folder_models, folder_broken = list_checkpoints(self.checkpoints_dir) if self.checkpoints_dir else ([], [])
        current = self.segmenter.info
        known = {info.path for info in models + folder_models}
        for path in self._used:  # loaded from elsewhere (File ▸ Load model…)
            if path not in known:
                try:
                    models.append(current if current and current.path == path else read_checkpoint_info(path))
                except CheckpointError:
                    continue  # deleted or replaced since it was loaded
        self.models_view.set_models(
            models + folder_models, broken + folder_broken, current.path if current else None, self.shipped
        )

    def start(self) -> None:
        model, info, folder = self.segmenter.model, self.segmenter.info, self.session.folder
        if self.is_busy or model is None or folder is None:
            return
        by_name = {doc.name: doc.path for doc in self.session.docs}
        held = [by_name[name] for name in self.panel.held_out()]
        train = [by_name[name] for name in self.panel.train_names()]
        out = new_checkpoint_path(self.checkpoints_dir)
        trained = copy.deepcopy(model)  # this job's alone: the copy never comes back to the GUI thread
        out_dir, base_folder, settings = self.session.out_dir, self.panel.base_folder(), self.panel.settings()

        def job(cancel, emit):
            batches = LossBatches(emit)
            try:
                return fine_tune(trained, info, out, train, held, out_dir=out_dir, base_folder=base_folder,
                                 settings=settings, on_event=batches, cancel=cancel)
            finally:
                batches.flush()

        worker = Worker(job, "fine-tune")
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_finished)
        worker.cancelled.connect(self._on_cancelled)
        worker.failed.connect(self._on_failed)
        self._worker, self._out, self._parent_name = worker, out, info.name
        self.panel.begin_run(info.name)
        self.runner.start(worker)
        self.busy_changed.emit(True)

    def stop(self) -> None:
        self.runner.cancel()

    def shutdown(self) -> bool:
        return self.runner.shutdown()

    def _end(self, outcome: str) -> None:
        self._worker = None
        self.panel.end_run(outcome)
        self.refresh_models()
        self.busy_changed.emit(False)
        self.ended.emit(outcome)
        self.message.emit(outcome)

    def _kept(self, path: Path, baseline: dict[str, float], metrics: dict[str, float], how: str) -> str:
        """Describe the new checkpoint; switch to it when it beat its parent on the held-out images."""
        if "sbd" not in metrics:
            return (f"{how} before the first held-out score; {path.stem} keeps the weights so far "
                    f"(in the Models list). Still using {self._parent_name}.")
        change = metric_change(baseline, metrics)
        if metrics["sbd"] <= baseline["sbd"]:
            return (f"{how}: {path.stem} did not beat {self._parent_name} ({change}). "
                    f"Still using {self._parent_name}; the new checkpoint is in the Models list.")
        if self.segmenter.is_busy:
            return f"{how}: {path.stem} saved ({change}). Choose it in the Models list when segmentation ends."
        self.switch_requested.emit(path)
        return f"{how}: now using {path.stem} ({change}). Roll back in the Models list."

    @Slot(object)
    def _on_progress(self, item: LossPoints | HeldOutScores) -> None:
        if isinstance(item, LossPoints):
            self.panel.add_losses(item.points, item.elapsed_s)
        else:
            self.panel.add_held_out(item.iteration, item.metrics)

    @Slot(object)
    def _on_finished(self, result: FineTuneResult) -> None:
        self._end(self._kept(result.path, result.baseline, result.metrics, "Done"))

    @Slot()
    def _on_cancelled(self) -> None:
        out = self._out
        try:
            meta = read_checkpoint_info(out).meta
        except CheckpointError:  # stopped while the images were being read: nothing written
            self._end(f"Stopped before training began; still using {self._parent_name}.")
            return
        self._end(self._kept(out, meta.get("baseline_metrics", {}), meta.get("metrics", {}), "Stopped"))

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        self._end(f"Fine-tuning failed; still using {self._parent_name}.")
        show_error(self._window, exc)

    def _on_model_changed(self, info: CheckpointInfo | None) -> None:
        if info is not None and info.path not in self._used:
            self._used.append(info.path)
        self.panel.set_model_available(info is not None)
        self.refresh_models()
