"""Tools ▸ Set scale: drag along a ruler, type its length, the folder keeps the scale."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QInputDialog

from leafcount.analysis.scale import FOLDER_SETTINGS, read_folder_scale
from leafcount.gui.canvas import Tool


def drag(widget, start: QPoint, end: QPoint, steps: int = 8) -> None:
    """A real left-button drag: press, several moves with the button held, release."""

    def send(kind, pos, button, buttons):
        event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, event)

    left = Qt.MouseButton.LeftButton
    send(QEvent.Type.MouseButtonPress, start, left, left)
    for i in range(1, steps + 1):
        point = start + (end - start) * i / steps
        send(QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left)
    send(QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton)


def screen_point(canvas, row: float, col: float) -> QPoint:
    """Where pixel (row, col) of the photo is on the canvas widget."""
    scene = canvas.view.mapViewToScene(QPointF(col + 0.5, row + 0.5))
    return canvas.mapFromScene(scene)


@pytest.fixture
def typed_length(monkeypatch):
    """The user types a length into the dialog (None: presses Cancel)."""
    answer = {"mm": 10.0}
    asked = []

    def get_double(parent, title, label, *args):
        asked.append(label)
        return (answer["mm"] or 0.0, answer["mm"] is not None)

    monkeypatch.setattr(QInputDialog, "getDouble", get_double)
    answer["asked"] = asked
    return answer


def test_a_drag_along_a_ruler_sets_the_folder_scale(window, plant_folder, qtbot, typed_length):
    window.resize(1400, 900)
    window.open_folder(plant_folder)
    assert window.status.scale_label.text() == "no scale"
    canvas = window.canvas
    qtbot.waitExposed(window)
    window.actions.tools[Tool.RULER].trigger()
    assert canvas.tool is Tool.RULER and "drag a line along the ruler" in window.status.currentMessage()
    start, end = screen_point(canvas, 40, 20), screen_point(canvas, 40, 220)
    drawn = []
    canvas.ruler_drawn.connect(lambda a, b: drawn.append((a, b)))
    typed_length["mm"] = 25.0
    drag(canvas.viewport(), start, end)
    [(a, b)] = drawn
    assert a == pytest.approx((40, 20), abs=1.5) and b == pytest.approx((40, 220), abs=1.5)
    pixels = ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5
    assert typed_length["asked"] == [f"The line is {pixels:.1f} pixels long.\nHow many millimetres of the ruler does it cover?"]
    assert read_folder_scale(plant_folder) == pytest.approx(pixels / 25.0)
    settings = json.loads((plant_folder / FOLDER_SETTINGS).read_text())
    assert settings["scale_source"].endswith("over 25 mm of a ruler in plant001_rgb.png")
    assert window.status.scale_label.text() == f"{pixels / 25.0:.3g} px/mm"
    assert canvas.tool is Tool.SELECT and canvas.stroke_preview.path().isEmpty()
    # The scale comes back with the folder.
    window.open_folder(plant_folder)
    assert window.status.scale_label.text() == f"{pixels / 25.0:.3g} px/mm"


def test_cancelling_the_length_keeps_the_old_scale(window, plant_folder, typed_length):
    window.open_folder(plant_folder)
    window.actions.tools[Tool.RULER].trigger()
    typed_length["mm"] = None
    window.canvas.view.stroke_ended.emit([(10.0, 10.0), (10.0, 90.0)])
    assert read_folder_scale(plant_folder) is None and window.status.scale_label.text() == "no scale"
    assert window.canvas.tool is Tool.SELECT and window.canvas.stroke_preview.path().isEmpty()


def test_a_line_under_a_pixel_gets_one_dialog(window, plant_folder, dialogs, typed_length):
    window.open_folder(plant_folder)
    window.actions.tools[Tool.RULER].trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0), (10.2, 10.3)])
    assert dialogs.seen == ["the line is shorter than one pixel: drag along the ruler"]
    assert typed_length["asked"] == [] and read_folder_scale(plant_folder) is None


def test_an_unreadable_settings_file_is_reported_in_the_status_bar(window, plant_folder):
    (plant_folder / FOLDER_SETTINGS).write_text("{not json")
    window.open_folder(plant_folder)
    assert window.status.scale_label.text() == "no scale"
    assert window.status.currentMessage().startswith(f"Scale not read: {FOLDER_SETTINGS}: cannot read")
