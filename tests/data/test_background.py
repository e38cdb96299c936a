import numpy as np
import pytest

from leafcount.data.augment import AugmentConfig, augment
from leafcount.data.background import (
    mesh_background,
    random_background,
    replace_background,
)
from leafcount.data.synth import make_rosette
from leafcount.errors import ConfigError


def test_backgrounds_are_images_of_the_shape(rng):
    for _ in range(6):
        bg = random_background(rng, (40, 50))
        assert bg.shape == (40, 50, 3) and bg.dtype == np.float32
        assert 0 <= bg.min() and bg.max() <= 1
    mesh = mesh_background(rng, (100, 100))
    assert mesh.std() > 0.02  # holes and strands, not a flat colour


def test_replace_background_keeps_leaves_and_changes_soil(rng):
    image, labels = make_rosette(rng, shape=(80, 90), n_leaves=5)
    out = replace_background(image, labels, rng)
    inner = labels > 0
    from scipy import ndimage

    core = ndimage.binary_erosion(inner, iterations=2)
    far = ~ndimage.binary_dilation(inner, iterations=3)
    assert np.allclose(out[core], image[core], atol=0.02)
    assert np.abs(out[far] - image[far]).mean() > 0.02


def test_augment_with_background_keeps_labels_and_validates(rng):
    image, labels = make_rosette(rng, shape=(60, 64), n_leaves=4)
    config = AugmentConfig(p_background=1.0, p_flip=0, p_rotate=0, scale_range=(1, 1), brightness=0,
                           contrast=0, saturation=0, hue=0)
    out, out_labels = augment(image, labels, rng, config)
    np.testing.assert_array_equal(out_labels, labels)
    assert not np.allclose(out, image)
    with pytest.raises(ConfigError, match="p_background must be in"):
        AugmentConfig(p_background=2)
