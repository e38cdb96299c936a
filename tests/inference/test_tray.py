from pathlib import Path

import numpy as np
import pytest

from leafcount.data.folder import read_image
from leafcount.data.synth import make_rosette
from leafcount.errors import ConfigError
from leafcount.inference.tray import (
    closed_by_disk,
    dilated_by_disk,
    CVPPP_MARGIN,
    MAX_MARGIN,
    PlantBox,
    crop_margin,
    detect_plants,
    looks_like_tray,
    parse_grid,
    segment_tray,
)

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def test_arabidopsis_tray_finds_each_rosette_of_the_grid_once():
    """The 5x3 grid of the lower flat: 15 pots, 15 rosettes, one box each."""
    image = read_image(DEMO / "arabidopsis_tray.jpg")
    plants = detect_plants(image)
    h = image.shape[0]
    lower = [p for p in plants if (p.top + p.bottom) / 2 > 0.25 * h]  # the upper flat is the first quarter
    assert len(lower) == 15
    assert sorted({p.row for p in lower}) == [1, 2, 3] and sorted({p.col for p in lower}) == [0, 1, 2, 3, 4]
    assert len({(p.row, p.col) for p in lower}) == 15  # no cell twice
    # Pot centres of the 5x3 grid (read off the photo): each holds exactly one box centre.
    pot_x, pot_y = [155, 330, 510, 690, 870], [295, 475, 650]
    for y in pot_y:
        for x in pot_x:
            inside = [p for p in lower if abs((p.left + p.right) / 2 - x) < 85 and abs((p.top + p.bottom) / 2 - y) < 85]
            assert len(inside) == 1, (x, y, inside)
    for p in lower:  # no box spans two pots (pots are ~175 px apart)
        assert p.width < 175 and p.height < 175


def test_grid_merges_split_plants_and_orders_rows():
    rng = np.random.default_rng(0)
    tray = np.zeros((200, 300, 3), np.float32) + [0.25, 0.18, 0.12]
    truth = []
    for r in range(2):
        for c in range(3):
            image, labels = make_rosette(rng, shape=(80, 80), n_leaves=5)
            sub = tray[10 + r * 100 : 90 + r * 100, 10 + c * 100 : 90 + c * 100]
            sub[labels > 0] = image[labels > 0]
            truth.append((r, c))
    plants = detect_plants(tray)
    assert [(p.row, p.col) for p in plants] == truth
    assert [p.index for p in plants] == list(range(6))
    gridded = detect_plants(tray, grid=(2, 3))
    assert [(p.row, p.col) for p in gridded] == truth


def test_no_plants_and_bad_grid():
    assert detect_plants(np.zeros((50, 50, 3), np.float32) + 0.3) == []
    assert parse_grid("4x5") == (4, 5)
    with pytest.raises(ConfigError, match="ROWSxCOLS"):
        parse_grid("four by five")
    with pytest.raises(ConfigError, match="at least one row"):
        parse_grid("0x5")


def test_segment_tray_gives_each_plant_its_own_leaf_ids(tiny_model):
    rng = np.random.default_rng(1)
    tray = np.zeros((100, 200, 3), np.float32) + 0.2
    for c in range(2):
        image, labels = make_rosette(rng, shape=(80, 80), n_leaves=4)
        tray[10:90, 10 + c * 100 : 90 + c * 100][labels > 0] = image[labels > 0]
    plants = [PlantBox(0, 0, 0, 10, 10, 90, 90), PlantBox(1, 0, 1, 10, 110, 90, 190)]
    labels, results = segment_tray(tiny_model, tray, plants)
    assert labels.shape == (100, 200)
    ids = [set(r.leaf_ids) for r in results]
    assert not ids[0] & ids[1]
    for result in results:
        own = result.plant.expanded(0.1, labels.shape)
        for leaf in result.leaf_ids:
            rows, cols = np.nonzero(labels == leaf)
            assert rows.min() >= own.top and rows.max() < own.bottom
            assert cols.min() >= own.left and cols.max() < own.right


@pytest.mark.parametrize(
    ("size", "expected"),
    [(400, CVPPP_MARGIN),  # larger than the input: framed like CVPPP, then shrunk
     (100, (250 / 100 - 1) / 2),  # the crop just reaches the input size, nothing is enlarged
     (20, MAX_MARGIN)],  # a seedling still fills a third of its crop
)
def test_small_plants_get_more_surroundings_instead_of_being_enlarged(size, expected):
    plant = PlantBox(0, 0, 0, 1000, 1000, 1000 + size, 1000 + size // 2)  # the height sets the scale
    assert crop_margin(plant, (250, 265)) == pytest.approx(expected)
    crop = plant.expanded(crop_margin(plant, (250, 265)), (10_000, 10_000))
    if size == 100:
        assert crop.height == 250


def test_a_tray_is_several_plants_of_about_the_same_size():
    rosette = PlantBox(0, 0, 0, 100, 100, 400, 380)
    moss = PlantBox(1, 0, 1, 10, 10, 40, 30)
    assert not looks_like_tray([rosette, moss])
    assert not looks_like_tray([rosette])
    assert not looks_like_tray([])
    assert looks_like_tray([rosette, PlantBox(2, 0, 2, 100, 500, 360, 760), moss])


@pytest.mark.parametrize(("name", "is_tray"), [("arabidopsis_tray.jpg", True), ("chamber_tray.jpg", True),
                                               ("Col-0_M_9_17dpi.jpg", False), ("pi_rosette_2019-10-31.png", False)])
def test_bundled_photos_are_told_apart(name, is_tray):
    assert looks_like_tray(detect_plants(read_image(DEMO / name))) is is_tray


def test_specks_of_noise_are_no_tray():
    noise = np.random.default_rng(0).random((3, 200, 3)).astype(np.float32)
    assert len(detect_plants(noise)) > 2
    assert not looks_like_tray(detect_plants(noise))


def test_each_plant_is_decoded_with_its_own_box_in_its_crop_as_focus(tiny_model, monkeypatch):
    """The crop around a small plant can hold a bigger neighbour; the decoding is told which is the plant."""
    import leafcount.inference.tray as tray_module

    tray = np.zeros((100, 200, 3), np.float32)
    tray[20:80, 20:80] = 0.8  # a big plant
    tray[40:60, 95:115] = 0.5  # a small one whose crop reaches the big one
    plants = [PlantBox(0, 0, 0, 20, 20, 80, 80), PlantBox(1, 0, 1, 40, 95, 60, 115)]
    seen = []
    real = tray_module.segment_image

    def recording(model, patch, config, cancel, focus):
        seen.append((patch, focus))
        return real(model, patch, config, cancel, focus)

    monkeypatch.setattr(tray_module, "segment_image", recording)
    segment_tray(tiny_model, tray, plants, margin=1.0)
    assert len(seen) == 2
    for plant, (patch, focus) in zip(plants, seen):
        inside = focus.crop(patch)
        assert inside.shape[:2] == (plant.height, plant.width)
        np.testing.assert_array_equal(inside, tray[plant.top : plant.bottom, plant.left : plant.right])
    assert (seen[1][0] == 0.8).any()  # the small plant's crop does hold the big one


@pytest.mark.parametrize("seed", range(4))
def test_the_closing_on_the_masks_window_is_the_closing_of_the_whole_image(seed):
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    mask = np.zeros((90, 120), dtype=bool)
    for _ in range(6):  # blobs anywhere, some cut by the image's edge
        r, c, size = rng.integers(-5, 95), rng.integers(-5, 125), rng.integers(2, 12)
        mask[max(0, r): r + size, max(0, c): c + size] = True
    radius = int(rng.integers(2, 7))
    whole = ndi.distance_transform_edt(ndi.distance_transform_edt(~mask) <= radius) > radius
    np.testing.assert_array_equal(closed_by_disk(mask, radius), whole)
    assert (closed_by_disk(mask, radius) >= mask).all()
    assert not closed_by_disk(np.zeros((9, 9), dtype=bool), 3).any()



def _disk(radius: int) -> np.ndarray:
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return dy * dy + dx * dx <= radius * radius


@pytest.mark.parametrize("seed", range(8))
def test_the_disk_dilation_is_the_dilation_with_a_disk_shaped_footprint(seed):
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 60)), int(rng.integers(1, 60)))
    mask = rng.random(shape) < rng.uniform(0.0, 0.2)
    radius = int(rng.integers(1, 12))
    expected = ndi.binary_dilation(mask, structure=_disk(radius))  # outside the array counts as no mask
    np.testing.assert_array_equal(dilated_by_disk(mask, radius), expected)


def test_a_dilation_that_covers_the_whole_image_closes_all_of_it():
    # Two distance transforms left a corner open here: with no pixel outside the dilated mask,
    # scipy measured distances to a point off the image.
    mask = np.zeros((20, 24), dtype=bool)
    mask[::3, ::3] = True  # every pixel within 3 of one
    assert dilated_by_disk(mask, 3).all()
    assert closed_by_disk(mask, 3).all()
