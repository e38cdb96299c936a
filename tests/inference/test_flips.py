import numpy as np
import pytest

from leafcount.errors import ConfigError
from leafcount.inference.flips import MATCH_IOU, flipped_masks, fuse_steps, with_mirrored_passes
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import SegmentConfig, Step, decode_steps, segment_steps


def _step(index, mask, score=0.9):
    return Step(index, np.asarray(mask, dtype=np.float32), score, np.full((2, 2), index, np.float32))


def _square(top, left, value, shape=(20, 20), size=6):
    mask = np.full(shape, 0.05, np.float32)
    mask[top : top + size, left : left + size] = value
    return mask


def test_each_leaf_is_averaged_with_its_match_in_every_other_pass():
    steps = [_step(0, _square(0, 0, 0.6)), _step(1, _square(10, 10, 0.7)), _step(2, _square(0, 12, 0.8), 0.2)]
    # The other pass found the same two leaves in the other order, plus one the first pass did not.
    other = [_square(10, 10, 0.9), _square(0, 0, 1.0), _square(12, 0, 1.0)]
    fused = fuse_steps(steps, [other])
    np.testing.assert_allclose(fused[0].mask, (steps[0].mask + other[1]) / 2)
    np.testing.assert_allclose(fused[1].mask, (steps[1].mask + other[0]) / 2)
    np.testing.assert_array_equal(fused[2].mask, steps[2].mask)  # no match: its own mask
    assert [s.score for s in fused] == [0.9, 0.9, 0.2]  # what RIS decided stays
    assert all(np.array_equal(a.kappa, b.kappa) for a, b in zip(fused, steps))


def test_a_barely_overlapping_mask_is_another_leaf():
    steps = [_step(0, _square(0, 0, 0.9))]
    shifted = _square(0, 4, 0.9)  # 2x6 of 6x6 shared: IoU 12 / 60
    assert 12 / 60 < MATCH_IOU
    np.testing.assert_array_equal(fuse_steps(steps, [[shifted]])[0].mask, steps[0].mask)


def test_no_steps_and_empty_passes():
    assert fuse_steps([], [[_square(0, 0, 0.9)]]) == []
    steps = [_step(0, _square(0, 0, 0.9))]
    np.testing.assert_array_equal(fuse_steps(steps, [[]])[0].mask, steps[0].mask)


def test_mirrored_passes_are_mirrored_back_over_the_image(tiny_model):
    image = np.random.default_rng(1).random((40, 56, 3), dtype=np.float32)
    config = SegmentConfig(flips=4, max_steps=3, stop_floor=0.0)
    passes = flipped_masks(tiny_model, image, config)
    assert len(passes) == 3
    expected = [step.mask[::-1, ::-1] for step in segment_steps(tiny_model, image[::-1, ::-1].copy(), config)]
    for got, want in zip(passes[2], expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert len(flipped_masks(tiny_model, image, config.replace(flips=2))) == 1


def test_segment_image_fuses_only_when_asked(tiny_model):
    image = np.random.default_rng(2).random((40, 56, 3), dtype=np.float32)
    single = SegmentConfig(max_steps=4, stop_floor=0.0, stop_threshold=0.0)
    one = segment_image(tiny_model, image, single)
    np.testing.assert_array_equal(one.labels, decode_steps(one.steps, image.shape[:2], single))
    four = segment_image(tiny_model, image, single.replace(flips=4))
    assert [s.score for s in four.steps] == [s.score for s in one.steps]
    assert four.labels.shape == image.shape[:2]
    np.testing.assert_array_equal(four.labels, decode_steps(four.steps, image.shape[:2], single))


@pytest.mark.parametrize("flips", [0, 3, 8])
def test_only_one_two_or_four_passes(flips):
    with pytest.raises(ConfigError, match="flips must be one of"):
        SegmentConfig(flips=flips)


def test_one_pass_leaves_the_steps_as_they_are(tiny_model):
    image = np.random.default_rng(3).random((40, 56, 3), dtype=np.float32)
    config = SegmentConfig(max_steps=3, stop_floor=0.0)
    steps = list(segment_steps(tiny_model, image, config))
    assert all(a is b for a, b in zip(with_mirrored_passes(tiny_model, image, steps, config), steps, strict=True))
    fused = with_mirrored_passes(tiny_model, image, steps, config.replace(flips=2))
    expected = fuse_steps(steps, flipped_masks(tiny_model, image, config.replace(flips=2)))
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(fused, expected, strict=True))


def test_dense_maps_are_averaged_over_mirrored_copies(tiny_model):
    image = np.random.default_rng(2).random((40, 56, 3), dtype=np.float32)
    config = SegmentConfig(max_steps=2, stop_floor=0.0, dense_flips=2)
    steps = list(segment_steps(tiny_model, image, config))
    fused = with_mirrored_passes(tiny_model, image, steps, config)
    mirrored = list(segment_steps(tiny_model, image[:, ::-1].copy(), config))[0]
    np.testing.assert_allclose(fused[0].foreground, (steps[0].foreground + mirrored.foreground[:, ::-1]) / 2, atol=1e-6)
    np.testing.assert_allclose(fused[1].boundary, (steps[0].boundary + mirrored.boundary[:, ::-1]) / 2, atol=1e-6)
    assert fused[1].foreground is fused[0].foreground
    np.testing.assert_array_equal(fused[0].mask, steps[0].mask)  # the masks are left to config.flips
    assert with_mirrored_passes(tiny_model, image, steps, config.replace(dense_flips=1))[0].foreground is steps[0].foreground
