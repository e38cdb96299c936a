"""The window's side panels as dock widgets: placed, tabbed and sized once."""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

LEFT, RIGHT = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea


@dataclass
class Docks:
    images: QDockWidget
    tray: QDockWidget  # shown in tray mode only
    steps: QDockWidget
    history: QDockWidget
    fine_tune: QDockWidget  # tabbed with steps
    models: QDockWidget  # tabbed with steps

    def all(self) -> list[QDockWidget]:
        return [getattr(self, f.name) for f in fields(self)]


def add_docks(
    window: QMainWindow,
    images: QWidget,
    tray: QWidget,
    steps: QWidget,
    history: QWidget,
    fine_tune: QWidget,
    models: QWidget,
) -> Docks:
    def dock(title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        made = QDockWidget(title, window)
        made.setObjectName(f"{title.lower().replace(' ', '_')}_dock")
        made.setWidget(widget)
        window.addDockWidget(area, made)
        return made

    docks = Docks(
        dock("Images", images, LEFT), dock("Tray", tray, LEFT), dock("Steps", steps, RIGHT),
        dock("History", history, RIGHT), dock("Train on corrections", fine_tune, RIGHT), dock("Models", models, RIGHT),
    )
    docks.tray.hide()
    window.tabifyDockWidget(docks.steps, docks.fine_tune)
    window.tabifyDockWidget(docks.fine_tune, docks.models)
    docks.steps.raise_()
    window.resizeDocks([docks.steps, docks.history], [700, 180], Qt.Orientation.Vertical)
    window.resizeDocks([docks.images, docks.steps], [240, 320], Qt.Orientation.Horizontal)
    return docks
