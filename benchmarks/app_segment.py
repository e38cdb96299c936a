"""How soon the app's Segment shows the first leaf and the whole image, from the click.

Drives the real window (offscreen unless a display is set) with the default
model on CVPPP images, as a biologist would: open the folder, press
Segment (the action's trigger, as a click does), and time the click to
the first step drawn in the window (the step view and the canvas given its
mask, score and kappa on the GUI thread; Qt paints them as that call
returns), and to the end of the run (labels decoded and shown). The
first press of a session also pays for torch and oneDNN building their
kernels, so it is printed apart from the later ones.

    QT_QPA_PLATFORM=offscreen python benchmarks/app_segment.py [--n 5] [--data ../shared/data/cvppp-a1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from leafcount.data.cvppp import list_samples  # noqa: E402
from leafcount.gui.app import configure_pyqtgraph  # noqa: E402
from leafcount.gui.main_window import MainWindow  # noqa: E402
from leafcount.model.checkpoint import DEFAULT_MODEL_PATH  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvppp-a1"


def press_segment(window: MainWindow, timeout_s: float = 60.0) -> tuple[float, float]:
    """Seconds from pressing Segment to the first step shown, and to the run's end."""
    times: dict[str, float] = {}
    loop = QEventLoop()

    add_steps = window.step_view.add_steps

    def first_step_drawn(steps) -> None:
        add_steps(steps)
        times.setdefault("first", time.perf_counter())

    def finished(_doc) -> None:
        QApplication.processEvents()  # the window's own slots and repaints for the labels
        times["end"] = time.perf_counter()
        loop.quit()

    window.step_view.add_steps = first_step_drawn
    window.segmenter.run_finished.connect(finished)  # after the window's own slots
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    start = time.perf_counter()
    window.actions.segment.trigger()
    loop.exec()
    del window.step_view.add_steps
    window.segmenter.run_finished.disconnect(finished)
    if "end" not in times:
        raise SystemExit(f"no result within {timeout_s:.0f} s")
    return times["first"] - start, times["end"] - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--n", type=int, default=5, help="images pressed in turn, after a first press")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    configure_pyqtgraph()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for sample in list_samples(args.data)[: args.n + 1]:
            (folder / sample.image_path.name).symlink_to(sample.image_path.resolve())
        window = MainWindow()
        window.resize(1400, 900)
        window.show()
        if not window.load_model(args.model) or not window.open_folder(folder, out_dir=Path(tmp) / "out"):
            raise SystemExit("could not open the model or the folder")
        runs = []
        for row in range(args.n + 1):
            window.image_list.setCurrentRow(row)
            app.processEvents()
            runs.append(press_segment(window))
        window.segmenter.shutdown()
        window.close()
    (first_leaf, whole), later = runs[0], runs[1:]
    print(f"app's Segment on CVPPP images ({args.model.name}), click to first leaf / to the whole image")
    print(f"  first press of the session   {first_leaf * 1000:6.0f} ms / {whole * 1000:6.0f} ms")
    print(f"  later presses, median of {len(later)}  {statistics.median(r[0] for r in later) * 1000:6.0f} ms / "
          f"{statistics.median(r[1] for r in later) * 1000:6.0f} ms (worst {max(r[0] for r in later) * 1000:.0f} / "
          f"{max(r[1] for r in later) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
