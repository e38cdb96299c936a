"""How long the canvas takes to redraw a 4000 x 3000 photo with its leaf overlay at
several zooms and pans (the goal: every frame under 50 ms, so zooming feels immediate).

    QT_QPA_PLATFORM=offscreen python benchmarks/redraw.py
"""

from __future__ import annotations

import os
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from leafcount.data.synth import make_rosette  # noqa: E402

VIEWS = [(0, 4000), (1500, 800), (1600, 200), (200, 3000), (2000, 50)]  # (left, width) in photo pixels


def main() -> None:
    app = QApplication.instance() or QApplication([])
    from leafcount.gui.app import configure_pyqtgraph
    from leafcount.gui.canvas import Canvas

    configure_pyqtgraph()
    canvas = Canvas()
    canvas.resize(1200, 800)
    canvas.show()
    image, labels = make_rosette(np.random.default_rng(3), (750, 1000))
    canvas.set_image(np.repeat(np.repeat(image, 4, axis=0), 4, axis=1))
    canvas.set_labels(np.repeat(np.repeat(labels, 4, axis=0), 4, axis=1))
    canvas.select_leaf(1)

    def redraw_ms() -> float:
        frame = QImage(canvas.size(), QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(frame)
        started = time.perf_counter()
        canvas.render(painter)
        painter.end()
        return (time.perf_counter() - started) * 1000

    first = redraw_ms()  # the first frame converts the arrays once
    print(f"{'view (left, width px)':24s} {'redraw, ms':>10s}")
    print(f"{'first frame':24s} {first:10.1f}")
    for left, width in VIEWS:
        canvas.view.setRange(xRange=(left, left + width), yRange=(1000, 1000 + width * 0.7), padding=0)
        print(f"{f'{left}, {width}':24s} {redraw_ms():10.1f}")
    canvas.close()
    app.quit()


if __name__ == "__main__":
    main()
