"""Where a plant moved between two dates: shift, turn and growth.

The plant's own leaves say it, not the pot: the shift is that of the
rosette centre (the centroid of its leaf pixels), the growth the square root
of the area ratio, and the turn the one that best lines up the two
rosettes' angular profiles (leaf pixels per degree around the centre,
weighted by the distance from it, so the leaf blades count and the crowded
centre does not). Rosettes look alike after a turn by one leaf's angle, so
only turns of up to :data:`MAX_TURN_DEG` are looked for; plants move a
little between photos, not a lot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from leafcount.series.frames import PlantFrame

MAX_TURN_DEG = 40
GROWTH_LIMITS = (0.5, 2.0)  # linear scale between two dates; beyond, the segmentation changed, not the plant
_PROFILE_SMOOTHING_DEG = 3.0


@dataclass(frozen=True)
class Alignment:
    """Maps a point of the earlier image to the later one:
    ``to + scale * turn(point - origin)``, ``turn`` counter-clockwise as seen on screen."""

    origin: tuple[float, float]  # the rosette centre on the earlier date (row, col)
    to: tuple[float, float]  # ... on the later date
    scale: float = 1.0
    turn_deg: float = 0.0

    def rotation(self) -> np.ndarray:
        """The 2 x 2 matrix acting on (row, col) offsets; rows grow downwards."""
        c, s = math.cos(math.radians(self.turn_deg)), math.sin(math.radians(self.turn_deg))
        return np.array([[c, -s], [s, c]])

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) points (row, col) of the earlier image where they are on the later one."""
        offsets = np.asarray(points, dtype=float).reshape(-1, 2) - np.array(self.origin)
        return np.array(self.to) + self.scale * offsets @ self.rotation().T


def angle_around(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Degrees in [0, 360) around ``centre``, counter-clockwise from the right (east), as on screen."""
    offsets = np.asarray(points, dtype=float).reshape(-1, 2) - np.asarray(centre, dtype=float)
    return np.degrees(np.arctan2(-offsets[:, 0], offsets[:, 1])) % 360.0


def align_frames(earlier: PlantFrame, later: PlantFrame) -> Alignment:
    """How ``earlier``'s plant moved, turned and grew to become ``later``'s."""
    origin, to = earlier.centre, later.centre
    if earlier.area == 0 or later.area == 0:
        return Alignment(tuple(origin), tuple(to))
    scale = float(np.clip(math.sqrt(later.area / earlier.area), *GROWTH_LIMITS))
    turn = _best_turn(_angular_profile(earlier), _angular_profile(later))
    return Alignment(tuple(origin), tuple(to), scale, float(turn))


def fit_alignment(earlier: np.ndarray, later: np.ndarray, weights: np.ndarray) -> Alignment:
    """The shift, turn and growth that best map matched points (N, 2) of the earlier date onto
    the later one, weighted least squares (Umeyama's method, without reflections)."""
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    mean_from, mean_to = w @ earlier, w @ later
    centred_from, centred_to = earlier - mean_from, later - mean_to
    u, singular, vt = np.linalg.svd((centred_to * w[:, None]).T @ centred_from)
    flip = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ flip @ vt
    spread = float(w @ (centred_from**2).sum(axis=1))
    scale = float(np.clip(np.sum(singular * np.diag(flip)) / spread, *GROWTH_LIMITS)) if spread > 0 else 1.0
    turn = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    return Alignment(tuple(mean_from), tuple(mean_to), scale, turn)


def _angular_profile(frame: PlantFrame) -> np.ndarray:
    """Leaf pixels per degree around the centre, weighted by their distance, smoothed, zero-mean."""
    rows, cols = np.nonzero(frame.small)
    points = np.stack([rows * frame.stride + frame.origin[0], cols * frame.stride + frame.origin[1]], axis=1)
    distance = np.linalg.norm(points - frame.centre, axis=1)
    bins = np.floor(angle_around(points, frame.centre)).astype(int) % 360
    profile = np.bincount(bins, weights=distance, minlength=360)
    profile = ndimage.gaussian_filter1d(profile, _PROFILE_SMOOTHING_DEG, mode="wrap")
    return profile - profile.mean()


def _best_turn(earlier: np.ndarray, later: np.ndarray) -> int:
    """The whole-degree counter-clockwise turn within +-MAX_TURN_DEG that best maps ``earlier`` onto ``later``."""
    turns = np.arange(-MAX_TURN_DEG, MAX_TURN_DEG + 1)
    scores = [float(np.dot(np.roll(earlier, turn), later)) for turn in turns]
    return int(turns[int(np.argmax(scores))])
