"""The window keeps answering while the model works: a 10 ms heartbeat never stalls.

The bounds hold on a loaded 2-core CI machine (torch on one thread): 99 % of
the heartbeat gaps under 300 ms and none over 2 s. Model work on the
GUI thread freezes the window for many seconds on these images, so a regression
still fails; the strict 100 ms goal is measured by benchmarks/responsiveness.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QTimer

from leafcount.data.synth import make_rosette
from leafcount.model.checkpoint import save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris

P99_GAP_S = 0.300
FREEZE_S = 2.0
TIMEOUT_MS = 120_000


class Heartbeat:
    """A 10 ms timer on the GUI thread; records when it actually fires."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def __enter__(self) -> "Heartbeat":
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()

    @property
    def max_gap(self) -> float:
        return float(np.diff(self.times).max())

    @property
    def p99_gap(self) -> float:
        return float(np.percentile(np.diff(self.times), 99))

    def assert_responsive(self) -> None:
        assert self.max_gap < FREEZE_S, f"the GUI froze for {self.max_gap * 1000:.0f} ms"
        assert self.p99_gap < P99_GAP_S, f"1 % of the GUI's gaps exceeded {self.p99_gap * 1000:.0f} ms"


@pytest.fixture
def realistic_checkpoint(tmp_path):
    """Random weights at the shipped architecture's input size (the cost that matters)."""
    torch.manual_seed(0)
    path = tmp_path / "realistic.safetensors"
    save_checkpoint(path, build_ris(ModelConfig()), {})
    return path


def write_photo(path, shape, seed):
    image, _ = make_rosette(np.random.default_rng(seed), (shape[0] // 4, shape[1] // 4))
    big = np.repeat(np.repeat((image * 255).astype(np.uint8), 4, axis=0), 4, axis=1)
    Image.fromarray(big).save(path, quality=90)


def settle(qtbot, ms=300):
    """Let the result reach the screen (paint included) while the heartbeat runs."""
    qtbot.wait(ms)


def test_gui_stays_responsive_while_segmenting_a_full_resolution_image(
    window, qtbot, tmp_path, realistic_checkpoint, one_torch_thread
):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_photo(folder / "rosette.jpg", (3000, 4000), seed=1)
    assert window.load_model(realistic_checkpoint)
    window.open_folder(folder)
    assert window.doc.image.shape == (3000, 4000, 3)
    qtbot.wait(200)  # the first paint of the photo is not the model's doing
    steps = []
    window.segmenter.step_ready.connect(lambda doc, step: steps.append(step))
    with Heartbeat() as beat:
        with qtbot.waitSignal(window.segmenter.run_finished, timeout=TIMEOUT_MS):
            window.segment()
        settle(qtbot)
    assert len(steps) >= 5 and window.doc.labels.shape == (3000, 4000)
    beat.assert_responsive()


def test_gui_stays_responsive_during_segment_all(window, qtbot, tmp_path, realistic_checkpoint, one_torch_thread):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        write_photo(folder / f"plant{i}.jpg", (1200, 1600), seed=i)
    assert window.load_model(realistic_checkpoint)
    window.open_folder(folder)
    qtbot.wait(200)
    with Heartbeat() as beat:
        with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS):
            window.segment_all()
        settle(qtbot)
    assert all(doc.leaf_count is not None for doc in window.session.docs)
    beat.assert_responsive()


def test_zoom_and_pan_redraw_a_4000_by_3000_image(qtbot):
    # How fast: benchmarks/redraw.py (a wall-clock bound here would fail on a loaded machine).
    from PySide6.QtGui import QImage, QPainter

    from leafcount.gui.canvas import Canvas

    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(1200, 800)
    canvas.show()
    image, labels = make_rosette(np.random.default_rng(3), (750, 1000))
    canvas.set_image(np.repeat(np.repeat(image, 4, axis=0), 4, axis=1))
    canvas.set_labels(np.repeat(np.repeat(labels, 4, axis=0), 4, axis=1))
    canvas.select_leaf(1)

    def frame() -> np.ndarray:
        picture = QImage(canvas.size(), QImage.Format.Format_RGB32)
        painter = QPainter(picture)
        canvas.render(painter)
        painter.end()
        return np.frombuffer(picture.constBits(), np.uint8).reshape(picture.height(), picture.width(), 4).copy()

    frames = []
    for x0, width in [(0, 4000), (1500, 800), (1600, 200), (200, 3000)]:
        canvas.view.setRange(xRange=(x0, x0 + width), yRange=(1000, 1000 + width * 0.7), padding=0)
        frames.append(frame())
    assert all(f[..., :3].std() > 5 for f in frames)  # the photo and its leaves are drawn, not a blank frame
    assert not np.array_equal(frames[0], frames[1])  # the zoom changed what is shown
