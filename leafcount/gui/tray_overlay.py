"""The plants of a tray on the canvas: a box per plant with its name and leaf count.

A box's body lets clicks and strokes through to the canvas (so leaves
inside it can still be selected and edited); its top-left handle moves
it and its bottom-right handle resizes it.

A label sits inside its box, at the bottom left, in the longest form that
fits the box on screen ("C5 · 13 leaves", "C5 · 13", "C5", or none), so the
labels of a small window neither overlap nor run out of the photo.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from leafcount.analysis.plant_boxes import PlantBox

_PEN = pg.mkPen((128, 222, 234), width=2, cosmetic=True)
_CHOSEN_PEN = pg.mkPen((255, 235, 59), width=3, cosmetic=True)
HANDLE_ROOM_PX = 12  # the resize handle's corner stays free of the label


def shorter_forms(text: str) -> list[str]:
    """The label and its shorter forms, longest first.

    >>> shorter_forms("C5 · 13 leaves"), shorter_forms("C5")
    (['C5 · 13 leaves', 'C5 · 13', 'C5'], ['C5'])
    """
    name, _, count = text.partition(" · ")
    forms = [text, f"{name} · {count.split()[0]}" if count else text, name]
    return list(dict.fromkeys(forms))


class PlantBoxItem(pg.ROI):
    """One plant's box; its edges are image pixel boundaries."""

    def __init__(self, plant: PlantBox) -> None:
        super().__init__(
            (plant.left, plant.top), (plant.width, plant.height),
            movable=False, rotatable=False, resizable=False, pen=_PEN, snapSize=1.0,
            translateSnap=True, scaleSnap=True,
        )
        self.plant = plant
        self.text = ""  # the full label; ``label`` shows the form that fits
        self.addTranslateHandle((0, 0))
        self.addScaleHandle((1, 1), (0, 0))
        self.label = pg.TextItem(anchor=(0, 1), color="w", fill=pg.mkBrush(0, 0, 0, 170))
        self.label.setParentItem(self)
        self.sigRegionChanged.connect(lambda _roi: self.fit())

    def set_text(self, text: str) -> None:
        self.text = text
        self.fit()

    def fit(self) -> None:
        """Show the longest form of the label that fits the box as big as it is on screen."""
        view = self.getViewBox()
        across, down = view.viewPixelSize() if view is not None else (0, 0)  # image px per screen px
        if across <= 0 or down <= 0:
            return
        width, height = self.size()
        room = (width / across, height / down)
        self.label.setPos(0, height)  # bottom left, inside
        for form in shorter_forms(self.text):
            self.label.setText(form)
            size = self.label.textItem.boundingRect()
            if size.width() <= room[0] - HANDLE_ROOM_PX and size.height() <= room[1] - HANDLE_ROOM_PX:
                self.label.setVisible(True)
                return
        self.label.setVisible(False)

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
        view.sigTransformChanged.connect(self.fit_labels)

    def show_plants(self, plants: list[PlantBox], texts: list[str], chosen: int | None, shape: tuple[int, int]) -> None:
        self.clear()
        self.shape = shape
        for position, (plant, text) in enumerate(zip(plants, texts)):
            item = PlantBoxItem(plant)
            item.set_text(text)
            item.setPen(_CHOSEN_PEN if position == chosen else _PEN)
            item.sigRegionChangeFinished.connect(lambda roi, k=position: self._on_changed(k, roi))
            self.view.addItem(item)
            self.items.append(item)
        self.fit_labels()

    def set_texts(self, texts: list[str]) -> None:
        for item, text in zip(self.items, texts):
            item.set_text(text)

    def fit_labels(self) -> None:
        """Each label in the form that fits its box at the current zoom."""
        for item in self.items:
            item.fit()

    def set_chosen(self, chosen: int | None) -> None:
        for position, item in enumerate(self.items):
            item.setPen(_CHOSEN_PEN if position == chosen else _PEN)

    def clear(self) -> None:
        for item in self.items:
            self.view.removeItem(item)
        self.items = []

    def _on_changed(self, position: int, item: PlantBoxItem) -> None:
        self.box_edited.emit(position, item.box(self.shape))
