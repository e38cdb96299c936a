import numpy as np
import pytest

from leafcount.cancel import CancelToken
from leafcount.errors import Cancelled, ConfigError, ImageReadError
from leafcount.segment import (
    SegmentConfig,
    Step,
    decode_steps,
    segment_image,
    segment_steps,
)


def _step(index, mask, score):
    return Step(index, np.asarray(mask, dtype=np.float32), score, np.zeros((1, 1), np.float32))


def test_steps_are_yielded_one_by_one_with_plain_arrays(tiny_model):
    image = np.random.default_rng(0).random((70, 90, 3), dtype=np.float32)
    gen = segment_steps(tiny_model, image, SegmentConfig(max_steps=4, stop_floor=0.0))
    first = next(gen)
    assert first.index == 0 and isinstance(first.score, float) and 0 <= first.score <= 1
    assert first.mask.dtype == np.float32 and first.kappa.dtype == np.float32
    rest = list(gen)
    assert [s.index for s in rest] == [1, 2, 3]
    # Letterboxed: the mask covers the image only, with its aspect ratio.
    assert abs(first.mask.shape[1] / first.mask.shape[0] - 90 / 70) < 0.1


def test_stop_floor_ends_the_sequence(tiny_model):
    image = np.random.default_rng(0).random((60, 64, 3), dtype=np.float32)
    steps = list(segment_steps(tiny_model, image, SegmentConfig(max_steps=10, stop_floor=1.0)))
    assert len(steps) == 1


def test_decode_thresholds_overlap_and_stop_rule():
    a = [[0.9, 0.9, 0.1], [0.1, 0.1, 0.1]]
    b = [[0.1, 0.95, 0.9], [0.1, 0.1, 0.1]]
    c = [[0.1, 0.1, 0.1], [0.9, 0.9, 0.9]]
    steps = [_step(0, a, 0.9), _step(1, b, 0.8), _step(2, c, 0.3)]
    first = decode_steps(steps, (2, 3))
    assert first.tolist() == [[1, 1, 2], [0, 0, 0]]  # earlier leaf keeps the overlap; step 3 below 0.5
    argmax = decode_steps(steps, (2, 3), SegmentConfig(assignment="argmax"))
    assert argmax.tolist() == [[1, 2, 2], [0, 0, 0]]
    low = decode_steps(steps, (2, 3), SegmentConfig(stop_threshold=0.2))
    assert low.tolist() == [[1, 1, 2], [3, 3, 3]]
    strict = decode_steps(steps, (2, 3), SegmentConfig(mask_threshold=0.92))
    assert strict.tolist() == [[0, 2, 0], [0, 0, 0]]


def test_decode_stops_at_first_low_score_even_if_later_is_high():
    steps = [_step(0, [[1.0, 0.0]], 0.9), _step(1, [[0.0, 1.0]], 0.2), _step(2, [[0.0, 1.0]], 0.9)]
    assert decode_steps(steps, (1, 2)).tolist() == [[1, 0]]


def test_decode_resizes_to_the_image():
    mask = np.zeros((10, 10), np.float32)
    mask[:, :5] = 1
    labels = decode_steps([_step(0, mask, 0.9)], (40, 60))
    assert labels.shape == (40, 60) and labels.dtype == np.int32
    assert labels[:, :28].min() == 1 and labels[:, 32:].max() == 0


def test_threshold_change_does_not_rerun_network(tiny_model, monkeypatch):
    image = np.random.default_rng(1).random((60, 64, 3), dtype=np.float32)
    result = segment_image(tiny_model, image, SegmentConfig(max_steps=5, stop_floor=0.0))
    monkeypatch.setattr(tiny_model, "step", None)  # any network call would now fail
    for t in (0.1, 0.5, 0.9):
        decode_steps(result.steps, image.shape[:2], SegmentConfig(stop_threshold=t))


def test_cancel_between_steps(tiny_model):
    token = CancelToken()
    gen = segment_steps(tiny_model, np.zeros((60, 64, 3), np.float32), SegmentConfig(stop_floor=0.0), token)
    next(gen)
    token.set()
    with pytest.raises(Cancelled, match="stopped by the user"):
        next(gen)


def test_bad_image_shape_and_config(tiny_model):
    with pytest.raises(ImageReadError, match=r"expected an \(H, W, 3\) image"):
        next(segment_steps(tiny_model, np.zeros((10, 10), np.float32)))
    with pytest.raises(ConfigError, match="stop_threshold must be in"):
        SegmentConfig(stop_threshold=2)
    with pytest.raises(ConfigError, match="assignment must be one of"):
        SegmentConfig(assignment="last")


def test_checkpoint_recommended_decoding():
    assert SegmentConfig.for_checkpoint({}) == SegmentConfig()
    tuned = SegmentConfig.for_checkpoint({"segment": {"stop_threshold": 0.4, "assignment": "argmax"}})
    assert tuned.stop_threshold == 0.4 and tuned.assignment == "argmax" and tuned.mask_threshold == 0.5
    with pytest.raises(ConfigError, match="unknown segment setting.*colour"):
        SegmentConfig.for_checkpoint({"segment": {"colour": 1}})
    with pytest.raises(ConfigError, match="must be a mapping"):
        SegmentConfig.for_checkpoint({"segment": [0.4]})
