"""The side list of the folder's images: thumbnail, status and leaf count.

An image whose files cannot be used (an unreadable photo, label PNG or
sidecar, a failed Segment all) keeps its row, with a warning sign on its
thumbnail and the reason in its tooltip, so one bad file is named where it
is and the rest of the folder stays usable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle

from leafcount.editing.document import ImageStatus

THUMBNAIL_SIZE = 72
BADGE_SIZE = 26
PATH_ROLE = Qt.ItemDataRole.UserRole

STATUS_COLORS = {
    ImageStatus.NOT_SEGMENTED: "#757575",
    ImageStatus.MODEL: "#1565c0",
    ImageStatus.EDITED: "#e65100",
    ImageStatus.SAVED: "#2e7d32",
    ImageStatus.LABEL_FILE: "#6a1b9a",
    ImageStatus.UNREADABLE_IMAGE: "#c62828",
    ImageStatus.UNREADABLE_CORRECTION: "#c62828",
    ImageStatus.FAILED: "#c62828",
}


class ImageListView(QListWidget):
    """One row per image; arrow keys move through it."""

    image_chosen = Signal(int)  # row

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self.setMinimumWidth(200)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._rows: dict[Path, int] = {}
        self._thumbnails: dict[int, QPixmap] = {}
        self._problems: dict[int, str] = {}
        self._placeholder = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        self._placeholder.fill(QColor("#3a3a3a"))
        self.currentRowChanged.connect(self._on_current_row_changed)

    def set_images(self, paths: list[Path]) -> None:
        self.blockSignals(True)
        self.clear()
        self._rows = {path: row for row, path in enumerate(paths)}
        self._thumbnails, self._problems = {}, {}
        for path in paths:
            item = QListWidgetItem(QIcon(self._placeholder), path.name)
            item.setData(PATH_ROLE, path)
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
        self._thumbnails[row] = QPixmap.fromImage(image)
        self._update_icon(row)

    def set_status(self, row: int, status: ImageStatus, leaf_count: int | None, problem: str = "") -> None:
        """``problem``: what is wrong with the image's files, shown in its tooltip ('' when nothing)."""
        item = self.item(row)
        if item is None:
            return
        path = item.data(PATH_ROLE)
        count = "" if leaf_count is None else f" · {leaf_count} leaves"
        item.setText(f"{path.name}\n{status.value}{count}")
        item.setForeground(QBrush(QColor(STATUS_COLORS[status])))
        item.setToolTip(f"{path}\n{problem}" if problem else str(path))
        if bool(problem) != bool(self._problems.get(row)):
            self._problems[row] = problem
            self._update_icon(row)

    def _update_icon(self, row: int) -> None:
        """The thumbnail (or its placeholder), with a warning sign when the row has a problem."""
        pixmap = self._thumbnails.get(row, self._placeholder)
        if self._problems.get(row):
            pixmap = pixmap.copy()
            badge = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(BADGE_SIZE)
            painter = QPainter(pixmap)
            painter.drawPixmap(pixmap.width() - badge.width(), pixmap.height() - badge.height(), badge)
            painter.end()
        self.item(row).setIcon(QIcon(pixmap))

    def _on_current_row_changed(self, row: int) -> None:
        if row >= 0:
            self.image_chosen.emit(row)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(260, 400)

