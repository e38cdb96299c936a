"""The window under bad input and crashes: one clear dialog per problem, work goes on,
and edits survive a killed app."""

from __future__ import annotations

import io
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QMessageBox

from leafcount.data.cvppp import label_path_for
from leafcount.io.corrections import RECOVERY_DIR_NAME, read_recovery

Button = QMessageBox.StandardButton
TIMEOUT_MS = 30_000
REPO = Path(__file__).resolve().parents[2]


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def encoded(img: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def tiff_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, photometric="rgb")
    return buffer.getvalue()


BAD_FILES = {
    "empty.png": (lambda: b"", r"empty file \(0 bytes\)"),
    "cut.png": (lambda: encoded(Image.fromarray(photo()), "PNG")[:300], "corrupt or truncated image"),
    "garbled.jpg": (
        lambda: encoded(Image.fromarray(photo()), "JPEG")[:20] + np.random.default_rng(1).bytes(600),
        "(not a readable image|corrupt or truncated image)",
    ),
    "notes.png": (lambda: b"plant 12 looked yellow on Monday\n", "not a readable image"),
}

ODD_BUT_FINE = {
    "sixteen.tif": lambda: tiff_bytes(photo().astype(np.uint16) * 257),
    "grey.png": lambda: encoded(Image.fromarray(photo()[..., 0]), "PNG"),
    "rgba.png": lambda: encoded(Image.fromarray(np.dstack([photo(), np.full((48, 64), 200, np.uint8)])), "PNG"),
    "palette.png": lambda: encoded(Image.fromarray(photo()).quantize(16), "PNG"),
    "dot.png": lambda: encoded(Image.fromarray(photo(1, 1)), "PNG"),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def segment_current(window, qtbot) -> None:
    with qtbot.waitSignal(window.segmenter.run_finished, timeout=TIMEOUT_MS):
        window.actions.segment.trigger()


def choose(window, name: str) -> None:
    window.image_list.setCurrentRow(next(i for i, d in enumerate(window.session.docs) if d.name == name))


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_image_gets_one_dialog_and_the_app_goes_on(window, tmp_path, qtbot, dialogs, name):
    make, problem = BAD_FILES[name]
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(photo()).save(folder / "a.png")
    (folder / name).write_bytes(make())
    Image.fromarray(photo(seed=2)).save(folder / "z.png")
    assert window.open_folder(folder) and window.doc.name == "a.png"
    choose(window, name)
    assert len(dialogs.seen) == 1 and re.match(rf"{re.escape(name)}: {problem}", dialogs.seen[0]), dialogs.seen
    assert window.doc.name == "a.png" and window.image_list.currentRow() == 0  # the open image stays
    choose(window, "z.png")
    segment_current(window, qtbot)
    assert window.doc.name == "z.png" and window.doc.labels.shape == (48, 64)
    assert len(dialogs.seen) == 1


@pytest.mark.parametrize("name", ODD_BUT_FINE)
def test_odd_but_valid_images_open_and_segment_without_a_dialog(window, tmp_path, qtbot, dialogs, name):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(ODD_BUT_FINE[name]())
    assert window.open_folder(folder)
    size = (1, 1) if name == "dot.png" else (48, 64)
    assert window.doc.image.shape == (*size, 3) and window.doc.image.dtype == np.float32
    segment_current(window, qtbot)
    assert window.doc.labels.shape == size
    assert dialogs.seen == []


class MarkerPayload:
    """Unpickling this creates ``marker``: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def bad_checkpoint(kind: str, good: Path, folder: Path, marker: Path) -> Path:
    path = folder / f"{kind}.safetensors"
    if kind == "pickle":
        path.write_bytes(pickle.dumps(MarkerPayload(marker), protocol=2))
    elif kind == "torch-save":
        torch.save({"weights": MarkerPayload(marker)}, path)
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:  # garbage
        path.write_bytes(b"\x00" * 40)
    return path


@pytest.mark.parametrize("kind", ["pickle", "torch-save", "truncated", "garbage"])
def test_a_bad_checkpoint_from_the_model_menu_is_refused_with_one_dialog(
    window, tmp_path, qtbot, dialogs, monkeypatch, plant_folder, tiny_checkpoint, kind
):
    marker = tmp_path / "unpickled"
    path = bad_checkpoint(kind, tiny_checkpoint, tmp_path, marker)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(path), ""))
    model = window.segmenter.model
    window.actions.load_model.trigger()
    assert len(dialogs.seen) == 1 and dialogs.seen[0].startswith(f"{path.name}: ")
    assert not marker.exists()  # never unpickled
    assert window.segmenter.model is model and window.status.model_label.text() == "model: tiny"
    window.open_folder(plant_folder)
    segment_current(window, qtbot)  # the old model still works
    assert window.doc.labels is not None


DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from leafcount.gui import session
    from leafcount.gui.app import configure_pyqtgraph

    session.AUTOSAVE_INTERVAL_MS = 200  # the test should not wait five seconds
    folder, model, expected = (Path(a) for a in sys.argv[1:4])
    configure_pyqtgraph()
    app = QApplication([])
    from leafcount.gui.main_window import MainWindow
    from leafcount.io.corrections import RECOVERY_DIR_NAME

    window = MainWindow()
    assert window.load_model(model)
    window.show()
    assert window.open_folder(folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0), (20.0, 40.0)])
    window.canvas.view.stroke_ended.emit([(60.0, 60.0)])
    doc = window.doc
    np.save(expected, doc.labels)
    (expected.parent / "manual.txt").write_text(" ".join(map(str, sorted(doc.manual_ids))))

    def announce_when_autosaved():
        if (folder / RECOVERY_DIR_NAME / "plant001_label.json").is_file():
            print("autosaved", flush=True)
        else:
            QTimer.singleShot(50, announce_when_autosaved)

    announce_when_autosaved()
    app.exec()  # until killed
    """
)


def test_edits_survive_a_killed_app_and_are_offered_on_the_next_start(
    window, plant_folder, tmp_path, tiny_checkpoint, dialogs
):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    expected = tmp_path / "expected.npy"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen(
        [sys.executable, str(driver), str(plant_folder), str(tiny_checkpoint), str(expected)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        line = app.stdout.readline()
        assert line.strip() == "autosaved", app.stderr.read()
    finally:
        os.kill(app.pid, signal.SIGKILL)  # a crash: no chance to save or clean up
        app.wait(30)
    assert app.returncode == -signal.SIGKILL
    edited = np.load(expected)
    manual = frozenset(int(v) for v in (tmp_path / "manual.txt").read_text().split())
    assert not label_path_for(plant_folder / "plant001_rgb.png").exists()  # nothing was saved
    recovery = plant_folder / RECOVERY_DIR_NAME
    assert not [p.name for p in recovery.iterdir() if p.name.endswith(".partial")]
    np.testing.assert_array_equal(read_recovery(plant_folder / "plant001_rgb.png")[0], edited)

    dialogs.answer(Button.Yes)  # the next start: restore
    assert window.open_folder(plant_folder)
    saved_at = read_recovery(plant_folder / "plant001_rgb.png")[1].saved
    assert dialogs.seen == [f"plant001_rgb.png has edits that were not saved (autosaved {saved_at})."]
    np.testing.assert_array_equal(window.doc.labels, edited)
    assert window.doc.manual_ids == manual and window.doc.is_dirty
    window.actions.undo.trigger()  # restoring is one undoable step
    assert window.doc.labels is None or not window.doc.labels.any()


def test_declining_the_recovered_edits_forgets_them(window, plant_folder, qtbot, dialogs):
    from leafcount.gui.main_window import MainWindow

    window.open_folder(plant_folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    window.session.autosave()

    other = MainWindow()  # the app after a crash of the first window
    qtbot.addWidget(other)
    dialogs.answer(Button.No)
    other.open_folder(plant_folder)
    assert len(dialogs.seen) == 1 and other.doc.labels is None and not other.doc.is_dirty
    assert read_recovery(plant_folder / "plant001_rgb.png") is None
    other.close()
