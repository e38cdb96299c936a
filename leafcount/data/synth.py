"""Procedural top-down rosettes with exact instance labels.

The images imitate CVPPP A1 Arabidopsis photographs: a rosette of ovate
leaves on petioles, radiating from the centre at about the golden angle,
on textured soil in a round pot or filling the frame. The label map is
exactly what is visible, because it is computed from the same leaf shapes
the image is painted with. Used by tests, demos and pre-training.
"""

from __future__ import annotations

import colorsys
import csv
import io
import json
import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from leafcount.atomic import write_atomic, write_text_atomic
from leafcount.data.cvppp import write_labels
from leafcount.errors import ConfigError, LeafcountError

DEFAULT_SHAPE = (250, 265)
MIN_VISIBLE_PIXELS = 30
MAX_LEAVES = 50

_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
_TRAY_COLOURS = (
    (0.72, 0.38, 0.24),  # terracotta tray, as in CVPPP A1
    (0.42, 0.43, 0.45),  # grey plastic
    (0.27, 0.34, 0.45),  # blue-ish tray
    (0.10, 0.10, 0.11),  # black plastic
)


@dataclass(frozen=True)
class _Leaf:
    """One leaf's geometry (pixels) and colour; ``length`` includes the petiole."""

    angle: float
    length: float
    petiole: float
    half_width: float
    petiole_half_width: float
    base_exponent: float
    bend: float
    colour: tuple[float, float, float]
    vein_spacing: float


@dataclass(frozen=True)
class _Coverage:
    """Where one leaf lies, within its bounding box ``box`` of the image.

    ``alpha`` is the anti-aliased coverage, ``u`` the distance along the leaf
    from its base, ``v_bent`` the distance across its (bent) midrib and
    ``half`` the leaf's half width at each pixel (< 0 off the leaf).
    """

    box: tuple[slice, slice]
    alpha: np.ndarray
    u: np.ndarray
    v_bent: np.ndarray
    half: np.ndarray


def make_rosette(
    rng: np.random.Generator,
    shape: tuple[int, int] = DEFAULT_SHAPE,
    n_leaves: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a synthetic rosette on soil with its leaf labels.

    Leaves are drawn oldest first: older leaves are long, with long
    petioles, and younger ones, shorter and nearer the centre, lie on top of
    them, as in a real rosette. The labels record which leaf is visible at
    each pixel, so occlusion is exact.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the
        same image.
    shape : (int, int)
        ``(H, W)``, each at least 32.
    n_leaves : int or None
        How many leaves to draw, 0 to 50; ``None`` draws 2 to 20.

    Returns
    -------
    image : ndarray, shape (H, W, 3), float32 in [0, 1]
    labels : ndarray, shape (H, W), int32
        0 = background, leaves 1..n consecutive in drawing order. A leaf
        hidden under younger ones to fewer than 30 visible pixels is left
        out of both image and labels, so n can be below ``n_leaves``
        (rarely, with many leaves on a small image).

    Raises
    ------
    ConfigError
        When ``shape`` or ``n_leaves`` is out of range.
    """
    height, width = shape
    if height < 32 or width < 32:
        raise ConfigError(f"shape must be at least (32, 32), got {tuple(shape)}")
    if n_leaves is None:
        n_leaves = int(rng.integers(2, 21))
    if not 0 <= n_leaves <= MAX_LEAVES:
        raise ConfigError(f"n_leaves must be in [0, {MAX_LEAVES}], got {n_leaves}")

    size = min(height, width)
    centre = (
        height / 2 + rng.normal(0.0, 0.04 * size),
        width / 2 + rng.normal(0.0, 0.04 * size),
    )
    image = _background(rng, shape, centre)
    leaves = _leaf_layout(rng, n_leaves, radius=size * rng.uniform(0.18, 0.4))
    light_angle = rng.uniform(0.0, 2.0 * math.pi)
    texture = 1.0 + 0.08 * _fractal_noise(rng, shape, cells=(24, 8, 3))

    image, labels = _paint_leaves(rng, image, leaves, centre, light_angle, texture)
    # Kept leaves only gain pixels when hidden ones are left out: still >= 30.
    renumbered = np.zeros(len(leaves) + 1, dtype=np.int32)
    kept = np.unique(labels[labels > 0])
    renumbered[kept] = np.arange(1, len(kept) + 1, dtype=np.int32)
    return image, renumbered[labels]


def make_growing_rosette(
    rng: np.random.Generator,
    n_dates: int,
    shape: tuple[int, int] = DEFAULT_SHAPE,
    *,
    n_leaves: int = 12,
    first_leaves: int | None = None,
    max_shift: float = 5.0,
    max_turn_deg: float = 8.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One synthetic rosette photographed on ``n_dates`` dates as it grows.

    The plant is one seeded layout (:func:`make_rosette`'s) on the same pot
    and soil on every date. Between dates its leaves grow, new leaves appear
    at the centre, and the plant shifts and turns a little, as a pot put back
    in the growth chamber does. Leaf ``i`` (in order of appearance, oldest
    first) is label ``i + 1`` on every date, so a tracker's ids can be checked
    exactly.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the
        same series.
    n_dates : int
        How many dates, >= 1.
    shape : (int, int)
        ``(H, W)`` of every image, each at least 32.
    n_leaves : int
        Leaves on the last date, 1 to 50.
    first_leaves : int or None
        Leaves on the first date, 1 to ``n_leaves``; ``None`` for half of
        ``n_leaves``. The others appear one at a time, evenly spread over the
        later dates (the last on the last date).
    max_shift : float
        The most the plant moves between two dates, in pixels along each axis.
    max_turn_deg : float
        The most it turns between two dates, in degrees either way.

    Returns
    -------
    list of (image, labels), one per date
        ``image`` (H, W, 3) float32 in [0, 1]; ``labels`` (H, W) int32,
        0 = background, a leaf's identity elsewhere. A leaf not yet visible
        (fewer than 30 pixels, as a new leaf under older ones often is) is
        missing from that date's labels, never renumbered: ids need not be
        consecutive.

    Raises
    ------
    ConfigError
        When a count or ``shape`` is out of range.

    Notes
    -----
    A leaf's length follows ``1 - exp(-(age + p) / (4 p))``, ``p`` the
    interval between two new leaves (the plastochron): young leaves grow
    fast, old ones hardly, and the last date's lengths are the layout's.
    Width and petiole grow with the length.
    """
    height, width = shape
    if height < 32 or width < 32:
        raise ConfigError(f"shape must be at least (32, 32), got {tuple(shape)}")
    if n_dates < 1:
        raise ConfigError(f"n_dates must be at least 1, got {n_dates}")
    if not 1 <= n_leaves <= MAX_LEAVES:
        raise ConfigError(f"n_leaves must be in [1, {MAX_LEAVES}], got {n_leaves}")
    first_leaves = max(1, n_leaves // 2) if first_leaves is None else first_leaves
    if not 1 <= first_leaves <= n_leaves:
        raise ConfigError(f"first_leaves must be in [1, n_leaves={n_leaves}], got {first_leaves}")

    size = min(height, width)
    centre = (
        height / 2 + rng.normal(0.0, 0.03 * size),
        width / 2 + rng.normal(0.0, 0.03 * size),
    )
    background = _background(rng, shape, centre)
    final_leaves = _leaf_layout(rng, n_leaves, radius=size * rng.uniform(0.3, 0.38))
    light_angle = rng.uniform(0.0, 2.0 * math.pi)
    texture = 1.0 + 0.08 * _fractal_noise(rng, shape, cells=(24, 8, 3))

    new_leaves = n_leaves - first_leaves
    plastochron = (n_dates - 1) / new_leaves if new_leaves and n_dates > 1 else 1.0
    emerged = [(i - first_leaves + 1) * plastochron for i in range(n_leaves)]
    last = n_dates - 1

    def length_at(age: float) -> float:
        return 1.0 - math.exp(-(age + plastochron) / (4.0 * plastochron))

    series = []
    shift, turn = np.zeros(2), 0.0
    for date in range(n_dates):
        leaves = [
            _grown(leaf, length_at(date - start) / length_at(last - start), turn)
            for leaf, start in zip(final_leaves, emerged)
            if start <= date + 1e-9
        ]
        moved_centre = (centre[0] + shift[0], centre[1] + shift[1])
        series.append(_paint_leaves(rng, background.copy(), leaves, moved_centre, light_angle, texture))
        shift = shift + rng.uniform(-max_shift, max_shift, 2)
        turn += math.radians(rng.uniform(-max_turn_deg, max_turn_deg))
    return series


def _grown(leaf: _Leaf, fraction: float, turn: float) -> _Leaf:
    """``leaf`` at ``fraction`` of its final length (widths and veins alike), turned by ``turn`` radians."""
    return replace(
        leaf,
        angle=leaf.angle + turn,
        length=leaf.length * fraction,
        petiole=leaf.petiole * fraction,
        half_width=max(1.0, leaf.half_width * fraction),
        petiole_half_width=max(0.7, leaf.petiole_half_width * fraction),
        vein_spacing=leaf.vein_spacing * fraction,
    )


def _paint_leaves(
    rng: np.random.Generator,
    image: np.ndarray,
    leaves: list[_Leaf],
    centre: tuple[float, float],
    light_angle: float,
    texture: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``leaves`` (oldest first) over the background ``image``; the photo and its labels.

    Leaf ``i`` of the list is label ``i + 1``; one hidden under younger
    leaves to fewer than :data:`MIN_VISIBLE_PIXELS` visible pixels is left out
    of both, so its label is missing rather than taken by another leaf.
    """
    shape = image.shape[:2]
    coverages = [_leaf_coverage(leaf, shape, centre) for leaf in leaves]
    visible = _visible_labels(coverages, shape)
    counts = np.bincount(visible.ravel(), minlength=len(leaves) + 1)
    kept = [i for i in range(len(leaves)) if counts[i + 1] >= MIN_VISIBLE_PIXELS]

    labels = np.zeros(shape, dtype=np.int32)
    for i in kept:
        cover = coverages[i]
        on_leaf = cover.alpha > 0  # shade only these pixels of the bounding box
        colour = _leaf_shading(
            leaves[i], cover.u[on_leaf], cover.v_bent[on_leaf], cover.half[on_leaf], light_angle
        )
        colour *= texture[cover.box][on_leaf][:, None]
        blend = cover.alpha[on_leaf][:, None]
        region = image[cover.box]
        region[on_leaf] = region[on_leaf] * (1.0 - blend) + colour * blend
        labels[cover.box][cover.alpha > 0.5] = i + 1

    image = _cast_shadows(image, labels, light_angle)
    image = ndimage.gaussian_filter(image, sigma=(0.6, 0.6, 0.0))
    image += 0.012 * rng.standard_normal(image.shape, dtype=np.float32)  # sensor noise
    return np.clip(image, 0.0, 1.0).astype(np.float32), labels


def write_synth_folder(
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    shape: tuple[int, int] = DEFAULT_SHAPE,
) -> list[Path]:
    """Write ``n`` synthetic plants as a CVPPP folder.

    Writes ``plantNNN_rgb.png`` (8-bit RGB), ``plantNNN_label.png``
    (palette PNG), ``Leaf_counts.csv`` (``plantNNN_rgb.png,count`` per line,
    no header, as CVPPP) and ``split.json`` (80 % train, 20 % val, at least
    one val plant when ``n >= 2``).

    Parameters
    ----------
    out : str or Path
        The folder; created if missing. Existing files of the same names are
        replaced.
    n : int
        Number of plants, >= 1.
    seed : int
        Seed of the generator: the same seed writes the same files.
    shape : (int, int)
        ``(H, W)`` of every image.

    Returns
    -------
    list of Path
        The image paths, in order.

    Raises
    ------
    ConfigError
        When ``n`` < 1 or ``shape`` is too small.
    LeafcountError
        When the folder cannot be created or written.
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n}")
    out = _created(Path(out))
    rng = np.random.default_rng(seed)
    digits = max(3, len(str(n)))
    names, image_paths, rows = [], [], []
    for i in range(1, n + 1):
        name = f"plant{i:0{digits}d}"
        image, labels = make_rosette(rng, shape)
        image_path = out / f"{name}_rgb.png"
        _write_photo(image_path, image)
        write_labels(out / f"{name}_label.png", labels)
        names.append(name)
        image_paths.append(image_path)
        rows.append((image_path.name, int(labels.max())))

    table = io.StringIO(newline="")
    csv.writer(table, lineterminator="\n").writerows(rows)
    write_text_atomic(out / "Leaf_counts.csv", table.getvalue())

    shuffled = [names[i] for i in rng.permutation(n)]
    n_val = max(1, round(0.2 * n)) if n >= 2 else 0
    split = {"train": sorted(shuffled[n_val:]), "val": sorted(shuffled[:n_val])}
    write_text_atomic(out / "split.json", json.dumps(split, indent=1) + "\n")
    return image_paths


def write_series_folder(
    out: str | Path,
    n_plants: int,
    n_dates: int,
    *,
    seed: int = 0,
    shape: tuple[int, int] = DEFAULT_SHAPE,
    first_date: date = date(2026, 3, 1),
    days_between: int = 2,
) -> list[Path]:
    """Write ``n_plants`` growing rosettes photographed on ``n_dates`` dates, as ``leafcount track`` reads them.

    Photos are ``plantNN_<YYYY-MM-DD>.png`` (8-bit RGB) in ``out``; their
    truth labels (:func:`make_growing_rosette`: a leaf has the same id on
    every date) go to ``out/truth/plantNN_<YYYY-MM-DD>_label.png``, a
    sub-folder that ``track`` neither reads as a date nor takes for saved
    corrections, so the model segments the photos.

    Parameters
    ----------
    out : str or Path
        The folder; created if missing. Existing files of the same names are replaced.
    n_plants, n_dates : int
        Each >= 1.
    seed : int
        Seed of the generator: the same seed writes the same files.
    shape : (int, int)
        ``(H, W)`` of every photo.
    first_date : datetime.date
        The first photo's date.
    days_between : int
        Days from one date to the next, >= 1.

    Returns
    -------
    list of Path
        The photos, plant by plant, in time order.

    Raises
    ------
    ConfigError
        When a count or ``shape`` is out of range.
    LeafcountError
        When the folder cannot be created or written.
    """
    if n_plants < 1:
        raise ConfigError(f"n_plants must be at least 1, got {n_plants}")
    if days_between < 1:
        raise ConfigError(f"days_between must be at least 1, got {days_between}")
    out = _created(Path(out))
    truth_dir = _created(out / "truth")
    rng = np.random.default_rng(seed)
    digits = max(2, len(str(n_plants)))
    paths = []
    for plant in range(1, n_plants + 1):
        n_leaves = int(rng.integers(9, 15))
        series = make_growing_rosette(rng, n_dates, shape, n_leaves=n_leaves)
        for day, (image, labels) in enumerate(series):
            name = f"plant{plant:0{digits}d}_{first_date + timedelta(days=day * days_between):%Y-%m-%d}"
            paths.append(out / f"{name}.png")
            _write_photo(paths[-1], image)
            write_labels(truth_dir / f"{name}_label.png", labels)
    return paths


def _created(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeafcountError(f"cannot create the folder ({exc.strerror or exc})", folder) from exc
    return folder


def _write_photo(path: Path, image: np.ndarray) -> None:
    """An 8-bit RGB PNG of a float image, written atomically."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())


def _fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, ...]
) -> np.ndarray:
    """Smooth noise (float32), about unit spread: coarse random grids upsampled and summed."""
    height, width = shape
    total = np.zeros(shape, dtype=np.float32)
    weight = 1.0
    for cell in cells:
        grid_shape = (math.ceil(height / cell) + 1, math.ceil(width / cell) + 1)
        grid = rng.standard_normal(grid_shape, dtype=np.float32)
        total += np.float32(weight) * _upsample_bilinear(grid, shape)
        weight *= 0.55
    return total / np.float32(math.sqrt(sum(0.55 ** (2 * k) for k in range(len(cells)))))


def _upsample_bilinear(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Stretch a small grid over ``shape``, one axis at a time (cheaper than ndimage.zoom)."""
    for axis, n_out in enumerate(shape):
        n_in = grid.shape[axis]
        position = np.linspace(0.0, n_in - 1.0, n_out, dtype=np.float32)
        lower = np.minimum(position.astype(np.intp), n_in - 2)
        fraction = position - lower
        if axis == 0:
            grid = grid[lower] * (1 - fraction[:, None]) + grid[lower + 1] * fraction[:, None]
        else:
            grid = grid[:, lower] * (1 - fraction) + grid[:, lower + 1] * fraction
    return grid


def _background(
    rng: np.random.Generator, shape: tuple[int, int], centre: tuple[float, float]
) -> np.ndarray:
    """Soil with clumps, pores and perlite; often in a round pot on a tray (float32)."""
    height, width = shape
    size = min(height, width)
    soil_colour = _rgb(0.25, 0.18, 0.12) * np.float32(rng.uniform(0.55, 1.2))
    clumps = _fractal_noise(rng, shape, cells=(48, 16, 6))
    crumbs = _fractal_noise(rng, shape, cells=(3, 2))
    fine = rng.standard_normal(shape, dtype=np.float32)
    tone = np.clip(1.0 + 0.22 * clumps + 0.3 * crumbs + 0.1 * fine, 0.2, None)
    tone[clumps + 0.5 * crumbs < -1.3] *= 0.5  # dark pores between clumps
    tint = 1.0 + 0.07 * rng.standard_normal((height, width, 3), dtype=np.float32)  # other grains
    soil = soil_colour * tone[..., None] * tint
    if rng.random() < 0.4:  # moss or algae patches, as on older pots
        moss = np.clip(_fractal_noise(rng, shape, cells=(30, 10)) - 0.8, 0.0, 1.0)[..., None]
        soil = soil * (1 - 0.5 * moss) + _rgb(0.36, 0.40, 0.14) * (0.5 * moss)
    _add_perlite(rng, soil, count=int(rng.integers(4, 16) * height * width / 20000))
    if rng.random() >= 0.65:
        return soil

    # A round pot on a tray, CVPPP A1 style.
    radius = size * rng.uniform(0.4, 0.52)
    rows = np.arange(height, dtype=np.float32)[:, None] - np.float32(centre[0] + rng.normal(0, 3))
    cols = np.arange(width, dtype=np.float32)[None, :] - np.float32(centre[1] + rng.normal(0, 3))
    pot_r = np.sqrt(rows * rows + cols * cols)
    tray_colour = _TRAY_COLOURS[rng.integers(len(_TRAY_COLOURS))]
    tray = _rgb(*tray_colour) * np.float32(rng.uniform(0.8, 1.1))
    tray_shading = 1.0 + 0.05 * _fractal_noise(rng, shape, cells=(60, 6))
    rim = max(1.5, size * rng.uniform(0.008, 0.02))
    inside = np.clip(radius - pot_r + 0.5, 0.0, 1.0)
    on_rim = np.clip(rim - np.abs(pot_r - radius - rim / 2) + 0.5, 0.0, 1.0)[..., None]
    # the pot's inner wall shades the soil near the rim
    wall_shade = 1.0 - 0.45 * np.clip(1.0 - (radius - pot_r) / (0.08 * size), 0.0, 1.0)
    image = (
        tray * (tray_shading * (1 - inside))[..., None]
        + soil * (wall_shade * inside)[..., None]
    )
    rim_colour = _rgb(1.0, 1.0, 1.02) * np.float32(rng.uniform(0.08, 0.22))
    return image * (1 - on_rim) + rim_colour * on_rim


def soil_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A soil background (sometimes a pot on a tray) centred in ``shape``, float32 (H, W, 3)."""
    return _background(rng, shape, (shape[0] / 2, shape[1] / 2)).astype(np.float32)


def _rgb(red: float, green: float, blue: float) -> np.ndarray:
    return np.array([red, green, blue], dtype=np.float32)


def _add_perlite(rng: np.random.Generator, soil: np.ndarray, count: int) -> None:
    """Small bright specks (perlite, vermiculite), painted in place."""
    height, width = soil.shape[:2]
    for _ in range(count):
        r, c = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(0.7, 2.2)
        top, left = int(max(0, r - 3)), int(max(0, c - 3))
        rows, cols = np.ogrid[top : min(height, int(r + 4)), left : min(width, int(c + 4))]
        alpha = np.clip(radius - np.hypot(rows - r, cols - c) + 0.5, 0.0, 1.0)[..., None]
        tone = _rgb(1.0, 0.98, 0.93) * np.float32(rng.uniform(0.65, 0.95))
        patch = soil[top : top + rows.shape[0], left : left + cols.shape[1]]
        patch[...] = patch * (1 - alpha) + tone * alpha


def _leaf_layout(rng: np.random.Generator, n_leaves: int, radius: float) -> list[_Leaf]:
    """Leaves oldest first: long and spread, then shorter towards the centre."""
    plant_hue = rng.uniform(0.21, 0.30)
    plant_saturation = rng.uniform(0.55, 0.85)
    plant_value = rng.uniform(0.5, 0.75)
    first_angle = rng.uniform(0.0, 2.0 * math.pi)
    leaves = []
    for i in range(n_leaves):
        age = 1.0 - i / max(n_leaves - 1, 1)  # 1 = oldest, 0 = youngest
        # at least 12 px, so even a small image's youngest leaf shows >= 30 pixels
        length = max(12.0, radius * (0.35 + 0.65 * age**0.8) * rng.uniform(0.85, 1.1))
        petiole = length * rng.uniform(0.15, 0.45) * (0.35 + 0.65 * age)
        blade = length - petiole
        hue = plant_hue + rng.normal(0.0, 0.012)
        saturation = plant_saturation + rng.normal(0.0, 0.05)
        value = plant_value + 0.08 * (1.0 - age) + rng.normal(0.0, 0.04)
        if age > 0.6 and rng.random() < 0.1:  # old yellowing leaf
            hue, value = hue - 0.07, value + 0.1
        rgb = np.array(
            colorsys.hsv_to_rgb(hue % 1.0, np.clip(saturation, 0, 1), np.clip(value, 0, 1))
        )
        if rng.random() < 0.06:  # anthocyanin: dark, purplish
            rgb = rgb * np.array([0.75, 0.5, 0.7])
        leaves.append(
            _Leaf(
                angle=first_angle + i * _GOLDEN_ANGLE + rng.normal(0.0, 0.15),
                length=length,
                petiole=petiole,
                half_width=max(1.5, blade * rng.uniform(0.26, 0.42)),
                petiole_half_width=max(0.7, blade * rng.uniform(0.04, 0.07)),
                base_exponent=rng.uniform(0.5, 1.3),
                bend=rng.normal(0.0, 0.08),
                colour=(float(rgb[0]), float(rgb[1]), float(rgb[2])),
                vein_spacing=blade / rng.uniform(4.0, 7.0),
            )
        )
    return leaves


def _leaf_coverage(leaf: _Leaf, shape: tuple[int, int], centre: tuple[float, float]) -> _Coverage:
    """Where one leaf lies: its outline from the blade profile and petiole."""
    d_row, d_col = math.sin(leaf.angle), math.cos(leaf.angle)
    tip = (centre[0] + leaf.length * d_row, centre[1] + leaf.length * d_col)
    margin = leaf.half_width + abs(leaf.bend) * leaf.length + 2.0
    top = max(0, int(math.floor(min(centre[0], tip[0]) - margin)))
    bottom = min(shape[0], int(math.ceil(max(centre[0], tip[0]) + margin)) + 1)
    left = max(0, int(math.floor(min(centre[1], tip[1]) - margin)))
    right = min(shape[1], int(math.ceil(max(centre[1], tip[1]) + margin)) + 1)
    box = (slice(top, max(top, bottom)), slice(left, max(left, right)))

    rows = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] - np.float32(centre[0])
    cols = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :] - np.float32(centre[1])
    u = rows * d_row + cols * d_col
    v = cols * d_row - rows * d_col
    v_bent = v - leaf.bend * u**2 / leaf.length

    blade_length = leaf.length - leaf.petiole
    t = (u - leaf.petiole) / blade_length
    inside_blade = (t > 0) & (t < 1)
    tc = np.clip(t, 0.0, 1.0)
    a, b = leaf.base_exponent, 0.5  # b = 0.5: a rounded tip
    peak = a / (a + b)
    profile = tc**a * (1 - tc) ** b / (peak**a * (1 - peak) ** b)
    off_leaf = np.float32(-1.0)
    blade_half = np.where(inside_blade, leaf.half_width * profile, off_leaf)
    on_petiole = (u >= 0) & (u <= leaf.petiole + 0.3 * blade_length)
    petiole_half = np.where(on_petiole, np.float32(leaf.petiole_half_width), off_leaf)
    half = np.maximum(blade_half, petiole_half)
    alpha = np.where(half > 0, np.clip(half - np.abs(v_bent) + 0.5, 0.0, 1.0), np.float32(0.0))
    return _Coverage(box, alpha, u, v_bent, half)


def _visible_labels(coverages: list[_Coverage], shape: tuple[int, int]) -> np.ndarray:
    """Which leaf (1-based drawing order) is on top at each pixel."""
    labels = np.zeros(shape, dtype=np.int32)
    for i, cover in enumerate(coverages, start=1):
        labels[cover.box][cover.alpha > 0.5] = i
    return labels


def _leaf_shading(
    leaf: _Leaf, u: np.ndarray, v_bent: np.ndarray, half: np.ndarray, light_angle: float
) -> np.ndarray:
    """RGB (N, 3) of leaf pixels: domed, lit from one side, midrib and veins lighter."""
    across = np.clip(v_bent / np.maximum(half, 0.5), -1.0, 1.0)
    blade_u = u - leaf.petiole
    dome = 1.0 - 0.28 * across**2
    side_light = 1.0 + 0.14 * across * math.sin(leaf.angle - light_angle)
    midrib = 0.16 * np.exp(-((v_bent / 0.9) ** 2))
    vein_phase = 2.0 * math.pi * (blade_u - 0.9 * np.abs(v_bent)) / leaf.vein_spacing
    ridge = np.maximum(0.0, np.cos(vein_phase)) ** 4
    veins = 0.07 * ridge * ridge * ridge * (1.0 - np.abs(across))  # cos**12: thin lines
    veins = np.where(blade_u > 0, veins, np.float32(0.0))
    tone = dome * side_light + midrib + veins
    colour = _rgb(*leaf.colour)
    petiole_colour = colour * 0.6 + _rgb(0.85, 0.9, 0.6) * 0.4  # paler stalks
    is_stalk = np.clip(1.0 - blade_u / 3.0, 0.0, 1.0)[:, None]
    base_colour = colour * (1 - is_stalk) + petiole_colour * is_stalk
    return base_colour * tone[:, None]


def _cast_shadows(image: np.ndarray, labels: np.ndarray, light_angle: float) -> np.ndarray:
    """Darken pixels just beside a leaf lying above them, away from the light."""
    shift = (round(-2 * math.sin(light_angle)), round(-2 * math.cos(light_angle)))
    above = ndimage.shift(labels, shift, order=0, mode="nearest")
    shadow = ndimage.gaussian_filter((above > labels).astype(np.float32), sigma=1.5)
    return image * (1.0 - 0.4 * shadow)[..., None]
