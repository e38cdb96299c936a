"""The "Train on corrections" panel: which images train and which are held out,
how long to train, and the run's live curves, progress and outcome."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from leafcount.finetune import FineTuneSettings, choose_held_out
from leafcount.gui.training_plots import TrainingPlots

LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
_DEFAULTS = FineTuneSettings()


def remaining_seconds(iteration: int, total: int, elapsed_s: float, limit_s: float) -> float:
    """Time left: the iteration budget at the pace so far, or the time limit if sooner."""
    left = limit_s - elapsed_s
    if iteration > 0:
        left = min(left, elapsed_s / iteration * (total - iteration))
    return max(0.0, left)


def clock(seconds: float) -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class FineTunePanel(QWidget):
    """Emits intents (start, stop); the FineTuner runs the job and feeds the results back."""

    start_clicked = Signal()
    stop_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.image_list = QListWidget()
        self.image_list.setToolTip("Ticked images are held out: the model never trains on them, they measure it")
        self.image_list.setMinimumHeight(60)
        self.auto_button = QPushButton("Choose held-out images automatically")
        self.base_edit = QLineEdit()
        self.base_edit.setReadOnly(True)
        self.base_edit.setPlaceholderText("none (optional)")
        self.base_edit.setToolTip("A labelled folder (CVPPP layout) whose images also train the model")
        browse = QPushButton("Browse…")
        clear = QPushButton("Clear")
        self.iterations_box = QSpinBox()
        self.iterations_box.setRange(1, 1_000_000)
        self.iterations_box.setValue(_DEFAULTS.iterations)
        self.minutes_box = QDoubleSpinBox()
        self.minutes_box.setRange(0.1, 24 * 60)
        self.minutes_box.setDecimals(1)
        self.minutes_box.setSuffix(" min")
        self.minutes_box.setValue(_DEFAULTS.minutes)
        self.val_every_box = QSpinBox()
        self.val_every_box.setRange(1, 100_000)
        self.val_every_box.setValue(_DEFAULTS.val_every)
        self.val_every_box.setSuffix(" it.")
        self.val_every_box.setToolTip("Score the held-out images every this many iterations")
        self.lr_box = QComboBox()
        for lr in LEARNING_RATES:
            self.lr_box.addItem(f"{lr:.0e}", lr)
        self.lr_box.setCurrentIndex(LEARNING_RATES.index(_DEFAULTS.lr))
        self.start_button = QPushButton("Start fine-tuning")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop now and keep the best checkpoint so far")
        self.progress = QProgressBar()
        self.progress_label = QLabel("")
        self.plots = TrainingPlots()
        self.outcome = QLabel("")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._has_model = False
        self._running = False

        form = QGridLayout()
        form.addWidget(QLabel("Also train on"), 0, 0)
        form.addWidget(self.base_edit, 0, 1, 1, 2)
        form.addWidget(browse, 0, 3)
        form.addWidget(clear, 0, 4)
        for row, pairs in enumerate(
            ((("Iterations", self.iterations_box), ("Time limit", self.minutes_box)),
             (("Score every", self.val_every_box), ("Learning rate", self.lr_box))),
            start=1,
        ):
            for col, (text, box) in zip((0, 2), pairs):
                form.addWidget(QLabel(text), row, col)
                form.addWidget(box, row, col + 1, 1, 1 if col == 0 else 2)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, stretch=1)
        buttons.addWidget(self.stop_button)
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.summary)
        column.addWidget(self.image_list, stretch=1)
        column.addWidget(self.auto_button)
        column.addLayout(form)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.progress_label)
        bottom = QWidget()
        results = QVBoxLayout(bottom)
        results.setContentsMargins(0, 0, 0, 0)
        results.addWidget(self.plots, stretch=1)
        results.addWidget(self.outcome)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([260, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.auto_button.clicked.connect(self.choose_automatically)
        self.image_list.itemChanged.connect(lambda _item: self._update_state())
        browse.clicked.connect(self._on_browse)
        clear.clicked.connect(lambda: self.set_base_folder(None))
        self.start_button.clicked.connect(self.start_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.progress.setVisible(False)
        self._update_state()

    # -- what to train on ------------------------------------------------------

    def set_images(self, images: list[tuple[str, str]]) -> None:
        """(file name, "corrected" / "label file") of every image with saved labels.

        Held-out ticks of images still listed are kept; with none ticked,
        a choice is made automatically.
        """
        kept = set(self.held_out())
        if [n for n, _ in images] == self._names():
            return
        self.image_list.blockSignals(True)
        self.image_list.clear()
        for name, kind in images:
            item = QListWidgetItem(f"{name}  ·  {kind}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in kept else Qt.CheckState.Unchecked)
            self.image_list.addItem(item)
        self.image_list.blockSignals(False)
        if not self.held_out():
            self.choose_automatically()
        self._update_state()

    def choose_automatically(self) -> None:
        chosen = set(choose_held_out(self._names()))
        self.image_list.blockSignals(True)
        for row in range(self.image_list.count()):
            item = self.image_list.item(row)
            held = item.data(Qt.ItemDataRole.UserRole) in chosen
            item.setCheckState(Qt.CheckState.Checked if held else Qt.CheckState.Unchecked)
        self.image_list.blockSignals(False)
        self._update_state()

    def held_out(self) -> list[str]:
        return [name for name, held in self._rows() if held]

    def train_names(self) -> list[str]:
        return [name for name, held in self._rows() if not held]

    def base_folder(self) -> Path | None:
        return Path(self.base_edit.text()) if self.base_edit.text() else None

    def set_base_folder(self, folder: Path | None) -> None:
        self.base_edit.setText(str(folder) if folder is not None else "")
        self._update_state()

    def settings(self) -> FineTuneSettings:
        return FineTuneSettings(
            iterations=self.iterations_box.value(),
            minutes=self.minutes_box.value(),
            val_every=self.val_every_box.value(),
            lr=float(self.lr_box.currentData()),
        )

    def set_model_available(self, available: bool) -> None:
        self._has_model = available
        self._update_state()

    # -- a run -----------------------------------------------------------------

    def begin_run(self, model_name: str) -> None:
        self._running = True
        self.plots.clear_curves()
        self.progress.setRange(0, self.iterations_box.value())
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.progress_label.setText(f"Reading the images and scoring {model_name} on the held-out ones…")
        self.outcome.setText("")
        self._update_state()

    def add_losses(self, points: list[tuple[int, float]], elapsed_s: float) -> None:
        self.plots.add_losses(points)
        if points:
            iteration, total = points[-1][0], self.progress.maximum()
            self.progress.setValue(min(iteration, total))
            left = remaining_seconds(iteration, total, elapsed_s, 60 * self.minutes_box.value())
            self.progress_label.setText(
                f"iteration {iteration} / {total} · {clock(elapsed_s)} elapsed · about {clock(left)} left"
            )

    def add_held_out(self, iteration: int, metrics: dict[str, float]) -> None:
        self.plots.add_held_out(iteration, metrics)

    def end_run(self, outcome: str) -> None:
        self._running = False
        self.progress.setVisible(False)
        self.progress_label.setText("")
        self.outcome.setText(outcome)
        self._update_state()

    # -- private ---------------------------------------------------------------

    def _rows(self) -> list[tuple[str, bool]]:
        items = (self.image_list.item(row) for row in range(self.image_list.count()))
        return [(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked) for item in items]

    def _names(self) -> list[str]:
        return [name for name, _ in self._rows()]

    def _on_browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A labelled folder to train on as well")
        if folder:
            self.set_base_folder(Path(folder))

    def _update_state(self) -> None:
        held, train = len(self.held_out()), len(self.train_names())
        if not self._rows():
            text = ("No image of this folder has saved labels yet. Correct a few images and save "
                    "them (Ctrl+S): at least one to train on and one to hold out.")
        else:
            text = f"{held + train} image(s) with saved labels: {train} to train on, {held} held out (ticked)."
            if not held:
                text += " Tick at least one image to hold out."
            elif not train and self.base_folder() is None:
                text += " Leave at least one unticked to train on, or add a labelled folder."
        self.summary.setText(text)
        ready = self._has_model and held > 0 and (train > 0 or self.base_folder() is not None)
        self.start_button.setEnabled(ready and not self._running)
        self.stop_button.setEnabled(self._running)
        for widget in (self.image_list, self.auto_button, self.iterations_box, self.minutes_box,
                       self.val_every_box, self.lr_box, self.base_edit):
            widget.setEnabled(not self._running)
