"""Status bar: model, image size, scale, leaf count, cursor and leaf under it, job progress."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar


class StatusBar(QStatusBar):
    cancel_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model_label = QLabel("no model")
        self.image_label = QLabel("")
        self.scale_label = QLabel("")
        self.scale_label.setToolTip("Pixels per millimetre of this folder's photos (Tools ▸ Set scale)")
        self.count_label = QLabel("")
        self.cursor_label = QLabel("")
        self.cursor_label.setMinimumWidth(190)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setFormat("%v / %m images")
        self.cancel_button = QPushButton("Cancel")
        for widget in (self.progress, self.cancel_button):
            widget.setVisible(False)
        for widget in (self.progress, self.cancel_button, self.cursor_label, self.count_label,
                       self.image_label, self.scale_label, self.model_label):
            self.addPermanentWidget(widget)
        self.cancel_button.clicked.connect(self.cancel_clicked)

    def set_model(self, name: str) -> None:
        self.model_label.setText(f"model: {name}" if name else "no model (File ▸ Load model…)")

    def set_image(self, shape: tuple[int, int] | None) -> None:
        self.image_label.setText(f"{shape[1]} × {shape[0]} px" if shape else "")

    def set_scale(self, px_per_mm: float | None) -> None:
        self.scale_label.setText(f"{px_per_mm:.3g} px/mm" if px_per_mm else "no scale")

    def set_leaf_count(self, count: int | None) -> None:
        self.count_label.setText("" if count is None else f"{count} leaves")

    def set_cursor(self, row: int, col: int, leaf: int, manual: bool) -> None:
        if leaf < 0:
            self.cursor_label.setText("")
            return
        where = f"x {col}, y {row}"
        what = "background" if leaf == 0 else f"leaf {leaf}" + (" (hand-edited)" if manual else "")
        self.cursor_label.setText(f"{where}: {what}")

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)

    def hide_progress(self) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
