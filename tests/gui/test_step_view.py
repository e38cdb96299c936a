import numpy as np
import pytest

from leafcount.gui.kappa_view import scale_top
from leafcount.gui.score_plot import bars_room
from leafcount.gui.step_view import NO_STEPS_TEXT, StepView
from leafcount.inference.segment import Step


def make_steps(scores):
    return [
        Step(i, np.full((6, 8), 0.1 * i, np.float32), s, np.full((3, 4), float(i + 1), np.float32))
        for i, s in enumerate(scores)
    ]


@pytest.fixture
def view(qtbot):
    view = StepView()
    qtbot.addWidget(view)
    return view


def test_steps_arriving_live_show_the_newest(view, qtbot):
    with qtbot.waitSignal(view.step_selected, raising=False, timeout=100) as blocker:
        view.add_steps(make_steps([0.9, 0.8]))
    assert not blocker.signal_triggered  # live steps are shown, not "selected" by the user
    assert view.caption.text() == "Step 2 (still running): confidence s = 0.80, leaf 2"
    view.add_steps(make_steps([0.9, 0.8, 0.3])[2:])
    assert view.caption.text() == "Step 3 (still running): confidence s = 0.30, below the stop threshold: not a leaf"
    assert view.kappa_view.levels == (0.0, 3.0)
    np.testing.assert_array_equal(view.kappa_view.image.image, np.full((3, 4), 3.0))


def test_a_finished_run_summarises_until_the_user_scrubs(view, qtbot):
    view.set_steps(make_steps([0.9, 0.8, 0.3, 0.6]))
    assert view.caption.text().startswith("4 steps, 2 of them above the stop threshold")
    with qtbot.waitSignal(view.step_selected) as selected:
        view.next_button.click()
    assert selected.args == [1] and view.caption.text() == "Step 2 of 4: confidence s = 0.80, leaf 2"
    view.set_threshold(0.85)
    assert view.caption.text() == "Step 2 of 4: confidence s = 0.80, below the stop threshold: not a leaf"
    view.set_steps([])
    assert view.caption.text() == NO_STEPS_TEXT and not view.slider.isEnabled()


def test_play_walks_through_the_steps_and_stops_at_the_end(view, qtbot):
    view.set_steps(make_steps([0.9, 0.8, 0.7]))
    view._timer.setInterval(10)
    shown = []
    view.step_selected.connect(shown.append)
    view.play_button.click()
    qtbot.waitUntil(lambda: not view.play_button.isChecked(), timeout=2000)
    assert shown == [0, 1, 2]


def test_dragging_the_threshold_line_is_reported(view, qtbot):
    view.set_steps(make_steps([0.9, 0.8, 0.3]))
    line = view.score_plot.threshold_line
    with qtbot.waitSignal(view.threshold_moved) as moved:
        line.setValue(0.25)
    assert moved.args == [pytest.approx(0.25)]
    with qtbot.waitSignal(view.threshold_chosen) as chosen:
        line.sigPositionChangeFinished.emit(line)
    assert chosen.args == [pytest.approx(0.25)]
    assert view.caption.text().startswith("3 steps, 3 of them above")


def test_a_checkpoints_tuned_decoding_becomes_the_default(tmp_path, qtbot):
    from leafcount.gui.main_window import MainWindow
    from leafcount.model.checkpoint import save_checkpoint
    from leafcount.model.config import ModelConfig
    from leafcount.model.ris import build_ris

    path = tmp_path / "tuned.safetensors"
    save_checkpoint(path, build_ris(ModelConfig.tiny()), {"segment": {"stop_threshold": 0.42, "assignment": "argmax"}})
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.load_model(path)
    assert window.steps.config.stop_threshold == 0.42 and window.steps.config.assignment == "argmax"
    assert not window.actions.mirrored.isChecked()


def test_mirrored_passes_follow_the_checkpoint_and_the_menu(tmp_path, qtbot):
    from leafcount.gui.main_window import MainWindow
    from leafcount.model.checkpoint import save_checkpoint
    from leafcount.model.config import ModelConfig
    from leafcount.model.ris import build_ris

    path = tmp_path / "mirrored.safetensors"
    save_checkpoint(path, build_ris(ModelConfig.tiny()), {"segment": {"stop_threshold": 0.3, "flips": 4}})
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.load_model(path)
    assert window.actions.mirrored.isChecked() and window.steps.config.flips == 4
    window.actions.mirrored.trigger()
    assert window.steps.config.flips == 1 and window.steps.config.stop_threshold == 0.3


def test_threshold_label_follows_a_programmatic_move(qtbot):
    from leafcount.gui.score_plot import ScorePlot

    plot = ScorePlot()
    qtbot.addWidget(plot)
    plot.set_threshold(0.42)
    assert plot.threshold == 0.42
    assert "0.42" in plot.threshold_line.label.toPlainText()


@pytest.mark.parametrize("high, top", [(18.2, 20.0), (28.8, 30.0), (30.0, 30.0), (3.3, 3.5), (0.07, 0.07), (101.0, 150.0)])
def test_the_kappa_scale_tops_at_a_multiple_of_half_a_power_of_ten(high, top):
    assert scale_top(high) == pytest.approx(top) and scale_top(high) >= high


def test_a_live_run_redraws_the_colour_bar_and_the_step_axis_only_when_their_range_grows(view, monkeypatch):
    axis_ranges, levels = [], []
    color_bar = view.kappa_view.color_bar
    monkeypatch.setattr(color_bar, "setLevels", lambda values: levels.append(values))
    bottom = view.score_plot.getPlotItem().getAxis("bottom")
    bottom.linkedViewChanged = lambda *args: axis_ranges.append(view.score_plot.viewRange()[0][1])
    steps = [Step(i, np.zeros((6, 8), np.float32), 0.9, np.full((3, 4), k, np.float32))
             for i, k in enumerate([18.2, 26.6, 27.8, 28.6, 28.7, 28.8, 28.8, 28.8, 28.8, 28.8, 28.8, 28.8])]
    for step in steps:
        view.add_steps([step])
    assert levels == [(0.0, 20.0), (0.0, 30.0)]
    assert view.score_plot.viewRange()[0][1] == pytest.approx(20.6)  # room for 20 bars
    assert [round(r, 1) for r in axis_ranges if r > 5] == [5.6, 10.6, 20.6]  # each widening drawn once


@pytest.mark.parametrize("count, room", [(0, 5), (5, 5), (6, 10), (20, 20), (21, 40), (40, 40), (41, 80)])
def test_the_step_axis_makes_room_for_the_bars_in_doublings(count, room):
    assert bars_room(count) == room
