"""The Timeline panel: a plant's dates side by side, one leaf followed through them.

When the open folder holds a series (``<plant>_<date>`` names), the panel
lists its plants with their dates; choosing one reads and links its dates on
a worker (:func:`leafcount.series.timeline.plant_timeline`), then shows a
thumbnail per date and, beside them, the area curve of the selected leaf.
Clicking a leaf on any date selects it: it keeps its colour on every date
while the other leaves fade, and its curve is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QDockWidget, QHBoxLayout, QLabel, QMainWindow, QVBoxLayout, QWidget
from skimage.segmentation import find_boundaries

from leafcount.data.cvppp import label_colors
from leafcount.gui.errors import show_error
from leafcount.gui.session import FolderSession
from leafcount.gui.workers import JobRunner, Worker
from leafcount.series.export import export_series
from leafcount.series.naming import SeriesImage
from leafcount.series.timeline import PlantTimeline, plant_timeline, series_plants

_DIMMED = 0.5  # brightness of everything but the selected leaf


def highlighted(photo: np.ndarray, labels: np.ndarray, selected: int) -> np.ndarray:
    """The photo with the leaves in their label colours (uint8); with a ``selected`` leaf, the
    rest dimmed and that leaf outlined, so it stands out on every date."""
    colours = label_colors(int(labels.max(initial=0))).astype(np.float32) / 255.0
    leaves = labels > 0
    if not selected:
        out = photo.copy()
        out[leaves] = 0.55 * out[leaves] + 0.45 * colours[labels[leaves]]
        return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
    out = photo * _DIMMED
    chosen = labels == selected
    out[chosen] = 0.5 * photo[chosen] + 0.5 * colours[selected]
    out[find_boundaries(chosen, mode="inner")] = colours[selected]
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


class TimelineView(QWidget):
    """Plant chooser, date thumbnails and the selected leaf's area curve."""

    leaf_selected = Signal(int)  # a track id; 0 for none
    series_found = Signal(bool)  # after a folder is read: whether it holds a series

    def __init__(self, session: FolderSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner(self)
        self.plants: dict[str, list[SeriesImage]] = {}
        self.timeline: PlantTimeline | None = None
        self.selected = 0
        self._items: list[pg.ImageItem] = []

        self.plant_choice = QComboBox()
        self.plant_choice.currentIndexChanged.connect(self._on_plant_chosen)
        self.caption = QLabel("Open a folder of <plant>_<date> photos to follow its leaves over time.")
        self.dates_view = pg.GraphicsLayoutWidget()
        self.dates_view.setBackground("w")
        self.area_plot = pg.PlotWidget(background="w")
        self.area_plot.setLabel("left", "leaf area (px)")
        self.area_plot.setLabel("bottom", "date")
        self.area_plot.showGrid(x=True, y=True, alpha=0.3)
        self.area_plot.setMinimumWidth(260)

        top = QHBoxLayout()
        top.addWidget(QLabel("Plant:"))
        top.addWidget(self.plant_choice, 1)
        top.addWidget(self.caption, 3)
        body = QHBoxLayout()
        body.addWidget(self.dates_view, 3)
        body.addWidget(self.area_plot, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        session.folder_opened.connect(self._on_folder_opened)
        session.labels_saved.connect(self._on_labels_saved)
        self.dates_view.scene().sigMouseClicked.connect(self._on_clicked)

    def show_folder(self, folder: Path) -> None:
        """List the folder's plants with their dates (none: the panel says it holds no series)."""
        self.plants = series_plants(folder)
        self.plant_choice.blockSignals(True)
        self.plant_choice.clear()
        for plant, images in self.plants.items():
            self.plant_choice.addItem(f"{plant} ({len(images)} dates)", plant)
        self.plant_choice.blockSignals(False)
        self.series_found.emit(bool(self.plants))
        if not self.plants:
            self._show(None)
            self.caption.setText("This folder holds no time series (no <plant>_<date> photos of a plant on two dates).")
            return
        self._on_plant_chosen(0)

    def select_leaf(self, track: int) -> None:
        """Highlight leaf ``track`` on every date and draw its area curve."""
        self.selected = track
        self._redraw_dates()
        self._redraw_curve()
        self.leaf_selected.emit(track)

    @Slot(object)
    def export_series(self, report) -> None:
        """After File > Export wrote ``report`` (a ReportSummary): tracks and growth of the series beside it."""
        folder = self.session.folder
        if folder is None or not self.plants:
            return
        worker = Worker(lambda cancel, emit: export_series(folder, report.out_dir), "series export")
        worker.failed.connect(self._on_failed)
        self.runner.start(worker)

    def shutdown(self) -> bool:
        return self.runner.shutdown()

    @Slot(object)
    def _on_folder_opened(self, _paths) -> None:
        if self.session.folder is not None:
            self.show_folder(self.session.folder)

    @Slot(int)
    @Slot(object)
    def _on_labels_saved(self, path: Path) -> None:
        """A saved correction of one of the shown plant's dates re-links its
        tracks, so a leaf split, merged or deleted there carries into them."""
        plant = self.plant_choice.currentData()
        if plant is not None and any(image.path == Path(path) for image in self.plants.get(plant, ())):
            self._on_plant_chosen(self.plant_choice.currentIndex())

    def _on_plant_chosen(self, index: int) -> None:
        plant = self.plant_choice.itemData(index)
        if plant is None:
            return
        images, labels_dir = self.plants[plant], self.session.out_dir
        self.runner.cancel()
        self.caption.setText(f"Reading the {len(images)} dates of {plant}…")
        worker = Worker(lambda cancel, emit: plant_timeline(plant, images, labels_dir), "timeline")
        worker.returned.connect(self._on_timeline_ready)
        worker.failed.connect(self._on_failed)
        self.runner.start(worker)

    @Slot(object)
    def _on_timeline_ready(self, timeline: PlantTimeline) -> None:
        if timeline.plant != self.plant_choice.currentData():
            return  # the user chose another plant meanwhile
        self._show(timeline)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        show_error(self, exc)

    def _show(self, timeline: PlantTimeline | None) -> None:
        self.timeline, self.selected = timeline, 0
        self.dates_view.clear()
        self._items = []
        if timeline is not None:
            unsaved = sum(not date.has_labels for date in timeline.dates)
            self.caption.setText(
                f"{len(timeline.areas)} leaves over {len(timeline.dates)} dates; click a leaf to follow it"
                + (f" ({unsaved} date(s) without saved labels)" if unsaved else ""))
            for column, date in enumerate(timeline.dates):
                view = self.dates_view.addViewBox(row=1, col=column, lockAspect=True, invertY=True,
                                                  enableMouse=False)
                title = date.image.time.strftime("%b %d") + ("" if date.has_labels else " (no labels)")
                caption = self.dates_view.addLabel(title, row=0, col=column, color="#333")
                caption.setMaximumHeight(24)
                item = pg.ImageItem()
                view.addItem(item)
                self._items.append(item)
        self._redraw_dates()
        self._redraw_curve()

    def _redraw_dates(self) -> None:
        if self.timeline is None:
            return
        for item, date in zip(self._items, self.timeline.dates):
            item.setImage(highlighted(date.photo, date.labels, self.selected), levels=(0, 255))
            item.getViewBox().autoRange(padding=0.02)

    def _redraw_curve(self) -> None:
        self.area_plot.clear()
        if self.timeline is None or not self.selected:
            self.area_plot.setTitle("")
            return
        by_date = self.timeline.areas.get(self.selected, {})
        days = [(self.timeline.times[i] - self.timeline.times[0]).total_seconds() / 86400 for i in sorted(by_date)]
        colour = tuple(int(c) for c in label_colors(self.selected)[self.selected])
        self.area_plot.plot(days, [by_date[i] for i in sorted(by_date)], pen=pg.mkPen(colour, width=2),
                            symbol="o", symbolBrush=colour, symbolPen=None)
        self.area_plot.setYRange(0, 1.1 * max(by_date.values(), default=1))
        self.area_plot.setTitle(f"leaf {self.selected}", color="#333")
        self.area_plot.setLabel("bottom", f"days since {self.timeline.times[0]:%b %d}")

    def leaf_at(self, scene_pos) -> int | None:
        """The track id under a scene position (0 on background); None off every date."""
        if self.timeline is None:
            return None
        for item, date in zip(self._items, self.timeline.dates):
            if not item.getViewBox().sceneBoundingRect().contains(scene_pos):
                continue
            point = item.mapFromScene(scene_pos)
            row, col = int(np.floor(point.y())), int(np.floor(point.x()))
            inside = 0 <= row < date.labels.shape[0] and 0 <= col < date.labels.shape[1]
            return int(date.labels[row, col]) if inside else 0
        return None

    def _on_clicked(self, event) -> None:
        track = self.leaf_at(event.scenePos())
        if track is not None:
            self.select_leaf(track)


def install_timeline(window: QMainWindow, session: FolderSession) -> TimelineView:
    """The panel in a bottom dock of ``window``, following the session's folder;
    shown when a folder holds a series (a folder of unrelated photos keeps the
    canvas tall), and always at hand in the dock's own toggle."""
    view = TimelineView(session, window)
    dock = QDockWidget("Timeline", window)
    dock.setObjectName("timeline_dock")
    dock.setWidget(view)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    view.series_found.connect(dock.setVisible)
    return view
