"""Tools ▸ Set scale: a line dragged along a ruler in the photo, and its length in
mm, give the folder's pixels per millimetre, stored with the folder's photos."""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from leafcount.analysis.scale import px_per_mm_from_line, read_folder_scale, write_folder_scale
from leafcount.errors import ConfigError, LeafcountError
from leafcount.gui.actions import WindowActions
from leafcount.gui.canvas import Canvas, Tool
from leafcount.gui.errors import show_error
from leafcount.gui.session import FolderSession

DEFAULT_LENGTH_MM = 10.0


def ask_length_mm(parent: QWidget | None, pixels: float) -> float | None:
    """How many millimetres the drawn line covers; None when the user cancels."""
    value, ok = QInputDialog.getDouble(
        parent, "Set scale",
        f"The line is {pixels:.1f} pixels long.\nHow many millimetres of the ruler does it cover?",
        DEFAULT_LENGTH_MM, 0.01, 100_000.0, 2,
    )
    return value if ok else None


class ScaleTool(QObject):
    """Turns a ruler line into the folder's scale; tells the status bar."""

    scale_changed = Signal(object)  # px per mm, or None when the folder has none
    message = Signal(str)

    def __init__(self, canvas: Canvas, session: FolderSession, actions: WindowActions, window: QWidget) -> None:
        super().__init__(window)
        self.canvas, self.session, self.actions, self._window = canvas, session, actions, window
        canvas.ruler_drawn.connect(self._on_ruler_drawn)
        actions.tools[Tool.RULER].toggled.connect(self._on_ruler_toggled)
        session.folder_opened.connect(lambda _paths: self.refresh())

    def refresh(self) -> None:
        try:
            value = read_folder_scale(self.session.folder) if self.session.folder else None
        except ConfigError as exc:  # a damaged settings file: say so, set the scale again to fix it
            self.message.emit(f"Scale not read: {exc}")
            value = None
        self.scale_changed.emit(value)

    def _on_ruler_toggled(self, active: bool) -> None:
        if active:
            self.message.emit("Set scale: drag a line along the ruler over a known length, then type that length.")

    def _on_ruler_drawn(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        try:
            self._measure(start, end)
        except LeafcountError as exc:
            show_error(self._window, exc)
        finally:
            self.canvas.clear_preview()
            self.actions.tools[Tool.SELECT].trigger()

    def _measure(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        folder = self.session.folder
        if folder is None:
            return
        px_per_mm_from_line(start, end, DEFAULT_LENGTH_MM)  # a line under one pixel is refused before asking
        pixels = math.dist(start, end)
        length_mm = ask_length_mm(self._window, pixels)
        if length_mm is None:
            return
        px_per_mm = px_per_mm_from_line(start, end, length_mm)
        where = self.session.current.name if self.session.current else "the photo"
        write_folder_scale(folder, px_per_mm, source=f"{pixels:.1f} px line over {length_mm:g} mm of a ruler in {where}")
        self.scale_changed.emit(px_per_mm)
        self.message.emit(f"Scale set: {px_per_mm:.3g} pixels per mm, saved with the folder {folder.name}.")
