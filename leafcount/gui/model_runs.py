"""Segment and Segment all as the window starts them, and what the user hears when they end.

Segment all goes on past each image that cannot be read or segmented (the
image list marks it as it fails) and ends with one summary: how many images
were segmented, and why each of the others failed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

from leafcount.editing.document import failure_text
from leafcount.gui.actions import WindowActions
from leafcount.gui.errors import show_error
from leafcount.gui.segmenter import Segmenter
from leafcount.gui.session import FolderSession
from leafcount.gui.status_bar import StatusBar
from leafcount.gui.step_controller import StepController
from leafcount.gui.tray_controller import TrayController

LISTED_FAILURES = 12  # more are only marked in the image list


def batch_summary(segmented: int, failures: list[str], completed: bool) -> str:
    """One summary of a Segment all, with the reason of each failure."""
    how = "Segment all" if completed else "Segment all (cancelled)"
    text = f"{how}: {segmented} image(s) segmented, {len(failures)} failed."
    if failures:
        listed = failures[:LISTED_FAILURES]
        more = len(failures) - len(listed)
        text += "\n" + "\n".join(listed) + (f"\n… and {more} more, marked in the image list." if more else "")
    return text


class ModelRuns(QObject):
    """Starts the model on the open image or the whole folder; reports how it went."""

    def __init__(
        self,
        session: FolderSession,
        segmenter: Segmenter,
        steps: StepController,
        trays: TrayController,
        actions: WindowActions,
        status: StatusBar,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.session, self.segmenter, self.steps, self.trays = session, segmenter, steps, trays
        self.actions, self.status, self._window = actions, status, window
        self._segment_after_detection = False  # Segment was asked for while the app looked for a tray
        self._segmented = 0  # images of the running Segment all
        self._failures: list[str] = []

        session.current_changed.connect(self._forget_pending)
        trays.detection_ended.connect(self._on_detection_ended)
        trays.panel.segment_clicked.connect(self.segment)
        segmenter.failed.connect(self._on_job_failed)
        segmenter.run_finished.connect(
            lambda doc: status.showMessage(f"{doc.name}: {doc.leaf_count} leaves found.", 5_000)
        )
        segmenter.run_cancelled.connect(lambda _doc: status.showMessage("Segmentation cancelled.", 5_000))
        segmenter.batch_progress.connect(status.show_progress)
        segmenter.batch_image_done.connect(self._on_batch_image_done)
        segmenter.batch_image_failed.connect(self._on_batch_image_failed)
        segmenter.batch_ended.connect(self._on_batch_ended)

    def segment(self) -> None:
        """The open image: one plant step by step, or a tray plant by plant."""
        doc = self.session.current
        if doc is None or self.segmenter.model is None or self.segmenter.is_busy:
            return
        if self.trays.is_detecting:  # a tray or one plant? segment once that is known
            self._segment_after_detection = True
            self.status.showMessage(f"Looking for the plants of {doc.name}…")
            return
        if self.trays.is_active:
            self.trays.segment(self.actions.crf.isChecked())
            return
        self.steps.begin_run()
        self.segmenter.segment(doc, self.steps.config, self.actions.crf.isChecked())
        self.status.showMessage(f"Segmenting {doc.name}…")

    def segment_all(self) -> None:
        if self.segmenter.model is None or self.segmenter.is_busy:
            return
        self._segmented, self._failures = 0, []
        count = self.segmenter.segment_all(self.session.docs, self.steps.config, self.actions.crf.isChecked(),
                                           trays=self.trays.boxes_by_path())
        if count:
            self.status.show_progress(0, count)
        else:
            self.status.showMessage("Every image already has labels.", 5_000)

    def _forget_pending(self, _doc) -> None:
        self._segment_after_detection = False  # it was asked for the image that was open

    def _on_detection_ended(self) -> None:
        if self._segment_after_detection and not self.trays.is_detecting:
            self._segment_after_detection = False
            self.segment()

    def _on_job_failed(self, exc: BaseException) -> None:
        self.steps.end_run()  # drop the live preview of a failed run
        self.status.clearMessage()
        show_error(self._window, exc)

    def _on_batch_image_done(self, _path: Path) -> None:
        self._segmented += 1

    def _on_batch_image_failed(self, path: Path, exc: BaseException) -> None:
        self._failures.append(failure_text(path, exc))
        self.status.showMessage(f"Could not segment {self._failures[-1]}", 10_000)

    def _on_batch_ended(self, completed: bool) -> None:
        self.status.hide_progress()
        summary = batch_summary(self._segmented, self._failures, completed)
        if not self._failures:
            self.status.showMessage(summary, 10_000)
            return
        self.status.clearMessage()
        box = QMessageBox(self._window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Segment all")
        box.setText(summary)
        box.exec()
