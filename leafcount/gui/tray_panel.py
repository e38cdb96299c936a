"""The Tray panel: layout, plant detection, adding and removing plants, the plant table."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

HELP = ("Click a plant (here or in the photo) to watch its steps. Drag a box's top-left corner "
        "to move it, its bottom-right corner to resize it.")


class TrayPanel(QWidget):
    """Shows the plants of the tray image; emits what the user asks for."""

    detect_clicked = Signal()
    segment_clicked = Signal()
    remove_clicked = Signal()
    plant_chosen = Signal(int)  # position in the table

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.grid_edit = QLineEdit()
        self.grid_edit.setPlaceholderText("auto or 4x5")
        self.grid_edit.setToolTip("The tray's layout as rows x columns (4x5); empty: found from the plants")
        self.detect_button = QPushButton("Detect plants")
        self.add_button = QPushButton("Add plant")
        self.add_button.setCheckable(True)
        self.add_button.setToolTip("Then click the centre of a plant the detection missed")
        self.remove_button = QPushButton("Remove plant")
        self.remove_button.setToolTip("Remove the chosen plant's box (its leaves stay)")
        self.segment_button = QPushButton("Segment tray")
        self.segment_button.setToolTip("Find the leaves of every plant, one plant after another (Ctrl+R)")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Plant", "Leaves"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        help_label = QLabel(HELP)
        help_label.setWordWrap(True)
        help_label.setEnabled(False)  # greyed: a hint, not a control

        grid = QGridLayout()
        grid.addWidget(QLabel("Layout"), 0, 0)
        grid.addWidget(self.grid_edit, 0, 1)
        grid.addWidget(self.detect_button, 0, 2)
        grid.addWidget(self.add_button, 1, 0, 1, 2)
        grid.addWidget(self.remove_button, 1, 2)
        grid.addWidget(self.segment_button, 2, 0, 1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(help_label)

        self.detect_button.clicked.connect(self.detect_clicked)
        self.segment_button.clicked.connect(self.segment_clicked)
        self.remove_button.clicked.connect(self.remove_clicked)
        self.table.currentCellChanged.connect(lambda row, *_: row >= 0 and self.plant_chosen.emit(row))

    def grid_text(self) -> str:
        return self.grid_edit.text().strip()

    def set_plants(self, names: list[str], counts: list[int | None], chosen: int | None) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(""))
        self.table.blockSignals(False)
        self.set_counts(counts)
        self.set_chosen(chosen)

    def set_counts(self, counts: list[int | None]) -> None:
        for row, count in enumerate(counts):
            item = self.table.item(row, 1)
            if item is not None:
                item.setText("" if count is None else str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        known = [c for c in counts if c is not None]
        plants = f"{len(counts)} plant(s)"
        self.summary.setText(f"{plants}, {sum(known)} leaves in all." if known else f"{plants}; not segmented yet.")

    def set_chosen(self, chosen: int | None) -> None:
        self.table.blockSignals(True)
        if chosen is None:
            self.table.clearSelection()
            self.table.setCurrentCell(-1, -1)
        else:
            self.table.setCurrentCell(chosen, 0)
        self.table.blockSignals(False)
        self.remove_button.setEnabled(chosen is not None)

    def set_enabled_for(self, has_model: bool, busy: bool) -> None:
        self.segment_button.setEnabled(has_model and not busy and self.table.rowCount() > 0)
        for widget in (self.detect_button, self.add_button, self.grid_edit):
            widget.setEnabled(not busy)
