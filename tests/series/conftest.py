"""Synthetic series: one seeded rosette (exact labels) shifted, turned and grown from date to date."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from leafcount.data.cvppp import write_labels
from leafcount.data.synth import make_rosette

Series = list[tuple[np.ndarray, np.ndarray]]  # (photo float RGB, truth labels) per date


def moved(array: np.ndarray, scale: float, turn_deg: float, shift: tuple[float, float], order: int) -> np.ndarray:
    """``array`` grown by ``scale`` and turned counter-clockwise about its centre, then shifted (rows, cols)."""
    centre = np.array(array.shape[:2]) / 2
    turn = math.radians(turn_deg)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    inverse = rotation.T / scale
    offset = centre - inverse @ (centre + np.asarray(shift, dtype=float))
    if array.ndim == 2:
        return ndimage.affine_transform(array, inverse, offset, order=order)
    return np.stack([ndimage.affine_transform(array[..., k], inverse, offset, order=order, mode="nearest")
                     for k in range(array.shape[2])], axis=-1)


def growing_series(seed: int, dates: int = 4, *, shape: tuple[int, int] = (180, 190), n_leaves: int = 9,
                   growth: float = 1.1, max_turn: float = 10.0, max_shift: float = 6.0) -> Series:
    """A rosette photographed on ``dates`` dates: each a little larger, turned and shifted."""
    rng = np.random.default_rng(seed)
    photo, labels = make_rosette(rng, shape, n_leaves=n_leaves)
    scale, turn, shift = 0.8, 0.0, np.zeros(2)
    series = []
    for _ in range(dates):
        series.append((np.clip(moved(photo, scale, turn, shift, 1), 0, 1), moved(labels, scale, turn, shift, 0)))
        scale *= growth
        turn += rng.uniform(-max_turn, max_turn)
        shift = shift + rng.uniform(-max_shift, max_shift, 2)
    return series


def write_photo(path: Path, photo: np.ndarray) -> Path:
    Image.fromarray(np.round(np.clip(photo, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def write_series() -> Callable[..., list[Path]]:
    """Write a series as ``<plant>_2026-03-0<d>.png`` photos with their truth labels beside them
    (saved labels beside a photo are used instead of the model's)."""

    def write(folder: Path, plant: str, series: Series, *, labels: bool = True) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for day, (photo, truth) in enumerate(series, start=1):
            path = write_photo(folder / f"{plant}_2026-03-{day:02d}.png", photo)
            if labels:
                write_labels(folder / f"{plant}_2026-03-{day:02d}_label.png", truth)
            paths.append(path)
        return paths

    return write
