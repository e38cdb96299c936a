"""File ▸ Export report…: a background report with progress, cancel and a way to open it."""

from __future__ import annotations

import shutil
import time

import pandas as pd
import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox, QPushButton

from leafcount.data.synth import write_synth_folder
from leafcount.gui import workers
from leafcount.gui.exporter import ExportDialog
from leafcount.metrics import summarize
from leafcount.scale import write_folder_scale

Button = QMessageBox.StandardButton
TIMEOUT_MS = 30_000


@pytest.fixture
def labelled_folder(tmp_path):
    folder = tmp_path / "labelled"
    write_synth_folder(folder, 3, seed=5)
    return folder


@pytest.fixture
def truth_folder(labelled_folder, tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    for label in labelled_folder.glob("*_label.png"):
        shutil.copy(label, truth / label.name)
    return truth


@pytest.fixture
def opened(monkeypatch):
    urls = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: urls.append(url.toLocalFile()))
    return urls


def accept_export_dialog(monkeypatch, **fields):
    """Stand in for the user: fill the dialog's fields, then press Export."""

    def exec_(dialog):
        for name, value in fields.items():
            getattr(dialog, name).setText(str(value))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", exec_)


def test_export_writes_the_report_and_offers_to_open_it(
    window, labelled_folder, truth_folder, tmp_path, qtbot, dialogs, opened, monkeypatch
):
    write_folder_scale(labelled_folder, 4.0, source="test")
    out = tmp_path / "report"
    accept_export_dialog(monkeypatch, out_edit=out, truth_edit=truth_folder)
    window.open_folder(labelled_folder)
    dialogs.answer(Button.Open)
    with qtbot.waitSignal(window.exporter.finished, timeout=TIMEOUT_MS) as finished:
        window.actions.export.trigger()
        assert window.exporter.progress.isVisible() and not window.actions.export.isEnabled()
    summary = finished.args[0]
    assert summary.n_images == 3 and summary.out_dir == out
    assert {p.name for p in summary.files} == {
        "counts.csv", "leaves.csv", "plants.csv", "metrics.csv", "metrics.json", "report.html"
    }
    assert summary.metrics == summarize(summary.scores) and summary.metrics["sbd"][0] == 1.0
    leaves = pd.read_csv(out / "leaves.csv")
    assert (leaves["area_mm2"] == leaves["area_px"] / 16).all()  # the folder's scale, 4 px per mm
    assert dialogs.seen[-1] == f"Report on 3 image(s) written to {out}."
    assert opened == [str(out / "report.html")]
    assert window.exporter.progress is None and window.actions.export.isEnabled()


def test_without_ground_truth_the_folder_is_offered(window, labelled_folder, tmp_path, qtbot, dialogs, opened, monkeypatch):
    out = tmp_path / "counts only"
    accept_export_dialog(monkeypatch, out_edit=out)
    window.open_folder(labelled_folder)
    dialogs.answer(Button.Yes)  # "Show folder"
    with qtbot.waitSignal(window.exporter.finished, timeout=TIMEOUT_MS):
        window.actions.export.trigger()
    assert sorted(p.name for p in out.iterdir()) == ["counts.csv", "leaves.csv", "plants.csv"]
    assert opened == [str(out)]


def test_cancelling_an_export_writes_nothing(window, labelled_folder, tmp_path, qtbot, dialogs, monkeypatch):
    real = workers.write_report

    def slow(*args, on_progress, **kwargs):
        def tick(done, total):
            on_progress(done, total)
            time.sleep(0.3)

        return real(*args, on_progress=tick, **kwargs)

    monkeypatch.setattr(workers, "write_report", slow)
    out = tmp_path / "report"
    accept_export_dialog(monkeypatch, out_edit=out)
    window.open_folder(labelled_folder)
    window.actions.export.trigger()
    qtbot.waitUntil(lambda: window.exporter.progress.value() >= 1, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.exporter.cancelled, timeout=TIMEOUT_MS):
        window.exporter.progress.findChild(QPushButton).click()
    assert not out.exists()
    assert dialogs.seen == [] and window.actions.export.isEnabled()
    assert window.status.currentMessage() == "Export cancelled; no file written."


def test_a_failed_export_gets_one_dialog(window, labelled_folder, tmp_path, qtbot, dialogs, monkeypatch):
    (tmp_path / "no truth").mkdir()
    accept_export_dialog(monkeypatch, out_edit=tmp_path / "report", truth_edit=tmp_path / "no truth")
    window.open_folder(labelled_folder)
    window.actions.export.trigger()
    qtbot.waitUntil(lambda: not window.exporter.is_busy, timeout=TIMEOUT_MS)
    assert len(dialogs.seen) == 1 and dialogs.seen[0].startswith("no truth: no ground truth for any of the 3")
    assert window.actions.export.isEnabled()


def test_the_dialog_says_what_will_be_reported(window, labelled_folder, qtbot):
    write_folder_scale(labelled_folder, 12.5)
    window.open_folder(labelled_folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    notes = window.exporter._notes()
    assert notes == ("The report covers the 3 of 3 image(s) whose labels are saved. plant001_rgb.png: "
                     "unsaved edits are not included; save them first (Ctrl+S).")
    dialog = ExportDialog(labelled_folder, labelled_folder, 12.5, notes)
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "12.5 px per mm: areas also in mm²" in texts and notes in texts
    request = dialog.request()
    assert request.out_dir == labelled_folder / "leafcount-report" and request.truth_dir is None
    assert request.px_per_mm == 12.5 and request.images_dir == labelled_folder
