"""Background jobs: each worker wraps one core call and runs it on a QThread.

``run()`` only computes and emits plain data (Step records, numpy arrays,
paths, numbers); widgets change in slots on the GUI thread. A worker ends
with exactly one of ``finished``, ``cancelled`` or ``failed(exc)``, then
``done``. Cancelling sets the worker's CancelToken, which the core checks
between steps and images; threads are never terminated.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from leafcount.cancel import CancelToken
from leafcount.inference.crf import CrfConfig, refine_labels
from leafcount.data.folder import read_image
from leafcount.errors import Cancelled
from leafcount.finetune import FineTuneSettings, fine_tune
from leafcount.inference.flips import with_mirrored_passes
from leafcount.inference.passes import all_steps
from leafcount.gui.document import PackedLabels
from leafcount.gui.export_labels import UnsavedLabels, stage_labels
from leafcount.model.checkpoint import CheckpointInfo
from leafcount.model.ris import RIS
from leafcount.analysis.plant_boxes import PlantBox
from leafcount.analysis.report import write_report
from leafcount.inference.segment import (
    SegmentConfig,
    Step,
    decode_steps,
    segment_steps,
)
from leafcount.train import TrainEvent
from leafcount.inference.tray import detect_plants, looks_like_tray, segment_tray


class Worker(QObject):
    """Base: runs ``_work`` and turns its outcome into signals."""

    failed = Signal(object)  # the exception
    cancelled = Signal()
    done = Signal()  # after any outcome; the runner quits the thread on it

    def __init__(self) -> None:
        super().__init__()
        self.cancel_token = CancelToken()

    @Slot()
    def run(self) -> None:
        try:
            self._work()
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure goes to the GUI as a signal
            self.failed.emit(exc)
        finally:
            self.done.emit()

    def cancel(self) -> None:
        self.cancel_token.set()

    def _work(self) -> None:
        raise NotImplementedError


def decode_labels(
    steps: Sequence[Step], image: np.ndarray, config: SegmentConfig, crf: CrfConfig | None
) -> tuple[np.ndarray, np.ndarray]:
    """Labels at the image size and their areas (``np.bincount``), both off the
    GUI thread; ``crf`` None leaves the CRF step out."""
    labels = decode_steps(steps, image.shape[:2], config)
    if crf is not None:
        labels = refine_labels(image, labels, config=crf)
    return labels, np.bincount(labels.ravel())


class SegmentWorker(Worker):
    """``segment_steps`` on one image: a signal per step, then the decoded labels.

    With ``config.flips`` > 1 the mirrored passes run after the live steps and
    the finished steps carry the fused masks (``leafcount.inference.flips``).
    """

    step_ready = Signal(object)  # Step
    finished = Signal(object, object, object)  # labels (H, W) int32, list[Step], areas

    def __init__(self, model: RIS, image: np.ndarray, config: SegmentConfig, crf: CrfConfig | None) -> None:
        super().__init__()
        self._model, self._image, self._config, self._crf = model, image, config, crf

    def _work(self) -> None:
        steps = []
        for step in segment_steps(self._model, self._image, self._config, self.cancel_token):
            steps.append(step)
            self.step_ready.emit(step)
        self.cancel_token.raise_if_cancelled()
        steps = with_mirrored_passes(self._model, self._image, steps, self._config, self.cancel_token)
        labels, areas = decode_labels(steps, self._image, self._config, self._crf)
        self.cancel_token.raise_if_cancelled()
        self.finished.emit(labels, steps, areas)


class DecodeWorker(Worker):
    """``decode_steps`` at full size for a new stop threshold (no network)."""

    finished = Signal(object, object)  # labels, areas

    def __init__(
        self, steps: Sequence[Step], image: np.ndarray, config: SegmentConfig, crf: CrfConfig | None
    ) -> None:
        super().__init__()
        self._steps, self._image, self._config, self._crf = list(steps), image, config, crf

    def _work(self) -> None:
        labels, areas = decode_labels(self._steps, self._image, self._config, self._crf)
        self.cancel_token.raise_if_cancelled()
        self.finished.emit(labels, areas)


class SegmentAllWorker(Worker):
    """Segment a list of images one after another; a bad image does not stop the rest.

    Images with plant boxes (trays) are segmented plant by plant, like the
    tray mode does; their per-plant steps are not kept (the step view shows
    a plant's steps after a tray run of the open image). An image without
    known boxes is checked for a tray first, as ``leafcount segment`` does.
    """

    progress_changed = Signal(int, int)  # images done, total
    image_done = Signal(object, object, object, object, object)  # Path, PackedLabels, list[Step], areas, plants
    image_failed = Signal(object, object)  # Path, exception
    finished = Signal()

    def __init__(
        self,
        model: RIS,
        paths: Sequence[Path],
        config: SegmentConfig,
        crf: CrfConfig | None,
        trays: Mapping[Path, Sequence[PlantBox]] | None = None,
    ) -> None:
        super().__init__()
        self._model, self._paths, self._config, self._crf = model, list(paths), config, crf
        self._trays = dict(trays or {})

    def _work(self) -> None:
        total = len(self._paths)
        self.progress_changed.emit(0, total)
        for done, path in enumerate(self._paths, start=1):
            self.cancel_token.raise_if_cancelled()
            try:
                image = read_image(path)
                if path in self._trays:  # the user's boxes, trusted as they are
                    plants = list(self._trays[path])
                else:
                    found = detect_plants(image)
                    plants = found if looks_like_tray(found) else []
                if plants:
                    labels, _ = segment_tray(self._model, image, plants, self._config, cancel=self.cancel_token)
                    steps, areas = [], np.bincount(labels.ravel())
                else:
                    steps = all_steps(self._model, image, self._config, self.cancel_token)
                    labels, areas = decode_labels(steps, image, self._config, self._crf)
                packed = PackedLabels.pack(labels)  # these images are not open: keep them small
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - reported per image, the batch goes on
                self.image_failed.emit(path, exc)
            else:
                self.image_done.emit(path, packed, steps, areas, plants)
            self.progress_changed.emit(done, total)
        self.finished.emit()


class TrayWorker(Worker):
    """``segment_tray``: a signal per plant, then the tray's labels and their areas."""

    plant_done = Signal(object)  # PlantResult
    finished = Signal(object, object, object)  # labels (H, W) int32, list[PlantResult], areas

    def __init__(self, model: RIS, image: np.ndarray, plants: Sequence[PlantBox], config: SegmentConfig) -> None:
        super().__init__()
        self._model, self._image, self._plants, self._config = model, image, list(plants), config

    def _work(self) -> None:
        labels, results = segment_tray(
            self._model, self._image, self._plants, self._config,
            cancel=self.cancel_token, on_plant=self.plant_done.emit,
        )
        self.cancel_token.raise_if_cancelled()
        self.finished.emit(labels, results, np.bincount(labels.ravel()))


class DetectPlantsWorker(Worker):
    """``detect_plants`` of a tray photo (seconds on a large photo)."""

    finished = Signal(object)  # list[PlantBox]

    def __init__(self, image: np.ndarray, grid: tuple[int, int] | None) -> None:
        super().__init__()
        self._image, self._grid = image, grid

    def _work(self) -> None:
        plants = detect_plants(self._image, self._grid)
        self.cancel_token.raise_if_cancelled()
        self.finished.emit(plants)


class ThumbnailWorker(Worker):
    """Small previews of a folder's images for the image list."""

    thumbnail_ready = Signal(object, object)  # Path, (h, w, 3) uint8
    finished = Signal()

    def __init__(self, paths: Sequence[Path], size: int) -> None:
        super().__init__()
        self._paths, self._size = list(paths), size

    def _work(self) -> None:
        for path in self._paths:
            self.cancel_token.raise_if_cancelled()
            try:
                image = read_image(path, max_pixels=16 * self._size * self._size)
            except Exception:  # noqa: BLE001 - an unreadable image just has no thumbnail
                continue
            step = max(1, max(image.shape[:2]) // self._size)
            self.thumbnail_ready.emit(path, (image[::step, ::step] * 255 + 0.5).astype(np.uint8))
        self.finished.emit()


class FineTuneWorker(Worker):
    """``fine_tune`` of a model copy that belongs to this worker alone.

    Losses are sent in batches at most every ``PROGRESS_EVERY_S`` (a tiny
    model trains hundreds of iterations a second); held-out scores at once.
    """

    PROGRESS_EVERY_S = 0.1
    progressed = Signal(object, float)  # [(iteration, loss), ...], elapsed seconds
    validated = Signal(int, object)  # iteration, metrics dict
    finished = Signal(object)  # FineTuneResult

    def __init__(
        self,
        model: RIS,
        parent: CheckpointInfo,
        out: Path,
        train_images: Sequence[Path],
        held_out: Sequence[Path],
        out_dir: Path | None,
        base_folder: Path | None,
        settings: FineTuneSettings,
    ) -> None:
        super().__init__()
        self._model, self._parent, self.out = model, parent, out
        self._images = (list(train_images), list(held_out))
        self._out_dir, self._base_folder, self._settings = out_dir, base_folder, settings
        self._losses: list[tuple[int, float]] = []
        self._elapsed = 0.0
        self._sent_at = 0.0

    def _work(self) -> None:
        try:
            result = fine_tune(
                self._model, self._parent, self.out, *self._images, out_dir=self._out_dir,
                base_folder=self._base_folder, settings=self._settings,
                on_event=self._on_event, cancel=self.cancel_token,
            )
        finally:
            self._send_losses()
        self.finished.emit(result)

    def _on_event(self, event: TrainEvent) -> None:
        if event.kind == "iteration":
            self._losses.append((event.iteration, event.loss))
            self._elapsed = event.elapsed_s
            if time.monotonic() - self._sent_at >= self.PROGRESS_EVERY_S:
                self._send_losses()
        elif event.kind == "validation":
            self._send_losses()
            self.validated.emit(event.iteration, dict(event.metrics))

    def _send_losses(self) -> None:
        if self._losses:
            self.progressed.emit(self._losses, self._elapsed)
            self._losses = []
        self._sent_at = time.monotonic()


class ReportWorker(Worker):
    """``write_report`` of a folder's label images (counts, traits, scores, HTML),
    with ``unsaved`` model results gathered beside them in a temporary folder."""

    progress_changed = Signal(int, int)  # label images done, total
    finished = Signal(object)  # ReportSummary

    def __init__(
        self,
        labels_dir: Path,
        out_dir: Path,
        images_dir: Path | None,
        truth_dir: Path | None,
        px_per_mm: float | None,
        unsaved: Sequence[UnsavedLabels] = (),
    ) -> None:
        super().__init__()
        self._labels_dir, self._out_dir, self._unsaved = labels_dir, out_dir, list(unsaved)
        self._options = {"images_dir": images_dir, "truth_dir": truth_dir, "px_per_mm": px_per_mm,
                         "on_progress": self.progress_changed.emit, "cancel": self.cancel_token}

    def _work(self) -> None:
        if not self._unsaved:
            self.finished.emit(write_report(self._labels_dir, self._out_dir, **self._options))
            return
        with tempfile.TemporaryDirectory(prefix="leafcount-export-") as staged:
            stage_labels(self._labels_dir, self._unsaved, Path(staged))
            source = f"{self._labels_dir.absolute()} and the unsaved model results of {len(self._unsaved)} image(s)"
            summary = write_report(staged, self._out_dir, labels_source=source, **self._options)
        self.finished.emit(summary)


class JobRunner(QObject):
    """Starts workers on their own threads and keeps them alive until they end."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[Worker, QThread] = {}

    def start(self, worker: Worker) -> None:
        thread = QThread()
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct: the thread must quit even while the GUI thread waits in shutdown().
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.done.connect(self._on_worker_done)
        self._jobs[worker] = thread
        thread.start()

    def is_running(self, kind: type[Worker] | None = None) -> bool:
        return any(kind is None or isinstance(w, kind) for w in self._jobs)

    def cancel(self, kind: type[Worker] | None = None) -> None:
        for worker in list(self._jobs):
            if kind is None or isinstance(worker, kind):
                worker.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job and wait for its thread; True when all ended in time."""
        self.cancel()
        ended = all([thread.wait(timeout_ms) for thread in self._jobs.values()])
        if ended:
            self._jobs.clear()
        return ended

    @Slot()
    def _on_worker_done(self) -> None:
        worker = self.sender()
        thread = self._jobs.pop(worker, None)
        if thread is not None:
            thread.wait()  # it is quitting already; this only joins it
            thread.deleteLater()
            worker.deleteLater()
