"""File ▸ Export report…: a background report with progress, cancel and a way to open it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox, QPushButton

from leafcount.analysis.metrics import summarize
from leafcount.analysis.scale import write_folder_scale
from leafcount.data.demo import DEMO_DIR
from leafcount.data.synth import write_synth_folder
from leafcount.gui import export_labels, exporter
from leafcount.gui.exporter import ExportDialog, export_notes

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
    real = export_labels.write_report

    def slow(*args, on_progress, **kwargs):
        def tick(done, total):
            on_progress(done, total)
            time.sleep(0.3)

        return real(*args, on_progress=tick, **kwargs)

    monkeypatch.setattr(export_labels, "write_report", slow)
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


def test_the_dialog_says_what_will_be_reported(window, labelled_folder, qtbot, tmp_path):
    write_folder_scale(labelled_folder, 12.5)
    window.open_folder(labelled_folder)
    window.actions.new_leaf.trigger()
    window.canvas.view.stroke_ended.emit([(10.0, 10.0)])
    notes = export_notes(window.session.docs)
    assert notes == ("Of the 3 image(s), the report covers the saved corrections of 0 image(s), 3 label file(s) "
                     "leafcount did not write (ground truth, another tool). plant001_rgb.png: unsaved edits are "
                     "not included; save them first (Ctrl+S).")
    dialog = ExportDialog(labelled_folder, labelled_folder, 12.5, notes, tmp_path / "out")
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "12.5 px per mm: areas also in mm²" in texts and notes in texts
    request = dialog.request()
    assert request.out_dir == tmp_path / "out" and request.truth_dir is None and not request.include_unsaved
    assert request.px_per_mm == 12.5 and request.images_dir == labelled_folder


def shown_dialog(monkeypatch, answer=QDialog.DialogCode.Rejected, **fields):
    """Record the export dialog the window shows (and fill it in, as ``accept_export_dialog``)."""
    seen = []

    def exec_(dialog):
        seen.append(dialog)
        for name, value in fields.items():
            getattr(dialog, name).setText(str(value))
        return answer

    monkeypatch.setattr(ExportDialog, "exec", exec_)
    return seen


def test_the_report_folder_starts_in_documents_or_the_last_one_never_in_the_installation(
    window, labelled_folder, tmp_path, qtbot, dialogs, monkeypatch
):
    documents = tmp_path / "Documents"
    monkeypatch.setattr(exporter, "documents_dir", lambda: documents)
    seen = shown_dialog(monkeypatch)
    window.open_demo(DEMO_DIR)
    window.actions.export.trigger()
    first = Path(seen[-1].out_edit.text())
    assert first == documents / "demo-leafcount-report"
    assert not exporter.inside_installation(first)
    # A report written elsewhere: the next one starts beside it.
    reports = tmp_path / "reports"
    seen = shown_dialog(monkeypatch, QDialog.DialogCode.Accepted, out_edit=reports / "first")
    window.open_folder(labelled_folder)
    with qtbot.waitSignal(window.exporter.finished, timeout=TIMEOUT_MS):
        window.actions.export.trigger()
    seen = shown_dialog(monkeypatch)
    window.actions.export.trigger()
    assert Path(seen[-1].out_edit.text()) == reports / "labelled-leafcount-report"
    # A last folder inside the installation is not offered again.
    exporter.settings().setValue(exporter.LAST_FOLDER_KEY, str(DEMO_DIR))
    window.actions.export.trigger()
    assert Path(seen[-1].out_edit.text()) == documents / "labelled-leafcount-report"


def test_unsaved_model_results_are_offered_and_exported_without_saving(
    window, plant_folder, tmp_path, qtbot, dialogs, monkeypatch
):
    window.open_folder(plant_folder)
    with qtbot.waitSignal(window.segmenter.batch_ended, timeout=TIMEOUT_MS):
        window.actions.segment_all.trigger()
    out = tmp_path / "report"
    seen = shown_dialog(monkeypatch, QDialog.DialogCode.Accepted, out_edit=out)
    with qtbot.waitSignal(window.exporter.finished, timeout=TIMEOUT_MS) as finished:
        window.actions.export.trigger()
    dialog = seen[-1]
    notes = [label.text() for label in dialog.findChildren(QLabel) if label.text().startswith("Of the")]
    assert notes == ["Of the 4 image(s), the report covers the saved corrections of 0 image(s), the model "
                     "results of 4 image(s), not saved yet, if ticked below."]
    assert not dialog.unsaved_box.isHidden() and dialog.unsaved_box.isChecked()
    assert "4 image(s)" in dialog.unsaved_box.text()
    summary = finished.args[0]
    assert summary.n_images == 4
    counts = pd.read_csv(out / "counts.csv")
    assert counts["leaf_count"].tolist() == [doc.leaf_count for doc in window.session.docs]
    assert not list(plant_folder.glob("*_label.*"))  # nothing saved into the photos' folder
    assert all(doc.status.value == "model" for doc in window.session.docs)


def test_progress_handled_while_the_export_ends_touches_no_closed_dialog(window):
    """A window-modal QProgressDialog processes events in setValue: the export's
    end can be handled in there and close the dialog under the progress slot."""
    exp = window.exporter

    class ModalDialog:
        text = ""

        def setMaximum(self, total: int) -> None:
            pass

        def setLabelText(self, text: str) -> None:
            self.text = text

        def setValue(self, done: int) -> None:
            exp.progress = None  # what _close_progress does when the end arrives here

    dialog = ModalDialog()
    exp.progress = dialog
    exp._on_progress((1, 2))
    assert exp.progress is None and dialog.text == "Measuring the leaves: 1 of 2 image(s)…"
    exp._on_progress((2, 2))  # after the end: nothing left to update
