"""The kinds of change a user can undo, each a small reversible record.

A change's ``apply`` and ``revert`` are called only by
:meth:`leafcount.editing.document.LabelDocument.push`, ``undo`` and ``redo``
(the GUI's undo stack calls those). Label diffs are
:class:`~leafcount.editing.edits.LabelEdit` s, never copies of label images.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leafcount.analysis.plant_boxes import PlantBox
from leafcount.editing.document import Change, LabelDocument
from leafcount.editing.edits import LabelEdit
from leafcount.inference.run_meta import ModelRun
from leafcount.inference.segment import Step
from leafcount.inference.tray import PlantResult


@dataclass
class HandEdit(Change):
    """A paint, erase, delete, merge, split or fill: every leaf it touches becomes manual
    (and stays so while it has pixels)."""

    edit: LabelEdit
    _manual: tuple[frozenset[int], frozenset[int]] | None = field(default=None, repr=False)

    @property
    def description(self) -> str:
        return self.edit.description

    def apply(self, doc: LabelDocument) -> None:
        before = doc.manual_ids if self._manual is None else self._manual[0]
        doc.apply(self.edit)
        if self._manual is None:
            touched = before | self.edit.leaf_ids
            self._manual = (before, frozenset(i for i in touched if doc.has_leaf(i)))
        doc.set_manual_ids(self._manual[1])

    def revert(self, doc: LabelDocument) -> None:
        doc.revert(self.edit)
        doc.set_manual_ids(self._manual[0])


@dataclass
class ModelRelabel(Change):
    """New model labels over existing work (a rerun, a moved stop threshold).

    The model's labels replace everything, so no leaf is manual afterwards;
    undo brings back the hand edits, their tags and the previous steps.
    """

    edit: LabelEdit | None
    steps: list[Step]
    run: ModelRun
    description: str = "model labels"
    notes: tuple[str, ...] = ()
    plant_results: list[PlantResult] | None = None  # a tray run: each plant's result (its box, its steps)
    _before: tuple | None = field(default=None, repr=False)

    def apply(self, doc: LabelDocument) -> None:
        if self._before is None:
            self._before = (doc.manual_ids, doc.steps, doc.run, doc.notes, doc.plants, doc.plant_results)
        if self.plant_results is not None:
            doc.plant_results = list(self.plant_results)
            doc.set_plants(tuple(result.plant for result in self.plant_results))
        doc.notes = self.notes
        doc.set_steps(self.steps, self.run)
        doc.set_manual_ids(frozenset())
        if self.edit is not None:
            doc.apply(self.edit)

    def revert(self, doc: LabelDocument) -> None:
        if self.edit is not None:
            doc.revert(self.edit)
        manual_ids, steps, run, doc.notes, plants, doc.plant_results = self._before
        if self.plant_results is not None:
            doc.set_plants(plants)
        doc.set_steps(steps, run)
        doc.set_manual_ids(manual_ids)


@dataclass
class Restore(Change):
    """Labels and manual tags brought back from an autosave copy."""

    edit: LabelEdit | None
    manual_ids: frozenset[int]
    description: str = "restore autosaved edits"
    _before: frozenset[int] | None = field(default=None, repr=False)

    def apply(self, doc: LabelDocument) -> None:
        if self._before is None:
            self._before = doc.manual_ids
        if self.edit is not None:
            doc.apply(self.edit)
        doc.set_manual_ids(self.manual_ids)

    def revert(self, doc: LabelDocument) -> None:
        if self.edit is not None:
            doc.revert(self.edit)
        doc.set_manual_ids(self._before)


@dataclass
class PlantBoxesChange(Change):
    """A tray's plant boxes moved, added or removed (working pixels)."""

    plants: tuple[PlantBox, ...]
    description: str = "edit plant boxes"
    _before: tuple[PlantBox, ...] | None = field(default=None, repr=False)

    def apply(self, doc: LabelDocument) -> None:
        if self._before is None:
            self._before = doc.plants or ()
        doc.set_plants(self.plants)

    def revert(self, doc: LabelDocument) -> None:
        doc.set_plants(self._before)
