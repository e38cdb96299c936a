"""Which folder and image are open: opening them, the unsaved-changes question, autosaves.

One bad file of a folder is named once and marked in the image list; the
rest of the folder stays usable. When the image a folder opens at cannot be
read, the next readable one opens instead, so Segment has an image to work on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from leafcount.data.folder import read_image
from leafcount.errors import ImageReadError
from leafcount.gui import prompts
from leafcount.gui.document import ImageDoc
from leafcount.gui.errors import show_error
from leafcount.gui.image_list import THUMBNAIL_SIZE, ImageListView
from leafcount.gui.session import FolderSession
from leafcount.gui.status_bar import StatusBar
from leafcount.gui.workers import JobRunner, Worker


def thumbnails(paths: Sequence[Path], size: int) -> Iterator[tuple[Path, np.ndarray]]:
    """Small previews (h, w, 3) uint8 of the images, at most about ``size`` a side;
    an unreadable image just has none."""
    for path in paths:
        try:
            image = read_image(path, max_pixels=16 * size * size)
        except Exception:  # noqa: BLE001 - the image list names unreadable images itself
            continue
        step = max(1, max(image.shape[:2]) // size)
        yield path, (image[::step, ::step] * 255 + 0.5).astype(np.uint8)


class Navigator(QObject):
    """Opens folders and images for the window, and keeps the image list in step."""

    folder_shown = Signal()  # a folder's images are listed (the window retitles itself)

    def __init__(
        self,
        session: FolderSession,
        image_list: ImageListView,
        status: StatusBar,
        save: Callable[[], bool],
        window: QWidget,
        *,
        look_only: bool = False,
    ) -> None:
        super().__init__(window)
        self.session, self.image_list, self.status = session, image_list, status
        self._save, self._window, self.look_only = save, window, look_only
        self.thumbnails = JobRunner(self)
        session.folder_opened.connect(self._on_folder_opened)
        session.doc_status_changed.connect(self.show_status)
        image_list.image_chosen.connect(self.choose)

    def open_folder(self, folder: Path, select: Path | None = None, out_dir: Path | None = None) -> bool:
        """Open a folder (after the unsaved-changes question); False if cancelled or failed."""
        if not self.may_leave_current():
            return False
        try:
            self.session.open_folder(Path(folder), out_dir)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the old folder stays
            show_error(self._window, exc)
            return False
        rows = [doc.path for doc in self.session.docs]
        row = rows.index(select) if select in rows else 0
        self.image_list.set_row_silently(row)
        self.choose(row)
        if self.session.current is None:
            self._open_next_readable(row)
        return True

    def ask_folder(self) -> None:
        start = str(self.session.folder or Path.cwd())
        folder = QFileDialog.getExistingDirectory(self._window, "Open a folder of plant images", start)
        if folder:
            self.open_folder(Path(folder))

    def ask_output_folder(self) -> None:
        if self.session.folder is None:
            return
        out = QFileDialog.getExistingDirectory(self._window, "Save corrections into", str(self.session.folder))
        if out:
            current = self.session.current.path if self.session.current else None
            self.open_folder(self.session.folder, select=current, out_dir=Path(out))

    def choose(self, row: int) -> None:
        """Open image ``row`` of the list (a bad image gets one dialog; the open one stays)."""
        current = self.session.current
        previous = self.session.row_of(current) if current else -1
        if row == previous:
            return
        if not self.may_leave_current():
            self.image_list.set_row_silently(previous)
            return
        try:
            self._open(row)
        except Exception as exc:  # noqa: BLE001 - a bad image gets a dialog, the app goes on
            show_error(self._window, exc)
            self.image_list.set_row_silently(previous)

    def step(self, delta: int) -> None:
        row = self.image_list.currentRow() + delta
        if 0 <= row < self.image_list.count():
            self.image_list.setCurrentRow(row)

    def may_leave_current(self) -> bool:
        """Ask Save / Discard / Cancel when the open image has unsaved edits."""
        doc = self.session.current
        if doc is None or not doc.is_dirty or self.look_only:
            return True
        choice = prompts.ask_unsaved_changes(self._window, doc.name)
        if choice is prompts.Choice.SAVE:
            return self._save()
        if choice is prompts.Choice.DISCARD:
            self.session.discard_current()
            return True
        return False

    def show_status(self, row: int) -> None:
        doc = self.session.docs[row]
        self.image_list.set_status(row, doc.status, doc.leaf_count, doc.problem)

    def shutdown(self) -> bool:
        return self.thumbnails.shutdown()

    def _open_next_readable(self, row: int) -> None:
        """After the image at ``row`` could not be read (named already): the next one that can.

        Images that cannot be read either are marked in the list, without a dialog each.
        """
        count = len(self.session.docs)
        for other in [*range(row + 1, count), *range(row)]:
            try:
                self._open(other)
            except ImageReadError:
                continue
            self.image_list.set_row_silently(other)
            return

    def _open(self, row: int) -> None:
        """Open image ``row``; say once when its saved labels turn out unreadable."""
        known = self.session.docs[row].label_error
        doc = self.session.open_row(row)
        if doc.label_error != known:
            self.status.showMessage(f"{doc.label_error}: {doc.name} is open without those labels; "
                                    "segmenting and saving replaces them.", 20_000)
        self._offer_recovery(doc)

    def _on_folder_opened(self, paths: list[Path]) -> None:
        self.thumbnails.cancel()
        self.image_list.set_images(paths)
        for row in range(len(paths)):
            self.show_status(row)
        worker = Worker(lambda _cancel, _emit: thumbnails(paths, THUMBNAIL_SIZE), "thumbnails")
        worker.yielded.connect(self._on_thumbnail_yielded)
        self.thumbnails.start(worker)
        bad = [doc.saved.problem for doc in self.session.docs if doc.saved is not None and doc.saved.problem]
        if len(bad) == 1:
            self.status.showMessage(f"{bad[0]}: its labels are used without it (marked in the list).", 20_000)
        elif bad:
            self.status.showMessage(f"{len(bad)} corrections sidecars could not be read: their labels are used "
                                    "without them (marked in the list).", 20_000)
        self.folder_shown.emit()

    @Slot(object)
    def _on_thumbnail_yielded(self, preview: tuple[Path, np.ndarray]) -> None:
        self.image_list.set_thumbnail(*preview)

    def _offer_recovery(self, doc: ImageDoc) -> None:
        if self.look_only:  # the autosave stays for the next real session
            return
        try:
            found = self.session.recovery_for(doc)
        except Exception as exc:  # noqa: BLE001 - an unreadable autosave must not block the image
            self.status.showMessage(f"Ignored an unreadable autosave copy: {exc}", 10_000)
            return
        if found is None:
            return
        if prompts.ask_restore_recovery(self._window, doc.name, found[1].saved):
            self.session.restore_recovery(doc)
        else:
            self.session.forget_recovery(doc)
