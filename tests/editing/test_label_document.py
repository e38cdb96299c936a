"""The Qt-free document: its history of changes, the manual-leaf rule, plant boxes and files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from leafcount.analysis.plant_boxes import PlantBox, plants_from_meta
from leafcount.data.cvppp import read_labels
from leafcount.data.synth import make_rosette
from leafcount.editing.changes import HandEdit, ModelRelabel, PlantBoxesChange
from leafcount.editing.document import UNDO_LIMIT, ImageStatus, LabelDocument
from leafcount.editing.edits import paint_edit, replace_edit
from leafcount.inference import pipeline
from leafcount.inference.run_meta import ModelRun
from leafcount.inference.segment import SegmentConfig

RUN = ModelRun("tiny", SegmentConfig())


@pytest.fixture
def photo(tmp_path):
    image, _ = make_rosette(np.random.default_rng(0), (60, 64))
    path = tmp_path / "plant001_rgb.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def doc(photo):
    doc = LabelDocument(photo)
    doc.load()
    labels = np.zeros((60, 64), np.int32)
    labels[10:20, 10:20], labels[30:40, 30:40] = 1, 2
    doc.set_model_result(labels, [], RUN)
    return doc


def test_undo_then_redo_gives_back_the_exact_labels_and_tags(doc):
    before = doc.labels.copy()
    doc.push(HandEdit(paint_edit(doc.labels, [(15, 25)], 3, 1)))
    after = doc.labels.copy()
    assert doc.manual_ids == {1} and doc.is_dirty and doc.status is ImageStatus.EDITED
    doc.undo()
    np.testing.assert_array_equal(doc.labels, before)
    assert doc.manual_ids == frozenset() and not doc.is_dirty
    doc.redo()
    np.testing.assert_array_equal(doc.labels, after)
    assert doc.manual_ids == {1}


def test_an_edited_leaf_becomes_manual_and_a_leaf_painted_away_does_not_stay_so(doc):
    doc.push(HandEdit(replace_edit(doc.labels, np.where(doc.labels == 2, 1, doc.labels), "merge 2 into 1")))
    assert doc.manual_ids == {1}  # leaf 2 has no pixel left


def test_callbacks_say_what_changed(doc):
    seen = []
    doc.on_labels_changed.append(lambda box: seen.append(("labels", box is not None)))
    doc.on_plants_changed.append(lambda: seen.append(("plants",)))
    doc.push(HandEdit(paint_edit(doc.labels, [(15, 25)], 3, 1)))
    doc.push(PlantBoxesChange((PlantBox(0, 0, 0, 0, 0, 30, 30),), "add plant A1"))
    assert seen == [("labels", True), ("plants",)]


def test_a_moved_plant_box_is_undoable_and_makes_the_document_dirty(doc):
    doc.set_plants((PlantBox(0, 0, 0, 0, 0, 30, 30),))  # found by detection: not an edit
    assert not doc.is_dirty
    doc.push(PlantBoxesChange((PlantBox(0, 0, 0, 5, 5, 35, 35),), "move plant A1"))
    assert doc.is_dirty and doc.plants[0].top == 5
    doc.undo()
    assert not doc.is_dirty and doc.plants == (PlantBox(0, 0, 0, 0, 0, 30, 30),)


def test_a_model_rerun_over_work_is_undoable(doc):
    doc.push(HandEdit(paint_edit(doc.labels, [(15, 25)], 3, 1)))
    edited = doc.labels.copy()
    new = np.zeros_like(doc.labels)
    new[:5, :5] = 1
    rerun = ModelRun("other", SegmentConfig(stop_threshold=0.3))
    doc.push(ModelRelabel(replace_edit(doc.labels, new, "rerun"), [], rerun, "rerun", ("grey image",)))
    assert doc.run == rerun and doc.manual_ids == frozenset() and doc.notes == ("grey image",)
    doc.undo()
    np.testing.assert_array_equal(doc.labels, edited)
    assert doc.run == RUN and doc.manual_ids == {1} and doc.notes == ()


def test_the_history_keeps_the_last_undo_limit_changes_and_loses_the_clean_state_beyond(doc):
    for i in range(UNDO_LIMIT + 1):
        doc.push(HandEdit(paint_edit(doc.labels, [(45 + 3 * (i // 60), i % 60)], 1, 3)))
    undone = 0
    while doc.can_undo:
        doc.undo()
        undone += 1
    assert undone == UNDO_LIMIT and doc.is_dirty  # the saved state fell off the history
    doc.discard_changes()  # so discarding reads what is on disk (nothing was saved: no labels)
    assert not doc.has_labels and not doc.is_dirty


def test_a_new_change_after_undo_drops_the_redo_history(doc):
    doc.push(HandEdit(paint_edit(doc.labels, [(15, 25)], 3, 1)))
    doc.undo()
    doc.push(HandEdit(paint_edit(doc.labels, [(45, 45)], 3, 2)))
    assert not doc.can_redo


def test_save_writes_labels_and_boxes_at_the_photo_s_own_size(photo, monkeypatch):
    monkeypatch.setattr(pipeline, "SEGMENT_MAX_PIXELS", 1_000)  # the 60 x 64 photo is read at half size
    doc = LabelDocument(photo)
    doc.load()
    assert doc.image.shape[:2] == (30, 32) and doc.file_shape == (60, 64)
    doc.start_empty()
    doc.push(HandEdit(paint_edit(doc.labels, [(10, 10)], 4, 1)))
    doc.push(PlantBoxesChange((PlantBox(0, 0, 0, 2, 3, 28, 29),), "add plant A1"))
    doc.save()
    assert not doc.is_dirty
    saved = read_labels(photo.parent / "plant001_label.png")
    assert saved.shape == (60, 64) and set(np.unique(saved)) == {0, 1}
    record = json.loads((photo.parent / "plant001_label.json").read_text())
    [box] = plants_from_meta(record["meta"]["plants"])
    assert (box.top, box.left, box.bottom, box.right) == (4, 6, 56, 58)  # in the photo's own pixels
    again = LabelDocument(photo)
    again.load()  # and back at the working size
    np.testing.assert_array_equal(again.labels, doc.labels)
    assert again.plants == doc.plants and again.manual_ids == {1}
