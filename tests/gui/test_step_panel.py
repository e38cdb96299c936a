"""The step panel after a run: the last step's kappa, and a caption that counts the leaves
the way the status bar does, or says why the numbers differ (issue 16, item 14)."""

from __future__ import annotations

import numpy as np
import pytest

from leafcount.editing.changes import HandEdit
from leafcount.editing.edits import delete_edit
from leafcount.inference.run_meta import ModelRun
from leafcount.inference.segment import SegmentConfig, Step, decode_steps

TIMEOUT_MS = 30_000

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_after_a_run_the_kappa_panel_shows_the_last_step_as_key_k_does(window, plant_folder, qtbot):
    window.open_folder(plant_folder)
    with qtbot.waitSignal(window.segmenter.run_finished, timeout=TIMEOUT_MS):
        window.actions.segment.trigger()
    qtbot.waitUntil(lambda: window.step_view.steps == window.doc.steps)
    last = window.doc.steps[-1].kappa
    shown = window.step_view.kappa_view.image.image
    assert shown is not None, "the kappa panel is empty after the run"
    np.testing.assert_array_equal(shown, last)
    assert f"last step, t = {len(window.doc.steps)}" in window.step_view.kappa_view.plot.titleLabel.text
    np.testing.assert_array_equal(window.canvas.kappa_layer.image, last)  # K shows the same map


def test_the_caption_counts_the_leaves_the_status_bar_counts(window, plant_folder, qtbot):
    window.open_folder(plant_folder)
    with qtbot.waitSignal(window.segmenter.run_finished, timeout=TIMEOUT_MS):
        window.actions.segment.trigger()
    count = window.doc.leaf_count
    assert window.status.count_label.text() == f"{count} leaves"
    assert f"{count} leaves" in window.step_view.caption.text()


def test_a_kept_step_without_pixels_is_named_in_the_caption(window, plant_folder):
    """Step 2 is kept (s = 0.8) but step 1 claims every pixel it covers: 2 kept steps, 1 leaf."""
    window.open_folder(plant_folder)
    doc = window.doc
    h, w = 24, 32
    mask = np.zeros((h, w), np.float32)
    mask[4:20, 4:16] = 0.9
    steps = [Step(0, mask, 0.9, np.ones((3, 4), np.float32)),
             Step(1, mask * 0.7, 0.8, np.ones((3, 4), np.float32)),
             Step(2, np.zeros((h, w), np.float32), 0.1, np.ones((3, 4), np.float32))]
    config = SegmentConfig(assignment="first")
    labels = decode_steps(steps, doc.image.shape[:2], config)
    doc.set_model_result(labels, steps, ModelRun("tiny", config))
    assert doc.leaf_count == 1 and window.status.count_label.text() == "1 leaves"
    caption = window.step_view.caption.text()
    assert caption.startswith("3 steps, 2 of them above the stop threshold, 1 leaves: step 2 kept no pixel")
    window.step_view.slider.setValue(1)
    assert window.step_view.caption.text().endswith("kept, but no pixel of its own in the labels")


def test_the_caption_blames_the_decoding_not_the_user_for_a_count_that_differs_from_the_kept_steps(window, plant_folder):
    """Three kept steps, and the decoding split them into four leaves. Only an edit by hand makes the
    caption say the labels were edited."""
    window.open_folder(plant_folder)
    doc = window.doc
    h, w = doc.image.shape[:2]
    mask = np.zeros((24, 32), np.float32)
    mask[4:20, 4:16] = 0.9
    steps = [Step(i, mask, score, np.ones((3, 4), np.float32)) for i, score in enumerate([0.9, 0.8, 0.7, 0.1])]
    labels = np.zeros((h, w), np.int32)
    for leaf in range(1, 5):
        labels[h // 4: h // 2, leaf * w // 6: (leaf + 1) * w // 6] = leaf
    doc.set_model_result(labels, steps, ModelRun("tiny", SegmentConfig(assignment="centres")))
    caption = window.step_view.caption.text()
    assert "edited by hand" not in caption and "4 leaves in the labels: the decoding" in caption
    doc.push(HandEdit(delete_edit(doc.labels, 4)))
    doc.push(HandEdit(delete_edit(doc.labels, 3)))
    assert "2 leaves in the labels, edited by hand since." in window.step_view.caption.text()
