import numpy as np
import pytest
from PySide6.QtGui import QUndoGroup

from leafcount.editing.changes import HandEdit, ModelRelabel, Restore
from leafcount.editing.edits import erase_edit, merge_edit, paint_edit, replace_edit
from leafcount.gui.document import ImageDoc
from leafcount.inference.run_meta import ModelRun
from leafcount.inference.segment import SegmentConfig, Step

RUN = ModelRun("tiny", SegmentConfig())


@pytest.fixture
def doc(qtbot, plant_folder):
    doc = ImageDoc(plant_folder / "plant001_rgb.png", QUndoGroup())
    doc.load()
    labels = np.zeros(doc.image.shape[:2], dtype=np.int32)
    labels[10:40, 10:40] = 1
    labels[50:90, 30:70] = 2
    doc.set_model_result(labels, [], RUN)
    return doc


def test_push_applies_once_and_undo_redo_are_exact(doc):
    before = doc.labels.copy()
    edit = paint_edit(doc.labels, [(20, 20), (60, 50)], 4, 1)
    doc.push(HandEdit(edit))
    after = doc.labels.copy()
    expected = before.copy()
    edit.apply(expected)
    np.testing.assert_array_equal(after, expected)  # applied exactly once
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.labels, before)
    doc.undo_stack.redo()
    np.testing.assert_array_equal(doc.labels, after)
    assert doc.undo_stack.undoText() == "paint leaf 1"


def test_hand_edits_tag_touched_leaves_and_forget_removed_ones(doc):
    doc.push(HandEdit(erase_edit(doc.labels, [(20, 20)], 3)))
    assert doc.manual_ids == {1}
    doc.push(HandEdit(merge_edit(doc.labels, 2, 1)))
    assert doc.manual_ids == {2}  # leaf 1 is gone
    doc.undo_stack.undo()
    assert doc.manual_ids == {1}
    doc.undo_stack.undo()
    assert doc.manual_ids == frozenset()


def test_a_model_run_over_hand_edits_undoes_back_to_them(doc):
    doc.push(HandEdit(paint_edit(doc.labels, [(100, 100)], 5, 3)))
    edited, manual = doc.labels.copy(), doc.manual_ids
    step = Step(0, np.zeros((4, 4), np.float32), 0.9, np.zeros((2, 2), np.float32))
    model = np.zeros_like(edited)
    model[0:5, 0:5] = 1
    run = ModelRun("other", SegmentConfig(stop_threshold=0.3))
    edit = replace_edit(doc.labels, model, "segment with other")
    doc.push(ModelRelabel(edit, [step], run, "segment with other"))
    np.testing.assert_array_equal(doc.labels, model)
    assert doc.manual_ids == frozenset() and doc.steps == [step] and doc.run is run
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.labels, edited)
    assert doc.manual_ids == manual and doc.steps == [] and doc.run is RUN


def test_restore_brings_back_labels_and_manual_tags(doc):
    before = doc.labels.copy()
    recovered = before.copy()
    recovered[100:110, 100:110] = 9
    doc.push(Restore(replace_edit(doc.labels, recovered, "restore"), frozenset({9})))
    np.testing.assert_array_equal(doc.labels, recovered)
    assert doc.manual_ids == {9} and doc.is_dirty
    doc.undo_stack.undo()
    np.testing.assert_array_equal(doc.labels, before)
    assert doc.manual_ids == frozenset()


def test_every_change_tells_the_views_where(doc, qtbot):
    edit = paint_edit(doc.labels, [(5, 5)], 2, 1)
    with qtbot.waitSignal(doc.labels_changed) as changed:
        doc.push(HandEdit(edit))
    assert changed.args == [edit.box]
