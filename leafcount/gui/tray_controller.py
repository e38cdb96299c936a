"""Tray mode: the plants of a tray photo, each segmented leaf by leaf into one label image.

The tray's labels are the document's labels, so every edit, undo and save
works on the whole tray as on any image; the plant boxes and each plant's
last segmentation (its steps, for the step view) live in the document too,
travel in the sidecar (``"plants"``) when the labels are saved, and come back
with them. Moving, adding or removing a box is an undoable change that makes
the document dirty. An image opened for the first time is checked in the
background and enters tray mode by itself when it holds several plants
(:func:`leafcount.inference.pipeline.tray_plants`, as ``leafcount segment --tray auto``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRectF, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from leafcount.analysis.plant_boxes import PlantBox, plant_leaf_counts, plant_name
from leafcount.editing.changes import PlantBoxesChange
from leafcount.editing.plant_layout import new_plant_at, reindexed
from leafcount.errors import ConfigError
from leafcount.gui.canvas import Canvas
from leafcount.gui.document import ImageDoc
from leafcount.gui.errors import show_error
from leafcount.gui.segmenter import Segmenter
from leafcount.gui.session import FolderSession
from leafcount.gui.step_controller import StepController
from leafcount.gui.tray_overlay import TrayOverlay
from leafcount.gui.tray_panel import TrayPanel
from leafcount.gui.workers import JobRunner, Worker
from leafcount.inference.pipeline import tray_plants
from leafcount.inference.tray import PlantResult, detect_plants, parse_grid

COUNT_DELAY_MS = 150  # recount after a burst of edits, not after each


@dataclass(frozen=True)
class Plant:
    """One plant of the open tray as the document has it: its box and last segmentation."""

    box: PlantBox
    result: PlantResult | None = None


class TrayController(QObject):
    """Keeps the plants of each tray image of the folder and runs detection and segmentation."""

    active_changed = Signal(bool)  # whether the open image is in tray mode
    plant_steps_shown = Signal()  # a plant's steps are in the step view now
    message = Signal(str)
    detection_ended = Signal()  # a search for plants finished, found nothing, failed or was cancelled

    def __init__(
        self,
        session: FolderSession,
        segmenter: Segmenter,
        canvas: Canvas,
        steps: StepController,
        panel: TrayPanel,
        action: QAction,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.session, self.segmenter, self.canvas, self.steps = session, segmenter, canvas, steps
        self.panel, self.action, self._window = panel, action, window
        self.runner = JobRunner(self)
        self.overlay = TrayOverlay(canvas.view, self)
        self.doc: ImageDoc | None = None
        self.chosen: int | None = None
        self._detecting: dict[Worker, tuple[ImageDoc, bool]] = {}  # doc, found by itself
        self._checked: set[Path] = set()  # images already looked at for a tray
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.update_counts)

        session.folder_opened.connect(self._on_folder_opened)
        session.current_changed.connect(self._on_current_changed)
        action.toggled.connect(self._on_action_toggled)
        panel.detect_clicked.connect(lambda: self.detect())
        panel.remove_clicked.connect(self.remove_chosen)
        panel.plant_chosen.connect(lambda position: self.choose(position, zoom=True))
        self.overlay.box_edited.connect(self._on_box_edited)
        canvas.view.clicked.connect(self._on_canvas_clicked)
        segmenter.tray_plant_done.connect(self._on_plant_done)
        segmenter.tray_finished.connect(lambda doc, _results: doc is self.doc and self.update_counts())
        segmenter.busy_changed.connect(lambda _busy: self.update_enabled())
        segmenter.model_changed.connect(lambda _info: self.update_enabled())

    @property
    def plants(self) -> list[Plant]:
        doc = self.doc
        return [Plant(box, doc.plant_result(box)) for box in doc.plants] if self.is_active else []

    def boxes_by_path(self) -> dict[Path, list[PlantBox]]:
        """The plant boxes of every image known to be a tray, for Segment all."""
        return {doc.path: list(doc.plants) for doc in self.session.docs if doc.is_tray}

    @property
    def is_detecting(self) -> bool:
        """Plants are being looked for (asked for, or the app's own check of a new image)."""
        return bool(self._detecting)

    @property
    def is_active(self) -> bool:
        return self.doc is not None and self.doc.is_tray

    # -- entering and leaving ---------------------------------------------------

    def detect(self, automatic: bool = False) -> bool:
        """Find the plants of the open image (in the background), with the panel's
        layout; returns whether a search started.

        ``automatic``: the app checks a newly opened image by itself; it
        becomes a tray only when the plants found look like one, and quietly.
        """
        doc = self.doc
        asked = [worker for worker, (_, by_itself) in self._detecting.items() if not by_itself]
        if doc is None or doc.image is None or asked:
            return False
        same_image = [worker for worker, (other, _) in self._detecting.items() if other is doc]
        if automatic and same_image:
            return False
        for worker in same_image:
            worker.cancel()  # the user's request wins over the app's own check
        text = "" if automatic else self.panel.grid_text()
        try:
            grid = parse_grid(text) if text and text.lower() != "auto" else None
        except ConfigError as exc:
            show_error(self._window, exc)
            self._sync_action()
            return False
        image = doc.image

        def job(_cancel, _emit) -> list[PlantBox]:
            found = detect_plants(image, grid)
            return tray_plants(found, "auto") if automatic else found  # asked for: every plant found

        worker = Worker(job, "detect plants")
        self._detecting[worker] = (doc, automatic)
        worker.returned.connect(self._on_detected)
        worker.failed.connect(self._on_detect_failed)
        worker.cancelled.connect(self._on_detect_cancelled)
        self.runner.start(worker)
        self.update_enabled()
        if not automatic:
            self.message.emit(f"Looking for the plants of {doc.name}…")
        return True

    def leave(self) -> None:
        """Back to one plant per image; the labels stay as they are."""
        if not self.is_active:
            return
        self.chosen = None
        self.doc.set_plants(())  # a later save says it is no tray any more
        self.steps.show_doc_steps()

    def shutdown(self) -> bool:
        return self.runner.shutdown()

    # -- segmentation -----------------------------------------------------------

    def segment(self, crf: bool) -> None:
        """Every plant of the open tray, leaf by leaf (with the CRF when ``crf``, as ``leafcount segment``)."""
        doc = self.doc
        if not self.is_active or self.segmenter.model is None or self.segmenter.is_busy:
            return
        self.chosen = None
        self.steps.show_doc_steps()
        self.segmenter.segment(doc, self.steps.config, crf, plants=doc.plants)
        self.overlay.set_texts([f"{plant_name(p.box)} · …" for p in self.plants])
        self.overlay.set_chosen(None)
        self.panel.set_chosen(None)
        self.message.emit(f"Segmenting the {len(self.plants)} plants of {doc.name}…")

    def update_counts(self) -> None:
        """Leaf counts of the plants from the current labels (after a run or an edit)."""
        if not self.is_active:
            return
        boxes = [plant.box for plant in self.plants]
        labels = self.doc.labels
        counts = plant_leaf_counts(labels, boxes) if labels is not None else [None] * len(boxes)
        self.overlay.set_texts([self._text(box, count) for box, count in zip(boxes, counts)])
        self.panel.set_counts(counts)

    def update_enabled(self) -> None:
        self.panel.set_enabled_for(self.segmenter.model is not None, self.segmenter.is_busy or bool(self._detecting))

    # -- plants -----------------------------------------------------------------

    def choose(self, position: int, zoom: bool = False) -> None:
        """Show one plant's steps (from its last segmentation) in the step view."""
        if not 0 <= position < len(self.plants):
            return
        self.chosen = position
        plant = self.plants[position]
        self.overlay.set_chosen(position)
        self.panel.set_chosen(position)
        if plant.result is not None:
            crop = plant.result.crop
            self.steps.show_part(plant.result.steps, QRectF(crop.left, crop.top, crop.width, crop.height))
            self.plant_steps_shown.emit()
        else:
            self.steps.show_part([], QRectF())
            self.message.emit(f"Plant {plant_name(plant.box)} has no steps yet: segment the tray to see them.")
        if zoom:
            box = plant.box.expanded(0.3, self.doc.image.shape[:2]) if self.doc.image is not None else plant.box
            self.canvas.view.setRange(QRectF(box.left, box.top, box.width, box.height), padding=0.02)

    def add_plant(self, row: float, col: float) -> None:
        shape = self.doc.image.shape[:2]
        new = new_plant_at(self.doc.plants, row, col, shape)
        boxes = reindexed([*self.doc.plants, new])
        self.chosen = next(i for i, box in enumerate(boxes) if box.top == new.top and box.left == new.left)
        self.doc.push(PlantBoxesChange(tuple(boxes), f"add plant {plant_name(new)}"))

    def remove_chosen(self) -> None:
        if self.chosen is None or not self.is_active:
            return
        gone = self.doc.plants[self.chosen]
        kept = [box for i, box in enumerate(self.doc.plants) if i != self.chosen]
        self.chosen = None
        self.doc.push(PlantBoxesChange(tuple(reindexed(kept)), f"remove plant {plant_name(gone)}"))
        self.steps.show_doc_steps()

    # -- slots --------------------------------------------------------------------

    def _on_current_changed(self, doc: ImageDoc | None) -> None:
        if self.doc is not None:
            self.doc.labels_changed.disconnect(self._schedule_counts)
            self.doc.plants_changed.disconnect(self._on_plants_changed)
        self.doc, self.chosen = doc, None
        if doc is not None:
            doc.labels_changed.connect(self._schedule_counts)
            doc.plants_changed.connect(self._on_plants_changed)
            unknown = doc.plants is None and doc.saved is None  # neither this session nor a sidecar said
            if unknown and doc.path not in self._checked and self.detect(automatic=True):
                self._checked.add(doc.path)  # once: leaving tray mode is not undone by coming back
        self._show()

    def _on_plants_changed(self) -> None:
        if self.chosen is not None and self.chosen >= len(self.doc.plants or ()):
            self.chosen = None
        self._show()

    def _on_folder_opened(self, _paths) -> None:
        self._checked.clear()

    def _on_action_toggled(self, on: bool) -> None:
        if on and not self.is_active:
            self.detect()
        elif not on and self.is_active:
            self.leave()

    @Slot(object)
    def _on_detected(self, plants: list[PlantBox]) -> None:
        doc, automatic = self._detecting.pop(self.sender())
        self.update_enabled()
        try:
            self._take_plants(doc, plants, automatic)
        finally:
            self.detection_ended.emit()

    def _take_plants(self, doc: ImageDoc, plants: list[PlantBox], automatic: bool) -> None:
        if automatic and not plants:
            return  # one plant: nothing to say
        if not plants:
            self.message.emit(f"No plants found in {doc.name} (plants are found by their green colour).")
            self._sync_action()
            return
        doc.plant_results = []
        if doc is self.doc:
            self.chosen = None
        doc.set_plants(tuple(plants))
        if doc is self.doc:
            self.steps.show_doc_steps()
        if automatic:
            self.message.emit(f"{doc.name} looks like a tray: {len(plants)} plants found "
                              "(Tools > Tray mode off to treat it as one plant).")
        else:
            self.message.emit(f"{len(plants)} plants found in {doc.name}.")

    @Slot()
    def _on_detect_cancelled(self) -> None:
        self._detecting.pop(self.sender(), None)
        self.detection_ended.emit()

    @Slot(object)
    def _on_detect_failed(self, exc: BaseException) -> None:
        _doc, automatic = self._detecting.pop(self.sender(), (None, False))
        self.update_enabled()
        self._sync_action()
        self.detection_ended.emit()
        if not automatic:  # the user did not ask: no dialog
            show_error(self._window, exc)

    def _on_plant_done(self, doc: ImageDoc, result: PlantResult) -> None:
        if doc is not self.doc or not self.is_active:
            return
        for position, box in enumerate(doc.plants):
            if box == result.plant and position < len(self.overlay.items):
                self.overlay.items[position].set_text(self._text(box, len(result.leaf_ids)))

    def _on_box_edited(self, position: int, box: tuple[int, int, int, int]) -> None:
        boxes = list(self.doc.plants or ())
        if position < len(boxes):
            top, left, bottom, right = box
            moved = dataclasses.replace(boxes[position], top=top, left=left, bottom=bottom, right=right)
            if moved != boxes[position]:  # a handle clicked without moving it changes nothing
                boxes[position] = moved
                self.doc.push(PlantBoxesChange(tuple(boxes), f"move plant {plant_name(moved)}"))

    def _on_canvas_clicked(self, row: float, col: float) -> None:
        if not self.is_active or self.doc.image is None:
            return
        if self.panel.add_button.isChecked():
            self.panel.add_button.setChecked(False)
            self.add_plant(row, col)
            return
        inside = [i for i, p in enumerate(self.plants)
                  if p.box.top <= row < p.box.bottom and p.box.left <= col < p.box.right]
        if inside:
            self.choose(min(inside, key=lambda i: self.plants[i].box.height * self.plants[i].box.width))

    def _schedule_counts(self, _box=None) -> None:
        if self.is_active:
            self._count_timer.start()

    # -- private ----------------------------------------------------------------

    def _show(self) -> None:
        self._sync_action()
        if not self.is_active:
            self.overlay.clear()
            self.active_changed.emit(False)
            return
        boxes = [plant.box for plant in self.plants]
        shape = self.doc.image.shape[:2] if self.doc.image is not None else (0, 0)
        self.overlay.show_plants(boxes, [plant_name(b) for b in boxes], self.chosen, shape)
        self.panel.set_plants([plant_name(b) for b in boxes], [None] * len(boxes), self.chosen)
        self.update_counts()
        self.update_enabled()
        self.active_changed.emit(True)

    def _sync_action(self) -> None:
        self.action.blockSignals(True)
        self.action.setChecked(self.is_active)
        self.action.blockSignals(False)

    @staticmethod
    def _text(box: PlantBox, count: int | None) -> str:
        return plant_name(box) if count is None else f"{plant_name(box)} · {count} leaves"
