"""Background replacement: the same leaves on other surfaces.

CVPPP rosettes all sit on soil in round pots; labs also photograph plants on
blue or black plastic mesh, grey trays and rock wool. Putting a labelled
plant on synthetic surfaces during training teaches the network that a leaf
is a leaf whatever lies under it (generalisation issue).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from leafcount.data.synth import soil_background

# Plastic colours seen under rosettes: blue mesh, black and grey trays, white rock wool.
_SURFACE_COLOURS = np.array(
    [[0.16, 0.22, 0.62], [0.10, 0.12, 0.35], [0.08, 0.08, 0.09], [0.30, 0.30, 0.32], [0.55, 0.55, 0.52]],
    dtype=np.float32,
)


def mesh_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A plastic mesh (diamond holes over a dark floor) of a random colour and pitch."""
    height, width = shape
    pitch = rng.uniform(0.03, 0.08) * min(height, width)
    angle = rng.uniform(0, np.pi / 2)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (rows * np.cos(angle) + cols * np.sin(angle)) / pitch
    v = (-rows * np.sin(angle) + cols * np.cos(angle)) / pitch
    # Distance to the nearest strand of a diamond lattice: holes are where both are far.
    strand = np.minimum(np.abs(((u + v) % 1.0) - 0.5), np.abs(((u - v) % 1.0) - 0.5))
    hole = np.clip((strand - rng.uniform(0.12, 0.25)) / 0.05, 0.0, 1.0)[..., None]
    colour = _SURFACE_COLOURS[rng.integers(len(_SURFACE_COLOURS))] * np.float32(rng.uniform(0.7, 1.3))
    shade = 1.0 + 0.1 * rng.standard_normal((height, width, 1)).astype(np.float32)
    floor = np.float32(rng.uniform(0.02, 0.12))
    return np.clip(colour * shade * (1 - hole) + floor * hole, 0.0, 1.0).astype(np.float32)


def flat_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A plain tray or cloth with a soft light gradient and noise."""
    height, width = shape
    colour = _SURFACE_COLOURS[rng.integers(len(_SURFACE_COLOURS))] * np.float32(rng.uniform(0.6, 1.4))
    ramp = np.linspace(-1, 1, width, dtype=np.float32)[None, :, None] * np.float32(rng.uniform(-0.15, 0.15))
    noise = 0.04 * rng.standard_normal((height, width, 3)).astype(np.float32)
    return np.clip(colour * (1 + ramp) + noise, 0.0, 1.0).astype(np.float32)


def random_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Soil, mesh or a flat surface, equally likely."""
    kind = rng.integers(3)
    if kind == 0:
        return soil_background(rng, shape)
    if kind == 1:
        return mesh_background(rng, shape)
    return flat_background(rng, shape)


def replace_background(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep the labelled leaves of ``image`` and put them on a random surface.

    The plant mask is grown by a pixel and softened so leaf edges blend in
    rather than showing a cut-out halo.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float32 in [0, 1]
    labels : ndarray, shape (H, W), int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (H, W, 3), float32
    """
    plant = ndimage.binary_dilation(labels > 0, iterations=1)
    alpha = ndimage.gaussian_filter(plant.astype(np.float32), 0.8)[..., None]
    background = random_background(rng, image.shape[:2])
    return (image * alpha + background * (1 - alpha)).astype(np.float32)
