import time
from pathlib import Path

import numpy as np
import pytest

from leafcount.data.folder import Photo, read_image, read_image_size
from leafcount.errors import ImageReadError
from leafcount.gui.navigator import thumbnails
from leafcount.gui.segmenter import segment_each
from leafcount.gui.workers import JobRunner, Worker
from leafcount.inference.crf import CrfConfig, is_crf_available, refine_labels
from leafcount.inference.passes import segment_image
from leafcount.inference.pipeline import PipelineSettings, read_working_photo, redecode, segment_photo
from leafcount.inference.segment import SegmentConfig, decode_steps, segment_steps
from leafcount.model.checkpoint import CheckpointInfo

TIMEOUT_MS = 30_000


def info_of(model) -> CheckpointInfo:
    return CheckpointInfo(Path("tiny.safetensors"), model.config)


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


def segment_job(model, path, settings):
    photo = read_working_photo(path)
    return Worker(lambda cancel, _emit: segment_photo(model, info_of(model), photo, read_image_size(path), settings, cancel))


def test_a_function_job_returns_its_value_and_a_generator_job_yields_then_returns(qtbot, runner):
    def counting(cancel, emit):
        emit("from a callback")
        yield 1
        yield 2
        return "end"

    calls = run_to_end(qtbot, runner, Worker(counting), "yielded", "returned", "failed")
    assert calls["yielded"] == [("from a callback",), (1,), (2,)] and calls["returned"] == [("end",)]
    calls = run_to_end(qtbot, runner, Worker(lambda cancel, emit: 42), "yielded", "returned")
    assert calls["yielded"] == [] and calls["returned"] == [(42,)]


def test_segment_job_yields_every_step_then_returns_the_core_labels(qtbot, runner, tiny_model, plant_folder):
    path = plant_folder / "plant001_rgb.png"
    calls = run_to_end(qtbot, runner, segment_job(tiny_model, path, PipelineSettings()), "yielded", "returned",
                       "failed")
    assert calls["failed"] == []
    [(result,)] = calls["returned"]
    image = read_image(path)
    expected = list(segment_steps(tiny_model, image, SegmentConfig()))
    live = [step for (step,) in calls["yielded"]]  # a preview: the dense maps come with the result's steps
    assert [s.index for s in live] == [s.index for s in result.steps] == [s.index for s in expected]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(live, result.steps))
    np.testing.assert_array_equal(result.labels, decode_steps(expected, image.shape[:2]))
    np.testing.assert_array_equal(result.areas, np.bincount(result.labels.ravel()))


def test_with_mirrored_passes_the_finished_steps_are_fused(qtbot, runner, tiny_model, plant_folder):
    path = plant_folder / "plant001_rgb.png"
    config = SegmentConfig(flips=4, stop_threshold=0.0, max_steps=5)
    calls = run_to_end(qtbot, runner, segment_job(tiny_model, path, PipelineSettings(config)), "yielded", "returned")
    [(result,)] = calls["returned"]
    live = [step for (step,) in calls["yielded"]]  # the live view shows the first pass as it runs
    image = read_image(path)
    expected = segment_image(tiny_model, image, config)
    first_pass = list(segment_steps(tiny_model, image, config))
    assert len(live) == len(first_pass)
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(live, first_pass))
    for got, want in zip(result.steps, expected.steps, strict=True):
        np.testing.assert_allclose(got.mask, want.mask)
    np.testing.assert_array_equal(result.labels, expected.labels)


def test_a_bad_input_fails_with_the_core_error(qtbot, runner, tiny_model):
    job = Worker(lambda cancel, _emit: segment_photo(tiny_model, info_of(tiny_model), Photo(np.zeros((10, 10))), (10, 10),
                                                      PipelineSettings(), cancel))
    calls = run_to_end(qtbot, runner, job, "failed", "cancelled", "returned")
    [(error,)] = calls["failed"]
    assert isinstance(error, ImageReadError) and "(H, W, 3)" in str(error)
    assert calls["cancelled"] == [] and calls["returned"] == []


def test_a_cancelled_worker_says_cancelled_not_failed(qtbot, runner, tiny_model, plant_folder):
    worker = segment_job(tiny_model, plant_folder / "plant001_rgb.png", PipelineSettings())
    worker.cancel()
    calls = run_to_end(qtbot, runner, worker, "failed", "cancelled", "returned")
    assert calls["cancelled"] == [()] and calls["failed"] == [] and calls["returned"] == []


def test_decode_job_uses_the_new_threshold(qtbot, runner, tiny_model, plant_folder):
    image = read_image(plant_folder / "plant001_rgb.png")
    steps = list(segment_steps(tiny_model, image, SegmentConfig()))
    config = SegmentConfig(stop_threshold=float(np.median([s.score for s in steps])))
    calls = run_to_end(qtbot, runner, Worker(lambda _c, _e: redecode(steps, image, config, None)), "returned")
    [((labels, areas),)] = calls["returned"]
    np.testing.assert_array_equal(labels, decode_steps(steps, image.shape[:2], config))
    np.testing.assert_array_equal(areas, np.bincount(labels.ravel()))


def each(model, paths, config=SegmentConfig()):
    settings = {path: PipelineSettings(config, tray="auto") for path in paths}
    return Worker(lambda cancel, _emit: segment_each(model, info_of(model), paths, settings, cancel))


def test_segment_all_reports_progress_results_and_bad_images(qtbot, runner, tiny_model, plant_folder):
    (plant_folder / "plant002_rgb.png").write_bytes(b"broken")
    paths = sorted(plant_folder.glob("*_rgb.png"))
    calls = run_to_end(qtbot, runner, each(tiny_model, paths), "yielded", "returned")
    items = [item for (item,) in calls["yielded"]]
    assert [(path.name, done) for path, _, done in items] == [(p.name, i) for i, p in enumerate(paths, start=1)]
    failed = [(path.name, type(outcome)) for path, outcome, _ in items if isinstance(outcome, Exception)]
    assert failed == [("plant002_rgb.png", ImageReadError)]
    path, result, _ = items[0]
    assert result.plants == []  # one plant per image: no tray
    image = read_image(path)
    expected = decode_steps(list(segment_steps(tiny_model, image, SegmentConfig())), image.shape[:2])
    np.testing.assert_array_equal(result.labels.unpack(), expected)
    np.testing.assert_array_equal(result.areas, np.bincount(expected.ravel()))
    assert calls["returned"] == [(None,)]


def test_segment_all_finds_a_tray_by_itself(qtbot, runner, tiny_model):
    from leafcount.inference.tray import detect_plants

    tray = Path(__file__).resolve().parents[2] / "resources" / "demo" / "chamber_tray.jpg"
    calls = run_to_end(qtbot, runner, each(tiny_model, [tray], SegmentConfig(max_steps=2)), "yielded")
    [((path, result, _),)] = calls["yielded"]
    boxes = [plant.plant for plant in result.plants]
    assert boxes == detect_plants(read_image(tray)) and len(boxes) > 10
    assert result.steps == [] and result.labels.unpack().shape == read_image(tray).shape[:2]


def test_thumbnails_are_small_and_skip_unreadable_images(plant_folder):
    (plant_folder / "plant002_rgb.png").write_bytes(b"broken")
    previews = list(thumbnails(sorted(plant_folder.glob("*_rgb.png")), 40))
    assert [path.name for path, _ in previews] == ["plant001_rgb.png", "plant003_rgb.png", "plant004_rgb.png"]
    for _, thumb in previews:
        assert thumb.dtype == np.uint8 and thumb.ndim == 3 and max(thumb.shape[:2]) <= 2 * 40


def test_shutdown_cancels_and_waits_for_running_jobs(qtbot, tiny_model, plant_folder, paced_steps):
    paced_steps(lambda _cancel: time.sleep(0.2))
    runner = JobRunner()
    paths = sorted(plant_folder.glob("*_rgb.png"))
    worker = Worker(lambda cancel, _e: segment_each(tiny_model, info_of(tiny_model), paths, dict.fromkeys(paths, PipelineSettings()),
                                                     cancel), "segment all")
    started = []
    worker.yielded.connect(lambda *args: started.append(args))
    runner.start(worker)
    qtbot.waitUntil(lambda: bool(started), timeout=TIMEOUT_MS)
    assert runner.is_running("segment all") and not runner.is_running("other")
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
    calls = run_to_end(qtbot, runner, Worker(lambda _c, _e: redecode(steps, image, config, crf)), "returned")
    [((labels, _),)] = calls["returned"]
    expected = refine_labels(image, decode_steps(steps, image.shape[:2], config), config=crf)
    np.testing.assert_array_equal(labels, expected)
