import time
from pathlib import Path

import numpy as np
import pytest

from leafcount.inference.crf import CrfConfig, is_crf_available, refine_labels
from leafcount.data.folder import read_image
from leafcount.errors import ImageReadError
from leafcount.gui.workers import (
    DecodeWorker,
    JobRunner,
    SegmentAllWorker,
    SegmentWorker,
    ThumbnailWorker,
)
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import SegmentConfig, decode_steps, segment_steps

TIMEOUT_MS = 30_000


def run_to_end(qtbot, runner, worker, *names):
    """Start ``worker``; once it is done, return the arguments of each named signal.

    (qtbot.waitSignal would stop its timer from the worker's thread, which Qt refuses.)
    """
    calls = {name: [] for name in (*names, "done")}
    for name, seen in calls.items():
        getattr(worker, name).connect(lambda *args, seen=seen: seen.append(args))
    runner.start(worker)
    qtbot.waitUntil(lambda: bool(calls["done"]), timeout=TIMEOUT_MS)
    return calls


@pytest.fixture
def runner(qtbot):
    runner = JobRunner()
    yield runner
    assert runner.shutdown()


def test_segment_worker_emits_every_step_then_the_core_labels(qtbot, runner, tiny_model, plant_folder):
    image = read_image(plant_folder / "plant001_rgb.png")
    worker = SegmentWorker(tiny_model, image, SegmentConfig(), crf=None)
    calls = run_to_end(qtbot, runner, worker, "step_ready", "finished", "failed")
    assert calls["failed"] == []
    [(labels, emitted, areas)] = calls["finished"]
    expected = list(segment_steps(tiny_model, image, SegmentConfig()))
    assert [step for (step,) in calls["step_ready"]] == emitted
    assert [s.index for s in emitted] == [s.index for s in expected]
    np.testing.assert_array_equal(labels, decode_steps(expected, image.shape[:2]))
    np.testing.assert_array_equal(areas, np.bincount(labels.ravel()))


def test_with_mirrored_passes_the_finished_steps_are_fused(qtbot, runner, tiny_model, plant_folder):
    image = read_image(plant_folder / "plant001_rgb.png")
    config = SegmentConfig(flips=4, stop_threshold=0.0, max_steps=5)
    calls = run_to_end(qtbot, runner, SegmentWorker(tiny_model, image, config, crf=None), "step_ready", "finished")
    [(labels, emitted, _)] = calls["finished"]
    live = [step for (step,) in calls["step_ready"]]  # the live view shows the first pass as it runs
    expected = segment_image(tiny_model, image, config)
    first_pass = list(segment_steps(tiny_model, image, config))
    assert len(live) == len(first_pass)
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(live, first_pass))
    for got, want in zip(emitted, expected.steps, strict=True):
        np.testing.assert_allclose(got.mask, want.mask)
    np.testing.assert_array_equal(labels, expected.labels)


def test_a_bad_input_fails_with_the_core_error(qtbot, runner, tiny_model):
    worker = SegmentWorker(tiny_model, np.zeros((10, 10)), SegmentConfig(), crf=None)
    calls = run_to_end(qtbot, runner, worker, "failed", "cancelled", "finished")
    [(error,)] = calls["failed"]
    assert isinstance(error, ImageReadError) and "expected an (H, W, 3) image" in str(error)
    assert calls["cancelled"] == [] and calls["finished"] == []


def test_a_cancelled_worker_says_cancelled_not_failed(qtbot, runner, tiny_model, plant_folder):
    image = read_image(plant_folder / "plant001_rgb.png")
    worker = SegmentWorker(tiny_model, image, SegmentConfig(), crf=None)
    worker.cancel()
    calls = run_to_end(qtbot, runner, worker, "failed", "cancelled", "finished")
    assert calls["cancelled"] == [()] and calls["failed"] == [] and calls["finished"] == []


def test_decode_worker_uses_the_new_threshold(qtbot, runner, tiny_model, plant_folder):
    image = read_image(plant_folder / "plant001_rgb.png")
    steps = list(segment_steps(tiny_model, image, SegmentConfig()))
    config = SegmentConfig(stop_threshold=float(np.median([s.score for s in steps])))
    calls = run_to_end(qtbot, runner, DecodeWorker(steps, image, config, crf=None), "finished")
    [(labels, areas)] = calls["finished"]
    np.testing.assert_array_equal(labels, decode_steps(steps, image.shape[:2], config))


def test_segment_all_reports_progress_results_and_bad_images(qtbot, runner, tiny_model, plant_folder):
    (plant_folder / "plant002_rgb.png").write_bytes(b"broken")
    paths = sorted(plant_folder.glob("*_rgb.png"))
    worker = SegmentAllWorker(tiny_model, paths, SegmentConfig(), crf=None)
    calls = run_to_end(qtbot, runner, worker, "progress_changed", "image_done", "image_failed", "finished")
    assert calls["progress_changed"] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert [(path.name, type(exc)) for path, exc in calls["image_failed"]] == [
        ("plant002_rgb.png", ImageReadError)
    ]
    done = calls["image_done"]
    assert [path.name for path, *_ in done] == ["plant001_rgb.png", "plant003_rgb.png", "plant004_rgb.png"]
    path, packed, steps, areas, plants = done[0]
    assert plants == []  # one plant per image: no tray
    image = read_image(path)
    expected = decode_steps(list(segment_steps(tiny_model, image, SegmentConfig())), image.shape[:2])
    np.testing.assert_array_equal(packed.unpack(), expected)
    np.testing.assert_array_equal(areas, np.bincount(expected.ravel()))
    assert calls["finished"] == [()]


def test_segment_all_finds_a_tray_by_itself(qtbot, runner, tiny_model):
    from leafcount.inference.tray import detect_plants

    tray = Path(__file__).resolve().parents[2] / "resources" / "demo" / "chamber_tray.jpg"
    worker = SegmentAllWorker(tiny_model, [tray], SegmentConfig(max_steps=2), crf=None)
    calls = run_to_end(qtbot, runner, worker, "image_done", "image_failed")
    assert calls["image_failed"] == []
    [(path, packed, steps, _, plants)] = calls["image_done"]
    assert plants == detect_plants(read_image(tray)) and len(plants) > 10
    assert steps == [] and packed.unpack().shape == read_image(tray).shape[:2]


def test_thumbnails_are_small_and_skip_unreadable_images(qtbot, runner, plant_folder):
    (plant_folder / "plant002_rgb.png").write_bytes(b"broken")
    paths = sorted(plant_folder.glob("*_rgb.png"))
    calls = run_to_end(qtbot, runner, ThumbnailWorker(paths, 40), "thumbnail_ready")
    thumbs = calls["thumbnail_ready"]
    assert [path.name for path, _ in thumbs] == ["plant001_rgb.png", "plant003_rgb.png", "plant004_rgb.png"]
    for _, thumb in thumbs:
        assert thumb.dtype == np.uint8 and thumb.ndim == 3 and max(thumb.shape[:2]) <= 2 * 40


def test_shutdown_cancels_and_waits_for_running_jobs(qtbot, tiny_model, plant_folder, monkeypatch):
    from leafcount.gui import workers

    real = workers.segment_steps

    def slow(*args):
        for step in real(*args):
            time.sleep(0.2)
            yield step

    monkeypatch.setattr(workers, "segment_steps", slow)
    runner = JobRunner()
    worker = SegmentAllWorker(tiny_model, sorted(plant_folder.glob("*_rgb.png")), SegmentConfig(), None)
    started = []
    worker.progress_changed.connect(lambda *args: started.append(args))
    runner.start(worker)
    qtbot.waitUntil(lambda: bool(started), timeout=TIMEOUT_MS)
    assert runner.is_running(SegmentAllWorker)
    began = time.monotonic()
    assert runner.shutdown()
    assert time.monotonic() - began < 2
    assert not runner.is_running()


@pytest.mark.skipif(not is_crf_available(), reason="pydensecrf2 is not installed")
def test_crf_refinement_runs_in_the_worker(qtbot, runner, tiny_model, plant_folder):
    image = read_image(plant_folder / "plant001_rgb.png")
    steps = list(segment_steps(tiny_model, image, SegmentConfig()))
    config = SegmentConfig(stop_threshold=0.0, mask_threshold=0.45)
    crf = CrfConfig(gt_prob=0.7, bilateral_sxy=20.0)
    calls = run_to_end(qtbot, runner, DecodeWorker(steps, image, config, crf=crf), "finished")
    [(labels, _)] = calls["finished"]
    expected = refine_labels(image, decode_steps(steps, image.shape[:2], config), config=crf)
    np.testing.assert_array_equal(labels, expected)
