"""The window end to end: open, segment, threshold, edit + undo, save, prompts, errors."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from leafcount.data.synth import write_synth_folder
from leafcount.editing.document import ImageStatus
from leafcount.gui.canvas import Tool
from leafcount.inference.segment import SegmentConfig, decode_steps, segment_steps
from leafcount.io.corrections import RECOVERY_DIR_NAME, load_corrections
from leafcount.model.checkpoint import load_checkpoint

Button = QMessageBox.StandardButton
TIMEOUT_MS = 30_000


def segment_current(window, qtbot) -> None:
    with qtbot.waitSignal(window.segmenter.run_finished, timeout=TIMEOUT_MS):
        window.actions.segment.trigger()


@pytest.fixture
def labelled_folder(tmp_path):
    """Synthetic rosettes with their label files: images that already have leaves."""
    folder = tmp_path / "labelled"
    write_synth_folder(folder, 3, seed=5)
    return folder


def test_open_folder_lists_the_images_and_opens_the_first(window, plant_folder, dialogs):
    assert window.open_folder(plant_folder)
    assert window.image_list.count() == 4
    assert window.doc.path.name == "plant001_rgb.png"
    assert window.doc.image.shape[2] == 3
    assert window.canvas.photo.image is not None
    assert "not segmented" in window.image_list.item(1).text()
    assert dialogs.seen == []


def test_arrow_keys_and_page_keys_move_through_the_list(window, plant_folder, qtbot):
    window.open_folder(plant_folder)
    window.image_list.setFocus()
    qtbot.keyClick(window.image_list, Qt.Key.Key_Down)
    assert window.doc.path.name == "plant002_rgb.png"
    window.actions.next_image.trigger()
    assert window.doc.path.name == "plant003_rgb.png"
    window.actions.previous_image.trigger()
    qtbot.keyClick(window.image_list, Qt.Key.Key_Up)
    assert window.doc.path.name == "plant001_rgb.png"


def test_segment_emits_each_step_and_ends_with_the_core_labels(window, plant_folder, qtbot, tiny_checkpoint):
    window.open_folder(plant_folder)
    seen = []
    window.segmenter.step_ready.connect(lambda doc, step: seen.append(step))
    segment_current(window, qtbot)

    model, _ = load_checkpoint(tiny_checkpoint)
    expected = list(segment_steps(model, window.doc.image, SegmentConfig()))
    assert [s.index for s in seen] == list(range(len(expected)))
    for got, want in zip(seen, expected):
        np.testing.assert_array_equal(got.mask, want.mask)
    labels = decode_steps(expected, window.doc.image.shape[:2], SegmentConfig())
    np.testing.assert_array_equal(window.doc.labels, labels)
    assert window.doc.status is ImageStatus.MODEL
    assert not window.doc.is_dirty  # model output alone is not unsaved work
    assert len(window.step_view.steps) == len(expected)
    assert f"{window.doc.leaf_count} leaves" in window.image_list.item(0).text()


def test_moving_the_threshold_redecodes_without_the_network(window, plant_folder, qtbot, monkeypatch):
    window.open_folder(plant_folder)
    segment_current(window, qtbot)
    doc = window.doc
    scores = sorted(s.score for s in doc.steps)
    new = float(np.mean(scores[len(scores) // 2 - 1 : len(scores) // 2 + 1]))
    monkeypatch.setattr(window.segmenter.model, "step", lambda *a: pytest.fail("network rerun"))

    line = window.step_view.score_plot.threshold_line
    line.setValue(new)  # the drag: a preview only
    with qtbot.waitSignal(window.segmenter.decoded, timeout=TIMEOUT_MS):
        line.sigPositionChangeFinished.emit(line)  # the release
    config = dataclasses.replace(SegmentConfig(), stop_threshold=new)
    np.testing.assert_array_equal(doc.labels, decode_steps(doc.steps, doc.image.shape[:2], config))
    assert doc.run.config.stop_threshold == pytest.approx(new)


def test_threshold_change_over_hand_edits_is_one_undo_step(window, plant_folder, qtbot):
    window.open_folder(plant_folder)
    segment_current(window, qtbot)
    doc = window.doc
    window.canvas.set_tool(Tool.PAINT)
    window.canvas.view.stroke_ended.emit([(20.0, 20.0), (20.0, 60.0)])
    edited = doc.labels.copy()
    line = window.step_view.score_plot.threshold_line
    line.setValue(min(s.score for s in doc.steps) + 1e-3)
    with qtbot.waitSignal(window.segmenter.decoded, timeout=TIMEOUT_MS):
        line.sigPositionChangeFinished.emit(line)
    assert doc.manual_ids == frozenset()
    window.actions.undo.trigger()
    np.testing.assert_array_equal(doc.labels, edited)
    assert doc.manual_ids


def run_edits(window):
    """Every kind of edit, through the canvas and the actions; returns the label states."""
    doc, canvas, a = window.doc, window.canvas, window.actions
    states = [doc.labels.copy()]

    def record():
        assert not np.array_equal(doc.labels, states[-1]), "the edit changed nothing"
        states.append(doc.labels.copy())

    leaves = [int(v) for v in np.unique(doc.labels) if v]
    big = max(leaves, key=doc.leaf_area)
    rows, cols = np.nonzero(doc.labels == big)
    centre = (float(rows.mean()), float(cols.mean()))

    canvas.view.clicked.emit(*centre)  # select tool: select the biggest leaf
    assert canvas.selected_leaf == big
    a.tools[Tool.PAINT].trigger()
    canvas.view.stroke_ended.emit([(5.0, 5.0), (5.0, 40.0), (30.0, 40.0)])
    record()
    a.tools[Tool.ERASE].trigger()
    canvas.view.stroke_ended.emit([centre, (centre[0] + 10, centre[1] + 10)])
    record()
    a.fill_holes.trigger()  # the erased disc inside the leaf is a hole
    a.tools[Tool.SELECT].trigger()
    canvas.view.clicked.emit(*centre)
    record()
    a.tools[Tool.SPLIT].trigger()
    top, bottom = rows.min() - 3.0, rows.max() + 3.0
    canvas.view.stroke_ended.emit([(top, centre[1]), (bottom, centre[1])])
    record()
    a.tools[Tool.MERGE].trigger()
    other = next(leaf for leaf in leaves if leaf != big and doc.has_leaf(leaf))
    r, c = np.argwhere(doc.labels == other)[0]
    canvas.view.clicked.emit(float(r), float(c))
    record()
    a.delete_leaf.trigger()
    record()
    a.new_leaf.trigger()
    new_id = canvas.selected_leaf
    canvas.view.stroke_ended.emit([(100.0, 100.0), (110.0, 120.0)])
    record()
    assert doc.has_leaf(new_id)
    return states


def test_every_edit_undoes_and_redoes_exactly(window, labelled_folder, dialogs):
    window.open_folder(labelled_folder)
    doc = window.doc
    assert doc.status is ImageStatus.LABEL_FILE
    states = run_edits(window)
    assert doc.undo_stack.count() == len(states) - 1
    assert doc.is_dirty and window.isWindowModified()
    for before in reversed(states[:-1]):
        window.actions.undo.trigger()
        np.testing.assert_array_equal(doc.labels, before)
    assert not doc.is_dirty
    for after in states[1:]:
        window.actions.redo.trigger()
        np.testing.assert_array_equal(doc.labels, after)
    # The canvas shows the document's labels after all that.
    assert window.canvas.labels is doc.labels


def test_edited_leaves_are_tagged_manual_and_untagged_by_undo(window, labelled_folder):
    window.open_folder(labelled_folder)
    doc = window.doc
    window.canvas.view.clicked.emit(*map(float, np.argwhere(doc.labels == 2)[0]))
    window.actions.tools[Tool.PAINT].trigger()
    window.canvas.view.stroke_ended.emit([(3.0, 3.0)])
    assert doc.manual_ids == {2}
    window.actions.undo.trigger()
    assert doc.manual_ids == frozenset()


def test_model_rerun_over_hand_edits_can_be_undone(window, labelled_folder, qtbot):
    window.open_folder(labelled_folder)
    doc = window.doc
    truth = doc.labels.copy()
    segment_current(window, qtbot)
    assert doc.is_dirty and doc.undo_stack.count() == 1
    window.actions.undo.trigger()
    np.testing.assert_array_equal(doc.labels, truth)


def test_save_then_reopen_loads_the_corrections(window, plant_folder, qtbot, dialogs):
    window.open_folder(plant_folder)
    segment_current(window, qtbot)
    window.canvas.start_new_leaf()
    leaf = window.canvas.selected_leaf
    window.canvas.view.stroke_ended.emit([(10.0, 10.0), (10.0, 50.0)])
    labels = window.doc.labels.copy()
    assert window.save()
    assert not window.doc.is_dirty and window.doc.status is ImageStatus.SAVED
    assert not window.isWindowModified()
    saved, sidecar = load_corrections(window.doc.path)
    np.testing.assert_array_equal(saved, labels)
    assert leaf in sidecar.manual_ids
    assert sidecar.meta["model"] == "tiny" and sidecar.meta["model_created"]

    window.open_folder(plant_folder)  # as if reopened later: fresh documents
    doc = window.doc
    assert doc.status is ImageStatus.SAVED
    np.testing.assert_array_equal(doc.labels, labels)
    assert leaf in doc.manual_ids and doc.steps == []
    assert "saved" in window.image_list.item(0).text()
    assert dialogs.seen == []


def test_leaving_unsaved_edits_asks_and_cancel_stays(window, plant_folder, dialogs):
    window.open_folder(plant_folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    dialogs.answer(Button.Cancel)
    window.image_list.setCurrentRow(1)
    assert dialogs.seen == ["plant001_rgb.png has unsaved changes."]
    assert window.doc.path.name == "plant001_rgb.png"
    assert window.image_list.currentRow() == 0
    assert window.doc.is_dirty


def test_leaving_unsaved_edits_discard_drops_them(window, plant_folder, dialogs):
    window.open_folder(plant_folder)
    first = window.doc
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    dialogs.answer(Button.Discard)
    window.image_list.setCurrentRow(1)
    assert window.doc.path.name == "plant002_rgb.png"
    assert not first.is_dirty and first.leaf_count == 0
    assert not (plant_folder / "plant001_label.png").exists()


def test_leaving_unsaved_edits_save_writes_them(window, plant_folder, dialogs):
    window.open_folder(plant_folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    dialogs.answer(Button.Save)
    window.image_list.setCurrentRow(1)
    assert window.doc.path.name == "plant002_rgb.png"
    assert (plant_folder / "plant001_label.png").is_file()
    assert "saved" in window.image_list.item(0).text()


def test_closing_with_unsaved_edits_asks_first(window, plant_folder, dialogs):
    window.open_folder(plant_folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    dialogs.answer(Button.Cancel)
    window.close()
    assert window.isVisible()
    assert dialogs.seen == ["plant001_rgb.png has unsaved changes."]


def test_saving_over_a_label_file_leafcount_did_not_write_asks(window, labelled_folder, dialogs):
    window.open_folder(labelled_folder)
    window.canvas.select_leaf(1)
    window.actions.delete_leaf.trigger()
    before = (labelled_folder / "plant001_label.png").read_bytes()
    dialogs.answer(Button.Cancel)
    assert not window.save()
    assert "was not written by leafcount" in dialogs.seen[-1]
    assert (labelled_folder / "plant001_label.png").read_bytes() == before
    dialogs.answer(Button.Yes)
    assert window.save()
    assert (labelled_folder / "plant001_label.json").is_file()


def test_a_bad_image_gets_a_dialog_and_the_app_goes_on(window, plant_folder, dialogs):
    (plant_folder / "plant002_rgb.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    window.open_folder(plant_folder)
    window.image_list.setCurrentRow(1)
    assert len(dialogs.seen) == 1 and dialogs.seen[0].startswith("plant002_rgb.png: ")
    assert window.doc.path.name == "plant001_rgb.png"
    assert window.image_list.currentRow() == 0
    window.image_list.setCurrentRow(2)
    assert window.doc.path.name == "plant003_rgb.png"


def test_a_bad_first_image_gets_one_dialog_and_the_next_one_opens(window, plant_folder, dialogs):
    (plant_folder / "plant001_rgb.png").write_bytes(b"")
    assert window.open_folder(plant_folder)
    assert dialogs.seen == ["plant001_rgb.png: empty file (0 bytes)"]
    assert window.doc.path.name == "plant002_rgb.png" and window.image_list.currentRow() == 1
    window.image_list.setCurrentRow(2)
    assert window.doc.path.name == "plant003_rgb.png"


def test_an_empty_folder_gets_a_dialog(window, tmp_path, dialogs):
    (tmp_path / "empty").mkdir()
    assert not window.open_folder(tmp_path / "empty")
    assert dialogs.seen == ["empty: no images (.png, .jpg, .tif) in this folder"]


def test_a_bad_checkpoint_gets_a_dialog_and_keeps_the_model(window, tmp_path, dialogs):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 20)
    model = window.segmenter.model
    assert not window.load_model(bad)
    assert dialogs.seen[0].startswith("broken.safetensors: ")
    assert window.segmenter.model is model
    assert window.status.model_label.text() == "model: tiny"


def test_cancel_stops_a_run_and_keeps_the_labels(window, plant_folder, qtbot, paced_steps):
    paced_steps(lambda _cancel: time.sleep(0.2))
    window.open_folder(plant_folder)
    with qtbot.waitSignal(window.segmenter.step_ready, timeout=TIMEOUT_MS):
        window.actions.segment.trigger()
    assert not window.actions.segment.isEnabled() and window.actions.cancel.isEnabled()
    with qtbot.waitSignal(window.segmenter.run_cancelled, timeout=TIMEOUT_MS):
        window.actions.cancel.trigger()
    qtbot.waitUntil(lambda: window.actions.segment.isEnabled())
    assert window.doc.labels is None and window.doc.status is ImageStatus.NOT_SEGMENTED


def test_closing_mid_job_cancels_cleanly(window, plant_folder, qtbot, paced_steps):
    paced_steps(lambda _cancel: time.sleep(0.5))
    window.open_folder(plant_folder)
    with qtbot.waitSignal(window.segmenter.batch_progress, timeout=TIMEOUT_MS):
        window.segment_all()
    threads = list(window.segmenter.runner._jobs.values())
    assert threads and all(t.isRunning() for t in threads)
    started = time.monotonic()
    assert window.close()
    assert time.monotonic() - started < 5
    assert not any(t.isRunning() for t in threads)
    assert not window.isVisible()


def test_segment_all_fills_the_list(window, plant_folder, qtbot):
    window.open_folder(plant_folder)
    with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS) as ended:
        window.actions.segment_all.trigger()
        assert window.status.progress.isVisible() and window.status.cancel_button.isVisible()
    assert ended.args == [True]
    assert not window.status.progress.isVisible()
    for row, doc in enumerate(window.session.docs):
        assert doc.status is ImageStatus.MODEL
        assert window.image_list.item(row).text().endswith(f"model · {doc.leaf_count} leaves")
    # The open image shows its new labels and steps at once.
    assert window.canvas.labels is window.doc.labels and window.step_view.steps


def test_segment_all_skips_a_bad_image_and_goes_on(window, plant_folder, qtbot):
    (plant_folder / "plant003_rgb.png").write_bytes(b"garbage")
    window.open_folder(plant_folder)
    failures = []
    window.segmenter.batch_image_failed.connect(lambda path, exc: failures.append(path.name))
    with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS):
        window.segment_all()
    assert failures == ["plant003_rgb.png"]
    statuses = [doc.status for doc in window.session.docs]
    assert statuses == [ImageStatus.MODEL, ImageStatus.MODEL, ImageStatus.UNREADABLE_IMAGE, ImageStatus.MODEL]


def test_autosave_lets_the_next_session_recover_the_edits(window, plant_folder, qtbot, dialogs, tiny_checkpoint):
    from leafcount.gui.main_window import MainWindow

    window.open_folder(plant_folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0), (30.0, 30.0)])
    edited, manual = window.doc.labels.copy(), window.doc.manual_ids
    window.session.autosave()
    assert (plant_folder / RECOVERY_DIR_NAME / "plant001_label.png").is_file()

    # A second window stands in for the app after a crash of the first.
    dialogs.answer(Button.Yes)
    other = MainWindow()
    qtbot.addWidget(other)
    other.open_folder(plant_folder)
    assert dialogs.seen[-1].startswith("plant001_rgb.png has edits that were not saved")
    np.testing.assert_array_equal(other.doc.labels, edited)
    assert other.doc.manual_ids == manual and other.doc.is_dirty
    dialogs.answer(Button.Save)
    other.close()
    assert not (plant_folder / RECOVERY_DIR_NAME / "plant001_label.png").exists()
    np.testing.assert_array_equal(load_corrections(plant_folder / "plant001_rgb.png")[0], edited)


def test_status_bar_shows_the_leaf_under_the_cursor(window, labelled_folder):
    window.open_folder(labelled_folder)
    doc = window.doc
    r, c = np.argwhere(doc.labels == 1)[0]
    window.canvas.cursor_moved.emit(int(r), int(c), 1)
    assert window.status.cursor_label.text() == f"x {c}, y {r}: leaf 1"
    assert window.status.count_label.text() == f"{doc.leaf_count} leaves"
    assert window.status.image_label.text() == f"{doc.image.shape[1]} × {doc.image.shape[0]} px"


def test_dropping_a_folder_or_an_image_opens_it(window, plant_folder):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    def drop(path):
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data,
                           Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        window.dropEvent(event)

    drop(plant_folder)
    assert window.doc.path.name == "plant001_rgb.png"
    drop(plant_folder / "plant003_rgb.png")
    assert window.doc.path.name == "plant003_rgb.png" and window.image_list.currentRow() == 2


def test_corrections_go_to_a_chosen_output_folder(window, plant_folder, tmp_path):
    out = tmp_path / "corrections"
    window.open_folder(plant_folder, out_dir=out)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    assert window.save()
    assert (out / "plant001_label.png").is_file() and (out / "plant001_label.json").is_file()
    assert not (plant_folder / "plant001_label.png").exists()
    window.open_folder(plant_folder, out_dir=out)
    assert window.doc.status is ImageStatus.SAVED


def test_the_labels_show_once_a_step_falls_under_the_threshold_and_the_steps_run_on(
        window, plant_folder, qtbot, paced_steps, scripted_scores):
    paced_steps(lambda _cancel: time.sleep(0.05))
    scripted_scores(window.segmenter.model, [0.9, 0.8, 0.3, 0.6, 0.04])  # under 0.5 at step 3; the floor at 5
    window.open_folder(plant_folder)
    shown = []

    def on_labels(doc, labels):
        shown.append((labels, window.canvas.label_layer.labels, doc.labels, len(window.step_view.steps)))

    window.segmenter.labels_ready.connect(on_labels)  # after the window's own slot
    segment_current(window, qtbot)
    (labels, on_canvas, doc_labels, steps_drawn), = shown
    assert on_canvas is labels and doc_labels is None  # on the canvas before the run ends
    assert steps_drawn == 3  # the step that brought them was drawn first
    assert len(window.step_view.steps) == 5  # the steps ran on for the slider
    np.testing.assert_array_equal(window.doc.labels, labels)
