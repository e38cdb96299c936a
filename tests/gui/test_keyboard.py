"""Keyboard shortcuts pressed in the window, as a user presses them (key events, not triggers).

Qt maps a standard key (Redo) to the desktop's own scheme. The offscreen
platform of the tests uses the Windows scheme, whose first Redo key is
Ctrl+Y; an X11 desktop (GNOME, a bare Xvfb) puts Ctrl+Shift+Z first, which
is where a window that also names Ctrl+Shift+Z itself got the key twice
("Ambiguous shortcut overload") and no Ctrl+Y at all. ``x11_keys`` gives the
window the X11 scheme.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from leafcount.data.synth import write_synth_folder
from leafcount.gui import actions

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
X11_BINDINGS = {QKeySequence.StandardKey.Redo: ("Ctrl+Shift+Z", "Redo")}  # Qt's table for KB_X11


def _x11(key):
    """A standard key as an X11 desktop's platform theme resolves it (first binding)."""
    return QKeySequence(X11_BINDINGS[key][0]) if key in X11_BINDINGS else key


class X11KeySequence(QKeySequence):
    """QKeySequence built and listed the way an X11 desktop's theme does it."""

    def __init__(self, *args) -> None:
        super().__init__(*(_x11(args[0]), *args[1:]) if args else ())

    @staticmethod
    def keyBindings(key):  # noqa: N802 - Qt naming
        if key in X11_BINDINGS:
            return [QKeySequence(text) for text in X11_BINDINGS[key]]
        return QKeySequence.keyBindings(key)


def use_x11_scheme(monkeypatch) -> None:
    """Standard keys resolved as on X11, wherever the window hands them to Qt."""
    set_one, set_many = QAction.setShortcut, QAction.setShortcuts

    def set_shortcuts(action, keys):
        if isinstance(keys, QKeySequence.StandardKey):
            keys = X11KeySequence.keyBindings(keys)
        set_many(action, [_x11(key) for key in keys])

    monkeypatch.setattr(QAction, "setShortcut", lambda action, key: set_one(action, _x11(key)))
    monkeypatch.setattr(QAction, "setShortcuts", set_shortcuts)
    monkeypatch.setattr(actions, "QKeySequence", X11KeySequence)


@pytest.fixture(params=["offscreen scheme", "x11 scheme"])
def keyboard_window(request, qtbot, dialogs, tiny_checkpoint, monkeypatch):
    from leafcount.gui.main_window import MainWindow

    if request.param == "x11 scheme":
        use_x11_scheme(monkeypatch)
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.load_model(tiny_checkpoint)
    win.show()
    yield win
    dialogs.answers.clear()
    dialogs.answer(QMessageBox.StandardButton.Discard)
    win.close()


@pytest.fixture
def edited(keyboard_window, tmp_path):
    """A labelled image with one brush stroke: (doc, labels before, labels after)."""
    folder = tmp_path / "labelled"
    write_synth_folder(folder, 1, seed=5)
    keyboard_window.open_folder(folder)
    doc = keyboard_window.doc
    before = doc.labels.copy()
    keyboard_window.actions.new_leaf.trigger()
    keyboard_window.canvas.view.stroke_ended.emit([(10.0, 10.0), (20.0, 30.0)])
    after = doc.labels.copy()
    assert not np.array_equal(before, after)
    keyboard_window.canvas.setFocus()
    return doc, before, after


@pytest.mark.parametrize(
    "press",
    [
        lambda qtbot, w: qtbot.keyClick(w, Qt.Key.Key_Z, CTRL | SHIFT),
        lambda qtbot, w: qtbot.keyClick(w, Qt.Key.Key_Y, CTRL),
        lambda qtbot, w: qtbot.keySequence(w, QKeySequence("Ctrl+Shift+Z")),
    ],
    ids=["ctrl-shift-z", "ctrl-y", "sequence-ctrl-shift-z"],
)
def test_redo_from_the_keyboard(keyboard_window, edited, qtbot, press):
    doc, before, after = edited
    qtbot.keyClick(keyboard_window.canvas, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(doc.labels, before)
    press(qtbot, keyboard_window.canvas)
    np.testing.assert_array_equal(doc.labels, after)


def test_each_key_belongs_to_one_action_once(keyboard_window):
    """Qt ignores a key bound twice, even twice to the same action."""
    seen: dict[str, str] = {}
    for action in keyboard_window.findChildren(QAction):
        for shortcut in action.shortcuts():
            key = shortcut.toString()
            assert key not in seen, f"{key} is bound to {seen[key]!r} and {action.text()!r}"
            seen[key] = action.text()
