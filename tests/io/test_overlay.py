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
