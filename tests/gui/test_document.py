import numpy as np
import pytest
from PySide6.QtGui import QUndoGroup

from leafcount.data.cvppp import write_labels
from leafcount.editing.changes import HandEdit
from leafcount.editing.document import UNDO_LIMIT, ImageStatus, PackedLabels
from leafcount.editing.edits import paint_edit
from leafcount.gui.document import ImageDoc
from leafcount.inference.run_meta import ModelRun
from leafcount.inference.segment import SegmentConfig
from leafcount.io.corrections import load_corrections

RUN = ModelRun("tiny", SegmentConfig())


@pytest.fixture
def doc(qtbot, plant_folder):
    doc = ImageDoc(plant_folder / "plant001_rgb.png", QUndoGroup())
    doc.load()
    return doc


def model_labels(doc) -> np.ndarray:
    labels = np.zeros(doc.image.shape[:2], dtype=np.int32)
    labels[10:40, 10:40] = 1
    labels[50:90, 30:70] = 2
    return labels


def paint(doc, points, leaf, radius=3):
    doc.push(HandEdit(paint_edit(doc.labels, points, radius, leaf)))


def test_status_follows_the_work(doc):
    assert doc.status is ImageStatus.NOT_SEGMENTED and doc.leaf_count is None
    doc.set_model_result(model_labels(doc), [], RUN)
    assert doc.status is ImageStatus.MODEL and doc.leaf_count == 2
    paint(doc, [(5, 5)], 3)
    assert doc.status is ImageStatus.EDITED and doc.is_dirty and doc.leaf_count == 3
    doc.save()
    assert doc.status is ImageStatus.SAVED and not doc.is_dirty


def test_a_foreign_label_file_is_its_own_status(qtbot, plant_folder):
    labels = np.zeros((250, 265), dtype=np.int32)
    labels[:5, :5] = 4
    write_labels(plant_folder / "plant002_label.png", labels)
    doc = ImageDoc(plant_folder / "plant002_rgb.png", QUndoGroup())
    assert doc.status is ImageStatus.LABEL_FILE
    assert doc.leaf_count is None  # unknown until read
    doc.load()
    np.testing.assert_array_equal(doc.labels, labels)
    assert doc.leaf_count == 1


def test_leaf_count_and_areas_follow_edits_and_undo(doc):
    doc.set_model_result(model_labels(doc), [], RUN)
    rng = np.random.default_rng(0)
    for _ in range(12):
        points = [tuple(rng.uniform(0, 120, 2)) for _ in range(3)]
        edit = paint_edit(doc.labels, points, rng.uniform(1, 8), int(rng.integers(1, 6)))
        if edit is not None:
            doc.push(HandEdit(edit))
        expected = np.bincount(doc.labels.ravel())
        assert doc.leaf_count == np.count_nonzero(expected[1:])
        assert all(doc.leaf_area(i) == expected[i] for i in range(len(expected)))
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert doc.leaf_count == 2 and doc.leaf_area(2) == 40 * 40


def test_release_packs_the_labels_and_load_brings_them_back(doc):
    labels = model_labels(doc)
    labels[0, 0] = 70_000  # beyond uint16
    doc.set_model_result(labels, [], RUN)
    doc.release()
    assert doc.image is None and doc._labels is None
    assert doc.status is ImageStatus.MODEL and doc.leaf_count == 3
    doc.load()
    np.testing.assert_array_equal(doc.labels, labels)


@pytest.mark.parametrize("top", [0, 255, 256, 65_535, 65_536])
def test_packed_labels_are_exact_for_every_id_range(top):
    labels = np.zeros((30, 40), dtype=np.int32)
    labels[5:9, 5:9] = top
    labels[20, 30] = 1
    packed = PackedLabels.pack(labels)
    assert packed.dtype == np.dtype(np.uint8 if top <= 255 else np.uint16 if top <= 65_535 else np.int32).str
    unpacked = packed.unpack()
    assert unpacked.dtype == np.int32
    np.testing.assert_array_equal(unpacked, labels)


def test_discard_goes_back_to_the_clean_state(doc):
    doc.set_model_result(model_labels(doc), [], RUN)
    before = doc.labels.copy()
    paint(doc, [(5, 5)], 3)
    doc.discard_changes()
    np.testing.assert_array_equal(doc.labels, before)
    assert not doc.is_dirty and doc.manual_ids == frozenset()


def test_discard_reloads_the_saved_file_when_the_clean_state_fell_off_the_undo_limit(doc):
    doc.set_model_result(model_labels(doc), [], RUN)
    doc.save()
    saved = doc.labels.copy()
    for i in range(UNDO_LIMIT + 1):
        paint(doc, [(100 + i % 50, 5 + i)], 7 + i % 2, radius=1)
    assert doc.undo_stack.cleanIndex() == -1
    doc.discard_changes()
    np.testing.assert_array_equal(doc.labels, saved)
    assert doc.undo_stack.count() == 0 and doc.status is ImageStatus.SAVED


def test_save_keeps_the_model_description_of_an_earlier_save(doc):
    doc.set_model_result(model_labels(doc), [], RUN)
    doc.save()
    reopened = ImageDoc(doc.path, QUndoGroup())
    reopened.load()
    assert reopened.run is None
    paint(reopened, [(5, 5)], 3)
    reopened.save()
    _, sidecar = load_corrections(doc.path)
    assert sidecar.meta["model"] == "tiny" and sidecar.meta["stop_threshold"] == 0.5
    assert sidecar.manual_ids == {3}


def test_start_empty_gives_an_unsegmented_image_a_blank_label_image(doc):
    doc.start_empty()
    assert doc.labels.shape == doc.image.shape[:2] and not doc.labels.any()
    assert doc.status is ImageStatus.NOT_SEGMENTED
    paint(doc, [(5, 5)], 1)
    assert doc.status is ImageStatus.EDITED and doc.manual_ids == {1}
