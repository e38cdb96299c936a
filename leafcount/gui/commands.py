"""Undo commands: each wraps one LabelEdit diff and the bookkeeping around it.

``QUndoStack.push`` runs ``redo()`` once, so callers build the edit with
:mod:`leafcount.editing.edits` and push; they never apply it themselves.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from leafcount.editing.edits import LabelEdit
from leafcount.gui.document import ImageDoc, ModelRun
from leafcount.inference.segment import Step


class HandEditCommand(QUndoCommand):
    """A paint, erase, delete, merge, split or fill; every leaf it touches becomes manual."""

    def __init__(self, doc: ImageDoc, edit: LabelEdit) -> None:
        super().__init__(edit.description)
        self._doc, self._edit = doc, edit
        self._manual_before = doc.manual_ids
        self._manual_after: frozenset[int] | None = None

    def redo(self) -> None:
        self._doc.apply(self._edit)
        if self._manual_after is None:
            touched = self._manual_before | self._edit.leaf_ids
            self._manual_after = frozenset(i for i in touched if self._doc.has_leaf(i))
        self._doc.set_manual_ids(self._manual_after)

    def undo(self) -> None:
        self._doc.revert(self._edit)
        self._doc.set_manual_ids(self._manual_before)


class ModelRunCommand(QUndoCommand):
    """New model labels over existing work (a rerun, a moved stop threshold).

    The model's labels replace everything, so no leaf is manual afterwards;
    undo brings back the hand edits, their tags and the previous steps.
    """

    def __init__(
        self, doc: ImageDoc, edit: LabelEdit | None, steps: list[Step], run: ModelRun, text: str
    ) -> None:
        super().__init__(text)
        self._doc, self._edit = doc, edit
        self._before = (doc.manual_ids, doc.steps, doc.run)
        self._after = (frozenset(), list(steps), run)

    def redo(self) -> None:
        self._set(*self._after)
        if self._edit is not None:
            self._doc.apply(self._edit)

    def undo(self) -> None:
        if self._edit is not None:
            self._doc.revert(self._edit)
        self._set(*self._before)

    def _set(self, manual_ids: frozenset[int], steps: list[Step], run: ModelRun | None) -> None:
        self._doc.set_steps(steps, run)
        self._doc.set_manual_ids(manual_ids)


class RestoreCommand(QUndoCommand):
    """Labels and manual tags brought back from an autosave copy."""

    def __init__(self, doc: ImageDoc, edit: LabelEdit | None, manual_ids: frozenset[int]) -> None:
        super().__init__("restore autosaved edits")
        self._doc, self._edit = doc, edit
        self._manual = (doc.manual_ids, manual_ids)

    def redo(self) -> None:
        if self._edit is not None:
            self._doc.apply(self._edit)
        self._doc.set_manual_ids(self._manual[1])

    def undo(self) -> None:
        if self._edit is not None:
            self._doc.revert(self._edit)
        self._doc.set_manual_ids(self._manual[0])
