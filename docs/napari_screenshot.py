"""Render docs/napari-widget.png: napari with leafcount's widget mid-run, kappa visible.

Needs a display with OpenGL, e.g. on Debian (apt-get install xvfb libxcb-cursor0):

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" \\
        .venv/bin/python docs/napari_screenshot.py docs/napari-widget.png

The picture is taken as the sixth step arrives, and the run stopped there.
"""

from __future__ import annotations

import sys
import time

import napari
from PIL import Image
from qtpy.QtWidgets import QApplication

from leafcount.napari.run import LiveStep

SHOT_AT_STEP = 5  # 0-based


def main(out: str) -> None:
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 950)
    _, widget = viewer.window.add_plugin_dock_widget("leafcount", "Segment leaves (RIS)")
    viewer.open("resources/demo/pi_rosette_2019-10-31.png", plugin="leafcount")
    show_step = widget._on_yielded

    def shoot_mid_run(update: object) -> None:
        show_step(update)
        if isinstance(update, LiveStep) and update.step.index == SHOT_AT_STEP:
            widget.stop()
            Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(out)

    widget._on_yielded = shoot_mid_run
    widget.start()
    deadline = time.monotonic() + 300
    while widget.is_busy and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1])
