"""The heads' third map, each leaf's centre: targets, loss, growing it onto
trained heads, and decoding with it ("centres")."""

import numpy as np
import pytest
import torch

from leafcount.data.synth import make_rosette
from leafcount.errors import ConfigError
from leafcount.inference.basins import basin_leaves
from leafcount.inference.centres import centre_seeds, merge_fragments, split_at_centres
from leafcount.inference.segment import SegmentConfig, Step, decode_steps, segment_steps
from leafcount.model.config import ModelConfig
from leafcount.model.loss import dense_loss
from leafcount.model.ris import RIS, build_ris
from leafcount.resize import resize_array
from leafcount.train_dense import dense_targets, leaf_centres, leaf_weights, with_centre_map, with_dense_heads


def two_leaves_and_a_small_one() -> np.ndarray:
    labels = np.zeros((40, 60), dtype=np.int32)
    labels[5:35, 5:30] = 1
    labels[5:35, 30:55] = 2  # touching leaf 1 along column 30
    labels[35:40, 40:45] = 3  # a 5x5 young leaf at the edge of leaf 2
    return labels


def test_every_leaf_peaks_at_one_whatever_its_size():
    labels = two_leaves_and_a_small_one()
    centres = leaf_centres(labels)
    for leaf in (1, 2, 3):
        assert centres[labels == leaf].max() == pytest.approx(1.0)
    assert centres[labels == 0].max() == 0.0
    assert centres[20, 29] < 0.2 and centres[20, 17] > 0.8  # low at the shared edge, high in the middle
    assert dense_targets(labels).shape[0] == 2 and dense_targets(labels, centres=True).shape[0] == 3


def test_the_centre_loss_counts_plant_pixels_only():
    labels = two_leaves_and_a_small_one()
    target = dense_targets(labels, centres=True)[None]
    logits = torch.zeros(1, 3, *labels.shape)
    base = float(dense_loss(logits, target))
    off_plant = logits.clone()
    off_plant[0, 2][torch.from_numpy(labels == 0)] = 30.0
    assert float(dense_loss(off_plant, target)) == pytest.approx(base, rel=1e-6)
    on_plant = logits.clone()
    on_plant[0, 2][torch.from_numpy(labels > 0)] = -30.0
    assert float(dense_loss(on_plant, target)) > base + 1.0


def test_leaf_weights_let_a_small_leaf_count_as_much_as_its_neighbours():
    labels = two_leaves_and_a_small_one()  # leaves of 750, 750 and 25 pixels
    weights = leaf_weights(labels, 0.5)
    assert weights[labels == 0].min() == weights[labels == 0].max() == 1.0
    assert weights[labels > 0].mean() == pytest.approx(1.0, rel=1e-5)
    assert weights[37, 42] / weights[10, 10] == pytest.approx((750 / 25) ** 0.5, rel=1e-5)
    np.testing.assert_array_equal(leaf_weights(labels, 0.0), np.ones(labels.shape, np.float32))
    assert dense_targets(labels, centres=True, balance=0.5).shape[0] == 4
    # In the loss: weights of 1 change nothing; on the small leaf's pixels they raise its share.
    logits = torch.zeros(1, 3, *labels.shape)
    logits[0, 2][torch.from_numpy(labels == 3)] = -5.0  # the small leaf's centre missed
    plain = dense_targets(labels, centres=True)[None]
    ones = torch.cat([plain, torch.ones(1, 1, *labels.shape)], dim=1)
    torch.testing.assert_close(dense_loss(logits, ones), dense_loss(logits, plain))
    balanced = dense_targets(labels, centres=True, balance=0.5)[None]
    assert float(dense_loss(logits, balanced)) > float(dense_loss(logits, plain)) + 0.05


def test_growing_the_centre_map_keeps_the_other_two():
    torch.manual_seed(0)
    heads = with_dense_heads(build_ris(ModelConfig.tiny()), (64, 64), pretrained=False).eval()
    grown = with_centre_map(heads).eval()
    assert grown.config.dense_centres
    image = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        before, after = heads.dense(image), grown.dense(image)
    assert after.shape[1] == 3
    torch.testing.assert_close(after[:, :2], before)
    torch.testing.assert_close(after[:, 2], -before[:, 1])  # starts as "far from an edge"
    with pytest.raises(ConfigError):
        with_centre_map(build_ris(ModelConfig.tiny()))
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({**ModelConfig.tiny().to_dict(), "dense_centres": True})


def test_a_basin_holding_two_centres_is_split_and_the_steps_name_and_count_the_leaves():
    labels = two_leaves_and_a_small_one()
    foreground = (labels > 0).astype(np.float32)
    boundary = np.zeros(labels.shape, np.float32)  # no edge seen at all: the whole plant is one basin
    centre = leaf_centres(labels)
    seeds = centre_seeds(labels > 0, centre, 0.4)
    assert seeds.max() == 2  # the two big leaves; the 5x5 one's peak is below MIN_SEED_PIXELS
    steps = [(labels == 1).astype(np.float32), (labels == 2).astype(np.float32)]
    leaves = basin_leaves(steps, [1, 2], foreground, boundary, core_threshold=0.1, centre=centre, centre_threshold=0.4)
    assert (leaves[labels == 1] == 1).mean() > 0.9 and (leaves[labels == 2] == 2).mean() > 0.9
    assert (leaves[labels == 0] == 0).all()
    # One step over both leaves: the steps count one leaf, so the split is merged back.
    both = [((labels == 1) | (labels == 2)).astype(np.float32)]
    merged = basin_leaves(both, [1], foreground, boundary, core_threshold=0.1, centre=centre, centre_threshold=0.4)
    assert len(np.unique(merged[labels > 0])) == 1
    # Without a second peak (threshold above every centre) the basin stays whole, whatever the steps.
    unsplit = split_at_centres(np.where(labels > 0, 1, 0), centre_seeds(labels > 0, centre, 1.0), boundary)
    assert len(np.unique(unsplit[labels > 0])) == 1


def test_a_basin_without_a_leaf_middle_joins_the_neighbour_it_borders_most():
    basins = np.zeros((20, 40), np.int32)
    basins[2:18, 2:20] = 1  # a leaf, its centre map peaking at 1
    basins[2:18, 20:27] = 2  # a piece cut off its edge by a false boundary: no middle
    basins[2:10, 27:33] = 3  # touching 2 along 8 rows only
    basins[12:17, 35:39] = 4  # a small leaf on its own, weak too
    centre = np.zeros(basins.shape, np.float32)
    centre[basins == 1], centre[basins == 2] = 1.0, 0.3
    centre[basins == 3], centre[basins == 4] = 0.9, 0.2
    merged = merge_fragments(basins, centre, 0.45)
    assert (merged[basins == 2] == 1).all()  # 16 rows of border with leaf 1, 8 with basin 3
    assert (merged[basins == 3] == 3).all() and (merged[basins == 4] == 4).all()  # strong / no neighbour: kept
    np.testing.assert_array_equal(merge_fragments(basins, centre, 0.0), basins)
    np.testing.assert_array_equal(merge_fragments(basins, centre, 0.25), basins)  # 0.3 is not below 0.25
    # Through the decoding: edges drawn between 1|2 and 2|3, four steps, steps not allowed to split.
    foreground = (basins > 0).astype(np.float32)
    boundary = np.zeros_like(foreground)
    boundary[:, [19, 20, 26, 27]] = 1.0
    steps = [(basins == k).astype(np.float32) for k in (1, 2, 3, 4)]
    leaves = basin_leaves(steps, [1, 2, 3, 4], foreground, boundary, core_threshold=0.1, centre=centre,
                          centre_threshold=0.95, steps_split=False, fragment_threshold=0.45)
    assert len(np.unique(leaves[basins > 0])) == 3 and len(np.unique(leaves[(basins == 1) | (basins == 2)])) == 1
    kept = basin_leaves(steps, [1, 2, 3, 4], foreground, boundary, core_threshold=0.1, centre=centre,
                        centre_threshold=0.95, steps_split=False)
    assert len(np.unique(kept[basins > 0])) == 4


def test_decoding_with_centres_uses_the_map_and_falls_back_without_it(rng):
    torch.manual_seed(0)
    config = ModelConfig.from_dict({**ModelConfig.tiny().to_dict(), "dense_input_size": [64, 64], "dense_centres": True})
    image, _ = make_rosette(rng, shape=(64, 64), n_leaves=4)
    steps = list(segment_steps(RIS(config).eval(), image, SegmentConfig(max_steps=3, stop_floor=0.0)))
    assert steps[0].centre is not None and steps[0].centre.shape == steps[0].foreground.shape
    decode = SegmentConfig(assignment="centres", stop_threshold=0.0, core_threshold=0.2, centre_threshold=0.5)
    labels = decode_steps(steps, (64, 64), decode)
    work = steps[0].foreground.shape
    assert work == (64, 64)
    expected = basin_leaves([resize_array(s.mask, work) for s in steps], [1, 2, 3], steps[0].foreground,
                            steps[0].boundary, 0.5, 0.2, steps[0].centre, 0.5)
    np.testing.assert_array_equal(labels, expected)
    without = [s.__class__(**{**s.__dict__, "centre": None}) for s in steps]
    np.testing.assert_array_equal(decode_steps(without, (64, 64), decode),
                                  decode_steps(without, (64, 64), decode.replace(assignment="basins")))


def test_the_smallest_peak_that_splits_a_basin_is_a_decoding_setting():
    labels = two_leaves_and_a_small_one()
    centre = leaf_centres(labels)
    sizes = np.bincount(centre_seeds(labels > 0, centre, 0.4, min_pixels=1).ravel())[1:]
    assert len(sizes) == 3  # with no minimum the 5x5 leaf's peak counts too
    big_peak = int(sizes.max())
    assert centre_seeds(labels > 0, centre, 0.4, min_pixels=big_peak + 1).max() == 0
    # Through decode_steps: peaks larger than the leaves' leave the one basin whole.
    foreground = (labels > 0).astype(np.float32)
    boundary = np.zeros(labels.shape, np.float32)
    steps = [Step(k, (labels == k + 1).astype(np.float32), 0.9, np.zeros((1, 1), np.float32), foreground, boundary,
                  centre) for k in range(2)]
    config = SegmentConfig(assignment="centres", core_threshold=0.1, centre_threshold=0.4, steps_split=False)
    assert len(np.unique(decode_steps(steps, labels.shape, config)[labels > 0])) == 2
    whole = decode_steps(steps, labels.shape, config.replace(centre_min_pixels=big_peak + 1))
    assert len(np.unique(whole[labels > 0])) == 1
    with pytest.raises(ConfigError, match="centre_min_pixels"):
        SegmentConfig(centre_min_pixels=0)
