"""Train on corrections: a background fine-tune, its checkpoints, the model list."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from test_responsiveness import Heartbeat

from leafcount.data.synth import write_synth_folder
from leafcount.finetune import CHECKPOINTS_DIR_NAME, FineTuneResult
from leafcount.gui import fine_tuner
from leafcount.gui.fine_tune_panel import clock, remaining_seconds
from leafcount.model.checkpoint import load_checkpoint, save_checkpoint
from leafcount.train import resume_path

TIMEOUT_MS = 120_000


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def labelled_folder(tmp_path):
    folder = tmp_path / "labelled"
    write_synth_folder(folder, 5, seed=7)
    return folder


def configure(window, iterations, val_every, lr=1e-3):
    panel = window.fine_tune_panel
    panel.iterations_box.setValue(iterations)
    panel.val_every_box.setValue(val_every)
    panel.lr_box.setCurrentIndex(panel.lr_box.findData(lr))
    return panel


def run_fine_tune(window, qtbot, iterations=40, val_every=20) -> str:
    panel = configure(window, iterations, val_every)
    with qtbot.waitSignal(window.fine_tuner.ended, timeout=TIMEOUT_MS) as ended:
        panel.start_button.click()
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    return ended.args[0]


def only_checkpoint(folder):
    [path] = [p for p in (folder / CHECKPOINTS_DIR_NAME).glob("*.safetensors") if ".resume." not in p.name]
    return path


def test_the_panel_lists_labelled_images_and_holds_one_out(window, labelled_folder):
    window.open_folder(labelled_folder)
    panel = window.fine_tune_panel
    assert panel.held_out() == ["plant003_rgb.png"]
    assert len(panel.train_names()) == 4 and panel.start_button.isEnabled()
    panel.image_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    assert "Tick at least one image to hold out" in panel.summary.text()
    assert not panel.start_button.isEnabled()
    for row in range(5):
        panel.image_list.item(row).setCheckState(Qt.CheckState.Checked)
    assert "Leave at least one unticked" in panel.summary.text() and not panel.start_button.isEnabled()
    panel.auto_button.click()
    assert panel.held_out() == ["plant003_rgb.png"]


def test_a_folder_without_saved_labels_cannot_train(window, plant_folder):
    window.open_folder(plant_folder)
    panel = window.fine_tune_panel
    assert panel.image_list.count() == 0 and not panel.start_button.isEnabled()
    assert "No image of this folder has saved labels yet" in panel.summary.text()


def test_a_short_fine_tune_writes_a_new_listed_checkpoint(window, labelled_folder, qtbot, tiny_checkpoint):
    window.open_folder(labelled_folder)
    parent_bytes = tiny_checkpoint.read_bytes()
    outcome = run_fine_tune(window, qtbot, iterations=40, val_every=20)
    path = only_checkpoint(labelled_folder)
    assert path.name.startswith("ris-finetune-") and path.stem in outcome
    _, info = load_checkpoint(path)
    assert info.meta["parent"] == "tiny" and info.meta["data"] == str(labelled_folder)
    assert info.meta["data_summary"]["held_out_images"] == ["plant003"]
    assert {"sbd", "dic", "abs_dic"} <= set(info.meta["metrics"]) and "sbd" in info.meta["baseline_metrics"]
    assert not resume_path(path).exists()
    assert tiny_checkpoint.read_bytes() == parent_bytes
    plots = window.fine_tune_panel.plots
    assert [iteration for iteration, _ in plots.held_out] == [0, 20, 40]
    assert len(plots.loss_curve.getData()[0]) == 40
    assert path in window.models_view.paths() and tiny_checkpoint in window.models_view.paths()
    assert window.fine_tune_panel.start_button.isEnabled()


def test_stop_mid_run_keeps_a_loadable_checkpoint(window, labelled_folder, qtbot):
    window.open_folder(labelled_folder)
    panel = configure(window, iterations=100_000, val_every=5)
    panel.start_button.click()
    qtbot.waitUntil(lambda: len(panel.plots.held_out) >= 2, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.fine_tuner.ended, timeout=TIMEOUT_MS) as ended:
        panel.stop_button.click()
    assert ended.args[0].startswith("Stopped")
    path = only_checkpoint(labelled_folder)
    _, info = load_checkpoint(path)
    assert info.meta["metrics"]["iteration"] >= 5 and info.meta["parent"] == "tiny"
    assert path in window.models_view.paths()
    assert not [p for p in (labelled_folder / CHECKPOINTS_DIR_NAME).iterdir() if p.name.startswith(".")]


def test_switching_models_and_rolling_back(window, labelled_folder, qtbot, tiny_checkpoint):
    window.open_folder(labelled_folder)
    run_fine_tune(window, qtbot, iterations=20, val_every=10)
    tuned = only_checkpoint(labelled_folder)
    view = window.models_view
    view.select(tuned)
    view.use_button.click()
    assert window.segmenter.info.path == tuned
    assert window.status.model_label.text() == f"model: {tuned.stem}"
    assert tiny_checkpoint in view.paths()  # the parent stays listed, to roll back to
    view.select(tiny_checkpoint)
    view.use_button.click()
    assert window.segmenter.info.path == tiny_checkpoint
    view.select(tiny_checkpoint)
    assert not view.use_button.isEnabled()  # already in use


def test_a_checkpoint_that_beats_its_parent_is_used_at_once(window, labelled_folder, qtbot, monkeypatch):
    def better(model, parent, out, train, held, **kwargs):
        before, after = {"sbd": 0.4, "abs_dic": 2.0}, {"sbd": 0.6, "abs_dic": 1.0}
        out.parent.mkdir()
        save_checkpoint(out, model, {"parent": parent.name, "metrics": after, "baseline_metrics": before})
        return FineTuneResult(out, before, after)

    monkeypatch.setattr(fine_tuner, "fine_tune", better)
    window.open_folder(labelled_folder)
    outcome = run_fine_tune(window, qtbot)
    tuned = only_checkpoint(labelled_folder)
    assert window.segmenter.info.path == tuned
    assert outcome == (f"Done: now using {tuned.stem} (held-out SBD 40.0 → 60.0 %, |DiC| 2.00 → 1.00). "
                       "Roll back in the Models list.")
    assert window.models_view.selected_path() == tuned


def test_the_model_list_shows_scores_and_unreadable_files(window, labelled_folder, tiny_checkpoint):
    folder = labelled_folder / CHECKPOINTS_DIR_NAME
    folder.mkdir()
    model, _ = load_checkpoint(tiny_checkpoint)
    meta = {"parent": "tiny", "metrics": {"sbd": 0.5}, "baseline_metrics": {"sbd": 0.25}}
    save_checkpoint(folder / "ris-finetune-a.safetensors", model, meta)
    (folder / "ris-finetune-b.safetensors").write_bytes(b"\x80\x04 a pickle, not a checkpoint")
    window.open_folder(labelled_folder)
    tree = window.models_view.tree
    rows = [[tree.topLevelItem(i).text(col) for col in range(3)] for i in range(tree.topLevelItemCount())]
    assert rows[-3:] == [
        ["● tiny", "", ""],
        ["ris-finetune-a", "50.0 % (parent 25.0)", "tiny"],
        ["ris-finetune-b.safetensors", "unreadable", ""],
    ]
    assert tree.topLevelItem(len(rows) - 1).flags() == Qt.ItemFlag.NoItemFlags
    assert "this is a pickle" in tree.topLevelItem(len(rows) - 1).toolTip(0)


def test_a_bad_label_file_fails_with_one_dialog_and_the_panel_recovers(window, labelled_folder, qtbot, dialogs):
    window.open_folder(labelled_folder)
    (labelled_folder / "plant002_label.png").write_bytes(b"not a png")
    outcome = run_fine_tune(window, qtbot)
    assert outcome.startswith("Fine-tuning failed")
    assert len(dialogs.seen) == 1 and dialogs.seen[0].startswith("plant002_label.png: ")
    assert window.segmenter.info.name == "tiny" and window.fine_tune_panel.start_button.isEnabled()


def test_closing_mid_fine_tune_stops_it(window, labelled_folder, qtbot):
    window.open_folder(labelled_folder)
    panel = configure(window, iterations=100_000, val_every=1_000)
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=TIMEOUT_MS)
    threads = list(window.fine_tuner.runner._jobs.values())
    assert window.close()
    assert not any(thread.isRunning() for thread in threads)
    load_checkpoint(only_checkpoint(labelled_folder))


def test_gui_stays_responsive_while_fine_tuning(window, labelled_folder, qtbot, one_torch_thread):
    window.open_folder(labelled_folder)
    window.actions.fine_tune.trigger()
    qtbot.wait(200)
    with Heartbeat() as beat:
        run_fine_tune(window, qtbot, iterations=80, val_every=20)
        qtbot.wait(200)
    beat.assert_responsive()


def test_time_left_and_clock():
    assert remaining_seconds(10, 100, 20.0, 600.0) == 180.0  # 2 s per iteration
    assert remaining_seconds(10, 100, 20.0, 60.0) == 40.0  # the time limit comes first
    assert remaining_seconds(0, 100, 0.0, 900.0) == 900.0
    assert (clock(75), clock(3725)) == ("1:15", "1:02:05")
