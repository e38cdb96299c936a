import numpy as np
import pytest

from leafcount.cancel import CancelToken
from leafcount.errors import Cancelled, ConfigError, ImageReadError
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import (
    SegmentConfig,
    Step,
    accepted_steps,
    decode_steps,
    image_to_tensor,
    segment_steps,
    with_dense_maps,
)
from leafcount.model.config import ModelConfig
from leafcount.model.ris import RIS


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


def test_with_dense_last_the_first_step_comes_before_the_heads_run_and_the_labels_do_not_change(rng, tiny_dense_model):
    model = tiny_dense_model
    calls = []
    model.dense.register_forward_hook(lambda *_: calls.append("heads"))
    image = rng.random((48, 48, 3)).astype(np.float32)
    run = SegmentConfig(max_steps=3, stop_floor=0.0)
    live = segment_steps(model, image, run, dense_last=True)
    first = next(live)
    assert calls == [] and first.foreground is None  # shown before the heads have run
    steps = [first]
    while True:
        try:
            steps.append(next(live))
        except StopIteration as end:
            maps = end.value
            break
    assert calls == ["heads"] and maps[0] is not None
    before = list(segment_steps(model, image, run))
    decode = SegmentConfig(assignment="basins", stop_threshold=0.0, core_threshold=0.3)
    np.testing.assert_array_equal(decode_steps(with_dense_maps(steps, maps), (48, 48), decode),
                                  decode_steps(before, (48, 48), decode))
    np.testing.assert_array_equal(with_dense_maps(steps, maps)[2].boundary, before[2].boundary)



@pytest.mark.parametrize("encoder", ["skip", "lite0"])
def test_the_encoders_own_dense_heads_run_only_for_their_maps_or_the_heads_window(rng, encoder):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tiny = {**ModelConfig.tiny().to_dict(), "encoder": encoder, "input_size": [64, 64], "grid_stride": 8,
            "output_stride": 2}
    image = rng.random((60, 64, 3)).astype(np.float32)
    run = SegmentConfig(max_steps=2, stop_floor=0.0)
    # Their maps, without full-resolution heads; with them, the plant's window (heads_on_plant), else nothing.
    for dense_input_size, on_plant, aux_runs in ((None, True, True), ([48, 48], True, True), ([48, 48], False, False)):
        model = RIS(ModelConfig.from_dict({**tiny, "dense_input_size": dense_input_size})).eval()
        calls = []
        model.encoder.aux.register_forward_hook(lambda *_: calls.append("aux"))
        steps = list(segment_steps(model, image, run.replace(heads_on_plant=on_plant)))
        assert (calls == ["aux"]) is aux_runs and steps[0].foreground is not None
        tensor, _ = image_to_tensor(image, model.config.input_size, model.config.output_stride)
        with torch.inference_mode():  # the recurrent part sees the same encoding either way
            full, without = model.encode(tensor), model.encode(tensor, aux=False)
        assert full.aux_logits is not None and without.aux_logits is None
        assert torch.equal(full.features, without.features) and torch.equal(full.refine_input, without.refine_input)


def test_with_dense_below_the_heads_run_at_the_first_step_under_it(rng, scripted_scores, tiny_dense_model):
    model = tiny_dense_model
    scripted_scores(model, [0.9, 0.8, 0.3, 0.7, 0.02])
    calls = []
    model.dense.register_forward_hook(lambda *_: calls.append("heads"))
    image = rng.random((48, 48, 3)).astype(np.float32)
    live = segment_steps(model, image, SegmentConfig(stop_floor=0.05), dense_last=True, dense_below=0.5)
    steps = []
    while True:
        try:
            steps.append(next(live))
            calls.append(f"step {steps[-1].index}")
        except StopIteration as end:
            maps = end.value
            break
    assert calls == ["step 0", "step 1", "heads", "step 2", "step 3", "step 4"]  # once, for the step under 0.5
    assert steps[0].foreground is None and steps[1].foreground is None
    for step in steps[2:]:
        assert step.foreground is maps[0] and step.boundary is maps[1]
    plain = list(segment_steps(model, image, SegmentConfig(stop_floor=0.05)))
    np.testing.assert_array_equal(maps[1], plain[0].boundary)

@pytest.mark.parametrize("dense_below", [0.5, None])
def test_heads_alongside_give_the_same_steps_and_maps_on_a_second_thread(rng, scripted_scores, dense_below,
                                                                        tiny_dense_model, drained):
    torch = pytest.importorskip("torch")
    import threading

    model = tiny_dense_model
    scripted_scores(model, [0.9, 0.8, 0.3, 0.7, 0.02])
    threads_seen = []
    model.dense.register_forward_hook(
        lambda *_: threads_seen.append((threading.current_thread().name, torch.get_num_threads())))
    image = rng.random((48, 48, 3)).astype(np.float32)
    config = SegmentConfig(stop_floor=0.05)

    def run(alongside):
        return drained(segment_steps(model, image, config, dense_last=True, dense_below=dense_below,
                                     heads_alongside=alongside))

    torch.set_num_threads(2)
    plain, plain_maps = run(False)
    beside, beside_maps = run(True)
    assert torch.get_num_threads() == 2  # given back to the caller
    helper = [t for t in threading.enumerate() if t.name == threads_seen[1][0]]
    assert helper and helper[0].daemon  # kept for the next run, but never keeps the process alive
    assert threads_seen[0][0] == threading.current_thread().name
    assert threads_seen[1][0] != threading.current_thread().name and threads_seen[1][1] == 1
    assert [s.score for s in beside] == [s.score for s in plain] and len(plain) == 5
    for a, b in zip(plain, beside):
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(a.kappa, b.kappa)
        assert (a.foreground is None) == (b.foreground is None)  # the maps come with the same step
    for a, b in zip(plain_maps, beside_maps):
        np.testing.assert_array_equal(a, b)


def test_an_error_in_the_heads_alongside_reaches_the_run(rng, monkeypatch, tiny_dense_model):
    model = tiny_dense_model

    def broken(*_):
        raise MemoryError("no room for the heads")

    monkeypatch.setattr(model.dense, "forward", broken)
    image = rng.random((48, 48, 3)).astype(np.float32)
    with pytest.raises(MemoryError, match="no room"):
        list(segment_steps(model, image, SegmentConfig(max_steps=2, stop_floor=0.0), dense_last=True,
                           heads_alongside=True))


def test_a_cancelled_run_with_heads_alongside_gives_the_threads_back(rng, tiny_dense_model):
    torch = pytest.importorskip("torch")
    model = tiny_dense_model
    image = rng.random((48, 48, 3)).astype(np.float32)
    cancel = CancelToken()
    torch.set_num_threads(2)
    live = segment_steps(model, image, SegmentConfig(max_steps=5, stop_floor=0.0), cancel,
                         dense_last=True, heads_alongside=True)
    next(live)
    assert torch.get_num_threads() == 1  # while the heads run beside the steps
    cancel.set()
    with pytest.raises(Cancelled):
        next(live)
    assert torch.get_num_threads() == 2


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
    thresholds = sorted({0.0, 1.0, *(s.score for s in result.steps), *(min(1.0, s.score + 1e-6) for s in result.steps)})
    mask_threshold = float(np.median(result.steps[0].mask))  # the first leaf takes about half: room for others
    counts = []
    for t in thresholds:  # the paper's decoding: a later step only claims what no earlier one did
        labels = decode_steps(result.steps, image.shape[:2], SegmentConfig(stop_threshold=t, mask_threshold=mask_threshold))
        kept = accepted_steps(result.steps, t)
        assert set(np.unique(labels)) <= {0} | {s.index + 1 for s in kept}  # only the accepted steps' leaves
        counts.append(len(np.unique(labels[labels > 0])))
    assert counts == sorted(counts, reverse=True)  # the leaf count never rises as the threshold rises
    assert counts[0] >= 1 and counts[-1] == 0  # and the thresholds spanned every step and none


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
    with pytest.raises(ConfigError, match="fragment_threshold must be in"):
        SegmentConfig(fragment_threshold=1.5)
    with pytest.raises(ConfigError, match="steps_split must be true or false, got 1"):
        SegmentConfig(steps_split=1)  # a checkpoint's JSON says true/false; 1 is a typo, not a yes


def test_checkpoint_recommended_decoding():
    assert SegmentConfig.for_checkpoint({}) == SegmentConfig()
    tuned = SegmentConfig.for_checkpoint({"segment": {"stop_threshold": 0.4, "assignment": "argmax"}})
    assert tuned.stop_threshold == 0.4 and tuned.assignment == "argmax" and tuned.mask_threshold == 0.5
    with pytest.raises(ConfigError, match="unknown segment setting.*colour"):
        SegmentConfig.for_checkpoint({"segment": {"colour": 1}})
    with pytest.raises(ConfigError, match="must be a mapping"):
        SegmentConfig.for_checkpoint({"segment": [0.4]})


def _dense_step(index, mask, score, foreground, boundary):
    return Step(index, np.asarray(mask, np.float32), score, np.zeros((1, 1), np.float32),
                np.asarray(foreground, np.float32), np.asarray(boundary, np.float32))


def _two_leaf_scene():
    """A 10x20 plant of two leaves side by side, split by an edge at column 10."""
    foreground = np.zeros((12, 24), np.float32)
    foreground[1:11, 2:22] = 1.0
    boundary = np.zeros_like(foreground)
    boundary[1:11, 11:13] = 1.0
    return foreground, boundary


def test_grow_moves_a_spill_across_a_leaf_edge_to_the_leaf_behind_it():
    foreground, boundary = _two_leaf_scene()
    left = np.zeros_like(foreground)
    left[1:11, 2:16] = 0.9  # spills 3 columns past the edge into the right leaf
    right = np.zeros_like(foreground)
    right[3:9, 17:21] = 0.9
    steps = [_dense_step(0, left, 0.9, foreground, boundary), _dense_step(1, right, 0.8, foreground, boundary)]
    argmax = decode_steps(steps, (12, 24), SegmentConfig(assignment="argmax"))
    grown = decode_steps(steps, (12, 24), SegmentConfig(assignment="grow"))
    assert (argmax[1:11, 13:16] == 1).all()  # argmax keeps the spill
    assert (grown[1:11, 13:22] == 2).all()  # grow gives it to the leaf behind the edge
    assert (grown[1:11, 2:11] == 1).all()
    assert not grown[foreground == 0].any()  # nothing outside the plant


def test_a_low_core_threshold_keeps_a_seed_from_crossing_a_faint_edge():
    foreground, boundary = _two_leaf_scene()
    boundary *= 0.3  # full-resolution heads draw the edge between touching leaves faintly
    left = np.zeros_like(foreground)
    left[1:11, 2:20] = 0.9  # over both leaves: its argmax seed crosses the edge
    right = np.zeros_like(foreground)
    right[3:9, 19:21] = 0.95
    steps = [_dense_step(0, left, 0.9, foreground, boundary), _dense_step(1, right, 0.8, foreground, boundary)]
    lenient = decode_steps(steps, (12, 24), SegmentConfig(assignment="grow"))
    strict = decode_steps(steps, (12, 24), SegmentConfig(assignment="grow", core_threshold=0.2))
    assert (lenient[1:11, 14:19] == 1).all()  # the faint edge did not stop the first step
    assert (strict[1:11, 13:22] == 2).all() and (strict[1:11, 2:11] == 1).all()
    with pytest.raises(ConfigError):
        SegmentConfig(core_threshold=1.5)


def test_grow_drops_a_step_that_lies_off_the_plant():
    foreground, boundary = _two_leaf_scene()
    leaf = np.zeros_like(foreground)
    leaf[2:10, 3:10] = 0.9
    card = np.zeros_like(foreground)
    card[0:1, :] = 0.95  # a "leaf" on the background row only
    steps = [_dense_step(0, leaf, 0.9, foreground, boundary), _dense_step(1, card, 0.9, foreground, boundary)]
    grown = decode_steps(steps, (12, 24), SegmentConfig(assignment="grow"))
    assert set(np.unique(grown)) == {0, 1}
    assert (grown[foreground > 0] == 1).all()  # the one leaf grows over the whole connected plant


def test_grow_keeps_a_thin_leaf_that_lies_on_the_boundary_map():
    foreground, boundary = _two_leaf_scene()
    thin = np.zeros_like(foreground)
    thin[1:11, 11:13] = 0.9  # exactly the edge columns
    other = np.zeros_like(foreground)
    other[2:10, 3:9] = 0.9
    steps = [_dense_step(0, other, 0.9, foreground, boundary), _dense_step(1, thin, 0.9, foreground, boundary)]
    grown = decode_steps(steps, (12, 24), SegmentConfig(assignment="grow"))
    assert set(np.unique(grown)) == {0, 1, 2}


def test_grow_without_dense_maps_decodes_like_argmax():
    a = [[0.9, 0.9, 0.1], [0.1, 0.1, 0.1]]
    b = [[0.1, 0.95, 0.9], [0.1, 0.1, 0.1]]
    steps = [_step(0, a, 0.9), _step(1, b, 0.8)]
    grown = decode_steps(steps, (2, 3), SegmentConfig(assignment="grow"))
    assert grown.tolist() == decode_steps(steps, (2, 3), SegmentConfig(assignment="argmax")).tolist()


def test_grow_at_another_size_scales_the_labels(tiny_model):
    image = np.random.default_rng(3).random((45, 50, 3), dtype=np.float32)
    steps = list(segment_steps(tiny_model, image, SegmentConfig(max_steps=3, stop_floor=0.0)))
    assert steps[0].foreground is not None and steps[0].foreground.shape == steps[0].mask.shape
    assert all(step.foreground is steps[0].foreground for step in steps)  # one map per run, not per step
    labels = decode_steps(steps, (90, 100), SegmentConfig(assignment="grow", stop_threshold=0.0))
    assert labels.shape == (90, 100) and labels.dtype == np.int32
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
