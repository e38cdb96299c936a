"""The "Segment leaves (RIS)" widget on a synthetic rosette with a tiny checkpoint, in napari's viewer model."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
from napari.layers import Image, Labels, Shapes

from leafcount.analysis.plant_boxes import plant_name
from leafcount.data.cvppp import read_labels
from leafcount.data.synth import make_rosette
from leafcount.inference.batch import segment_file
import leafcount.inference.pipeline as pipeline_module
from leafcount.inference.segment import SegmentConfig, decode_steps
from leafcount.inference.tray import detect_plants, looks_like_tray
from leafcount.model.checkpoint import read_checkpoint_info
from leafcount.napari.widget import SegmentWidget

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def network_runs(monkeypatch):
    """Each call of the network's step loop: which thread it ran on."""
    threads = []

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread())
        return (yield from original(*args, **kwargs))

    original = pipeline_module.segment_steps
    monkeypatch.setattr(pipeline_module, "segment_steps", recorded)
    return threads


@pytest.fixture
def widget(qtbot, viewer, model_path):
    widget = SegmentWidget(viewer)
    qtbot.addWidget(widget)
    widget.model_edit.setText(str(model_path))
    widget.model_edit.editingFinished.emit()
    yield widget
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)


def _segment(qtbot, widget) -> Labels:
    widget.start()
    assert widget.is_busy
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)
    assert widget.run is not None, widget.status.text()
    return widget.viewer.layers[f"{widget.image_box.currentText()} leaves"]


def _redecoded(qtbot, widget, layer: Labels, change) -> np.ndarray:
    before = layer.data.copy()
    change()
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)
    return before


def test_labels_equal_what_leafcount_segment_writes(qtbot, widget, viewer, rosette_path, model_path, tmp_path):
    viewer.open(str(rosette_path), plugin="leafcount")
    widget.flips_box.setCurrentIndex(widget.flips_box.findData(2))
    layer = _segment(qtbot, widget)

    config = SegmentConfig.for_checkpoint(read_checkpoint_info(model_path).meta).replace(flips=2)  # as the CLI does
    (tmp_path / "cli").mkdir()
    outcome = segment_file(rosette_path, tmp_path / "cli", model_path, config, crf=False)
    assert outcome.error is None and outcome.leaf_count >= 2
    np.testing.assert_array_equal(layer.data, read_labels(tmp_path / "cli" / "plant001_label.png"))

    viewer.layers.selection.active = layer
    written = viewer.layers.save(str(tmp_path / "napari" / "plant001_label.png"), selected=True, plugin="leafcount")
    records = [json.loads((folder / "plant001_label.json").read_text()) for folder in (tmp_path / "cli", tmp_path / "napari")]
    for record in records:
        record.pop("saved")
    assert len(written) == 2 and records[0] == records[1]


def test_steps_arrive_live_off_the_gui_thread(qtbot, widget, viewer, rosette_path, network_runs, monkeypatch):
    viewer.open(str(rosette_path), plugin="leafcount")
    shown = []
    on_step = widget._on_yielded
    monkeypatch.setattr(widget, "_on_yielded", lambda update: (shown.append(threading.current_thread()), on_step(update)))
    _segment(qtbot, widget)
    assert len(network_runs) == 1 and network_runs[0] is not threading.main_thread()
    assert len(shown) == len(widget.run.steps) == 4 and set(shown) == {threading.main_thread()}
    kappa = viewer.layers["plant001 kappa"]
    assert isinstance(kappa, Image)
    np.testing.assert_array_equal(kappa.data, widget.run.steps[-1].kappa)
    assert widget.scores.count() == 4


def test_threshold_and_step_slider_redecode_without_the_network(qtbot, widget, viewer, rosette_path, network_runs):
    viewer.open(str(rosette_path), plugin="leafcount")
    layer = _segment(qtbot, widget)
    steps, shape = widget.run.steps, layer.data.shape

    before = _redecoded(qtbot, widget, layer, lambda: widget.step_slider.setValue(0))
    assert len(np.unique(before)) > 1
    np.testing.assert_array_equal(layer.data, decode_steps(steps[:1], shape, widget.review_config()))
    np.testing.assert_array_equal(viewer.layers["plant001 kappa"].data, steps[0].kappa)

    widget.step_slider.setValue(len(steps) - 1)
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)
    before = _redecoded(qtbot, widget, layer, lambda: widget.threshold_box.setValue(0.9))
    assert before.any() and not layer.data.any()  # every score is below 0.9: no leaf
    assert layer.metadata["leafcount"]["stop_threshold"] == 0.9
    assert len(network_runs) == 1


def test_leaf_table_fills_features_and_exports_csv(qtbot, widget, viewer, rosette_path, tmp_path):
    viewer.open(str(rosette_path), plugin="leafcount")
    layer = _segment(qtbot, widget)
    table = widget.leaf_table()
    ids = sorted(set(np.unique(layer.data)) - {0})
    assert list(layer.features["index"]) == ids and layer.features["mean_g"].notna().all()
    from leafcount.napari.leaf_table import export_csv

    export_csv(table, tmp_path / "leaves.csv")
    assert list(pd.read_csv(tmp_path / "leaves.csv")["leaf_id"]) == ids


def test_tray_gets_plant_boxes_and_labels_per_plant(qtbot, widget, viewer, save_photo, model_path, tmp_path):
    rosettes = [make_rosette(np.random.default_rng(seed), (96, 96), n_leaves=5)[0] for seed in range(4)]
    tray = np.concatenate([np.concatenate(rosettes[:2], axis=1), np.concatenate(rosettes[2:], axis=1)], axis=0)
    assert looks_like_tray(detect_plants(tray))
    path = save_photo(tmp_path / "tray.png", tray)
    viewer.open(str(path), plugin="leafcount")
    widget.tray_check.setChecked(True)
    layer = _segment(qtbot, widget)

    (tmp_path / "cli").mkdir()
    config = SegmentConfig.for_checkpoint(read_checkpoint_info(model_path).meta)
    outcome = segment_file(path, tmp_path / "cli", model_path, config, crf=False, tray="auto")
    np.testing.assert_array_equal(layer.data, read_labels(tmp_path / "cli" / "tray_label.png"))
    boxes = viewer.layers["tray plants"]
    assert isinstance(boxes, Shapes) and len(boxes.data) == len(outcome.plants) >= 2
    assert list(boxes.features["plant"]) == [plant_name(box) for box, _ in outcome.plants]
    assert list(boxes.features["leaves"]) == [count for _, count in outcome.plants]
    named = widget.leaf_table()["plant"]
    assert set(named) <= set(boxes.features["plant"]) and (named != "").all()


def test_a_bad_checkpoint_is_reported_not_raised(qtbot, widget, viewer, rosette_path, tmp_path):
    viewer.open(str(rosette_path), plugin="leafcount")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    widget.model_edit.setText(str(tmp_path / "bad.safetensors"))
    widget.start()
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)
    assert widget.run is None and "failed" in widget.status.text() and "safetensors" in widget.status.text()
    assert widget.segment_button.isEnabled()


def test_stop_ends_the_run_between_steps(qtbot, widget, viewer, rosette_path, monkeypatch, paced_steps):
    def until_stopped(cancel):  # a tiny network outruns the GUI: wait for the stop
        deadline = time.monotonic() + 10
        while not cancel.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)

    paced_steps(until_stopped)
    viewer.open(str(rosette_path), plugin="leafcount")
    on_step = widget._on_yielded
    monkeypatch.setattr(widget, "_on_yielded", lambda update: (on_step(update), widget.stop()))
    widget.start()
    qtbot.waitUntil(lambda: not widget.is_busy, timeout=30_000)
    assert widget.run is None and widget.status.text() == "stopped"
    assert widget.scores.count() == 1 and widget.segment_button.isEnabled()
