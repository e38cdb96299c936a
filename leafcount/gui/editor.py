"""Connects the editing actions and the canvas to the current image's history."""

from __future__ import annotations

from PySide6.QtCore import QObject

from leafcount.editing.changes import HandEdit
from leafcount.editing.edits import LabelEdit, delete_edit, fill_holes_edit
from leafcount.gui.actions import WindowActions
from leafcount.gui.canvas import Canvas, Tool
from leafcount.gui.document import ImageDoc

BRUSH_RADII = (1, 2, 3, 4, 6, 8, 11, 15, 20, 27, 36, 48, 64, 85, 113, 150)


class Editor(QObject):
    """Turns editing intents into hand edits of the current document."""

    def __init__(self, canvas: Canvas, actions: WindowActions, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.actions = canvas, actions
        self.doc: ImageDoc | None = None
        canvas.edit_made.connect(self.push)
        canvas.brush_wheel.connect(self.step_brush)
        actions.tool_group.triggered.connect(lambda act: self.set_tool(act.data()))
        actions.new_leaf.triggered.connect(self.new_leaf)
        actions.delete_leaf.triggered.connect(lambda: self.push_built(delete_edit))
        actions.fill_holes.triggered.connect(lambda: self.push_built(fill_holes_edit))
        actions.protect_leaves.toggled.connect(lambda on: setattr(canvas, "protect_leaves", on))
        actions.brush_smaller.triggered.connect(lambda: self.step_brush(-1))
        actions.brush_larger.triggered.connect(lambda: self.step_brush(1))

    def set_doc(self, doc: ImageDoc | None) -> None:
        self.doc = doc

    def push(self, edit: LabelEdit) -> None:
        if self.doc is not None:
            self.doc.push(HandEdit(edit))

    def push_built(self, build) -> None:
        """An edit of the selected leaf (delete, fill holes)."""
        leaf = self.canvas.selected_leaf
        if self.doc is None or self.doc.labels is None or not leaf:
            return
        edit = build(self.doc.labels, leaf)
        if edit is not None:
            self.push(edit)

    def set_tool(self, tool: Tool) -> None:
        if tool is Tool.PAINT and self.doc is not None:
            self.doc.start_empty()  # an unsegmented image can be drawn by hand
        self.canvas.set_tool(tool)
        self.actions.tools[tool].setChecked(True)

    def new_leaf(self) -> None:
        if self.doc is None:
            return
        self.doc.start_empty()
        self.canvas.start_new_leaf()
        self.actions.tools[Tool.PAINT].setChecked(True)

    def step_brush(self, direction: int) -> None:
        radius = self.canvas.brush_radius
        if direction > 0:
            bigger = [r for r in BRUSH_RADII if r > radius]
            radius = bigger[0] if bigger else BRUSH_RADII[-1]
        else:
            smaller = [r for r in BRUSH_RADII if r < radius]
            radius = smaller[-1] if smaller else BRUSH_RADII[0]
        self.canvas.set_brush_radius(radius)
