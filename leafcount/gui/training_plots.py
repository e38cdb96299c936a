"""Live curves of a fine-tune: training loss, held-out SBD, held-out DiC and |DiC|."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

_SBD = "#66bb6a"
_DIC = "#ffa726"
_ABS_DIC = "#42a5f5"
_LOSS = "#b0bec5"


class TrainingPlots(pg.GraphicsLayoutWidget):
    """Three plots sharing the iteration axis; iteration 0 is the starting model."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("#202020")
        self.loss_plot = self._plot("training loss", row=0)
        self.sbd_plot = self._plot("held-out SBD (%)", row=1)
        self.count_plot = self._plot(
            f"held-out <span style='color:{_DIC}'>DiC</span>, <span style='color:{_ABS_DIC}'>|DiC|</span>", row=2
        )
        self.count_plot.setLabel("bottom", "iteration")
        for plot in (self.sbd_plot, self.count_plot):
            plot.setXLink(self.loss_plot)
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(_LOSS, width=1))
        self.loss_trend = self.loss_plot.plot(pen=pg.mkPen("#eceff1", width=2))
        self.sbd_curve = self._points(self.sbd_plot, _SBD)
        self.dic_curve = self._points(self.count_plot, _DIC)
        self.abs_dic_curve = self._points(self.count_plot, _ABS_DIC)
        zero = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#616161", style=Qt.PenStyle.DashLine))
        self.count_plot.addItem(zero)
        self.clear_curves()

    def clear_curves(self) -> None:
        self._loss = np.zeros((0, 2))
        self._held_out: list[tuple[int, dict[str, float]]] = []
        for curve in (self.loss_curve, self.loss_trend, self.sbd_curve, self.dic_curve, self.abs_dic_curve):
            curve.setData([], [])

    @property
    def held_out(self) -> list[tuple[int, dict[str, float]]]:
        return list(self._held_out)

    def add_losses(self, points: list[tuple[int, float]]) -> None:
        """Append (iteration, loss) pairs; the bold line is a running mean."""
        if not points:
            return
        self._loss = np.vstack([self._loss, np.asarray(points, dtype=float)])
        x, y = self._loss[:, 0], self._loss[:, 1]
        self.loss_curve.setData(x, y)
        window = max(1, min(50, len(y) // 10))
        trend = np.convolve(y, np.ones(window) / window, mode="valid")
        self.loss_trend.setData(x[window - 1 :], trend)

    def add_held_out(self, iteration: int, metrics: dict[str, float]) -> None:
        self._held_out.append((iteration, dict(metrics)))
        x = [i for i, _ in self._held_out]
        self.sbd_curve.setData(x, [100 * m["sbd"] for _, m in self._held_out])
        self.dic_curve.setData(x, [m["dic"] for _, m in self._held_out])
        self.abs_dic_curve.setData(x, [m["abs_dic"] for _, m in self._held_out])

    def _plot(self, title: str, row: int) -> pg.PlotItem:
        plot = self.addPlot(row=row, col=0)
        plot.setTitle(title, size="9pt")
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.getAxis("left").setWidth(38)
        return plot

    @staticmethod
    def _points(plot: pg.PlotItem, color: str) -> pg.PlotDataItem:
        return plot.plot(pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6, symbolBrush=color, symbolPen=None)
