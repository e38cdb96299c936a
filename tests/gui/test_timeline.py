"""The Timeline panel: plants of a series folder, dates linked on a worker, one leaf followed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF

from leafcount.data.cvppp import write_labels
from leafcount.data.synth import make_growing_rosette
from leafcount.gui.session import FolderSession
from leafcount.gui.timeline import TimelineView, highlighted


@pytest.fixture
def series_folder(tmp_path):
    series = make_growing_rosette(np.random.default_rng(5), 3, (72, 76), n_leaves=6, first_leaves=4)
    for day, (photo, truth) in enumerate(series, start=1):
        Image.fromarray(np.round(photo * 255).astype(np.uint8)).save(tmp_path / f"plantA_2026-03-0{day}.png")
        write_labels(tmp_path / f"plantA_2026-03-0{day}_label.png", truth)
    return tmp_path, series


@pytest.fixture
def view(qtbot):
    session = FolderSession(writes_files=False)
    view = TimelineView(session)
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()
    yield view
    view.shutdown()


def test_a_series_folder_lists_its_plants_and_follows_a_clicked_leaf(qtbot, view, series_folder):
    folder, series = series_folder
    view.session.folder = folder  # as FolderSession.open_folder sets it before announcing the folder
    view.session.folder_opened.emit([])
    qtbot.waitUntil(lambda: view.timeline is not None, timeout=10_000)
    assert view.plant_choice.itemText(0) == "plantA (3 dates)"
    assert len(view._items) == 3

    qtbot.waitUntil(lambda: view._items[2].getViewBox().width() > 50)  # laid out: clicks land on the thumbnails
    truth = series[2][1]
    row, col = np.argwhere(truth == 1)[len(np.argwhere(truth == 1)) // 2]
    last = view._items[2]
    with qtbot.waitSignal(view.leaf_selected) as selected:
        view.select_leaf(view.leaf_at(last.mapToScene(QPointF(col + 0.5, row + 0.5))))
    track = selected.args[0]
    assert track > 0 and all(track in date.labels for date in view.timeline.dates)  # the oldest leaf, every date
    curve = view.area_plot.getPlotItem().listDataItems()[0]
    assert len(curve.yData) == 3 and list(curve.yData) == sorted(curve.yData)  # it grows


def test_a_folder_without_a_series_says_so(qtbot, view, tmp_path):
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "plant_rgb.png")
    with qtbot.waitSignal(view.series_found) as found:
        view.show_folder(tmp_path)
    assert found.args == [False]
    assert view.plant_choice.count() == 0 and "no time series" in view.caption.text()


def test_the_dock_shows_only_for_a_series_folder(qtbot, series_folder, tmp_path_factory):
    from PySide6.QtWidgets import QDockWidget, QMainWindow

    from leafcount.gui.timeline import install_timeline

    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    view = install_timeline(window, FolderSession(writes_files=False))
    dock = window.findChild(QDockWidget, "timeline_dock")
    assert not dock.isVisible()
    plain = tmp_path_factory.mktemp("plain")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(plain / "plant_rgb.png")
    view.show_folder(plain)
    assert not dock.isVisible()
    view.show_folder(series_folder[0])
    assert dock.isVisible()
    qtbot.waitUntil(lambda: view.timeline is not None, timeout=10_000)
    view.shutdown()


def test_the_selected_leaf_stands_out_and_the_others_fade():
    photo = np.full((1, 3, 3), 0.5, np.float32)
    labels = np.array([[0, 1, 2]])
    plain = highlighted(photo, labels, selected=0)
    assert plain[0, 0].tolist() == [128, 128, 128] and plain[0, 2].tolist() != [128, 128, 128]
    shown = highlighted(photo, labels, selected=1)
    assert shown[0, 0].tolist() == shown[0, 2].tolist() == [64, 64, 64]  # dimmed, the other leaf too


def test_a_saved_correction_re_links_the_shown_plant(qtbot, view, series_folder):
    folder, series = series_folder
    view.session.folder = folder
    view.session.folder_opened.emit([])
    qtbot.waitUntil(lambda: view.timeline is not None, timeout=10_000)
    before = view.timeline
    leaves_then = len(np.unique(before.dates[-1].labels)) - 1
    truth = series[2][1].copy()
    truth[truth == 1] = 0  # the user deleted the oldest leaf on the last date and saved
    write_labels(folder / "plantA_2026-03-03_label.png", truth)
    view.session.labels_saved.emit(folder / "plantA_2026-03-03.png")
    qtbot.waitUntil(lambda: view.timeline is not before, timeout=10_000)
    assert len(np.unique(view.timeline.dates[-1].labels)) - 1 == leaves_then - 1
    relinked = view.timeline
    view.session.labels_saved.emit(folder / "elsewhere.png")  # not a date of this plant: nothing to do
    qtbot.wait(200)
    assert view.timeline is relinked
