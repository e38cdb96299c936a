"""The side list of the folder's images: thumbnail, status and leaf count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from leafcount.gui.document import ImageStatus

THUMBNAIL_SIZE = 72

STATUS_COLORS = {
    ImageStatus.NOT_SEGMENTED: "#757575",
    ImageStatus.MODEL: "#1565c0",
    ImageStatus.EDITED: "#e65100",
    ImageStatus.SAVED: "#2e7d32",
    ImageStatus.LABEL_FILE: "#6a1b9a",
}


class ImageListView(QListWidget):
    """One row per image; arrow keys move through it."""

    image_chosen = Signal(int)  # row

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self.setMinimumWidth(230)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._rows: dict[Path, int] = {}
        self._placeholder = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        self._placeholder.fill(QColor("#3a3a3a"))
        self.currentRowChanged.connect(self._on_current_row_changed)

    def set_images(self, paths: list[Path]) -> None:
        self.blockSignals(True)
        self.clear()
        self._rows = {path: row for row, path in enumerate(paths)}
        for path in paths:
            item = QListWidgetItem(QIcon(self._placeholder), path.name)
            item.setToolTip(str(path))
            self.addItem(item)
        self.blockSignals(False)

    def set_row_silently(self, row: int) -> None:
        """Select a row without announcing it (to undo a cancelled switch)."""
        self.blockSignals(True)
        self.setCurrentRow(row)
        self.blockSignals(False)

    def set_thumbnail(self, path: Path, thumbnail: np.ndarray) -> None:
        row = self._rows.get(path)
        if row is None:
            return
        rgb = np.ascontiguousarray(thumbnail[..., :3])
        height, width = rgb.shape[:2]
        image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        self.item(row).setIcon(QIcon(QPixmap.fromImage(image)))

    def set_status(self, row: int, status: ImageStatus, leaf_count: int | None) -> None:
        item = self.item(row)
        if item is None:
            return
        name = Path(item.toolTip()).name
        count = "" if leaf_count is None else f" · {leaf_count} leaves"
        item.setText(f"{name}\n{status.value}{count}")
        item.setForeground(QBrush(QColor(STATUS_COLORS[status])))

    def _on_current_row_changed(self, row: int) -> None:
        if row >= 0:
            self.image_chosen.emit(row)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(260, 400)

