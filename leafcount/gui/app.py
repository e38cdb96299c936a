"""Entry point of the desktop app: ``python main.py [FOLDER] [--model CKPT] [--screenshot OUT]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from leafcount import __version__
from leafcount.data.demo import DEMO_DIR
from leafcount.gui.platform_check import window_problem

log = logging.getLogger("leafcount.gui")

SCREENSHOT_SETTLE_MS = 300
DEMO_FIRST_IMAGE = "pi_rosette_2019-10-31.png"  # one plant: the steps are easy to follow


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options; call once before any plot item exists."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="leafcount-gui", description="Count and outline rosette leaves, step by step."
    )
    parser.add_argument(
        "folder", nargs="?", type=Path, help="folder of plant images to open (default: the bundled demo photos)"
    )
    parser.add_argument("--model", type=Path, help="checkpoint to load (default: models/ris-cvppp-a1.safetensors, else the newest in models/)")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="OUT.png",
        help="open FOLDER, segment its first image, save the window as OUT.png and exit",
    )
    parser.add_argument("--version", action="version", version=f"leafcount {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = window_problem() if QApplication.instance() is None else None
    if problem is not None:  # Qt would abort with its own, vaguer message
        print(problem, file=sys.stderr)
        return 1
    configure_pyqtgraph()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("leafcount")

    # Imported after the QApplication and pyqtgraph options exist.
    from leafcount.gui.errors import disable_dialogs, install_excepthooks
    from leafcount.gui.main_window import MainWindow
    from leafcount.model.checkpoint import find_default_model

    install_excepthooks()
    if args.screenshot is not None:
        disable_dialogs()  # nobody is there to click OK
    window = MainWindow(look_only=args.screenshot is not None)
    model_path = args.model or find_default_model()
    if model_path is not None:
        window.load_model(model_path)
    window.show()
    try:
        opened = open_start_folder(window, args.folder)
        if args.screenshot is not None:
            if not opened:
                window.close()
                return 1
            return _take_screenshot(app, window, args.screenshot)
        return app.exec()
    finally:
        # Destroy the window now: left to interpreter shutdown, Qt may call
        # pyqtgraph's Python overrides after Python is half torn down (a crash).
        shiboken6.delete(window)


def open_start_folder(window, folder: Path | None) -> bool:
    """The folder named on the command line, else the demo photos a newcomer starts with."""
    if folder is not None:
        return window.open_folder(folder)
    if not DEMO_DIR.is_dir():
        log.info("no folder given and no demo photos in %s: starting empty", DEMO_DIR)
        return True
    log.info("no folder given: opening the demo photos in %s", DEMO_DIR)
    return window.open_demo(DEMO_DIR, DEMO_FIRST_IMAGE)


def _take_screenshot(app: QApplication, window, out: Path) -> int:
    """Segment the current image, show a step mid-way through, save the window, quit."""
    outcome = {"rc": 0}

    def shoot() -> None:
        steps = window.step_view.steps
        if steps:
            window.step_view.slider.setValue(max(0, len(window.doc.steps) // 2 - 1))
        QTimer.singleShot(SCREENSHOT_SETTLE_MS, save)

    def save() -> None:
        if not window.grab().save(str(out)):
            log.error("could not write the screenshot %s", out)
            outcome["rc"] = 1
        window.close()
        app.quit()

    def failed(exc: BaseException) -> None:
        log.error("segmentation failed: %s", exc)
        outcome["rc"] = 1
        QTimer.singleShot(0, save)

    if window.doc is not None and window.segmenter.model is not None:
        window.segmenter.run_finished.connect(lambda _doc: shoot())
        window.segmenter.failed.disconnect()
        window.segmenter.failed.connect(failed)
        window.segment()
    else:
        log.warning("nothing to segment (no image or no model): saving the window as it is")
        QTimer.singleShot(SCREENSHOT_SETTLE_MS, save)
    app.exec()
    return outcome["rc"]
