"""The widget docked in a real napari window, from the Plugins menu's entry.

napari's canvas needs an OpenGL context, which the offscreen Qt platform has
not: these tests skip there and run under a display, e.g.
``QT_QPA_PLATFORM=xcb xvfb-run -a python -m pytest tests/napari/test_napari_window.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from leafcount.napari.widget import SegmentWidget

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def window_viewer(qapp, plugins):
    from qtpy.QtGui import QOpenGLContext

    if not QOpenGLContext().create():
        pytest.skip(f"no OpenGL context on the {qapp.platformName()!r} Qt platform (napari's canvas needs one)")
    import napari

    viewer = napari.Viewer(show=True)  # a hidden window draws nothing
    yield viewer
    viewer.close()


def _menu_entries(menu) -> list[str]:
    entries = []
    for action in menu.actions():
        entries.append(action.text())
        if action.menu() is not None:
            entries += _menu_entries(action.menu())
    return entries


def test_plugins_menu_docks_the_widget_and_it_segments(qtbot, window_viewer, rosette_path, model_path):
    assert "Segment leaves (RIS) (leafcount)" in _menu_entries(window_viewer.window.plugins_menu)
    _, widget = window_viewer.window.add_plugin_dock_widget("leafcount", "Segment leaves (RIS)")
    assert isinstance(widget, SegmentWidget)
    window_viewer.open(str(rosette_path), plugin="leafcount")
    widget.model_edit.setText(str(model_path))
    widget.start()
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)
    assert widget.run is not None, widget.status.text()
    assert {"plant001", "plant001 leaves", "plant001 kappa"} <= {layer.name for layer in window_viewer.layers}
    shot = window_viewer.screenshot(canvas_only=True)
    assert shot.ndim == 3 and np.ptp(shot[..., :3]) > 0  # the canvas drew something


def test_a_failed_run_is_reported_in_a_real_window(qtbot, window_viewer, rosette_path, tmp_path):
    _, widget = window_viewer.window.add_plugin_dock_widget("leafcount", "Segment leaves (RIS)")
    window_viewer.open(str(rosette_path), plugin="leafcount")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    widget.model_edit.setText(str(tmp_path / "bad.safetensors"))
    widget.start()  # a worker's errored signal would meet napari's own failing slot (pytest-qt fails on it)
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)
    assert widget.status.text().startswith("failed:")
