"""The overlay preview is written losslessly, whatever the compression settings."""

import numpy as np
from PIL import Image

from leafcount.io.overlay import overlay_labels, write_rgb_png


def test_an_overlay_png_reads_back_pixel_for_pixel(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.zeros((40, 50), dtype=np.int32)
    labels[5:20, 5:25], labels[22:38, 10:45] = 1, 2
    rgb = overlay_labels(rng.random((40, 50, 3)).astype(np.float32), labels)
    write_rgb_png(tmp_path / "overlay.png", rgb)
    with Image.open(tmp_path / "overlay.png") as image:
        assert image.format == "PNG" and image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), rgb)
    assert not list(tmp_path.glob("*.partial"))


def test_outlines_traced_around_the_leaves_box_are_those_of_the_whole_image():
    from skimage.segmentation import find_boundaries

    from leafcount.data.cvppp import label_colors

    rng = np.random.default_rng(2)
    image = rng.random((40, 50, 3)).astype(np.float32)
    labels = np.zeros((40, 50), np.int32)
    labels[10:20, 12:30], labels[18:33, 25:40] = 1, 2
    labels[0:6, 44:50] = 3  # a leaf in the image's corner: its box meets the border
    got = overlay_labels(image, labels)
    colors = label_colors(3).astype(np.float32) / 255.0
    want = image.copy()
    inside = labels > 0
    want[inside] = (1 - 0.45) * want[inside] + 0.45 * colors[labels[inside]]
    edges = find_boundaries(labels, mode="inner") & inside
    want[edges] = colors[labels[edges]]
    np.testing.assert_array_equal(got, (np.clip(want, 0, 1) * 255 + 0.5).astype(np.uint8))
    assert (got[edges] == (colors[labels[edges]] * 255 + 0.5).astype(np.uint8)).all() and edges[0, 44]


def test_inner_outlines_are_skimages_inner_boundaries():
    from skimage.segmentation import find_boundaries

    from leafcount.io.overlay import inner_outlines

    rng = np.random.default_rng(5)
    for shape, ids in (((31, 47), 6), ((1, 9), 3), ((12, 1), 2)):
        labels = rng.integers(0, ids, size=shape).astype(np.int32)  # every pixel a leaf or background at random
        labels[: shape[0] // 2] = np.repeat(labels[:1], shape[0] // 2, axis=0)  # and runs of one id
        expected = find_boundaries(labels, mode="inner")
        assert expected.any() and not expected.all()
        np.testing.assert_array_equal(inner_outlines(labels), expected)


def test_an_overlay_blended_in_many_row_blocks_is_the_overlay_of_one_block(monkeypatch):
    import leafcount.io.overlay as overlay

    rng = np.random.default_rng(6)
    image = rng.random((61, 37, 3)).astype(np.float32)
    labels = np.zeros((61, 37), np.int32)
    labels[3:50, 4:20], labels[20:60, 15:36] = 1, 2  # leaves across many blocks and their edges
    monkeypatch.setattr(overlay, "BLOCK_ROWS", 61)
    whole = overlay.overlay_labels(image, labels)
    monkeypatch.setattr(overlay, "BLOCK_ROWS", 7)
    np.testing.assert_array_equal(overlay.overlay_labels(image, labels), whole)
    photo = (image * 255 + 0.5).astype(np.uint8)
    assert (whole != photo).any()
    np.testing.assert_array_equal(overlay.overlay_labels(image, np.zeros_like(labels)), photo)  # no leaf at all
