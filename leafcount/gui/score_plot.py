"""Confidence s_t per step, with the stop threshold as a draggable line."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

_ACCEPTED = (76, 175, 80)
_REJECTED = (120, 120, 120)


def bars_room(count: int) -> int:
    """Bars the step axis has room for: the first of 5, 10, 20, 40... that holds ``count``."""
    room = 5
    while room < count:
        room *= 2
    return room


class ScorePlot(pg.PlotWidget):
    """Bars of s_t; steps before the first score under the line become leaves."""

    threshold_moved = Signal(float)  # while dragging
    threshold_chosen = Signal(float)  # on release
    step_clicked = Signal(int)  # step index

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="#202020")
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setYRange(0, 1, padding=0.02)
        self.setLabel("left", "confidence s<sub>t</sub>")
        self.setLabel("bottom", "step t")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.addItem(self.bars)
        self.current = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ffeb3b", width=1))
        self.addItem(self.current)
        self.threshold_line = pg.InfiniteLine(
            pos=0.5,
            angle=0,
            movable=True,
            bounds=(0.0, 1.0),
            pen=pg.mkPen("#ff5252", width=2),
            hoverPen=pg.mkPen("#ff8a80", width=3),
            label="stop {value:.2f}",
            labelOpts={"position": 0.9, "color": "#ff8a80", "anchors": [(1, 1), (1, 1)]},
        )
        self.threshold_line.setToolTip("Drag to change the stop threshold")
        self.addItem(self.threshold_line)
        self.threshold_line.sigPositionChanged.connect(self._on_line_moved)
        self.threshold_line.sigPositionChangeFinished.connect(self._on_line_released)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self._scores: list[float] = []

    @property
    def threshold(self) -> float:
        return float(self.threshold_line.value())

    def set_scores(self, scores: list[float]) -> None:
        self._scores = list(scores)
        self._redraw()

    def set_threshold(self, value: float) -> None:
        """Move the line without emitting (the model changed, not the user)."""
        self.threshold_line.blockSignals(True)
        self.threshold_line.setValue(value)
        self.threshold_line.blockSignals(False)
        self.threshold_line.label.valueChanged()  # its text follows the blocked signal otherwise
        self._redraw()

    def set_current(self, index: int | None) -> None:
        self.current.setVisible(index is not None)
        if index is not None:
            self.current.setValue(index + 1)

    def _redraw(self) -> None:
        steps = np.arange(1, len(self._scores) + 1)
        accepted = np.cumprod(np.asarray(self._scores) >= self.threshold).astype(bool)
        brushes = [pg.mkBrush(_ACCEPTED if ok else _REJECTED) for ok in accepted]
        self.bars.setOpts(x=steps, height=self._scores, width=0.7, brushes=brushes, pen=None)
        # A live run widens the axis (and pyqtgraph draws its ticks anew, on the thread the network's
        # worker needs too) a few times, not at every step.
        self.setXRange(0.4, bars_room(len(self._scores)) + 0.6, padding=0)

    def _on_line_moved(self) -> None:
        self._redraw()
        self.threshold_moved.emit(self.threshold)

    def _on_line_released(self) -> None:
        self.threshold_chosen.emit(self.threshold)

    def _on_scene_clicked(self, event) -> None:
        point = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        index = int(round(point.x())) - 1
        if 0 <= index < len(self._scores):
            self.step_clicked.emit(index)
