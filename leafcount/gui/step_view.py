"""The step-by-step panel: kappa heat map, score plot and step scrubbing controls."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSlider,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from leafcount.gui.kappa_view import KappaView
from leafcount.gui.score_plot import ScorePlot
from leafcount.segment import Step, accepted_steps

PLAY_INTERVAL_MS = 600
NO_STEPS_TEXT = "Segment this image to watch the network find its leaves one by one."


class StepView(QWidget):
    """Shows the steps of the current image; emits which step and threshold the user picks."""

    step_selected = Signal(int)  # index, -1 for none
    threshold_moved = Signal(float)
    threshold_chosen = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.kappa_view = KappaView()
        self.score_plot = ScorePlot()
        self.caption = QLabel(NO_STEPS_TEXT)
        self.caption.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.play_button = self._tool_button(QStyle.StandardPixmap.SP_MediaPlay, "Play the steps")
        self.play_button.setCheckable(True)
        self.prev_button = self._tool_button(QStyle.StandardPixmap.SP_MediaSeekBackward, "Previous step")
        self.next_button = self._tool_button(QStyle.StandardPixmap.SP_MediaSeekForward, "Next step")
        self._timer = QTimer(self)
        self._timer.setInterval(PLAY_INTERVAL_MS)
        self._steps: list[Step] = []
        self._shown: int | None = None  # the step on display, None: the run as a whole
        self._running = False  # steps are still arriving

        controls = QHBoxLayout()
        for widget in (self.prev_button, self.play_button, self.next_button):
            controls.addWidget(widget)
        controls.addWidget(self.slider, stretch=1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.kappa_view)
        splitter.addWidget(self.score_plot)
        splitter.setSizes([300, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter, stretch=1)
        layout.addLayout(controls)
        layout.addWidget(self.caption)

        self.slider.valueChanged.connect(self._on_slider_changed)
        self.prev_button.clicked.connect(lambda: self.slider.setValue(self.slider.value() - 1))
        self.next_button.clicked.connect(lambda: self.slider.setValue(self.slider.value() + 1))
        self.play_button.toggled.connect(self._on_play_toggled)
        self._timer.timeout.connect(self._on_play_tick)
        self.score_plot.step_clicked.connect(self.slider.setValue)
        self.score_plot.threshold_moved.connect(self._on_threshold_moved)
        self.score_plot.threshold_chosen.connect(self.threshold_chosen)
        self._update_controls()

    @property
    def steps(self) -> list[Step]:
        return self._steps

    def set_steps(self, steps: list[Step]) -> None:
        """Show a finished run (or none); selects nothing until the user scrubs."""
        self.play_button.setChecked(False)
        self._running = False
        self._steps = list(steps)
        self.kappa_view.set_levels(max((float(s.kappa.max()) for s in steps), default=1.0))
        self.score_plot.set_scores([s.score for s in steps])
        self._set_slider(0)
        self._show(None)

    def add_steps(self, steps: list[Step]) -> None:
        """Steps just computed: show the last one."""
        first = not self._steps
        self._running = True
        self._steps.extend(steps)
        high = max(float(s.kappa.max()) for s in steps)
        self.kappa_view.set_levels(high if first else max(high, self.kappa_view.levels[1]))
        self.score_plot.set_scores([s.score for s in self._steps])
        self._set_slider(len(self._steps) - 1)
        self._show(len(self._steps) - 1)

    def set_threshold(self, value: float) -> None:
        self.score_plot.set_threshold(value)
        self._show(self._shown)

    def _set_slider(self, index: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self._steps) - 1, 0))
        self.slider.setValue(max(index, 0))
        self.slider.blockSignals(False)
        self._update_controls()

    def _show(self, index: int | None) -> None:
        self._shown = index
        if index is None or not 0 <= index < len(self._steps):
            self.kappa_view.show_kappa(None)
            self.score_plot.set_current(None)
            if self._steps:
                kept = len(accepted_steps(self._steps, self.score_plot.threshold))
                self.caption.setText(
                    f"{len(self._steps)} steps, {kept} of them above the stop threshold. "
                    "Scrub the steps or drag the red line."
                )
            else:
                self.caption.setText(NO_STEPS_TEXT)
            return
        step = self._steps[index]
        self.kappa_view.show_kappa(step.kappa)
        self.score_plot.set_current(index)
        kept = index < len(accepted_steps(self._steps, self.score_plot.threshold))
        verdict = f"leaf {index + 1}" if kept else "below the stop threshold: not a leaf"
        where = "(still running)" if self._running else f"of {len(self._steps)}"
        self.caption.setText(f"Step {index + 1} {where}: confidence s = {step.score:.2f}, {verdict}")

    def _on_threshold_moved(self, value: float) -> None:
        self._show(self._shown)  # the verdicts follow the line
        self.threshold_moved.emit(value)

    def _update_controls(self) -> None:
        has_steps = bool(self._steps)
        for widget in (self.slider, self.play_button, self.prev_button, self.next_button):
            widget.setEnabled(has_steps)

    def _on_slider_changed(self, index: int) -> None:
        self._show(index)
        self.step_selected.emit(index)

    def _on_play_toggled(self, playing: bool) -> None:
        style = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(style))
        if playing:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(0)
            if self._shown is None:
                self._on_slider_changed(self.slider.value())
            self._timer.start()
        else:
            self._timer.stop()

    def _on_play_tick(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.play_button.setChecked(False)
        else:
            self.slider.setValue(self.slider.value() + 1)

    def _tool_button(self, icon: QStyle.StandardPixmap, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(self.style().standardIcon(icon))
        button.setToolTip(tip)
        return button

