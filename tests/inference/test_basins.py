"""The "basins" decoding: the boundary map's basins, split and merged by the steps' count and places."""

import numpy as np
import pytest

from leafcount.errors import ConfigError
from leafcount.inference.basins import basin_leaves, boundary_basins
from leafcount.inference.segment import SegmentConfig, Step, decode_steps


def _plant(edge_strength: float) -> tuple[np.ndarray, np.ndarray]:
    """A 20x40 plant of two 20x19 leaves meeting at columns 19-20, their edge drawn at ``edge_strength``."""
    foreground = np.zeros((24, 44), np.float32)
    foreground[2:22, 2:42] = 1.0
    boundary = np.zeros_like(foreground)
    boundary[2:22, 21:23] = edge_strength
    return foreground, boundary


def _mask(rows: slice, cols: slice, shape=(24, 44), value=0.9) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    mask[rows, cols] = value
    return mask


def test_a_clear_edge_gives_two_basins_and_a_faint_one_gives_one():
    foreground, clear = _plant(0.9)
    assert boundary_basins(foreground > 0.5, clear, 0.1).max() == 2
    _, faint = _plant(0.05)
    assert boundary_basins(foreground > 0.5, faint, 0.1).max() == 1


def test_two_steps_in_one_basin_split_it_at_the_faint_edge():
    foreground, faint = _plant(0.05)
    steps = [_mask(slice(3, 21), slice(3, 20)), _mask(slice(3, 21), slice(24, 41))]
    labels = basin_leaves(steps, [1, 2], foreground, faint)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert (labels[2:22, 2:21] == 1).all() and (labels[2:22, 23:42] == 2).all()
    one = basin_leaves(steps[:1], [1], foreground, faint)  # one step, one basin: nothing to split
    assert set(np.unique(one)) == {0, 1} and (one[foreground > 0] == 1).all()


def test_steps_that_may_not_split_leave_a_shared_basin_whole_but_still_merge():
    foreground, faint = _plant(0.05)
    steps = [_mask(slice(3, 21), slice(3, 20)), _mask(slice(3, 21), slice(24, 41))]
    whole = basin_leaves(steps, [1, 2], foreground, faint, steps_split=False)
    assert len(np.unique(whole[foreground > 0])) == 1  # two steps, one basin, no split
    _, clear = _plant(0.9)
    merged = basin_leaves([_mask(slice(2, 22), slice(2, 42))], [1], foreground, clear, steps_split=False)
    assert set(np.unique(merged)) == {0, 1}
    config = SegmentConfig(assignment="basins", stop_threshold=0.0, core_threshold=0.1)
    kept = [Step(k, m, 0.9, np.zeros((3, 5), np.float32), foreground, faint) for k, m in enumerate(steps)]
    assert len(np.unique(decode_steps(kept, (24, 44), config))) == 3
    assert len(np.unique(decode_steps(kept, (24, 44), config.replace(steps_split=False)))) == 2


def test_one_step_over_two_basins_merges_them():
    foreground, clear = _plant(0.9)  # a shadow line, say, cuts one leaf in two
    step = _mask(slice(2, 22), slice(2, 42))
    labels = basin_leaves([step], [1], foreground, clear)
    assert set(np.unique(labels)) == {0, 1}
    two = basin_leaves([step, _mask(slice(5, 9), slice(30, 34))], [1, 2], foreground, clear)
    assert set(np.unique(two)) == {0, 1, 2}  # two steps, two basins: nothing merged


def test_leaves_take_the_ids_of_the_steps_that_found_them():
    foreground, clear = _plant(0.9)
    steps = [_mask(slice(3, 21), slice(25, 40)), _mask(slice(3, 21), slice(3, 19))]
    labels = basin_leaves(steps, [1, 2], foreground, clear)
    assert labels[10, 30] == 1 and labels[10, 10] == 2
    none_found = basin_leaves([_mask(slice(0, 1), slice(0, 44))], [1], foreground, clear)  # a step off the plant
    assert set(np.unique(none_found)) == {0, 2, 3}  # basins the steps did not find keep ids after theirs


def test_decode_steps_runs_basins_at_the_maps_resolution_and_scales_up():
    foreground, faint = _plant(0.05)
    small = (12, 22)  # the step masks at half the maps' resolution
    steps = [Step(k, m[::2, ::2].copy(), 0.9, np.zeros((1, 1), np.float32), foreground, faint)
             for k, m in enumerate([_mask(slice(3, 21), slice(3, 20)), _mask(slice(3, 21), slice(24, 41))])]
    assert steps[0].mask.shape == small
    labels = decode_steps(steps, (48, 88), SegmentConfig(assignment="basins", core_threshold=0.1))
    assert labels.shape == (48, 88)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert labels[20, 20] == 1 and labels[20, 70] == 2
    plain = [Step(s.index, s.mask, s.score, s.kappa) for s in steps]  # no dense maps: argmax
    np.testing.assert_array_equal(decode_steps(plain, (48, 88), SegmentConfig(assignment="basins")),
                                  decode_steps(plain, (48, 88), SegmentConfig(assignment="argmax")))


def test_the_plant_is_the_largest_foreground_piece_and_what_lies_close_to_it():
    from leafcount.inference.basins import plant_pixels

    foreground = np.zeros((100, 100), np.float32)
    foreground[20:60, 20:60] = 0.9  # the rosette
    foreground[62:66, 30:34] = 0.9  # a leaf tip across a petiole the map missed: 2 px away
    foreground[85:95, 85:95] = 0.9  # a colour-card patch in the corner: 35 px away, the plant is 57 px across
    plant = plant_pixels(foreground)
    assert plant[20:60, 20:60].all() and plant[62:66, 30:34].all()
    assert not plant[85:95, 85:95].any()
    assert plant.sum() == 40 * 40 + 16
    single = np.where(foreground[:70] > 0, 0.9, 0.0)  # no stray piece: the plain threshold
    np.testing.assert_array_equal(plant_pixels(single), single > 0.5)


def _two_plants() -> np.ndarray:
    """A tray plant's crop: the plant (20x20, right) and a bigger neighbour (40x30, left) 30 px apart."""
    foreground = np.zeros((60, 100), np.float32)
    foreground[10:50, 5:35] = 0.9  # the neighbour
    foreground[20:40, 65:85] = 0.9  # the plant
    return foreground


def test_a_focus_keeps_the_plant_it_points_at_not_the_bigger_neighbour():
    from leafcount.inference.basins import plant_pixels
    from leafcount.resize import Box

    foreground = _two_plants()
    assert plant_pixels(foreground)[10:50, 5:35].all() and not plant_pixels(foreground)[20:40, 65:85].any()
    focused = plant_pixels(foreground, Box(18, 62, 25, 26))
    assert focused[20:40, 65:85].all() and not focused[10:50, 5:35].any()
    empty = plant_pixels(foreground, Box(52, 40, 6, 10))  # no foreground inside it: the largest piece
    np.testing.assert_array_equal(empty, plant_pixels(foreground))


def test_decode_steps_scales_the_focus_from_image_to_map_pixels():
    from leafcount.resize import Box

    foreground = _two_plants()
    boundary = np.zeros_like(foreground)
    plant_step = Step(0, _mask(slice(20, 40), slice(65, 85), shape=(60, 100)), 0.9, np.zeros((1, 1), np.float32),
                      foreground, boundary)
    config = SegmentConfig(assignment="basins", core_threshold=0.1)
    unfocused = decode_steps([plant_step], (120, 200), config)
    assert unfocused[60, 150] == 0 and unfocused[60, 40] > 0  # the plant lost to the neighbour
    labels = decode_steps([plant_step], (120, 200), config, focus=Box(36, 124, 50, 52))  # image pixels: 2x the maps'
    assert labels[60, 150] == 1 and labels[60, 40] == 0


def _three_leaves_and_a_speck() -> tuple[np.ndarray, np.ndarray]:
    """Three 20x12 leaves side by side, and a 6x6 speck of a core cut off the first by a false edge."""
    foreground = np.zeros((24, 48), np.float32)
    foreground[2:22, 2:46] = 1.0
    boundary = np.zeros_like(foreground)
    boundary[2:22, 15:17] = boundary[2:22, 30:32] = 0.9  # the three leaves' real edges
    boundary[13:15, 2:11] = boundary[13:22, 9:11] = 0.9  # the false edge around the speck (rows 15-21, cols 2-8)
    return foreground, boundary


def test_a_core_far_smaller_than_the_plants_median_core_seeds_no_basin():
    foreground, boundary = _three_leaves_and_a_speck()
    plant = foreground > 0.5
    assert boundary_basins(plant, boundary, 0.1).max() == 4  # 42 px of core: above MIN_CORE_PIXELS
    kept = boundary_basins(plant, boundary, 0.1, min_share=0.1)  # 10% of the median core (about 240 px)
    assert kept.max() == 4
    merged = boundary_basins(plant, boundary, 0.1, min_share=0.25)
    assert merged.max() == 3 and len(np.unique(merged[plant])) == 3
    assert merged[18, 5] == merged[5, 5]  # the speck went to the leaf it was cut from
    # Through decode_steps, the stored setting; the first step misses the speck, so does not merge it.
    steps = [Step(k, _mask(slice(3, 12 if k == 0 else 21), slice(3 + 15 * k, 14 + 15 * k), (24, 48)), 0.9,
                  np.zeros((1, 1), np.float32), foreground, boundary) for k in range(3)]
    config = SegmentConfig(assignment="basins", core_threshold=0.1, steps_split=False)
    assert len(np.unique(decode_steps(steps, (24, 48), config))) == 4 + 1
    assert len(np.unique(decode_steps(steps, (24, 48), config.replace(core_min_share=0.25)))) == 3 + 1
    with pytest.raises(ConfigError, match="core_min_share"):
        SegmentConfig(core_min_share=1.5)


def _rosette(shape=(70, 90), top=25, left=40, seed=3):
    """Four touching leaves away from the photo's corner, with noisy maps: where watershed ties and
    raster order matter."""
    from scipy import ndimage
    from skimage.segmentation import find_boundaries

    rng = np.random.default_rng(seed)
    leaves = np.zeros(shape, np.int32)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    for leaf, (r, c, radius) in enumerate([(10, 10, 9), (10, 26, 8), (26, 12, 8), (24, 30, 10)], start=1):
        leaves[(np.hypot(rows - top - r, cols - left - c) < radius) & (leaves == 0)] = leaf
    foreground = (leaves > 0).astype(np.float32) * 0.9 + rng.random(shape).astype(np.float32) * 0.05
    boundary = find_boundaries(leaves, mode="inner").astype(np.float32) * 0.8 + rng.random(shape).astype(np.float32) * 0.12
    centre = np.zeros(shape, np.float32)
    for leaf in range(1, 5):
        inside = ndimage.distance_transform_edt(leaves == leaf)
        centre += inside / inside.max()
    steps = [(leaves == 1) | (leaves == 2), leaves == 3, leaves == 4, leaves == 4]
    return [s.astype(np.float32) * 0.9 for s in steps], foreground, boundary, centre


@pytest.mark.parametrize("steps_split", [True, False])
def test_decoding_on_the_plants_box_gives_the_labels_of_the_whole_photo(steps_split):
    from leafcount.inference.basins import corrected_by_steps, plant_pixels
    from leafcount.inference.centres import centre_seeds, merge_fragments, split_at_centres

    probs, foreground, boundary, centre = _rosette()
    options = dict(core_threshold=0.15, centre_threshold=0.4, centre_min_pixels=4, fragment_threshold=0.45)
    labels = basin_leaves(probs, [1, 2, 3, 4], foreground, boundary, centre=centre, steps_split=steps_split, **options)
    # The same steps over the whole photo, as before the decoding ran on the box alone.
    plant = plant_pixels(foreground)
    whole = boundary_basins(plant, boundary, 0.15)
    whole = split_at_centres(whole, centre_seeds(plant, centre, 0.4, 4), boundary)
    whole = merge_fragments(whole, centre, 0.45)
    whole = corrected_by_steps(whole, probs, [1, 2, 3, 4], plant, boundary, 0.5, steps_split)
    assert len(np.unique(labels)) > 3  # a real decoding, not an empty one
    np.testing.assert_array_equal(labels, whole)


def test_no_plant_decodes_to_no_leaves():
    probs, foreground, boundary, centre = _rosette()
    labels = basin_leaves(probs, [1, 2, 3, 4], np.zeros_like(foreground), boundary, centre=centre)
    assert labels.shape == foreground.shape and not labels.any()



@pytest.mark.parametrize("assignment", ["basins", "centres"])
def test_the_shipped_networks_steps_decode_as_with_each_whole_mask_resized(assignment):
    """The decoding resizes the masks on the plant's box alone (resize.resized_window): the labels
    are those of masks resized whole, on a plant of the shipped network, with the steps splitting
    and merging basins (where they decide the labels) and as the default decoding runs."""
    from leafcount.data.synth import make_rosette
    from leafcount.inference.segment import segment_steps
    from leafcount.model.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint
    from leafcount.resize import resize_array

    model, info = load_checkpoint(DEFAULT_MODEL_PATH)
    config = SegmentConfig.for_checkpoint(info.meta).replace(assignment=assignment, steps_split=True)
    rosette, _ = make_rosette(np.random.default_rng(2), shape=(210, 190), n_leaves=8)
    image = np.empty((300, 280, 3), rosette.dtype)
    image[:] = np.median(rosette[:4].reshape(-1, 3), axis=0)  # the soil around the plant
    image[80:290, 70:260] = rosette  # the plant's box well inside the photo
    steps = [s for s in segment_steps(model, image, config) if s.score >= config.stop_threshold]
    work = steps[0].foreground.shape
    assert steps[0].mask.shape[0] < work[0] and steps[0].mask.shape[1] < work[1]  # enlarged, not just cut
    centre = steps[0].centre if assignment == "centres" else None
    expected = basin_leaves(
        [resize_array(s.mask, work) for s in steps], [s.index + 1 for s in steps], steps[0].foreground,
        steps[0].boundary, config.mask_threshold, config.core_threshold, centre, config.centre_threshold,
        config.steps_split, config.fragment_threshold, None, config.centre_min_pixels, config.core_min_share)
    labels = decode_steps(steps, image.shape[:2], config)
    assert len(np.unique(expected)) >= 5
    np.testing.assert_array_equal(labels, resize_array(expected, image.shape[:2], nearest=True))
