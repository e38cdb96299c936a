"""GUI fixtures: offscreen Qt, a folder of synthetic rosettes, a tiny random model.

Modal dialogs are replaced by a recorder that answers from a queue, so a
test states which questions it expects and how the user answers them.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

from collections import deque
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from leafcount.data.synth import write_synth_folder
from leafcount.gui.app import configure_pyqtgraph
from leafcount.model.checkpoint import save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris

configure_pyqtgraph()


class DialogRecorder:
    """Stands in for QMessageBox.exec: records each dialog, answers from a queue."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.answers: deque[QMessageBox.StandardButton] = deque()

    def answer(self, *buttons: QMessageBox.StandardButton) -> None:
        self.answers.extend(buttons)

    def exec(self, box: QMessageBox) -> int:
        self.seen.append(box.text())
        answer = self.answers.popleft() if self.answers else QMessageBox.StandardButton.Ok
        return int(answer.value)


@pytest.fixture(autouse=True)
def own_settings(tmp_path_factory):
    """The app's settings (e.g. the last report folder) in a folder of the test session, not the user's."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def dialogs(monkeypatch) -> DialogRecorder:
    recorder = DialogRecorder()
    monkeypatch.setattr(QMessageBox, "exec", lambda box: recorder.exec(box))
    return recorder


@pytest.fixture
def plant_folder(tmp_path) -> Path:
    """Four synthetic rosettes, without their ground-truth label files."""
    folder = tmp_path / "plants"
    write_synth_folder(folder, 4, seed=11)
    for label in folder.glob("*_label.png"):
        label.unlink()
    return folder


@pytest.fixture
def tiny_checkpoint(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.safetensors"
    path.parent.mkdir()
    save_checkpoint(path, build_ris(ModelConfig.tiny()), {"note": "random weights for tests"})
    return path


@pytest.fixture
def window(qtbot, dialogs, tiny_checkpoint):
    """The main window with the tiny model loaded and no folder open."""
    from leafcount.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    assert win.load_model(tiny_checkpoint)
    win.show()
    yield win
    # Close while dialogs are still recorded: unsaved test edits are discarded.
    dialogs.answers.clear()
    dialogs.answer(QMessageBox.StandardButton.Discard)
    win.close()
