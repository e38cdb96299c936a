"""Tray mode on the bundled tray photo: plant boxes, one label image, counts per plant."""

from __future__ import annotations

import doctest
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtWidgets import QMessageBox

from leafcount.analysis import plant_boxes
from leafcount.analysis.plant_boxes import (
    PlantBox,
    plant_leaf_counts,
    plant_name,
    plants_from_meta,
    plants_to_meta,
)
from leafcount.data.demo import DEMO_DIR
from leafcount.editing.plant_layout import new_plant_at
from leafcount.gui import tray_controller
from leafcount.gui.canvas import Tool
from leafcount.inference.segment import SegmentConfig
from leafcount.inference.tray import detect_plants, segment_tray
from leafcount.io.corrections import load_corrections
from leafcount.model.checkpoint import load_checkpoint

Button = QMessageBox.StandardButton
TIMEOUT_MS = 60_000
TRAY = "arabidopsis_tray.jpg"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def tray_folder(tmp_path):
    """The bundled tray photo in a folder of its own (saving must not touch resources/)."""
    folder = tmp_path / "tray"
    folder.mkdir()
    shutil.copy(DEMO_DIR / TRAY, folder / TRAY)
    return folder


def enter_tray_mode(window, qtbot):
    """Tray mode on, whether the app's own check of the new image turned it on already or not."""
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    if not window.trays.is_active:
        window.actions.tray_mode.trigger()
    qtbot.waitUntil(lambda: window.trays.is_active, timeout=TIMEOUT_MS)


def leave_tray_mode(window, qtbot):
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    if window.trays.is_active:
        window.actions.tray_mode.trigger()
    assert not window.trays.is_active


# The tiny random model's masks peak near 0.12: this threshold gives each plant a leaf.
LOW_MASK_THRESHOLD = SegmentConfig(mask_threshold=0.1)


def segment_tray_now(window, qtbot):
    window.steps.config = LOW_MASK_THRESHOLD
    with qtbot.waitSignal(window.segmenter.tray_finished, timeout=TIMEOUT_MS):
        window.actions.segment.trigger()
    qtbot.waitUntil(lambda: not window.segmenter.is_busy)


def shown_counts(window):
    return [int(window.tray_panel.table.item(row, 1).text()) for row in range(window.tray_panel.table.rowCount())]


def test_tray_mode_shows_a_box_per_detected_plant(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    expected = detect_plants(window.doc.image)
    boxes = [plant.box for plant in window.trays.plants]
    assert boxes == expected and len(boxes) >= 15
    items = window.trays.overlay.items
    assert [(int(i.pos().x()), int(i.pos().y()), int(i.size().x()), int(i.size().y())) for i in items] == [
        (b.left, b.top, b.width, b.height) for b in expected
    ]
    assert [i.text for i in items] == [plant_name(b) for b in expected]
    assert window.docks.tray.isVisible() and window.tray_panel.table.rowCount() == len(expected)
    assert window.tray_panel.summary.text() == f"{len(expected)} plant(s); not segmented yet."
    assert window.actions.tray_mode.isChecked()


def test_segment_tray_makes_one_label_image_and_counts_each_plant(window, tray_folder, qtbot, tiny_checkpoint):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    segment_tray_now(window, qtbot)
    doc, boxes = window.doc, [plant.box for plant in window.trays.plants]
    model, _ = load_checkpoint(tiny_checkpoint)
    labels, results = segment_tray(model, doc.image, boxes, LOW_MASK_THRESHOLD)
    np.testing.assert_array_equal(doc.labels, labels)
    counts = plant_leaf_counts(labels, boxes)
    assert min(counts) >= 1  # every plant's leaves came back inside its own box
    assert shown_counts(window) == counts and doc.leaf_count == sum(counts)
    assert [i.text for i in window.trays.overlay.items] == [
        f"{plant_name(b)} · {n} leaves" for b, n in zip(boxes, counts)
    ]
    assert window.tray_panel.summary.text() == f"{len(boxes)} plant(s), {sum(counts)} leaves in all."
    assert [len(p.result.steps) for p in window.trays.plants] == [len(r.steps) for r in results]


def test_clicking_a_plant_shows_its_steps_where_it_grows(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    segment_tray_now(window, qtbot)
    position = 5
    plant = window.trays.plants[position]
    centre = ((plant.box.top + plant.box.bottom) / 2, (plant.box.left + plant.box.right) / 2)
    window.actions.models.trigger()  # another tab is in front of the steps
    window.canvas.view.clicked.emit(*centre)
    assert window.trays.chosen == position and window.tray_panel.table.currentRow() == position
    assert not window.docks.steps.visibleRegion().isEmpty()
    assert window.step_view.steps == plant.result.steps
    crop = plant.result.crop
    window.step_view.slider.setValue(1)
    window.step_view.slider.setValue(0)
    assert window.canvas.step_layer.isVisible()
    assert window.canvas.step_layer.mapRectToParent(window.canvas.step_layer.boundingRect()) == QRectF(
        crop.left, crop.top, crop.width, crop.height
    )
    window.tray_panel.table.setCurrentCell(2, 0)  # the table too, and it zooms in
    assert window.trays.chosen == 2 and window.step_view.steps == window.trays.plants[2].result.steps


def test_edits_undo_and_save_work_on_the_whole_tray(window, tray_folder, qtbot, dialogs):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    segment_tray_now(window, qtbot)
    doc = window.doc
    plant = window.trays.plants[3].box
    before = shown_counts(window)
    window.actions.new_leaf.trigger()
    row = (plant.top + plant.bottom) / 2
    window.canvas.view.stroke_ended.emit([(row, plant.left + 2.0), (row, plant.left + 8.0)])
    qtbot.waitUntil(lambda: shown_counts(window)[3] == before[3] + 1, timeout=5_000)
    window.actions.undo.trigger()
    qtbot.waitUntil(lambda: shown_counts(window) == before, timeout=5_000)
    window.actions.redo.trigger()
    assert window.save()
    labels, sidecar = load_corrections(tray_folder / TRAY)
    np.testing.assert_array_equal(labels, doc.labels)
    assert labels.shape == doc.image.shape[:2]
    assert plants_from_meta(sidecar.meta["plants"]) == [p.box for p in window.trays.plants]
    # Opened again later: the boxes come back with the labels.
    window.open_folder(tray_folder)
    assert window.trays.is_active and len(window.trays.plants) == len(before)
    assert shown_counts(window) == plant_leaf_counts(labels, [p.box for p in window.trays.plants])


def test_add_move_and_remove_plants(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    n = len(window.trays.plants)
    window.tray_panel.add_button.setChecked(True)
    window.canvas.view.clicked.emit(300.0, 700.0)  # the empty pot, second row
    assert len(window.trays.plants) == n + 1 and not window.tray_panel.add_button.isChecked()
    added = window.trays.plants[window.trays.chosen].box
    assert (added.top + added.bottom) / 2 == pytest.approx(300, abs=1)
    assert (added.left + added.right) / 2 == pytest.approx(700, abs=1)
    assert len(window.trays.overlay.items) == n + 1
    item = window.trays.overlay.items[window.trays.chosen]
    item.setPos(QPointF(added.left + 10, added.top + 5))  # what dragging the corner handle does
    item.sigRegionChangeFinished.emit(item)
    moved = window.trays.plants[window.trays.chosen].box
    assert (moved.top, moved.left, moved.height, moved.width) == (added.top + 5, added.left + 10, added.height, added.width)
    window.tray_panel.remove_button.click()
    assert len(window.trays.plants) == n and window.trays.chosen is None


def test_box_edits_are_in_the_undo_history_and_make_the_image_dirty(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    doc, before = window.doc, [plant.box for plant in window.trays.plants]
    assert not doc.is_dirty
    item = window.trays.overlay.items[0]
    item.setPos(QPointF(before[0].left + 10, before[0].top + 5))
    item.sigRegionChangeFinished.emit(item)
    assert doc.is_dirty and window.isWindowModified()
    assert window.session.undo_group.undoText() == f"move plant {plant_name(before[0])}"
    window.session.undo_group.undo()
    assert [plant.box for plant in window.trays.plants] == before and not doc.is_dirty
    assert [(i.plant.top, i.plant.left) for i in window.trays.overlay.items][:1] == [(before[0].top, before[0].left)]


def test_leaving_tray_mode_keeps_the_labels(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    segment_tray_now(window, qtbot)
    labels = window.doc.labels.copy()
    window.actions.tray_mode.trigger()
    assert not window.trays.is_active and window.trays.overlay.items == []
    assert not window.docks.tray.isVisible()
    np.testing.assert_array_equal(window.doc.labels, labels)


def test_a_tray_photo_enters_tray_mode_by_itself(window, tray_folder, qtbot):
    shutil.copy(DEMO_DIR / "pi_rosette_2019-10-31.png", tray_folder)  # sorts after the tray
    window.open_folder(tray_folder)
    assert window.doc.name == TRAY
    qtbot.waitUntil(lambda: window.trays.is_active, timeout=TIMEOUT_MS)
    assert window.actions.tray_mode.isChecked() and len(window.trays.plants) >= 15
    assert "looks like a tray" in window.status.currentMessage()
    leave_tray_mode(window, qtbot)
    window.session.open_row(1)
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    assert not window.trays.is_active
    window.session.open_row(0)  # coming back does not undo the user's choice
    assert not window.trays.is_detecting and not window.trays.is_active


def test_a_single_plant_photo_stays_one_plant(window, tmp_path, qtbot):
    folder = tmp_path / "single"
    folder.mkdir()
    shutil.copy(DEMO_DIR / "pi_rosette_2019-10-31.png", folder)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    assert not window.trays.is_active and not window.actions.tray_mode.isChecked()


def test_a_bad_layout_gets_one_dialog(window, tray_folder, dialogs, qtbot):
    window.open_folder(tray_folder)
    leave_tray_mode(window, qtbot)
    window.tray_panel.grid_edit.setText("3 by 5")
    window.actions.tray_mode.trigger()
    assert dialogs.seen == ["tray grid must look like ROWSxCOLS (e.g. 4x5), got '3 by 5'"]
    assert not window.actions.tray_mode.isChecked() and not window.trays.is_active


def test_a_photo_without_plants_says_so(window, tmp_path, qtbot):
    folder = tmp_path / "soil"
    folder.mkdir()
    from PIL import Image

    Image.new("RGB", (200, 150), (90, 70, 50)).save(folder / "soil.png")
    window.open_folder(folder)
    window.actions.tray_mode.trigger()
    qtbot.waitUntil(lambda: "No plants found in soil.png" in window.status.currentMessage(), timeout=TIMEOUT_MS)
    assert not window.actions.tray_mode.isChecked()


def test_the_ruler_still_works_in_tray_mode(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    window.actions.tools[Tool.RULER].trigger()
    assert window.canvas.view.draws


def test_helpers():
    assert doctest.testmod(tray_controller).failed == 0
    assert doctest.testmod(plant_boxes).failed == 0
    assert [plant_name(PlantBox(0, r, c, 0, 0, 1, 1)) for r, c in ((0, 0), (1, 2), (25, 0), (26, 4))] == [
        "A1", "B3", "Z1", "AA5"
    ]
    boxes = [PlantBox(0, 0, 0, 0, 0, 10, 10), PlantBox(1, 0, 1, 0, 20, 10, 30)]
    assert new_plant_at(boxes, 5.0, 45.0, (100, 100)) == PlantBox(2, 0, 2, 0, 40, 10, 50)
    assert new_plant_at(boxes, 50.0, 25.0, (100, 100)) == PlantBox(2, 1, 1, 45, 20, 55, 30)
    assert plants_from_meta(plants_to_meta(boxes)) == boxes
    assert plants_from_meta(None) == [] and plants_from_meta([{"row": 1}]) == []


def test_segment_all_segments_a_known_tray_plant_by_plant(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    window.steps.config = LOW_MASK_THRESHOLD
    with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS):
        window.segment_all()
    boxes = [plant.box for plant in window.trays.plants]
    expected, _ = segment_tray(window.segmenter.model, window.doc.image, boxes, LOW_MASK_THRESHOLD)
    assert len(np.unique(expected)) > len(boxes)  # a leaf or more per plant, not one plant
    np.testing.assert_array_equal(window.doc.labels, expected)
    qtbot.waitUntil(lambda: window.tray_panel.table.item(0, 1).text() != "", timeout=5_000)
    assert shown_counts(window) == plant_leaf_counts(expected, boxes)


def test_segment_all_finds_an_unopened_tray_and_tray_mode_shows_it(window, tmp_path, qtbot):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(DEMO_DIR / "pi_rosette_2019-10-31.png", folder / "a_single.png")  # opened first
    shutil.copy(DEMO_DIR / TRAY, folder / "b_tray.jpg")
    window.open_folder(folder)
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    assert window.doc.name == "a_single.png" and not window.trays.is_active
    window.steps.config = LOW_MASK_THRESHOLD
    with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS):
        window.segment_all()
    window.session.open_row(1)
    assert window.trays.is_active and not window.trays.is_detecting  # the boxes came with the labels
    boxes = [plant.box for plant in window.trays.plants]
    assert len(boxes) >= 15
    qtbot.waitUntil(lambda: window.tray_panel.table.item(0, 1).text() != "", timeout=5_000)
    assert shown_counts(window) == plant_leaf_counts(window.doc.labels, boxes)


def test_segment_pressed_while_the_app_looks_for_a_tray_segments_the_tray(window, tray_folder, qtbot):
    window.open_folder(tray_folder)
    window.steps.config = LOW_MASK_THRESHOLD
    assert window.trays.is_detecting  # the app's own check of the new image has just started
    with qtbot.waitSignal(window.segmenter.tray_finished, timeout=TIMEOUT_MS):
        window.segment()
    assert window.trays.is_active
    assert len(np.unique(window.doc.labels)) > len(window.trays.plants)


def test_trays_opened_one_after_the_other_are_both_recognised(window, tray_folder, qtbot):
    shutil.copy(DEMO_DIR / "chamber_tray.jpg", tray_folder / "z_chamber.jpg")
    window.open_folder(tray_folder)
    window.session.open_row(1)  # before the check of the first tray has ended
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    assert window.trays.is_active
    window.session.open_row(0)
    assert window.trays.is_active and not window.trays.is_detecting


def test_a_saved_tray_left_by_the_user_stays_one_image_when_reopened(window, tray_folder, qtbot):
    shutil.copy(DEMO_DIR / "pi_rosette_2019-10-31.png", tray_folder)
    window.open_folder(tray_folder)
    enter_tray_mode(window, qtbot)
    segment_tray_now(window, qtbot)
    window.session.save_current()  # the sidecar keeps the boxes
    assert window.doc.saved.meta["plants"]
    leave_tray_mode(window, qtbot)
    window.session.open_row(1)
    window.session.open_row(0)
    assert not window.trays.is_active
