"""File ▸ Export report…: where to write, optional ground truth, then a background
``write_report`` with a progress dialog, and a way to open what it wrote.

The report folder starts in the folder of the last report, else the user's
documents folder; never inside leafcount's own installation (where the
demo photos live). The dialog says what the report will cover and offers to
include model results that are not saved yet.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import leafcount
from leafcount.analysis.report import ReportSummary
from leafcount.analysis.scale import read_folder_scale
from leafcount.data.demo import DEMO_DIR
from leafcount.editing.document import ImageStatus
from leafcount.errors import ConfigError
from leafcount.gui.document import ImageDoc
from leafcount.gui.errors import show_error
from leafcount.gui.export_labels import UnsavedLabels, write_report_with_unsaved
from leafcount.gui.session import FolderSession
from leafcount.gui.workers import JobRunner, Worker

REPORT_DIR_NAME = "leafcount-report"
LAST_FOLDER_KEY = "export/last_folder"  # where the last report was written (its parent folder)
INSTALLATION = (Path(leafcount.__file__).resolve().parent, DEMO_DIR.parent)  # the package, its resources


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "leafcount", "leafcount")


def documents_dir() -> Path:
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(found) if found else Path.home()


def inside_installation(path: Path) -> bool:
    resolved = path.resolve()
    return any(resolved == root or root in resolved.parents for root in INSTALLATION)


def default_report_dir(folder: Path) -> Path:
    """``<last report's folder or documents>/<folder>-leafcount-report``, outside the installation."""
    last = settings().value(LAST_FOLDER_KEY, "", type=str)
    base = Path(last) if last else documents_dir()
    if inside_installation(base):
        base = documents_dir()
    return base / f"{folder.name}-{REPORT_DIR_NAME}"


def export_notes(docs: list[ImageDoc]) -> str:
    """What a report of the folder covers, said before anything is written."""
    corrected = sum(d.saved is not None and d.saved.is_leafcount for d in docs)
    foreign = sum(d.saved is not None and not d.saved.is_leafcount for d in docs)
    unsaved = sum(d.status is ImageStatus.MODEL for d in docs)
    covered = [f"the saved corrections of {corrected} image(s)"]
    if foreign:
        covered.append(f"{foreign} label file(s) leafcount did not write (ground truth, another tool)")
    if unsaved:
        covered.append(f"the model results of {unsaved} image(s), not saved yet, if ticked below")
    left = len(docs) - corrected - foreign - unsaved
    text = f"Of the {len(docs)} image(s), the report covers " + ", ".join(covered) + "."
    if left:
        text += f" {left} image(s) without labels are left out."
    dirty = [d.name for d in docs if d.is_dirty]
    if dirty:
        text += f" {', '.join(dirty)}: unsaved edits are not included; save them first (Ctrl+S)."
    return text


@dataclass(frozen=True)
class ExportRequest:
    """Everything ``write_report`` needs, chosen by the user."""

    labels_dir: Path
    out_dir: Path
    images_dir: Path | None = None
    truth_dir: Path | None = None
    px_per_mm: float | None = None
    include_unsaved: bool = False  # the model results not saved yet


class OpenChoice(enum.Enum):
    REPORT = "report"
    FOLDER = "folder"
    NOTHING = "nothing"


class ExportDialog(QDialog):
    """Report folder and ground truth; shows the scale and what will be reported."""

    def __init__(
        self, labels_dir: Path, images_dir: Path, px_per_mm: float | None, notes: str,
        out_dir: Path, unsaved: int = 0, parent=None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export report")
        self._labels_dir, self._images_dir, self._px_per_mm = labels_dir, images_dir, px_per_mm
        self.out_edit = QLineEdit(str(out_dir))
        self.unsaved_box = QCheckBox(f"Include the model results of {unsaved} image(s) that are not saved yet")
        self.unsaved_box.setToolTip("They are reported as they are now; nothing is saved into the photos' folder")
        self.unsaved_box.setChecked(unsaved > 0)
        self.unsaved_box.setVisible(unsaved > 0)
        self.truth_edit = QLineEdit()
        self.truth_edit.setPlaceholderText("none: counts and traits only")
        self.truth_edit.setToolTip("A folder of ground-truth <name>_label.png: adds DiC / |DiC| / SBD / FBD and report.html")
        scale = (f"{px_per_mm:.3g} px per mm: areas also in mm²" if px_per_mm
                 else "not set (Tools ▸ Set scale…): areas in pixels only")
        grid = QGridLayout()
        for row, (text, edit) in enumerate((("Report folder", self.out_edit), ("Ground truth", self.truth_edit))):
            grid.addWidget(QLabel(text), row, 0)
            grid.addWidget(edit, row, 1)
            browse = QPushButton("Browse…")
            browse.clicked.connect(lambda _=False, e=edit: self._browse(e))
            grid.addWidget(browse, row, 2)
        grid.addWidget(QLabel("Scale"), 2, 0)
        grid.addWidget(QLabel(scale), 2, 1, 1, 2)
        grid.setColumnMinimumWidth(1, 380)
        info = QLabel(notes)
        info.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(info)
        layout.addWidget(self.unsaved_box)
        layout.addWidget(buttons)

    def request(self) -> ExportRequest:
        truth = self.truth_edit.text().strip()
        return ExportRequest(
            labels_dir=self._labels_dir,
            out_dir=Path(self.out_edit.text().strip()),
            images_dir=self._images_dir,
            truth_dir=Path(truth) if truth else None,
            px_per_mm=self._px_per_mm,
            include_unsaved=not self.unsaved_box.isHidden() and self.unsaved_box.isChecked(),
        )

    def _browse(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text() or str(self._labels_dir))
        if folder:
            edit.setText(folder)


def ask_open_report(parent: QWidget | None, summary: ReportSummary) -> OpenChoice:
    """Say what was written; offer to open the HTML report (if any) or the folder."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Information)
    box.setWindowTitle("Report written")
    box.setText(f"Report on {summary.n_images} image(s) written to {summary.out_dir}.")
    names = ", ".join(path.name for path in summary.files)
    notes = [names]
    if summary.missing_images:
        notes.append(f"No photo found for: {', '.join(summary.missing_images)}")
    notes += [f"{problem}: its labels are reported without it." for problem in summary.unreadable_sidecars]
    box.setInformativeText("\n".join(notes))
    Button = QMessageBox.StandardButton
    buttons = Button.Yes | Button.Close
    has_html = any(path.suffix == ".html" for path in summary.files)
    if has_html:
        buttons |= Button.Open
    box.setStandardButtons(buttons)
    box.button(Button.Yes).setText("Show folder")
    if has_html:
        box.button(Button.Open).setText("Open report")
    box.setDefaultButton(Button.Open if has_html else Button.Yes)
    answer = Button(box.exec())
    return {Button.Open: OpenChoice.REPORT, Button.Yes: OpenChoice.FOLDER}.get(answer, OpenChoice.NOTHING)


class Exporter(QObject):
    """Runs one report at a time, with a cancellable progress dialog."""

    busy_changed = Signal(bool)
    finished = Signal(object)  # ReportSummary
    cancelled = Signal()
    message = Signal(str)  # for the status bar

    def __init__(self, session: FolderSession, parent_widget: QWidget) -> None:
        super().__init__(parent_widget)
        self.session, self._window = session, parent_widget
        self.runner = JobRunner(self)
        self.progress: QProgressDialog | None = None

    @property
    def is_busy(self) -> bool:
        return self.progress is not None

    def ask(self) -> None:
        """The export dialog for the open folder; exports when the user accepts."""
        folder = self.session.folder
        if folder is None or self.is_busy:
            return
        try:
            px_per_mm = read_folder_scale(folder)
        except ConfigError as exc:  # a damaged settings file: report it, export in pixels
            show_error(self._window, exc)
            px_per_mm = None
        labels_dir = self.session.out_dir or folder
        docs = self.session.docs
        unsaved = sum(doc.status is ImageStatus.MODEL for doc in docs)
        dialog = ExportDialog(labels_dir, folder, px_per_mm, export_notes(docs), default_report_dir(folder),
                              unsaved, self._window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.export(dialog.request())

    def export(self, request: ExportRequest) -> None:
        if self.is_busy:
            return
        unsaved = [
            UnsavedLabels(doc.path, doc.packed_labels(), doc.file_shape, doc.sidecar_meta())
            for doc in self.session.docs if request.include_unsaved and doc.status is ImageStatus.MODEL
        ]

        def job(cancel, emit):
            return write_report_with_unsaved(
                request.labels_dir, request.out_dir, unsaved, images_dir=request.images_dir,
                truth_dir=request.truth_dir, px_per_mm=request.px_per_mm,
                on_progress=lambda done, total: emit((done, total)), cancel=cancel)

        worker = Worker(job, "report")
        self.progress = QProgressDialog("Measuring the leaves of every image…", "Cancel", 0, 0, self._window)
        self.progress.setWindowTitle("Export report")
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.canceled.connect(self.runner.cancel)  # the worker's own thread is busy: set its token from here
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_finished)
        worker.cancelled.connect(self._on_cancelled)
        worker.failed.connect(self._on_failed)
        self.runner.start(worker)
        self.progress.show()
        self.busy_changed.emit(True)

    def shutdown(self) -> bool:
        return self.runner.shutdown()

    def _close_progress(self) -> None:
        self.progress.close()
        self.progress.deleteLater()
        self.progress = None
        self.busy_changed.emit(False)

    @Slot(object)
    def _on_progress(self, progress: tuple[int, int]) -> None:
        done, total = progress
        dialog = self.progress
        if dialog is None:
            return
        dialog.setMaximum(total)
        dialog.setLabelText(f"Measuring the leaves: {done} of {total} image(s)…")
        # Last: a window-modal dialog's setValue processes events, so the export's end can
        # be handled inside it and close the dialog (it is deleted later, not now).
        dialog.setValue(done)

    @Slot(object)
    def _on_finished(self, summary: ReportSummary) -> None:
        self._close_progress()
        settings().setValue(LAST_FOLDER_KEY, str(summary.out_dir.absolute().parent))
        self.finished.emit(summary)
        self.message.emit(f"Report written to {summary.out_dir}")
        choice = ask_open_report(self._window, summary)
        html = summary.out_dir / "report.html"
        if choice is OpenChoice.REPORT:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(html)))
        elif choice is OpenChoice.FOLDER:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(summary.out_dir)))

    @Slot()
    def _on_cancelled(self) -> None:
        self._close_progress()
        self.cancelled.emit()
        self.message.emit("Export cancelled; no file written.")

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        self._close_progress()
        show_error(self._window, exc)
