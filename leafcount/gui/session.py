"""The open folder: one ImageDoc per image, which one is current, saving and autosave."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoGroup

from leafcount.data.folder import list_images
from leafcount.editing.changes import Restore
from leafcount.editing.edits import replace_edit
from leafcount.gui.document import ImageDoc
from leafcount.io.corrections import clear_recovery, read_recovery, write_recovery

AUTOSAVE_INTERVAL_MS = 5_000


class FolderSession(QObject):
    """Owns the documents of a folder; the window shows whichever is current."""

    folder_opened = Signal(object)  # list[Path]
    current_changed = Signal(object)  # ImageDoc or None
    doc_status_changed = Signal(int)  # row
    autosave_failed = Signal(object)  # exception
    labels_saved = Signal(object)  # Path of the image whose labels were just saved

    def __init__(self, parent: QObject | None = None, *, writes_files: bool = True) -> None:
        super().__init__(parent)
        self.writes_files = writes_files  # False: a look-only run (--screenshot) leaves the folder as it was
        self.undo_group = QUndoGroup(self)
        self.folder: Path | None = None
        self.out_dir: Path | None = None
        self.docs: list[ImageDoc] = []
        self.current: ImageDoc | None = None
        self._autosaved_at: dict[ImageDoc, int] = {}
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._autosave_timer.start()

    def open_folder(self, folder: Path, out_dir: Path | None = None) -> None:
        """List the folder's images; raises EmptyFolderError. Opens no image yet."""
        paths = list_images(folder)
        self.close_current()
        for doc in self.docs:
            self.undo_group.removeStack(doc.undo_stack)
        self.folder, self.out_dir = Path(folder), out_dir
        self.docs = [ImageDoc(path, self.undo_group, out_dir) for path in paths]
        for row, doc in enumerate(self.docs):
            doc.status_changed.connect(lambda row=row: self.doc_status_changed.emit(row))
        self._autosaved_at.clear()
        self.folder_opened.emit(paths)

    def row_of(self, doc: ImageDoc) -> int:
        return self.docs.index(doc)

    def doc_for(self, path: Path) -> ImageDoc | None:
        return next((doc for doc in self.docs if doc.path == path), None)

    def open_row(self, row: int) -> ImageDoc:
        """Make image ``row`` current, reading it from disk; raises ImageReadError."""
        doc = self.docs[row]
        if doc is self.current:
            return doc
        doc.load()  # may raise: the previous image stays open then
        self.close_current()
        self.current = doc
        self.undo_group.setActiveStack(doc.undo_stack)
        self.current_changed.emit(doc)
        return doc

    def close_current(self) -> None:
        if self.current is not None:
            self.autosave()
            self.current.release()
            self.current = None
            self.undo_group.setActiveStack(None)
            self.current_changed.emit(None)

    def save_current(self) -> Path:
        doc = self.current
        path = doc.save()
        clear_recovery(doc.path, doc.out_dir)
        self._autosaved_at.pop(doc, None)
        self.labels_saved.emit(doc.path)
        return path

    def discard_current(self) -> None:
        doc = self.current
        doc.discard_changes()
        clear_recovery(doc.path, doc.out_dir)
        self._autosaved_at.pop(doc, None)

    def autosave(self) -> None:
        """Write a recovery copy of the current image if it changed since the last one."""
        doc = self.current
        if doc is None or doc.labels is None or not self.writes_files:
            return
        if not doc.is_dirty:
            if self._autosaved_at.pop(doc, None) is not None:
                clear_recovery(doc.path, doc.out_dir)  # undone back to the saved state
            return
        if self._autosaved_at.get(doc) == doc.revision:
            return
        try:
            write_recovery(doc.path, doc.labels, doc.manual_ids, {"autosave": True}, doc.out_dir)
        except Exception as exc:  # noqa: BLE001 - reported, editing goes on
            self.autosave_failed.emit(exc)
            return
        self._autosaved_at[doc] = doc.revision

    def recovery_for(self, doc: ImageDoc):
        """The autosaved (labels, Sidecar) of ``doc``, if one exists and fits the image."""
        if doc.image is None:
            return None
        return read_recovery(doc.path, doc.out_dir, shape=doc.image.shape[:2])

    def restore_recovery(self, doc: ImageDoc) -> None:
        """Bring the autosaved edits back as one undoable step."""
        labels, sidecar = self.recovery_for(doc)
        if doc.labels is None:
            doc.start_empty()
        edit = replace_edit(doc.labels, labels, "restore autosaved edits")
        doc.push(Restore(edit, sidecar.manual_ids))

    def forget_recovery(self, doc: ImageDoc) -> None:
        clear_recovery(doc.path, doc.out_dir)
