"""The main window: builds the views and wires them to the session and the model."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QSlider,
    QSpinBox,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from leafcount.data.cvppp import label_path_for
from leafcount.gui import prompts
from leafcount.gui.actions import WindowActions
from leafcount.gui.banner import Banner
from leafcount.gui.canvas import Canvas
from leafcount.gui.docks import add_docks
from leafcount.gui.document import ImageDoc
from leafcount.gui.editor import Editor
from leafcount.gui.errors import show_error
from leafcount.gui.exporter import Exporter
from leafcount.gui.fine_tune_panel import FineTunePanel
from leafcount.gui.fine_tuner import FineTuner
from leafcount.gui.image_list import ImageListView
from leafcount.gui.model_runs import ModelRuns
from leafcount.gui.models_view import ModelsView
from leafcount.gui.navigator import Navigator
from leafcount.gui.scale_tool import ScaleTool
from leafcount.gui.segmenter import Segmenter
from leafcount.gui.session import FolderSession
from leafcount.gui.status_bar import StatusBar
from leafcount.gui.step_controller import StepController
from leafcount.gui.step_view import StepView
from leafcount.gui.timeline import install_timeline
from leafcount.gui.tray_controller import TrayController
from leafcount.gui.tray_panel import TrayPanel
from leafcount.inference.crf import is_crf_available


class MainWindow(QMainWindow):
    def __init__(self, *, look_only: bool = False) -> None:
        """``look_only``: an unattended run (``--screenshot``) that asks nothing and
        writes nothing into the folder: no autosave, recovery copies left alone,
        its own model results dropped on leaving."""
        super().__init__()
        self.setWindowTitle("leafcount[*]")
        self.resize(1500, 950)
        self.look_only = look_only
        self.session = FolderSession(self, writes_files=not look_only)
        self.segmenter = Segmenter(self)
        self.actions = WindowActions(self, self.session.undo_group)
        self.canvas = Canvas()
        self.editor = Editor(self.canvas, self.actions, self)
        self.image_list = ImageListView()
        self.step_view = StepView()
        self.history = QUndoView(self.session.undo_group)
        self.history.setEmptyLabel("opened")
        self.status = StatusBar()
        self.banner = Banner()
        self._title_note = ""  # e.g. " (demo photos)"
        self._watched: ImageDoc | None = None
        self.steps = StepController(self.segmenter, self.step_view, self.canvas, self)
        self.fine_tune_panel = FineTunePanel()
        self.models_view = ModelsView()
        self.fine_tuner = FineTuner(self.session, self.segmenter, self.fine_tune_panel, self.models_view, self)
        self.exporter = Exporter(self.session, self)
        self.timeline = install_timeline(self, self.session)
        self.exporter.finished.connect(self.timeline.export_series)
        self.scale_tool = ScaleTool(self.canvas, self.session, self.actions, self)
        self.tray_panel = TrayPanel()
        self.trays = TrayController(
            self.session, self.segmenter, self.canvas, self.steps, self.tray_panel, self.actions.tray_mode, self
        )
        self.navigator = Navigator(self.session, self.image_list, self.status, self.save, self, look_only=look_only)
        self.runs = ModelRuns(self.session, self.segmenter, self.steps, self.trays, self.actions, self.status, self)
        self._build_layout()
        self._connect()
        self._on_model_changed(None)
        self._on_current_changed(None)
        self.setAcceptDrops(True)

    @property
    def doc(self) -> ImageDoc | None:
        return self.session.current

    # -- building -------------------------------------------------------------

    def _build_layout(self) -> None:
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.canvas, stretch=1)
        self.setCentralWidget(centre)
        self.setStatusBar(self.status)
        self.docks = add_docks(self, self.image_list, self.tray_panel, self.step_view, self.history,
                               self.fine_tune_panel, self.models_view)
        self.actions.build_menus(self, [dock.toggleViewAction() for dock in self.docks.all()])
        _, edit_bar = self.actions.build_toolbars(self)
        self.brush_box = QSpinBox()
        self.brush_box.setRange(0, 500)
        self.brush_box.setValue(int(self.canvas.brush_radius))
        self.brush_box.setSuffix(" px")
        self.brush_box.setToolTip("Brush radius ([ and ], or Ctrl + mouse wheel)")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setMaximumWidth(110)
        self.opacity_slider.setToolTip("Opacity of the filled leaf overlay (outlines stay opaque)")
        edit_bar.addSeparator()
        for widget in (QLabel(" Brush "), self.brush_box, QLabel("  Overlay "), self.opacity_slider):
            edit_bar.addWidget(widget)
        edit_bar.addAction(self.actions.outlines)
        if not is_crf_available():
            self.actions.crf.setEnabled(False)
            self.actions.crf.setToolTip("CRF refinement needs the pydensecrf2 package")

    def _connect(self) -> None:
        a, s = self.actions, self.session
        a.open_folder.triggered.connect(self.navigator.ask_folder)
        a.output_folder.triggered.connect(self.navigator.ask_output_folder)
        a.load_model.triggered.connect(self._on_load_model_action)
        a.save.triggered.connect(self.save)
        a.export.triggered.connect(self.exporter.ask)
        a.quit.triggered.connect(self.close)
        a.segment.triggered.connect(self.runs.segment)
        a.segment_all.triggered.connect(self.runs.segment_all)
        a.cancel.triggered.connect(self.segmenter.cancel)
        a.outlines.toggled.connect(self.canvas.set_outlines)
        a.show_kappa.toggled.connect(self.canvas.set_kappa_visible)
        a.fit.triggered.connect(self.canvas.fit)
        a.fine_tune.triggered.connect(lambda: self._show_dock(self.docks.fine_tune))
        a.models.triggered.connect(lambda: self._show_dock(self.docks.models))
        a.next_image.triggered.connect(lambda: self.navigator.step(1))
        a.previous_image.triggered.connect(lambda: self.navigator.step(-1))
        self.brush_box.valueChanged.connect(self.canvas.set_brush_radius)
        self.canvas.brush_radius_changed.connect(self._on_brush_radius_changed)
        self.opacity_slider.valueChanged.connect(lambda v: self.canvas.set_overlay_opacity(v / 100))
        self.canvas.cursor_moved.connect(self._on_cursor_moved)
        self.status.cancel_clicked.connect(self.segmenter.cancel)

        self.navigator.folder_shown.connect(self._on_folder_shown)
        s.current_changed.connect(self._on_current_changed)
        s.autosave_failed.connect(lambda exc: self.status.showMessage(f"Autosave failed: {exc}", 10_000))
        s.undo_group.cleanChanged.connect(lambda clean: self.setWindowModified(not clean))

        seg = self.segmenter
        seg.model_changed.connect(self._on_model_changed)
        self.actions.mirrored.toggled.connect(self.steps.set_mirrored)
        seg.busy_changed.connect(self._on_busy_changed)

        self.fine_tuner.switch_requested.connect(self.load_model)
        self.exporter.busy_changed.connect(lambda _busy: self._update_enabled())
        self.scale_tool.scale_changed.connect(self.status.set_scale)
        self.trays.active_changed.connect(self._on_tray_mode_changed)
        self.trays.plant_steps_shown.connect(lambda: self._show_dock(self.docks.steps))
        for helper in (self.fine_tuner, self.exporter, self.scale_tool, self.trays):
            helper.message.connect(lambda text: self.status.showMessage(text, 15_000))

    # -- folder and images ----------------------------------------------------

    def open_folder(self, folder: Path, select: Path | None = None, out_dir: Path | None = None) -> bool:
        """Open a folder (after the unsaved-changes question); False if cancelled or failed."""
        return self.navigator.open_folder(folder, select, out_dir)

    def open_demo(self, folder: Path, first: str = "") -> bool:
        """Open the bundled demo photos at image ``first`` and say so above the canvas."""
        if not self.open_folder(folder, select=folder / first if first else None):
            return False
        self._title_note = " (demo photos)"
        self._update_title()
        self.banner.show_message(
            "<b>Demo photos</b> bundled with leafcount (real rosettes and trays; sources in "
            "NOTICE.md). Press <b>Segment</b> to watch the model find the leaves one by one; "
            "a tray photo opens in <b>Tray mode</b>, one box per plant. Open your own photos with "
            "<b>File ▸ Open folder…</b>"
        )
        return True

    def _on_folder_shown(self) -> None:
        self._title_note = ""
        self.banner.hide()
        self._update_title()
        self._update_enabled()  # Segment all has images now, whether or not one could be opened

    def _on_current_changed(self, doc: ImageDoc | None) -> None:
        if self._watched is not None:
            for signal, slot in self._doc_links(self._watched):
                signal.disconnect(slot)
        self._watched = doc
        self.editor.set_doc(doc)
        self.canvas.set_image(doc.image if doc else None)
        if doc is not None:
            for signal, slot in self._doc_links(doc):
                signal.connect(slot)
            self.canvas.set_labels(doc.labels)
        self._update_title()
        self.steps.set_doc(doc)
        self.setWindowModified(bool(doc and doc.is_dirty))
        self.status.set_image(doc.image.shape[:2] if doc else None)
        self._update_counts()
        self._update_enabled()

    def _update_title(self) -> None:
        shown = self.doc.name if self.doc else self.session.folder.name if self.session.folder else ""
        self.setWindowTitle(f"leafcount — {shown}{self._title_note}[*]" if shown else "leafcount[*]")

    def _doc_links(self, doc: ImageDoc) -> list:
        return [
            (doc.labels_changed, self._on_labels_changed),
            (doc.status_changed, self._update_counts),
        ]

    def _on_labels_changed(self, box) -> None:
        if box is None:
            self.canvas.set_labels(self.doc.labels)
        else:
            self.canvas.update_labels(box)
        self._update_enabled()

    def _update_counts(self) -> None:
        self.status.set_leaf_count(self.doc.leaf_count if self.doc and self.doc.labels is not None else None)

    def _on_cursor_moved(self, row: int, col: int, leaf: int) -> None:
        manual = bool(self.doc) and leaf in self.doc.manual_ids
        self.status.set_cursor(row, col, leaf, manual)

    def _on_brush_radius_changed(self, radius: float) -> None:
        self.brush_box.blockSignals(True)
        self.brush_box.setValue(int(round(radius)))
        self.brush_box.blockSignals(False)

    # -- model ----------------------------------------------------------------

    def load_model(self, path: Path) -> bool:
        try:
            self.segmenter.load_model(Path(path))
        except Exception as exc:  # noqa: BLE001 - a bad checkpoint gets a dialog; the old model stays
            show_error(self, exc)
            return False
        return True

    def _on_load_model_action(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a model", "", "leafcount models (*.safetensors)")
        if path:
            self.load_model(Path(path))

    def _on_model_changed(self, info) -> None:
        self.status.set_model(info.name if info else "")
        self.actions.mirrored.setChecked(self.steps.config.flips > 1)  # the checkpoint's own setting
        self._update_enabled()

    def segment(self) -> None:
        self.runs.segment()

    def segment_all(self) -> None:
        self.runs.segment_all()

    def _on_busy_changed(self, busy: bool) -> None:
        self._update_enabled()
        self.actions.cancel.setEnabled(busy)

    def save(self) -> bool:
        doc = self.doc
        if doc is None or doc.labels is None:
            return False
        if doc.saved is not None and not doc.saved.is_leafcount:
            label_name = label_path_for(doc.path, doc.out_dir).name
            if not prompts.ask_replace_foreign_labels(self, label_name):
                return False
        try:
            path = self.session.save_current()
        except Exception as exc:  # noqa: BLE001 - e.g. read-only folder: dialog, edits kept
            show_error(self, exc)
            return False
        self.status.showMessage(f"Saved {path.name}", 5_000)
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt naming
        if not self.navigator.may_leave_current():
            event.ignore()
            return
        self.segmenter.shutdown()
        self.fine_tuner.shutdown()
        self.exporter.shutdown()
        self.timeline.shutdown()
        self.trays.shutdown()
        self.navigator.shutdown()
        self.session.close_current()
        event.accept()

    def _on_tray_mode_changed(self, active: bool) -> None:
        tray = self.docks.tray
        if active and not tray.isVisible():
            tray.show()
            self.resizeDocks([self.docks.images, tray], [300, 500], Qt.Orientation.Vertical)
        elif not active:
            tray.hide()

    def _show_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = Path(event.mimeData().urls()[0].toLocalFile())
        if path.is_dir():
            self.open_folder(path)
        elif path.is_file():
            self.open_folder(path.parent, select=path)

    def _update_enabled(self) -> None:
        doc, busy = self.doc, self.segmenter.is_busy
        has_model = self.segmenter.model is not None
        a = self.actions
        a.segment.setEnabled(doc is not None and has_model and not busy)
        a.segment_all.setEnabled(bool(self.session.docs) and has_model and not busy)
        a.load_model.setEnabled(not busy)
        a.save.setEnabled(doc is not None and doc.labels is not None)
        a.output_folder.setEnabled(self.session.folder is not None)
        a.export.setEnabled(self.session.folder is not None and not self.exporter.is_busy)
        self.models_view.set_switch_allowed(not busy)

