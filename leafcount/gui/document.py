"""The window's view of one image's document: Qt signals and a QUndoStack over the core's.

:class:`~leafcount.editing.document.LabelDocument` holds the state and the
history; this adapter turns its callbacks into signals and mirrors its
history onto a QUndoStack, so the undo group's actions and the history view
work, and the stack's clean state drives the title asterisk.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from leafcount.editing.document import UNDO_LIMIT, Change, LabelDocument


class ImageDoc(QObject, LabelDocument):
    """State of one image; views listen to its signals, changes go through :meth:`push`."""

    labels_changed = Signal(object)  # (rows, cols) slices of the change, or None for all
    status_changed = Signal()
    steps_changed = Signal()
    plants_changed = Signal()

    def __init__(self, path: Path, group: QUndoGroup, out_dir: Path | None = None) -> None:
        super().__init__(path=path, out_dir=out_dir)  # PySide6 hands what QObject does not take to LabelDocument
        self.on_labels_changed.append(self.labels_changed.emit)
        self.on_status_changed.append(self.status_changed.emit)
        self.on_steps_changed.append(self.steps_changed.emit)
        self.on_plants_changed.append(self.plants_changed.emit)
        # The document owns its stack; the group only lists it (for Undo/Redo actions).
        self.undo_stack = QUndoStack()
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        group.addStack(self.undo_stack)

    def push(self, change: Change) -> None:
        """Make ``change`` through the undo stack (which records it in the core history)."""
        self.undo_stack.push(_ChangeCommand(self, change))

    def undo(self) -> None:
        self.undo_stack.undo()

    def redo(self) -> None:
        self.undo_stack.redo()

    def set_clean(self) -> None:
        self.undo_stack.setClean()
        LabelDocument.set_clean(self)

    def discard_changes(self) -> None:
        """Back to the last clean state through the stack, or what is on disk."""
        if self.undo_stack.cleanIndex() >= 0:
            self.undo_stack.setIndex(self.undo_stack.cleanIndex())
            return
        self.undo_stack.clear()
        self.reload()


class _ChangeCommand(QUndoCommand):
    """One core change on the stack: redo and undo step the core history."""

    def __init__(self, doc: ImageDoc, change: Change) -> None:
        super().__init__(change.description)
        self._doc, self._change, self._pushed = doc, change, False

    def redo(self) -> None:
        if self._pushed:
            LabelDocument.redo(self._doc)
        else:
            LabelDocument.push(self._doc, self._change)
            self._pushed = True

    def undo(self) -> None:
        LabelDocument.undo(self._doc)
