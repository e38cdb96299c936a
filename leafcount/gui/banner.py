"""A one-line notice above the canvas (the demo photos are open, tray mode is on)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton


class Banner(QFrame):
    """Hidden until a notice is shown; the user can close it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # A palette, not a style sheet: style-sheet widgets can crash Qt at interpreter exit.
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("#263238"))
        palette.setColor(QPalette.ColorRole.WindowText, QColor("#e0f2f1"))
        self.setPalette(palette)
        self.setAutoFillBackground(True)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        close = QToolButton()
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setAutoRaise(True)
        close.setToolTip("Hide this notice")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 5, 4, 5)
        layout.addWidget(self.label, stretch=1)
        layout.addWidget(close)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()
