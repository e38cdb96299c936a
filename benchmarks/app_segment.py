"""How soon the app's Segment shows the first leaf and the whole image, from the click.

Drives the real window (offscreen unless a display is set) with the default
model on CVPPP images, as a biologist would: open the folder, press
Segment (the action's trigger, as a click does), and time the click to
the first step drawn in the window (the step view and the canvas given its
mask, score and kappa on the GUI thread; Qt paints them as that call
returns), to the whole image's labels shown (they come as soon as a
step's confidence falls below the stop threshold), and to the end of the
run (the steps after that, run for the threshold slider). The
first press of a session also pays for torch and oneDNN building their
kernels, so it is printed apart from the later ones. Also printed: the
processor time the GUI thread itself spent in each press (drawing the
steps, decoding previews, showing the labels), all of it and the part
before the labels show, which the network's worker competes with for the
cores and for Python's interpreter lock; it varies less with the
machine's load than the wall times do.

    QT_QPA_PLATFORM=offscreen python benchmarks/app_segment.py [--n 5] [--data ../shared/data/cvppp-a1]

To compare with an earlier revision, run this file from a checkout of it:
``git worktree add /tmp/old REV`` then, in /tmp/old, ``PYTHONPATH=/tmp/old python
/path/to/this/app_segment.py --data ...``.
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


def press_segment(window: MainWindow, timeout_s: float = 60.0) -> tuple[float, float, float, float, float]:
    """Seconds from pressing Segment to the first step shown, to the labels shown and to the run's
    end, and the GUI thread's processor seconds in between and up to the labels."""
    times: dict[str, float] = {}
    loop = QEventLoop()

    add_steps = window.step_view.add_steps

    def first_step_drawn(steps) -> None:
        add_steps(steps)
        times.setdefault("first", time.perf_counter())

    def labels_shown(*_args) -> None:
        times.setdefault("labels", time.perf_counter())
        times.setdefault("gui_to_labels", time.thread_time() - gui_start)

    def finished(_doc) -> None:
        QApplication.processEvents()  # the window's own slots and repaints for the labels
        times["end"] = time.perf_counter()
        times.setdefault("labels", times["end"])  # shown at the end (a tray, mirrored passes)
        times.setdefault("gui_to_labels", time.thread_time() - gui_start)
        loop.quit()

    window.step_view.add_steps = first_step_drawn
    # An earlier revision (run with PYTHONPATH to compare) shows the labels only at the end.
    labels_ready = getattr(window.segmenter, "labels_ready", None)
    if labels_ready is not None:
        labels_ready.connect(labels_shown)  # after the window's own slots
    window.segmenter.run_finished.connect(finished)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    start, gui_start = time.perf_counter(), time.thread_time()
    window.actions.segment.trigger()
    loop.exec()
    gui = time.thread_time() - gui_start
    del window.step_view.add_steps
    if labels_ready is not None:
        labels_ready.disconnect(labels_shown)
    window.segmenter.run_finished.disconnect(finished)
    if "end" not in times:
        raise SystemExit(f"no result within {timeout_s:.0f} s")
    return times["first"] - start, times["labels"] - start, times["end"] - start, gui, times["gui_to_labels"]


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
    print(f"app's Segment on CVPPP images ({args.model.name}), click to: first leaf / whole image's labels / "
          f"last step [GUI thread's processor time: all of it / up to the labels]")

    def row(name: str, values: list[float]) -> None:
        print(f"  {name:28s} " + " / ".join(f"{v * 1000:5.0f} ms" for v in values[:3])
              + f" [{values[3] * 1000:.0f} / {values[4] * 1000:.0f} ms]")

    row("first press of the session", list(runs[0]))
    later = runs[1:]
    row(f"later presses, median of {len(later)}", [statistics.median(r[i] for r in later) for i in range(5)])
    row("later presses, worst", [max(r[i] for r in later) for i in range(5)])


if __name__ == "__main__":
    main()
