"""Heat map of kappa(h_t) = sum_c |h_t| (last ConvLSTM) for one step, with a colour bar."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from leafcount.gui.canvas import KAPPA_COLORMAP

TITLE = "memory activity κ(h<sub>t</sub>) = Σ<sub>c</sub> |h<sub>t</sub>| at step t"
LAST_TITLE = "memory activity κ(h<sub>t</sub>) after the last step, t = {t}"
EMPTY_TITLE = "memory activity κ(h<sub>t</sub>): no steps to show"


def scale_top(high: float) -> float:
    """The colour scale's top for kappa up to ``high``: rounded up to a multiple of half a power of
    ten (28.8 -> 30, 3.3 -> 3.5), so a live run's scale grows a few times, not at every step (each
    change draws the colour bar's ticks anew, on the thread the network's worker needs too)."""
    high = max(float(high), 1e-6)
    unit = 10.0 ** math.floor(math.log10(high)) / 2
    return round(math.ceil(high / unit - 1e-9) * unit, 12)


class KappaView(pg.GraphicsLayoutWidget):
    """Where the network's memory is active at step t; one scale for a whole run."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("#202020")
        self.plot = self.addPlot()
        self.plot.setTitle(EMPTY_TITLE, size="9pt")
        self.setToolTip(
            "Where the network's recurrent memory (last ConvLSTM) is active at this step: "
            "bright areas are what it attends to and remembers."
        )
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.color_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=pg.colormap.get(KAPPA_COLORMAP), interactive=False, width=12
        )
        self.color_bar.setImageItem(self.image, insert_in=self.plot)
        self.levels = (0.0, 1.0)

    def _set_title(self, title: str) -> None:
        """A new title lays the whole view out again: only when it changes (not at every live step)."""
        if title != self.plot.titleLabel.text:
            self.plot.setTitle(title, size="9pt")

    def set_levels(self, high: float) -> None:
        """Fix the colour scale to [0, :func:`scale_top` (high)] (high: the largest kappa of the run)."""
        levels = (0.0, scale_top(high))
        if levels != self.levels:
            self.levels = levels
            self.color_bar.setLevels(levels)

    def show_kappa(self, kappa: np.ndarray | None, title: str = TITLE) -> None:
        if kappa is None:
            self.image.clear()
            self._set_title(EMPTY_TITLE)
            return
        self._set_title(title)
        shown = self.image.image
        self.image.setImage(kappa, levels=self.levels, autoLevels=False)
        if shown is None or shown.shape != kappa.shape:  # the steps of a run share one grid: fit it once
            self.plot.autoRange(padding=0)
