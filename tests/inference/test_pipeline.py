"""The one pipeline: events in order, labels at the file's size, the sidecar schema, the notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import pytest

from leafcount.analysis.metrics import count_leaves
from leafcount.analysis.plant_boxes import PlantBox
from leafcount.data.demo import DEMO_DIR
from leafcount.data.folder import Photo, read_image_size
from leafcount.errors import ConfigError
from leafcount.inference import pipeline
from leafcount.inference.passes import segment_image
from leafcount.inference.pipeline import (
    GREY_NOTE,
    NO_PLANT_NOTE,
    TRANSPARENT_NOTE,
    LabelsReady,
    PipelineSettings,
    PlantsFound,
    read_working_photo,
    run_pipeline,
    segment_photo,
)
from leafcount.inference.run_meta import RUN_META_SCHEMA
from leafcount.inference.segment import SegmentConfig, Step, decode_steps
from leafcount.inference.tray import PlantResult, detect_plants
from leafcount.model.checkpoint import CheckpointInfo

CONFIG = SegmentConfig(stop_threshold=0.0, mask_threshold=0.0, max_steps=2, assignment="argmax")


@pytest.fixture
def info(tiny_model):
    return CheckpointInfo(Path("tiny.safetensors"), tiny_model.config, {"created": "2026-01-01"})


def green_disc(shape=(60, 64)) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    image = np.full((*shape, 3), (0.45, 0.3, 0.2), np.float32)
    image[(rows - shape[0] / 2) ** 2 + (cols - shape[1] / 2) ** 2 < (min(shape) / 3) ** 2] = (0.2, 0.7, 0.2)
    return image


def test_one_plant_yields_its_steps_and_returns_labels_steps_areas_and_the_sidecar(tiny_model, info, drained):
    image = green_disc()
    seen, result = drained(segment_photo(tiny_model, info, Photo(image), (60, 64), PipelineSettings(CONFIG)))
    assert seen and all(isinstance(event, Step) for event in seen)
    assert [(s.index, s.score) for s in seen] == [(s.index, s.score) for s in result.steps]
    # The live steps are a preview: the dense maps come after the last step, and only the result's steps carry them.
    assert all(s.foreground is None for s in seen) and all(s.foreground is not None for s in result.steps)
    np.testing.assert_array_equal(result.labels, segment_image(tiny_model, image, CONFIG).labels)
    np.testing.assert_array_equal(result.areas, np.bincount(result.labels.ravel()))
    meta = result.sidecar_meta()
    assert set(meta) <= set(RUN_META_SCHEMA) and "plants" not in meta and "notes" not in meta
    assert meta["model"] == "tiny" and meta["model_created"] == "2026-01-01" and meta["max_steps"] == 2


def test_a_tray_yields_its_plants_then_each_plant_and_boxes_are_saved_in_the_photo_s_pixels(tiny_model, info, drained):
    photo = read_working_photo(DEMO_DIR / "chamber_tray.jpg")
    shape = photo.pixels.shape[:2]
    full = (shape[0] * 2, shape[1] * 2)  # as if the file were twice the size it was read at
    seen, result = drained(segment_photo(tiny_model, info, photo, full, PipelineSettings(CONFIG, tray="auto")))
    found, *plants = seen
    assert isinstance(found, PlantsFound) and list(found.plants) == detect_plants(photo.pixels)
    assert all(isinstance(p, PlantResult) for p in plants) and plants == result.plants and result.steps == []
    assert result.full_size_labels().shape == full
    first = result.full_size_plants()[0]
    assert (first.top, first.left) == (2 * found.plants[0].top, 2 * found.plants[0].left)
    assert len(result.sidecar_meta()["plants"]) == len(plants) == len(result.plant_leaf_counts())
    assert result.leaf_count == count_leaves(result.labels) > len(plants)  # several leaves to a plant


def test_the_user_s_boxes_are_segmented_as_they_are(tiny_model, info, drained):
    boxes = (PlantBox(0, 0, 0, 5, 5, 40, 40),)
    seen, result = drained(segment_photo(tiny_model, info, Photo(green_disc()), (60, 64),
                                         PipelineSettings(CONFIG, plants=boxes)))
    assert seen[0] == PlantsFound(boxes) and [r.plant for r in result.plants] == list(boxes)


def test_a_photo_without_green_gets_no_leaves_and_says_so(tiny_model, info):
    soil = np.full((40, 50, 3), (0.45, 0.3, 0.2), np.float32)
    result = run_pipeline(tiny_model, info, Photo(soil), (40, 50), PipelineSettings(CONFIG))
    assert result.labels.max() == 0 and result.notes == (NO_PLANT_NOTE,)
    assert result.sidecar_meta()["notes"] == [NO_PLANT_NOTE]


def test_a_grey_photo_is_segmented_with_a_note_and_transparent_pixels_are_background(tiny_model, info):
    grey = np.repeat(green_disc()[..., 1:2], 3, axis=2)
    transparent = np.zeros((60, 64), bool)
    transparent[:, :10] = True
    result = run_pipeline(tiny_model, info, Photo(grey, grey=True, transparent=transparent), (60, 64),
                          PipelineSettings(CONFIG))
    assert result.notes == (GREY_NOTE, TRANSPARENT_NOTE)
    assert result.labels.max() > 0 and result.labels[:, :10].max() == 0


def test_the_crf_refines_a_tray_too(tiny_model, info, monkeypatch):
    calls = []
    monkeypatch.setattr(pipeline, "refine_labels", lambda image, labels, config: calls.append(config) or labels)
    from leafcount.inference.crf import CrfConfig

    photo = read_working_photo(DEMO_DIR / "chamber_tray.jpg")
    run_pipeline(tiny_model, info, photo, read_image_size(DEMO_DIR / "chamber_tray.jpg"),
                 PipelineSettings(CONFIG, CrfConfig(), tray="auto"))
    assert calls == [CrfConfig()]


def test_on_event_sees_what_the_generator_yields(tiny_model, info, drained):
    seen = []
    result = run_pipeline(tiny_model, info, Photo(green_disc()), (60, 64), PipelineSettings(CONFIG),
                          on_event=seen.append)
    events = drained(segment_photo(tiny_model, info, Photo(green_disc()), (60, 64), PipelineSettings(CONFIG)))[0]
    assert [(s.index, s.score) for s in seen] == [(s.index, s.score) for s in events]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(seen, events)) and len(seen) == len(result.steps)


@pytest.mark.parametrize(("settings", "message"), [
    ({"tray": "3by4"}, "tray grid must look like ROWSxCOLS"),
    ({"plants": [PlantBox(0, 0, 0, 0, 0, 1, 1)]}, "plants must be a tuple of PlantBox, got list"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ConfigError, match=message):
        PipelineSettings(**settings)


@pytest.mark.parametrize("tray", ["off", "1x2"])
def test_a_headless_run_stops_at_the_threshold_with_the_same_labels(tiny_model, info, tray, scripted_scores):
    image = np.concatenate([green_disc(), green_disc()], axis=1) if tray != "off" else green_disc()
    config = SegmentConfig(stop_threshold=0.5, mask_threshold=0.0, max_steps=10, stop_floor=0.05, assignment="argmax")
    scores = [0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.04]
    runs = {}
    for every_step in (True, False):
        scripted_scores(tiny_model, scores)
        settings = PipelineSettings(config, tray=tray, every_step=every_step)
        runs[every_step] = (run_pipeline(tiny_model, info, Photo(image), image.shape[:2], settings),
                            tiny_model.confidence.calls)
    (slider, slider_calls), (headless, headless_calls) = runs[True], runs[False]
    np.testing.assert_array_equal(headless.labels, slider.labels)
    assert headless.sidecar_meta() == slider.sidecar_meta()
    if tray == "off":
        assert (slider_calls, headless_calls) == (7, 4)  # the floor 0.05; the first score under 0.5
        assert [s.score for s in headless.steps] == pytest.approx(scores[:4])
    else:
        assert headless_calls < slider_calls
    mirrored = PipelineSettings(config.replace(flips=2), every_step=False)
    assert mirrored.network_config == config.replace(flips=2)  # mirrored passes match whole sequences


def test_the_final_labels_come_with_the_first_step_under_the_threshold(tiny_model, info, scripted_scores, drained):
    image = green_disc()
    config = SegmentConfig(stop_threshold=0.5, mask_threshold=0.0, max_steps=10, stop_floor=0.05, assignment="argmax")
    scripted_scores(tiny_model, [0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.04])
    seen, result = drained(segment_photo(tiny_model, info, Photo(image), image.shape[:2], PipelineSettings(config)))
    kinds = [f"step {e.index}" if isinstance(e, Step) else type(e).__name__ for e in seen]
    assert kinds == ["step 0", "step 1", "step 2", "step 3", "LabelsReady", "step 4", "step 5", "step 6"]
    ready = seen[4]
    assert ready.labels.any() and ready.labels is result.labels  # the result's labels, not decoded twice
    np.testing.assert_array_equal(decode_steps(result.steps, image.shape[:2], config), result.labels)
    assert len(result.steps) == 7  # the slider still gets every step


@pytest.mark.parametrize("change", [dict(every_step=False), dict(flips=2)])
def test_no_early_labels_for_a_headless_run_or_mirrored_passes(tiny_model, info, scripted_scores, change, drained):
    config = SegmentConfig(stop_threshold=0.5, mask_threshold=0.0, max_steps=6, stop_floor=0.05, assignment="argmax",
                           flips=change.get("flips", 1))
    scripted_scores(tiny_model, [0.9, 0.3, 0.6, 0.04])
    settings = PipelineSettings(config, every_step=change.get("every_step", True))
    seen, result = drained(segment_photo(tiny_model, info, Photo(green_disc()), (60, 64), settings))
    assert not any(isinstance(event, LabelsReady) for event in seen) and result.labels.shape == (60, 64)


def test_the_window_s_heads_alongside_the_steps_give_the_same_labels(scripted_scores, drained, tiny_dense_model):
    model = tiny_dense_model
    info = CheckpointInfo(Path("dense.safetensors"), model.config, {})
    config = SegmentConfig(stop_threshold=0.5, mask_threshold=0.0, max_steps=10, stop_floor=0.05, assignment="argmax")
    runs = {}
    for alongside in (False, True):
        scripted_scores(model, [0.9, 0.8, 0.7, 0.3, 0.6, 0.04])
        settings = PipelineSettings(config, heads_alongside=alongside)
        runs[alongside] = drained(segment_photo(model, info, Photo(green_disc()), (60, 64), settings))
    (plain_seen, plain), (beside_seen, beside) = runs[False], runs[True]
    ready = [[e.labels for e in seen if isinstance(e, LabelsReady)] for seen in (plain_seen, beside_seen)]
    assert len(ready[0]) == len(ready[1]) == 1 and ready[0][0].max() > 0
    np.testing.assert_array_equal(ready[1][0], ready[0][0])
    np.testing.assert_array_equal(beside.labels, plain.labels)
    for a, b in zip(plain.steps, beside.steps, strict=True):
        np.testing.assert_array_equal(a.boundary, b.boundary)
        np.testing.assert_array_equal(a.foreground, b.foreground)
