"""Training augmentation: one random geometric transform for image and labels.

Flips, rotation and scaling move the image and its labels together (the
paper trains with random rotations and flips, p = 0.5, applied identically
to both); colour jitter changes the image only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from leafcount.data.background import replace_background
from leafcount.errors import ConfigError, LabelFormatError

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """How :func:`augment` draws its random transform.

    Attributes
    ----------
    p_flip : float
        Probability of a left-right flip, and separately of an up-down flip.
    p_rotate : float
        Probability of a rotation.
    rotate : {"any", "right_angles"}
        ``"any"``: an angle uniform in [0, 360) degrees; ``"right_angles"``:
        90, 180 or 270 degrees, lossless on square images.
    scale_range : (float, float)
        Zoom factor drawn uniformly from this range (> 1 zooms in);
        ``(1.0, 1.0)`` disables scaling.
    brightness, contrast, saturation : float
        Each scales its property by a factor drawn from ``[1 - x, 1 + x]``;
        0 disables it. At most 1.
    hue : float
        Hue shift drawn from ``[-hue, hue]`` turns (1 = full circle); at most 0.5.
    p_background : float
        Probability of putting the plant on a new surface (soil, mesh, tray;
        :mod:`leafcount.data.background`) before the geometric transform.
    """

    p_flip: float = 0.5
    p_rotate: float = 0.5
    rotate: Literal["any", "right_angles"] = "any"
    scale_range: tuple[float, float] = (0.8, 1.2)
    brightness: float = 0.1
    contrast: float = 0.1
    saturation: float = 0.1
    hue: float = 0.02
    p_background: float = 0.0

    def __post_init__(self) -> None:
        for name in ("p_flip", "p_rotate", "p_background"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")
        if self.rotate not in ("any", "right_angles"):
            raise ConfigError(f'rotate must be "any" or "right_angles", got {self.rotate!r}')
        scale_range = tuple(self.scale_range)
        if len(scale_range) != 2 or not 0.0 < scale_range[0] <= scale_range[1]:
            raise ConfigError(
                f"scale_range must be (low, high) with 0 < low <= high, got {self.scale_range}"
            )
        object.__setattr__(self, "scale_range", (float(scale_range[0]), float(scale_range[1])))
        for name in ("brightness", "contrast", "saturation"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 <= self.hue <= 0.5:
            raise ConfigError(f"hue must be in [0, 0.5], got {self.hue}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        values = dataclasses.asdict(self)
        values["scale_range"] = list(self.scale_range)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AugmentConfig:
        """Inverse of :meth:`to_dict`; an unknown key is a :class:`ConfigError`."""
        known = {field.name for field in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(f"unknown augmentation setting {key!r}")
        return cls(**values)


def augment(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random flip / rotation / zoom to both arrays, colour jitter to the image.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float in [0, 1]
    labels : ndarray, shape (H, W), integer
        0 = background, leaves > 0.
    rng : numpy.random.Generator
        The only source of randomness: the same state gives the same output.
    config : AugmentConfig

    Returns
    -------
    image : ndarray, shape (H, W, 3), float32 in [0, 1]
    labels : ndarray, shape (H, W), int32
        Only ids of the input (a leaf moved out of view disappears).

    Notes
    -----
    Flips and rotations by multiples of 90 degrees (180 degrees, or any on
    a square image) permute pixels exactly. Other rotations and zooms
    resample: the image bilinearly, the labels by nearest neighbour so no
    new id appears. Where the transform looks outside the input, the image
    repeats its edge pixels (no black corners) and the labels are background.
    A mirror fill would be smoother but, when zooming out, shows mirrored
    leaves that the labels call background: the network would learn to
    ignore plants.

    Raises
    ------
    ValueError
        When ``image`` is not (H, W, 3).
    LabelFormatError
        When ``labels`` is not an integer array of shape (H, W).
    """
    image = np.asarray(image, dtype=np.float32)
    labels = np.asarray(labels)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if labels.shape != image.shape[:2]:
        raise LabelFormatError(f"labels shape {labels.shape} does not match image {image.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise LabelFormatError(f"labels must be integers, got dtype {labels.dtype}")

    if config.p_background and rng.random() < config.p_background:
        image = replace_background(image, labels, rng)
    if rng.random() < config.p_flip:
        image, labels = image[:, ::-1], labels[:, ::-1]
    if rng.random() < config.p_flip:
        image, labels = image[::-1], labels[::-1]
    angle = 0.0
    if rng.random() < config.p_rotate:
        if config.rotate == "right_angles":
            quarters = int(rng.integers(1, 4))
            if quarters == 2 or labels.shape[0] == labels.shape[1]:
                image, labels = np.rot90(image, quarters), np.rot90(labels, quarters)
            else:  # a quarter turn of a non-square image must be cropped to fit
                angle = 90.0 * quarters
        else:
            angle = rng.uniform(0.0, 360.0)
    low, high = config.scale_range
    scale = rng.uniform(low, high) if low < high else low
    if angle != 0.0 or scale != 1.0:
        image, labels = _rotate_and_scale(image, labels, angle, scale)
    image = _jitter_colour(image, rng, config)
    return (
        np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32),
        np.ascontiguousarray(labels, dtype=np.int32),
    )


def _rotate_and_scale(
    image: np.ndarray, labels: np.ndarray, angle: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by ``angle`` degrees and zoom by ``scale`` about the centre, same size out."""
    theta = math.radians(angle)
    # Maps an output (row, col) to the input position it samples.
    matrix = np.array(
        [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
    ) / scale
    centre = (np.array(labels.shape, dtype=np.float64) - 1.0) / 2.0
    offset = centre - matrix @ centre
    channels = [
        ndimage.affine_transform(
            image[..., k], matrix, offset, order=1, mode="nearest", output=np.float32
        )
        for k in range(3)
    ]
    moved_labels = ndimage.affine_transform(
        labels.astype(np.int32), matrix, offset, order=0, mode="constant", cval=0, output=np.int32
    )
    return np.stack(channels, axis=-1), moved_labels


def _jitter_colour(
    image: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> np.ndarray:
    if config.brightness:
        image = image * np.float32(1.0 + rng.uniform(-config.brightness, config.brightness))
    if config.contrast:
        mean = image.mean()
        factor = np.float32(1.0 + rng.uniform(-config.contrast, config.contrast))
        image = (image - mean) * factor + mean
    if config.saturation:
        grey = (image @ _LUMA)[..., None]
        factor = np.float32(1.0 + rng.uniform(-config.saturation, config.saturation))
        image = grey + (image - grey) * factor
    if config.hue:
        image = image @ _hue_rotation(2.0 * math.pi * rng.uniform(-config.hue, config.hue)).T
    return image


def _hue_rotation(theta: float) -> np.ndarray:
    """Rotation of RGB space about the grey axis (Rodrigues' formula): a hue shift."""
    axis = np.full(3, 1.0 / math.sqrt(3.0))
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    rotation = (
        math.cos(theta) * np.eye(3)
        + math.sin(theta) * cross
        + (1.0 - math.cos(theta)) * np.outer(axis, axis)
    )
    return rotation.astype(np.float32)
