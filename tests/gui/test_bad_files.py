"""A folder with a few bad files: each costs only its own image, is marked where it is,
and is named once (issue 16, items 2 and 16)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStyle

from leafcount.data.synth import write_synth_folder
from leafcount.editing.document import ImageStatus
from leafcount.gui.image_list import BADGE_SIZE

TIMEOUT_MS = 30_000

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def marked(window, row: int) -> bool:
    """Whether the row's icon (thumbnail or placeholder) carries the warning sign in its corner."""
    icon = window.image_list.item(row).icon()
    shown = icon.pixmap(icon.availableSizes()[0]).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    badge = window.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(BADGE_SIZE).toImage()
    badge = badge.convertToFormat(QImage.Format.Format_ARGB32)
    left, top = shown.width() - badge.width(), shown.height() - badge.height()
    opaque = [(x, y) for x in range(badge.width()) for y in range(badge.height()) if badge.pixelColor(x, y).alpha() == 255]
    assert len(opaque) > 50  # the style has a warning sign to draw
    return all(shown.pixel(left + x, top + y) == badge.pixel(x, y) for x, y in opaque)


@pytest.fixture
def labelled(tmp_path):
    """Five saved corrections of synthetic rosettes (label PNG + sidecar each)."""
    from leafcount.data.cvppp import read_labels
    from leafcount.io.corrections import save_corrections

    folder = tmp_path / "labelled"
    for photo in write_synth_folder(folder, 5, seed=7):
        label_path = folder / photo.name.replace("_rgb.png", "_label.png")
        save_corrections(photo, read_labels(label_path), [1], {"model": "tiny"})
    return folder


def test_a_garbage_sidecar_costs_only_its_own_image(window, labelled, dialogs):
    (labelled / "plant002_label.json").write_text("{ this is not json", encoding="utf-8")
    assert window.open_folder(labelled)
    assert dialogs.seen == []  # no modal: the list says it
    assert window.image_list.count() == 5
    statuses = [doc.status for doc in window.session.docs]
    assert statuses == [ImageStatus.SAVED, ImageStatus.LABEL_FILE, ImageStatus.SAVED, ImageStatus.SAVED,
                        ImageStatus.SAVED]
    tip = window.image_list.item(1).toolTip()
    assert "plant002_label.json: cannot read the corrections sidecar" in tip
    assert [marked(window, row) for row in range(5)] == [False, True, False, False, False]
    assert window.status.currentMessage().count("plant002_label.json") == 1  # named once
    # Its labels are still there to use; the other images as before.
    window.image_list.setCurrentRow(1)
    assert window.doc.name == "plant002_rgb.png" and window.doc.labels is not None
    assert window.doc.labels.max() > 0 and window.doc.manual_ids == frozenset()
    window.image_list.setCurrentRow(3)
    assert window.doc.manual_ids == {1} and dialogs.seen == []


def test_an_unreadable_label_png_opens_the_photo_as_unreadable_correction(window, labelled, dialogs):
    (labelled / "plant003_label.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    window.open_folder(labelled)
    window.image_list.setCurrentRow(2)
    assert dialogs.seen == []
    assert window.doc.name == "plant003_rgb.png" and window.doc.image is not None and window.doc.labels is None
    assert window.doc.status is ImageStatus.UNREADABLE_CORRECTION
    assert "unreadable correction" in window.image_list.item(2).text() and marked(window, 2)
    assert window.actions.segment.isEnabled()
    window.image_list.setCurrentRow(3)
    assert window.doc.name == "plant004_rgb.png" and window.doc.labels is not None


def test_segment_all_over_unreadable_files_marks_them_and_ends_with_a_summary(window, plant_folder, qtbot, dialogs):
    (plant_folder / "plant001_rgb.png").write_bytes(b"")  # the image the folder opens at
    (plant_folder / "plant003_rgb.png").write_bytes(b"plant 3 looked yellow on Monday\n")
    assert window.open_folder(plant_folder)
    assert dialogs.seen == ["plant001_rgb.png: empty file (0 bytes)"]  # named once, when it was opened
    # Segment and Segment all stay available: the next readable image is open.
    assert window.doc.name == "plant002_rgb.png"
    assert window.actions.segment.isEnabled() and window.actions.segment_all.isEnabled()
    assert marked(window, 0) and "empty file (0 bytes)" in window.image_list.item(0).toolTip()
    with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS):
        window.actions.segment_all.trigger()
    summary = dialogs.seen[1:]
    assert len(summary) == 1
    head, first, second = summary[0].split("\n")
    assert head == "Segment all: 2 image(s) segmented, 2 failed."
    assert first == "plant001_rgb.png: empty file (0 bytes)" and second.startswith("plant003_rgb.png: not a readable image")
    statuses = [doc.status for doc in window.session.docs]
    assert statuses == [ImageStatus.UNREADABLE_IMAGE, ImageStatus.MODEL, ImageStatus.UNREADABLE_IMAGE,
                        ImageStatus.MODEL]
    assert [marked(window, row) for row in range(4)] == [True, False, True, False]
    assert "not a readable image" in window.image_list.item(2).toolTip()
    assert "unreadable image" in window.image_list.item(2).text()
    assert window.actions.segment.isEnabled() and window.actions.segment_all.isEnabled()


def test_segment_all_without_failures_says_how_many_it_segmented(window, plant_folder, qtbot, dialogs):
    window.open_folder(plant_folder)
    with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS):
        window.actions.segment_all.trigger()
    assert dialogs.seen == []
    assert window.status.currentMessage() == "Segment all: 4 image(s) segmented, 0 failed."
