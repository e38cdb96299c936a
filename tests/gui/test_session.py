import numpy as np
import pytest

from leafcount.editing.changes import HandEdit
from leafcount.editing.edits import paint_edit
from leafcount.errors import EmptyFolderError
from leafcount.gui.session import FolderSession
from leafcount.io.corrections import RECOVERY_DIR_NAME


@pytest.fixture
def session(qtbot, plant_folder):
    session = FolderSession()
    session.open_folder(plant_folder)
    session.open_row(0)
    session.current.start_empty()
    return session


def paint(session, point, leaf=1):
    doc = session.current
    doc.push(HandEdit(paint_edit(doc.labels, [point], 3, leaf)))


def recovery_file(folder):
    return folder / RECOVERY_DIR_NAME / "plant001_label.png"


def test_autosave_writes_only_new_unsaved_edits(session, plant_folder):
    session.autosave()
    assert not recovery_file(plant_folder).exists()  # nothing to lose yet
    paint(session, (10, 10))
    session.autosave()
    first = recovery_file(plant_folder).stat().st_mtime_ns
    session.autosave()
    assert recovery_file(plant_folder).stat().st_mtime_ns == first  # unchanged: not rewritten
    session.current.undo_stack.undo()
    session.autosave()
    assert not recovery_file(plant_folder).exists()  # back to the saved state: nothing to recover


def test_saving_removes_the_recovery_copy(session, plant_folder, qtbot):
    paint(session, (10, 10))
    session.autosave()
    with qtbot.waitSignal(session.labels_saved) as saved:  # the timeline re-links on it
        session.save_current()
    assert saved.args == [session.current.path]
    assert not recovery_file(plant_folder).exists()
    assert (plant_folder / "plant001_label.png").is_file()


def test_switching_images_releases_the_previous_one(session):
    first = session.current
    paint(session, (10, 10))
    labels = first.labels.copy()
    session.open_row(1)
    assert first.image is None and first._labels is None
    assert session.undo_group.activeStack() is session.current.undo_stack
    session.open_row(0)
    np.testing.assert_array_equal(first.labels, labels)
    assert first.undo_stack.canUndo()


def test_a_failed_folder_leaves_the_open_one_alone(session, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyFolderError, match="no images"):
        session.open_folder(tmp_path / "empty")
    assert session.current is not None and len(session.docs) == 4
