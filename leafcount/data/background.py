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


# The 24 patches of a classic colour checker (sRGB, row by row): labs put one
# beside the pot for colour calibration, and its green patches look like leaves.
_CHECKER = np.array(
    [[115, 82, 68], [194, 150, 130], [98, 122, 157], [87, 108, 67], [133, 128, 177], [103, 189, 170],
     [214, 126, 44], [80, 91, 166], [193, 90, 99], [94, 60, 108], [157, 188, 64], [224, 163, 46],
     [56, 61, 150], [70, 148, 73], [175, 54, 60], [231, 199, 31], [187, 86, 149], [8, 133, 161],
     [243, 243, 242], [200, 200, 200], [160, 160, 160], [122, 122, 121], [85, 85, 85], [52, 52, 52]],
    dtype=np.float32,
) / 255.0


def _free_corner(plant: np.ndarray, height: int, width: int, rng: np.random.Generator) -> tuple[int, int] | None:
    """A random top-left corner where a height x width box misses the plant, if one is found."""
    rows, cols = plant.shape
    if height >= rows or width >= cols:
        return None
    for _ in range(20):
        top, left = int(rng.integers(0, rows - height)), int(rng.integers(0, cols - width))
        if not plant[top : top + height, left : left + width].any():
            return top, left
    return None


_CARD_LAYOUTS = ((4, 6), (6, 4), (6, 2), (2, 6), (3, 2))


def add_colour_card(surface: np.ndarray, plant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw a colour card (a grid of checker patches on a black frame: the full
    4 x 6 checker, or a strip of fewer, larger patches as on a pot-side card)
    on ``surface`` where it does not cover the ``plant`` mask."""
    rows, cols = plant.shape
    grid = _CARD_LAYOUTS[rng.integers(len(_CARD_LAYOUTS))]
    patch = max(3, int(rng.uniform(0.025, 0.09 if grid[0] * grid[1] < 24 else 0.06) * min(rows, cols)))
    gap = max(1, patch // 5)
    height, width = (grid[0] * (patch + gap) + gap, grid[1] * (patch + gap) + gap)
    corner = _free_corner(plant, height, width, rng)
    if corner is None:
        return surface
    top, left = corner
    out = surface.copy()
    out[top : top + height, left : left + width] = rng.uniform(0.02, 0.1)
    light = np.float32(rng.uniform(0.6, 1.1))
    colours = _CHECKER[np.sort(rng.choice(len(_CHECKER), grid[0] * grid[1], replace=False))]
    for index, colour in enumerate(colours):
        r, c = divmod(index, grid[1])
        y, x = top + gap + r * (patch + gap), left + gap + c * (patch + gap)
        out[y : y + patch, x : x + patch] = np.clip(colour * light, 0.0, 1.0)
    return out


def add_pot_label(surface: np.ndarray, plant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A white plant label with dark lines of "text" where it misses the plant."""
    rows, cols = plant.shape
    height = max(4, int(rng.uniform(0.04, 0.1) * rows))
    width = max(8, int(rng.uniform(0.1, 0.25) * cols))
    corner = _free_corner(plant, height, width, rng)
    if corner is None:
        return surface
    top, left = corner
    out = surface.copy()
    out[top : top + height, left : left + width] = rng.uniform(0.75, 0.98)
    line = max(1, height // 6)
    for y in range(top + line, top + height - line, 2 * line):
        end = left + int(width * rng.uniform(0.4, 0.9))
        out[y : y + line, left + line : end] = rng.uniform(0.05, 0.3)
    return out


def replace_background(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep the labelled leaves of ``image`` and put them on a random surface,
    with a colour card (p = 0.5) and a plant label (p = 0.3) beside the plant.

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
    clear = ndimage.binary_dilation(plant, iterations=3)
    if rng.random() < 0.5:
        background = add_colour_card(background, clear, rng)
    if rng.random() < 0.3:
        background = add_pot_label(background, clear, rng)
    return (image * alpha + background * (1 - alpha)).astype(np.float32)
