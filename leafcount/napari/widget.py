"""The "Segment leaves (RIS)" dock widget: leafcount's network run inside napari.

The run goes to napari's thread worker (:mod:`leafcount.napari.run`); this
module only reads the controls and puts what the worker yields into layers,
on the GUI thread. After a run the steps stay here, so the step slider and
the stop threshold re-decode the labels (in a worker too: at full size a
decode takes seconds) without running the network again, as in the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from leafcount.analysis.plant_boxes import plants_from_meta
from leafcount.cancel import CancelToken
from leafcount.errors import Cancelled, LeafcountError
from leafcount.inference.crf import is_crf_available
from leafcount.inference.pipeline import redecode
from leafcount.inference.segment import SegmentConfig, accepted_steps
from leafcount.io.corrections import Sidecar
from leafcount.model.checkpoint import find_default_model, read_checkpoint_info
from leafcount.napari.image_input import rgb_float
from leafcount.napari.layers import leaves_name, show_kappa, show_labels, show_plants
from leafcount.napari.leaf_table import export_csv, leaf_features
from leafcount.napari.metadata import MANUAL_LEAVES, RUN, layer_metadata
from leafcount.napari.run import LiveStep, Run, RunSettings, segment_live

if TYPE_CHECKING:
    import napari


@dataclass(frozen=True)
class _Failed:
    """A worker's exception carried as its result: napari 0.9.2's own slot on a worker's
    ``errored`` signal takes one argument too few and fails in a real window, and a worker
    that returns an exception raises it (superqt)."""

    error: Exception


def _run_or_failed(image: np.ndarray, settings: RunSettings, cancel: CancelToken):
    """:func:`segment_live`, with its exception returned as :class:`_Failed`."""
    try:
        return (yield from segment_live(image, settings, cancel))
    except Exception as exc:  # noqa: BLE001 - handed to the widget, which reports it
        return _Failed(exc)


def _decode_or_failed(*args: object) -> np.ndarray | _Failed:
    """The labels of :func:`redecode`, with its exception returned as :class:`_Failed`."""
    try:
        return redecode(*args)[0]
    except Exception as exc:  # noqa: BLE001
        return _Failed(exc)


class SegmentWidget(QWidget):
    """Choose an image layer and a checkpoint, segment it step by step, then review the steps."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:  # napari hands its viewer in by this annotation
        super().__init__()
        self.viewer = viewer
        self.run: Run | None = None  # the last finished run
        self._image_layer: Image | None = None  # the layer the run (and its layers) belong to
        self._image: np.ndarray | None = None  # its pixels as the network read them
        self._cancel: CancelToken | None = None
        self._workers: set[object] = set()
        self._decode_generation = 0

        self.image_box = QComboBox()
        self.model_edit = QLineEdit(str(find_default_model() or ""))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_model)
        self.flips_box = QComboBox()
        for passes in (1, 2, 4):
            self.flips_box.addItem(f"{passes}", passes)
        self.crf_check = QCheckBox("Refine the edges with a dense CRF")
        if not is_crf_available():
            self.crf_check.setEnabled(False)
            self.crf_check.setToolTip("install pydensecrf2 to use the CRF step")
        self.tray_check = QCheckBox("Tray: find the plants, segment each one")
        self.segment_button = QPushButton("Segment")
        self.segment_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.scores = QListWidget()
        self.step_slider = QSlider(Qt.Orientation.Horizontal)
        self.step_slider.setEnabled(False)
        self.step_slider.valueChanged.connect(self._step_chosen)
        self.step_label = QLabel("")
        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.0, 1.0)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setDecimals(2)
        self.threshold_box.valueChanged.connect(self._threshold_chosen)
        self.table_button = QPushButton("Leaf table…")
        self.table_button.clicked.connect(self._leaf_table_clicked)

        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit)
        model_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Image", self.image_box)
        form.addRow("Checkpoint", model_row)
        form.addRow("Mirrored passes", self.flips_box)
        form.addRow("", self.crf_check)
        form.addRow("", self.tray_check)
        buttons = QHBoxLayout()
        buttons.addWidget(self.segment_button)
        buttons.addWidget(self.stop_button)
        review = QFormLayout()
        review.addRow("Step", self.step_slider)
        review.addRow("", self.step_label)
        review.addRow("Stop threshold", self.threshold_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Confidence s_t of each step"))
        layout.addWidget(self.scores)
        layout.addLayout(review)
        layout.addWidget(self.table_button)
        layout.addStretch()

        self.model_edit.editingFinished.connect(self._checkpoint_chosen)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self._refresh_images)
        self._refresh_images()
        self._checkpoint_chosen()

    # -- controls -------------------------------------------------------------------

    @property
    def is_busy(self) -> bool:
        """Whether a network run or a re-decode is still going."""
        return bool(self._workers)

    def settings(self) -> RunSettings:
        """The run the controls ask for."""
        return RunSettings(Path(self.model_edit.text()), self.threshold_box.value(), self.flips_box.currentData(),
                           self.crf_check.isChecked(), self.tray_check.isChecked())

    def _refresh_images(self, event: object = None) -> None:
        chosen = self.image_box.currentText()
        self.image_box.clear()
        names = [layer.name for layer in self.viewer.layers if isinstance(layer, Image) and layer.rgb]
        self.image_box.addItems(names)
        if chosen in names:
            self.image_box.setCurrentText(chosen)

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", self.model_edit.text(),
                                              "leafcount checkpoints (*.safetensors)")
        if path:
            self.model_edit.setText(path)
            self._checkpoint_chosen()

    def _checkpoint_chosen(self) -> None:
        """Start from the stop threshold the checkpoint recommends, as ``leafcount segment`` does."""
        path = self.model_edit.text()
        if not path:
            self.status.setText("no checkpoint: choose one (models/*.safetensors)")
            return
        try:
            config = SegmentConfig.for_checkpoint(read_checkpoint_info(path).meta)
        except LeafcountError as exc:
            self.status.setText(str(exc))
            return
        self.threshold_box.blockSignals(True)
        self.threshold_box.setValue(config.stop_threshold)
        self.threshold_box.blockSignals(False)

    # -- the network run --------------------------------------------------------------

    def start(self) -> None:
        """Segment the chosen image layer in napari's thread worker."""
        name = self.image_box.currentText()
        if self.is_busy or not name:
            self.status.setText("busy" if self.is_busy else "open an RGB image first")
            return
        layer = self.viewer.layers[name]
        try:
            image = rgb_float(layer.data)
        except LeafcountError as exc:
            self.status.setText(str(exc))
            return
        self._image_layer, self._image, self.run = layer, image, None
        self._cancel = CancelToken()
        self.scores.clear()
        self.step_slider.setEnabled(False)
        self.segment_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("segmenting…")
        self._start_worker(_run_or_failed, (image, self.settings(), self._cancel), self._on_finished,
                           yielded=self._on_yielded)

    def stop(self) -> None:
        """Cancel the run between two steps; what was shown stays."""
        if self._cancel is not None:
            self._cancel.set()

    def _start_worker(self, function, args: tuple, returned, **connect) -> None:
        """``function(*args)`` in napari's thread worker; ``returned`` gets its result, or
        :meth:`_on_error` the exception it failed with."""
        worker = create_worker(function, *args, _start_thread=False, _ignore_errors=True)
        for signal, slot in connect.items():
            getattr(worker, signal).connect(slot)
        worker.returned.connect(lambda result: self._on_error(result.error) if isinstance(result, _Failed)
                                else returned(result))
        worker.finished.connect(lambda: self._worker_done(worker))
        self._workers.add(worker)
        worker.start()

    def _worker_done(self, worker: object) -> None:
        self._workers.discard(worker)
        if not self.is_busy:
            self.segment_button.setEnabled(True)
            self.stop_button.setEnabled(False)

    def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, Cancelled):
            self.status.setText("stopped")
            return
        self.status.setText(f"failed: {exc}")
        show_error(f"leafcount: {exc}")

    def _on_yielded(self, update: object) -> None:
        image = self._image_layer
        if isinstance(update, LiveStep):
            step = update.step
            self.scores.addItem(f"step {step.index + 1}: {step.score:.3f}")
            show_labels(self.viewer, image, update.labels)
            show_kappa(self.viewer, image, step.kappa)
            self.status.setText(f"step {step.index + 1}…")
        else:
            show_plants(self.viewer, image, update)
            self.status.setText(f"{len(update)} plants found: segmenting each…")

    def _on_finished(self, run: Run) -> None:
        self.run = run
        image = self._image_layer
        metadata = layer_metadata(Path(image.source.path or image.metadata.get("path") or f"{image.name}.png").name,
                                  Sidecar(meta=run.sidecar_meta()))
        labels_layer = show_labels(self.viewer, image, run.labels, metadata)
        labels_layer.features = {}
        if run.is_tray:
            counts = run.plant_leaf_counts()
            show_plants(self.viewer, image, [plant.plant for plant in run.plants], counts)
            self.status.setText(f"{len(run.plants)} plants, {sum(counts)} leaves (re-run to change the threshold)")
            return
        self.step_slider.blockSignals(True)
        self.step_slider.setRange(0, max(0, len(run.steps) - 1))
        self.step_slider.setValue(len(run.steps) - 1)
        self.step_slider.blockSignals(False)
        self.step_slider.setEnabled(bool(run.steps))
        self._show_review()

    # -- review without the network ----------------------------------------------------

    def _threshold_chosen(self, value: float) -> None:
        if self.run is not None and not self.run.is_tray:
            self._redecode()

    def _step_chosen(self, index: int) -> None:
        if self.run is not None and self.run.steps:
            show_kappa(self.viewer, self._image_layer, self.run.steps[index].kappa)
            self._redecode()

    def review_config(self) -> SegmentConfig:
        """The last run's decoding with the threshold as it is now."""
        return self.run.config.replace(stop_threshold=self.threshold_box.value())

    def _redecode(self) -> None:
        """Labels of the steps up to the slider's, at the current threshold, decoded in a worker;
        a decode overtaken by a newer one is dropped."""
        self._decode_generation += 1
        generation, run, config = self._decode_generation, self.run, self.review_config()
        steps = run.steps[: self.step_slider.value() + 1]

        def apply(labels: np.ndarray) -> None:
            if generation == self._decode_generation and run is self.run:
                layer = show_labels(self.viewer, self._image_layer, labels)
                layer.metadata[RUN] = {**layer.metadata.get(RUN, {}), "stop_threshold": config.stop_threshold}
                layer.features = {}  # a leaf table of other leaves
                self._show_review()

        self._start_worker(_decode_or_failed, (steps, self._image, config, run.crf), apply)

    def _show_review(self) -> None:
        """Scores of the run, the accepted ones marked, and where the slider stands."""
        run, threshold = self.run, self.threshold_box.value()
        kept = len(accepted_steps(run.steps, threshold))
        self.scores.clear()
        for step in run.steps:
            mark = "leaf" if step.index < kept else "below the threshold" if step.index == kept else "after the stop"
            self.scores.addItem(f"step {step.index + 1}: {step.score:.3f}  {mark}")
        shown = self.step_slider.value() + 1
        self.step_label.setText(f"step {shown} of {len(run.steps)}: {min(shown, kept)} leaves so far, {kept} in all")
        self.status.setText(f"{kept} leaves")

    # -- leaf table -------------------------------------------------------------------

    def leaf_table(self, layer: Labels | None = None) -> pd.DataFrame:
        """Per-leaf traits of a leaves layer (default: the selected one, else the last run's) into
        its ``features``; colours from its image (``<name> leaves`` lies over ``<name>``), plants
        from its sidecar record."""
        layer = layer or self._labels_layer()
        if layer is None:
            raise LeafcountError("no leaves layer: segment an image or open a label PNG first")
        labels = np.asarray(layer.data)
        image = next((rgb_float(other.data) for other in self.viewer.layers
                      if isinstance(other, Image) and leaves_name(other) == layer.name and other.rgb
                      and other.data.shape[:2] == labels.shape), None)
        plants = plants_from_meta(layer.metadata.get(RUN, {}).get("plants"))
        layer.features = leaf_features(labels, image, layer.metadata.get(MANUAL_LEAVES, ()), plants)
        return layer.features

    def _labels_layer(self) -> Labels | None:
        active = self.viewer.layers.selection.active
        if isinstance(active, Labels):
            return active
        if self._image_layer is not None and leaves_name(self._image_layer) in self.viewer.layers:
            return self.viewer.layers[leaves_name(self._image_layer)]
        return None

    def _leaf_table_clicked(self) -> None:
        try:
            table = self.leaf_table()
        except LeafcountError as exc:
            self.status.setText(str(exc))
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the leaf table", "leaves.csv", "CSV (*.csv)")
        if path:
            export_csv(table, path)
            self.status.setText(f"{len(table)} leaves written to {path}")
