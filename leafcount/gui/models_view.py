"""The model list: the shipped model and every fine-tuned checkpoint, to switch or roll back."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from leafcount.errors import CheckpointError
from leafcount.model.checkpoint import CheckpointInfo

COLUMNS = ("Model", "SBD", "Parent", "Created")  # the most telling first: the dock is narrow
SBD_TIP = ("Fine-tuned: SBD on the held-out images, and its parent's on the same images.\n"
           "Others: SBD on the validation images of their own training (val.).")


def local_time(iso: str) -> str:
    """An ISO 8601 time as ``YYYY-mm-dd HH:MM`` in local time ("" if unreadable)."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return ""


def sbd_text(meta: dict) -> str:
    """A checkpoint's validation SBD: on the held-out images beside its parent's for a
    fine-tune, else on the validation images of its own training ("val.")."""
    metrics, baseline = meta.get("metrics") or {}, meta.get("baseline_metrics") or {}
    if "sbd" not in metrics:
        return ""
    text = f"{100 * metrics['sbd']:.1f} %"
    return f"{text} (parent {100 * baseline['sbd']:.1f})" if "sbd" in baseline else f"{text} (val.)"


class ModelsView(QWidget):
    """Lists checkpoints; emits the one the user picks (double click or "Use this model")."""

    model_chosen = Signal(object)  # Path

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Segment with the selected checkpoint from now on (switch or roll back)")
        self.note = QLabel("The shipped model is never overwritten; every fine-tune adds a new checkpoint.")
        self.note.setWordWrap(True)
        self._current: Path | None = None
        self._switch_allowed = True
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, stretch=1)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._choose(item))
        self.tree.currentItemChanged.connect(lambda *_: self._update_button())
        self.use_button.clicked.connect(lambda: self._choose(self.tree.currentItem()))
        self._update_button()

    def set_models(
        self,
        models: list[CheckpointInfo],
        broken: list[CheckpointError],
        current: Path | None,
        shipped: Path | None,
    ) -> None:
        """Show ``models`` (then unreadable files, greyed); mark the one in use."""
        self._current = current
        self.tree.clear()
        for info in models:
            meta = info.meta
            name = info.name + ("  (shipped)" if info.path == shipped else "")
            item = QTreeWidgetItem(
                [name, sbd_text(meta), str(meta.get("parent", "")), local_time(str(meta.get("created", "")))]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, info.path)
            item.setToolTip(0, f"{info.path}\n{json.dumps(_summary(meta), indent=1)}")
            item.setToolTip(1, SBD_TIP)
            if info.path == current:
                item.setText(0, f"● {name}")
                font = QFont(item.font(0))
                font.setBold(True)
                for col in range(len(COLUMNS)):
                    item.setFont(col, font)
            self.tree.addTopLevelItem(item)
            if info.path == current:
                self.tree.setCurrentItem(item)
        for error in broken:
            item = QTreeWidgetItem([error.path.name if error.path else "?", "unreadable", "", ""])
            item.setToolTip(0, str(error))
            item.setForeground(0, QBrush(QColor("#9e9e9e")))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(item)
        for col in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(col)
        self._update_button()

    def paths(self) -> list[Path]:
        items = (self.tree.topLevelItem(row) for row in range(self.tree.topLevelItemCount()))
        return [path for item in items if (path := item.data(0, Qt.ItemDataRole.UserRole)) is not None]

    def selected_path(self) -> Path | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, path: Path) -> None:
        for row in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(row)
            if item.data(0, Qt.ItemDataRole.UserRole) == path:
                self.tree.setCurrentItem(item)

    def set_switch_allowed(self, allowed: bool) -> None:
        """False while the model is segmenting."""
        self._switch_allowed = allowed
        self._update_button()

    def _choose(self, item: QTreeWidgetItem | None) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if path is not None and path != self._current and self._switch_allowed:
            self.model_chosen.emit(path)

    def _update_button(self) -> None:
        path = self.selected_path()
        self.use_button.setEnabled(self._switch_allowed and path is not None and path != self._current)


def _summary(meta: dict) -> dict:
    """The metadata worth a tooltip (not the long training configuration)."""
    training = {k: v for k, v in (meta.get("training") or {}).items() if k != "train_config"}
    keep = ("parent", "data", "data_summary", "metrics", "baseline_metrics", "note")
    return {**{k: meta[k] for k in keep if k in meta}, **({"training": training} if training else {})}
