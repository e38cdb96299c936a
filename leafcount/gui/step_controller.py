"""Shows the model's steps of the open image on the canvas and in the step view.

While the network runs, each step's mask, score and kappa heat map appear
as they arrive: a step that finds the view idle is drawn at once (the first
leaf shows without delay), and the steps that come while a drawing is
recent wait and are drawn together, at most every ``LIVE_REFRESH_MS``, so
fast steps never flood the event loop nor hold up the worker (drawing is
Python on the GUI thread, and the network's small ops need the same
interpreter lock). Once a step's confidence falls below the stop threshold
the photo's final labels are shown (the segmenter's ``labels_ready``); the
steps after it, run for the threshold slider, no longer redraw a preview.
Afterwards the user scrubs the steps, and moving the stop-threshold line
previews the labels at mask resolution, then decodes them at full size.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer

from leafcount.gui.canvas import Canvas
from leafcount.gui.document import ImageDoc
from leafcount.gui.segmenter import Segmenter
from leafcount.gui.step_view import StepView
from leafcount.inference.segment import SegmentConfig, Step, accepted_steps, decode_steps

LIVE_REFRESH_MS = 150


class StepController(QObject):
    """Owns the segmentation settings the user picks; the window calls ``set_doc``."""

    def __init__(self, segmenter: Segmenter, step_view: StepView, canvas: Canvas, parent=None) -> None:
        super().__init__(parent)
        self.segmenter, self.step_view, self.canvas = segmenter, step_view, canvas
        self.config = SegmentConfig()
        self.doc: ImageDoc | None = None
        self.region: QRectF | None = None  # where the shown steps sit in the photo (None: all of it)
        self._undrawn: list[Step] = []
        self._last_drawn = -float("inf")  # time.monotonic() of the last live drawing
        self._labels_shown = False  # this run's final labels are on the canvas
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.timeout.connect(self._draw_new_steps)
        segmenter.model_changed.connect(self._on_model_changed)
        segmenter.step_ready.connect(self._on_step_ready)
        segmenter.labels_ready.connect(self._on_labels_ready)
        segmenter.run_finished.connect(self.end_run)
        segmenter.run_cancelled.connect(self.end_run)
        step_view.step_selected.connect(self._on_step_selected)
        step_view.threshold_moved.connect(self._on_threshold_moved)
        step_view.threshold_chosen.connect(self._on_threshold_chosen)

    def _on_model_changed(self, info) -> None:
        """Start from the decoding the checkpoint was tuned with (else the paper's)."""
        if info is not None:
            self.config = SegmentConfig.for_checkpoint(info.meta)

    def set_mirrored(self, on: bool) -> None:
        """Runs from now on fuse 4 mirrored passes (on) or use one pass."""
        self.config = self.config.replace(flips=4 if on else 1)

    def set_doc(self, doc: ImageDoc | None) -> None:
        if self.doc is not None:
            self.doc.steps_changed.disconnect(self.show_doc_steps)
            self.doc.status_changed.disconnect(self._update_leaf_count)
        self.doc = doc
        self._forget_undrawn()
        if doc is not None:
            doc.steps_changed.connect(self.show_doc_steps)
            doc.status_changed.connect(self._update_leaf_count)  # the count follows edits
        self.show_doc_steps()

    def begin_run(self) -> None:
        """Clear the views for a run of the open image that starts now."""
        self._forget_undrawn()
        self.step_view.set_steps([])
        self.canvas.show_preview(np.zeros((1, 1), dtype=np.int32))

    def end_run(self, doc: ImageDoc | None = None) -> None:
        """Back from the live view to the document's labels (run done, cancelled or failed)."""
        self._forget_undrawn()
        if self.doc is not None and doc in (None, self.doc):
            self.canvas.set_labels(self.doc.labels)
            self.canvas.show_step(None)
            self.show_doc_steps()

    def show_doc_steps(self) -> None:
        """The open image's steps; its last step's kappa on the photo (key K) as in the panel."""
        doc = self.doc
        self.region = None
        self.step_view.set_steps(doc.steps if doc else [])
        threshold = doc.run.config.stop_threshold if doc and doc.run else self.config.stop_threshold
        self.step_view.set_threshold(threshold)
        self._update_leaf_count()
        if doc is not None and doc.steps:
            self.canvas.set_kappa(doc.steps[-1].kappa, self.step_view.kappa_view.levels)

    def _update_leaf_count(self) -> None:
        doc = self.doc
        if doc is None or not doc.steps or doc.run is None or not doc.has_labels or self.region is not None:
            self.step_view.set_leaf_count(None)
            return
        threshold = doc.run.config.stop_threshold
        empty = [s.index + 1 for s in accepted_steps(doc.steps, threshold) if not doc.has_leaf(s.index + 1)]
        self.step_view.set_leaf_count(doc.leaf_count, empty, threshold, doc.edited_by_hand)

    def show_part(self, steps: list[Step], region: QRectF) -> None:
        """Steps computed on a part of the photo (one plant of a tray), shown in place."""
        self.region = region
        self.canvas.show_step(None)
        self.step_view.set_leaf_count(None)  # the leaves of one plant are counted in the tray panel
        self.step_view.set_steps(steps)

    def _forget_undrawn(self) -> None:
        self._live_timer.stop()
        self._undrawn = []
        self._labels_shown = False

    def _on_step_ready(self, doc: ImageDoc, step: Step) -> None:
        if doc is not self.doc:
            return
        self._undrawn.append(step)
        if self._live_timer.isActive():
            return
        wait_ms = LIVE_REFRESH_MS - (time.monotonic() - self._last_drawn) * 1000
        if wait_ms <= 0:
            self._draw_new_steps()
        else:
            self._live_timer.start(int(wait_ms) + 1)

    def _on_labels_ready(self, doc: ImageDoc, labels: np.ndarray) -> None:
        if doc is self.doc and self.region is None:
            self._draw_new_steps()  # the step that brought them, before them
            self.canvas.show_preview(labels)
            self._labels_shown = True

    def _draw_new_steps(self) -> None:
        self._last_drawn = time.monotonic()
        if self._undrawn:
            self.step_view.add_steps(self._undrawn)
            self._undrawn = []
            if not self._labels_shown:
                self._preview(self.step_view.steps, self.config)
            self._show_step(self.step_view.steps[-1])

    def _on_step_selected(self, index: int) -> None:
        steps = self.step_view.steps
        self._show_step(steps[index] if 0 <= index < len(steps) else None)

    def _show_step(self, step: Step | None) -> None:
        self.canvas.show_step(step, self.config.mask_threshold, self.region)
        if step is not None:
            self.canvas.set_kappa(step.kappa, self.step_view.kappa_view.levels, self.region)

    def _on_threshold_moved(self, value: float) -> None:
        """While the line is dragged: a cheap preview at mask resolution."""
        doc = self.doc
        if doc is not None and doc.steps and self.region is None and not self.segmenter.is_busy:
            self._preview(doc.steps, dataclasses.replace(self.config, stop_threshold=value))

    def _on_threshold_chosen(self, value: float) -> None:
        """On release: decode at full size (a worker), or only keep it for the next run."""
        self.config = dataclasses.replace(self.config, stop_threshold=value)
        doc = self.doc
        if doc is None or not doc.steps or doc.run is None or self.region is not None or self.segmenter.is_busy:
            return
        if value != doc.run.config.stop_threshold:
            config = dataclasses.replace(doc.run.config, stop_threshold=value)
            self.segmenter.redecode(doc, config, doc.run.crf)
        else:
            self.canvas.set_labels(doc.labels)  # dragged back: drop the preview

    def _preview(self, steps: list[Step], config: SegmentConfig) -> None:
        if steps:
            self.canvas.show_preview(decode_steps(steps, steps[0].mask.shape, config))
