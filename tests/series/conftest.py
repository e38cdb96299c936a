"""Writing synthetic series (:func:`leafcount.data.synth.make_growing_rosette`) as photos and labels,
and moving a label image as a plant moves between dates."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from leafcount.data.cvppp import write_labels

Series = list[tuple[np.ndarray, np.ndarray]]  # (photo float RGB, truth labels) per date


def _moved(labels: np.ndarray, scale: float, turn_deg: float, shift: tuple[float, float]) -> np.ndarray:
    """``labels`` grown by ``scale`` and turned counter-clockwise about the centre, then shifted (rows, cols)."""
    centre = np.array(labels.shape) / 2
    turn = math.radians(turn_deg)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    inverse = rotation.T / scale
    offset = centre - inverse @ (centre + np.asarray(shift, dtype=float))
    return ndimage.affine_transform(labels, inverse, offset, order=0)


def _write_photo(path: Path, photo: np.ndarray) -> Path:
    Image.fromarray(np.round(np.clip(photo, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


# Fixtures, not imports: `from conftest import ...` finds tests/gui/conftest.py when both folders run together.
@pytest.fixture
def moved() -> Callable[..., np.ndarray]:
    return _moved


@pytest.fixture
def write_photo() -> Callable[[Path, np.ndarray], Path]:
    return _write_photo


@pytest.fixture
def write_series() -> Callable[..., list[Path]]:
    """Write a series as ``<plant>_2026-03-0<d>.png`` photos with their truth labels beside them
    (saved labels beside a photo are used instead of the model's)."""

    def write(folder: Path, plant: str, series: Series, *, labels: bool = True) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for day, (photo, truth) in enumerate(series, start=1):
            path = _write_photo(folder / f"{plant}_2026-03-{day:02d}.png", photo)
            if labels:
                write_labels(folder / f"{plant}_2026-03-{day:02d}_label.png", truth)
            paths.append(path)
        return paths

    return write
