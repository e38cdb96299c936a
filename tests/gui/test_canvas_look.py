"""What the canvas looks like: the photo gets the room, outlines are seen, tray labels fit
(issue 16, item 13). Checked on rendered pixels and on-screen rectangles."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from leafcount.analysis.plant_boxes import plant_name
from leafcount.data.demo import DEMO_DIR
from leafcount.gui.canvas import Canvas

TIMEOUT_MS = 60_000

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rendered(widget) -> np.ndarray:
    """The widget as drawn: (H, W, 3) uint8."""
    QApplication.processEvents()
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3)


def outline_runs(line: np.ndarray) -> list[int]:
    """Lengths of the runs of outline-coloured pixels (mostly magenta: red and blue over green)."""
    r, g, b = (line[:, k].astype(int) for k in range(3))
    hot = (r > g + 60) & (b > g + 60)
    return [len(list(run)) for on, run in itertools.groupby(hot) if on]


def test_the_photo_gets_the_whole_canvas_no_histogram_beside_it(window, plant_folder, qtbot):
    window.resize(1100, 750)
    window.open_folder(plant_folder)
    qtbot.wait(50)
    canvas = window.canvas
    assert not any(isinstance(item, pg.HistogramLUTItem) for item in canvas.scene().items())
    assert canvas.view.width() >= canvas.width() - 4


@pytest.fixture
def outlined(qtbot):
    """Two green leaves side by side on a 400 x 400 photo, shown as outlines in a 200 px canvas."""
    photo = np.zeros((400, 400, 3))
    photo[..., 1] = 0.35
    photo[50:350, 50:350] = (0.2, 0.6, 0.2)
    labels = np.zeros((400, 400), dtype=np.int32)
    labels[50:350, 50:200] = 1
    labels[50:350, 200:350] = 2
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(220, 220)
    canvas.show()
    canvas.set_image(photo)
    canvas.set_labels(labels)
    canvas.set_outlines(True)
    return canvas


def test_outlines_are_at_least_two_screen_pixels_and_contrasting_when_zoomed_out(outlined):
    picture = rendered(outlined)
    middle = picture[picture.shape[0] // 2]
    runs = outline_runs(middle)
    assert len(runs) >= 3, runs  # left edge, the border between the leaves, right edge
    assert min(runs) >= 2, runs


def test_outlines_widen_with_the_zoom(outlined):
    widths = []
    for half in (50, 25):  # 100 and 50 image px across the view: about 2x and 4x
        outlined.view.setRange(QRectF(200 - half, 200 - half, 2 * half, 2 * half), padding=0)
        picture = rendered(outlined)
        runs = outline_runs(picture[picture.shape[0] // 2])
        assert runs, "the border between the two leaves is on screen"
        widths.append(max(runs))
    assert widths[0] >= 2 and widths[1] >= 1.6 * widths[0], widths


@pytest.fixture
def tray_folder(tmp_path):
    folder = tmp_path / "tray"
    folder.mkdir()
    shutil.copy(DEMO_DIR / "arabidopsis_tray.jpg", folder)
    return folder


@pytest.mark.parametrize("size", [(900, 600), (1500, 950)])
def test_tray_labels_fit_their_boxes_and_never_overlap(window, tray_folder, qtbot, size):
    window.resize(*size)
    window.open_folder(tray_folder)
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    if not window.trays.is_active:
        window.actions.tray_mode.trigger()
    qtbot.waitUntil(lambda: window.trays.is_active, timeout=TIMEOUT_MS)
    items = window.trays.overlay.items
    window.trays.overlay.set_texts([f"{plant_name(item.plant)} · 13 leaves" for item in items])
    qtbot.wait(50)
    shown = [item for item in items if item.label.isVisible()]
    assert shown, "some labels fit"
    canvas_rect = window.canvas.view.sceneBoundingRect()
    rects = [item.label.sceneBoundingRect() for item in shown]
    for item, rect in zip(shown, rects):
        assert item.sceneBoundingRect().adjusted(-1, -1, 1, 1).contains(rect), item.label.toPlainText()
        assert canvas_rect.contains(rect)
    for a, b in itertools.combinations(rects, 2):
        assert not a.intersects(b)
