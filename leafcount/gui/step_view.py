"""The step-by-step panel: kappa heat map, score plot and step scrubbing controls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

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

from leafcount.gui.kappa_view import LAST_TITLE, KappaView
from leafcount.gui.score_plot import ScorePlot
from leafcount.inference.segment import Step, accepted_steps

PLAY_INTERVAL_MS = 600
LISTED_STEPS = 6  # kept steps without pixels named in the caption
NO_STEPS_TEXT = "Segment this image to watch the network find its leaves one by one."


class LeafCount(NamedTuple):
    """The image's labels as :meth:`StepView.set_leaf_count` gets them."""

    count: int
    empty_steps: list[int]
    threshold: float
    edited: bool


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
        self._leaves: LeafCount | None = None

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

    def set_leaf_count(self, count: int | None, empty_steps: Sequence[int] = (), threshold: float = 0.0,
                       edited: bool = False) -> None:
        """The leaves of the image's labels, decoded from these steps at ``threshold``:
        the caption says how many, and why that is not the number of kept steps
        (``empty_steps``: kept steps, numbered from 1, that have no pixel in the labels;
        ``edited``: the labels were changed by hand after the run)."""
        self._leaves = None if count is None else LeafCount(count, list(empty_steps), threshold, edited)
        self._show(self._shown)

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
            last = self._steps[-1] if self._steps else None  # what K shows on the photo too
            self.kappa_view.show_kappa(None if last is None else last.kappa, LAST_TITLE.format(t=len(self._steps)))
            self.score_plot.set_current(None)
            self.caption.setText(self._summary() + " Scrub the steps or drag the red line." if last else NO_STEPS_TEXT)
            return
        step = self._steps[index]
        self.kappa_view.show_kappa(step.kappa)
        self.score_plot.set_current(index)
        kept = index < len(accepted_steps(self._steps, self.score_plot.threshold))
        verdict = f"leaf {index + 1}" if kept else "below the stop threshold: not a leaf"
        if kept and index + 1 in self._empty_steps():
            verdict = "kept, but no pixel of its own in the labels"
        where = "(still running)" if self._running else f"of {len(self._steps)}"
        self.caption.setText(f"Step {index + 1} {where}: confidence s = {step.score:.2f}, {verdict}")

    def _summary(self) -> str:
        """How many steps were kept, and how many leaves they gave (the same number, or why not)."""
        kept = len(accepted_steps(self._steps, self.score_plot.threshold))
        text = f"{len(self._steps)} steps, {kept} of them above the stop threshold"
        if not self._labels_match():
            return text + "."  # no labels yet, or the line is being dragged
        count, empty = self._leaves.count, self._empty_steps()
        if count == kept:
            return f"{text}: {count} leaves."
        if self._leaves.edited:
            return f"{text}; {count} leaves in the labels, edited by hand since."
        if empty and count == kept - len(empty):
            which = ", ".join(str(step) for step in empty[:LISTED_STEPS])
            which += f" and {len(empty) - LISTED_STEPS} more" if len(empty) > LISTED_STEPS else ""
            steps, own = ("steps", "their") if len(empty) > 1 else ("step", "its")
            return (f"{text}, {count} leaves: {steps} {which} kept no pixel of {own} own (the leaves "
                    "around claimed them, or the mask lies off the plant).")
        return (f"{text}; {count} leaves in the labels: the decoding splits a step's mask that covers two "
                "leaf centres and joins masks that fall within one leaf's boundaries.")

    def _labels_match(self) -> bool:
        """Whether the counted labels are those of the threshold shown."""
        return self._leaves is not None and abs(self._leaves.threshold - self.score_plot.threshold) <= 1e-9

    def _empty_steps(self) -> list[int]:
        return self._leaves.empty_steps if self._labels_match() else []

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

