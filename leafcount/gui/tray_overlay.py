"""The plants of a tray on the canvas: a box per plant with its name and leaf count.

A box's body lets clicks and strokes through to the canvas (so leaves
inside it can still be selected and edited); its top-left handle moves
it and its bottom-right handle resizes it.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from leafcount.plant_boxes import PlantBox

_PEN = pg.mkPen((128, 222, 234), width=2, cosmetic=True)
_CHOSEN_PEN = pg.mkPen((255, 235, 59), width=3, cosmetic=True)


class PlantBoxItem(pg.ROI):
    """One plant's box; its edges are image pixel boundaries."""

    def __init__(self, plant: PlantBox) -> None:
        super().__init__(
            (plant.left, plant.top), (plant.width, plant.height),
            movable=False, rotatable=False, resizable=False, pen=_PEN, snapSize=1.0,
            translateSnap=True, scaleSnap=True,
        )
        self.plant = plant
        self.addTranslateHandle((0, 0))
        self.addScaleHandle((1, 1), (0, 0))
        self.label = pg.TextItem(anchor=(0, 1), color="w", fill=pg.mkBrush(0, 0, 0, 170))
        self.label.setParentItem(self)

    def box(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) after the user's edits, at least 2 px, inside the image."""
        x, y = self.pos()
        w, h = self.size()
        top, left = max(0, round(y)), max(0, round(x))
        bottom = min(shape[0], max(top + 2, round(y + h)))
        right = min(shape[1], max(left + 2, round(x + w)))
        return top, left, bottom, right


class TrayOverlay(QObject):
    """Draws and reports the plant boxes; the TrayController owns the plants."""

    box_edited = Signal(int, object)  # plant position in the list, (top, left, bottom, right)

    def __init__(self, view: pg.ViewBox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.items: list[PlantBoxItem] = []
        self.shape: tuple[int, int] = (0, 0)

    def show_plants(self, plants: list[PlantBox], texts: list[str], chosen: int | None, shape: tuple[int, int]) -> None:
        self.clear()
        self.shape = shape
        for position, (plant, text) in enumerate(zip(plants, texts)):
            item = PlantBoxItem(plant)
            item.label.setText(text)
            item.setPen(_CHOSEN_PEN if position == chosen else _PEN)
            item.sigRegionChangeFinished.connect(lambda roi, k=position: self._on_changed(k, roi))
            self.view.addItem(item)
            self.items.append(item)

    def set_texts(self, texts: list[str]) -> None:
        for item, text in zip(self.items, texts):
            item.label.setText(text)

    def set_chosen(self, chosen: int | None) -> None:
        for position, item in enumerate(self.items):
            item.setPen(_CHOSEN_PEN if position == chosen else _PEN)

    def clear(self) -> None:
        for item in self.items:
            self.view.removeItem(item)
        self.items = []

    def _on_changed(self, position: int, item: PlantBoxItem) -> None:
        self.box_edited.emit(position, item.box(self.shape))
