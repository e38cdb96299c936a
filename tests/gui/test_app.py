import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from leafcount.data.demo import DEMO_DIR
from leafcount.data.folder import list_images
from leafcount.gui.app import DEMO_FIRST_IMAGE, open_start_folder, parse_args

REPO = Path(__file__).resolve().parents[2]


def test_arguments():
    args = parse_args(["plants", "--model", "m.safetensors", "--screenshot", "out.png"])
    assert (args.folder, args.model, args.screenshot) == (Path("plants"), Path("m.safetensors"), Path("out.png"))
    assert parse_args([]).folder is None


def run_main(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        env=env, capture_output=True, text=True, timeout=120,
    )


def test_main_screenshot_opens_segments_and_saves_the_window(plant_folder, tiny_checkpoint, tmp_path):
    out = tmp_path / "window.png"
    done = run_main(str(plant_folder), "--model", str(tiny_checkpoint), "--screenshot", str(out))
    assert done.returncode == 0, done.stderr
    with Image.open(out) as shot:
        assert shot.size[0] >= 800 and shot.size[1] >= 500


def test_main_screenshot_asks_nothing_and_writes_nothing_into_the_folder(tmp_path, tiny_checkpoint):
    """Ground-truth labels and an autosave from an earlier session would each
    ask a question; an unattended screenshot must neither hang on them nor
    touch the user's files."""
    from leafcount.data.cvppp import label_path_for, read_labels
    from leafcount.data.synth import write_synth_folder
    from leafcount.io.corrections import write_recovery

    folder = tmp_path / "plants"
    first = write_synth_folder(folder, 2, seed=5)[0]  # with *_label.png ground truth
    truth = read_labels(label_path_for(first))
    write_recovery(first, truth[::-1].copy(), {1}, {})  # edits nobody saved
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    done = run_main(str(folder), "--model", str(tiny_checkpoint), "--screenshot", str(tmp_path / "x.png"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.png").is_file()
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


def test_main_screenshot_of_a_folder_without_images_fails_without_hanging(tmp_path, tiny_checkpoint):
    (tmp_path / "empty").mkdir()
    done = run_main(str(tmp_path / "empty"), "--model", str(tiny_checkpoint), "--screenshot", str(tmp_path / "x.png"))
    assert done.returncode == 1
    assert "empty: no images" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_without_a_folder_the_demo_photos_open_and_the_window_says_so(window, plant_folder):
    assert open_start_folder(window, None)
    assert window.session.folder == DEMO_DIR
    assert window.image_list.count() == len(list_images(DEMO_DIR)) >= 4
    assert window.doc.path == DEMO_DIR / DEMO_FIRST_IMAGE
    assert window.banner.isVisible() and "Demo photos" in window.banner.text
    assert window.windowTitle().endswith("(demo photos)[*]")
    window.open_folder(plant_folder)  # the user's own photos: the notice goes
    assert not window.banner.isVisible() and "demo" not in window.windowTitle()


def test_main_without_a_folder_opens_the_demo(tiny_checkpoint, tmp_path):
    out = tmp_path / "demo.png"
    done = run_main("--model", str(tiny_checkpoint), "--screenshot", str(out))
    assert done.returncode == 0, done.stderr
    assert f"opening the demo photos in {DEMO_DIR}" in done.stderr
    assert out.is_file()


def test_the_qt_binding_keeps_reference_counts(qtbot):
    """PySide6 6.12.0 on Python 3.11 drops a reference to True on every signal
    delivered to a Python slot; the app then aborts after a few thousand signals
    (a mouse move is one). Pin a PySide6 without that bug."""
    from PySide6.QtCore import QObject, Signal

    class Sender(QObject):
        fired = Signal(object, object)

    class Receiver(QObject):
        def on_fired(self, a, b) -> None:
            pass

    sender, receiver = Sender(), Receiver()
    sender.fired.connect(receiver.on_fired)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(200):
        sender.fired.emit(None, 1)
    assert (sys.getrefcount(True), sys.getrefcount(None)) == before
