"""The CVPPP folder layout and its label PNGs.

A CVPPP leaf segmentation folder holds ``plantNNN_rgb.png`` images, their
``plantNNN_label.png`` label images (a palette PNG whose pixel index is the
leaf id: 0 = background, 1..n = leaves), optional ``plantNNN_fg.png``
foreground masks, ``Leaf_counts.csv`` and, for leafcount, a ``split.json``
naming the training and validation plants. Any other folder of images works
too: ``photo.jpg`` pairs with ``photo_label.png``.
"""

from __future__ import annotations

import colorsys
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from leafcount.atomic import write_atomic
from leafcount.data.folder import list_images, read_image
from leafcount.errors import ConfigError, LabelFormatError

SPLIT_FILE = "split.json"

_GOLDEN_RATIO_CONJUGATE = 0.618033988749895
_GREY_LABEL_MODES = ("L", "I", "I;16", "I;16B", "I;16L", "I;16N")


@dataclass(frozen=True)
class Sample:
    """One image of a folder and its label file, when it has one."""

    name: str
    image_path: Path
    label_path: Path | None


def read_labels(path: str | Path) -> np.ndarray:
    """Read a label image: the pixel value (or palette index) is the leaf id.

    Parameters
    ----------
    path : str or Path
        A palette PNG (mode ``P``, CVPPP's form: the index is the id, the
        colours are ignored) or an 8, 16 or 32-bit greyscale PNG.

    Returns
    -------
    labels : ndarray, shape (H, W), int32
        0 = background, leaves > 0, not necessarily consecutive.

    Raises
    ------
    LabelFormatError
        When the file is missing, unreadable or not an image, is an RGB(A)
        or other colour image, or holds ids below 0 or above 65535.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            pixels = np.asarray(img)
    except FileNotFoundError as exc:
        raise LabelFormatError("label file not found", path) from exc
    except Image.DecompressionBombError as exc:  # a corrupt header can claim a billion pixels
        raise LabelFormatError(f"label image too large to read ({exc})", path) from exc
    except MemoryError as exc:
        raise LabelFormatError("not enough memory to read the label image", path) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise LabelFormatError(f"cannot read the label image ({exc})", path) from exc
    if mode != "P" and mode not in _GREY_LABEL_MODES:
        raise LabelFormatError(
            f"expected a palette or grayscale label PNG, found mode {mode}", path
        )
    labels = pixels.astype(np.int32)
    if labels.size and labels.min() < 0:
        raise LabelFormatError(f"label ids must be >= 0, found {labels.min()}", path)
    if labels.size and labels.max() > 65535:
        # As write_labels: a 32-bit file (a TIFF under a .png name) with ids in
        # the billions would make every per-id table gigabytes long.
        raise LabelFormatError(f"label ids must be <= 65535, found {labels.max()}", path)
    return labels


def write_labels(path: str | Path, labels: np.ndarray) -> None:
    """Write a label image as CVPPP does, atomically.

    Parameters
    ----------
    path : str or Path
        Where to write (a ``.png``); an existing file is replaced only once
        the new one is complete.
    labels : ndarray, shape (H, W), integer
        0 = background, leaf ids >= 1 (kept as they are, not relabelled).

    Notes
    -----
    Ids up to 255 give a palette PNG (mode ``P``) coloured by
    :func:`label_colors`, the form of the CVPPP label files. Ids above 255
    do not fit a palette, so the file is a 16-bit greyscale PNG instead;
    :func:`read_labels` reads both.

    Raises
    ------
    LabelFormatError
        When ``labels`` is not 2-D, empty, not integer, negative, or has an
        id above 65535.
    LeafcountError
        When the file cannot be written (folder missing, read-only, disk full).
    """
    path = Path(path)
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0:
        raise LabelFormatError(
            f"labels must be a non-empty 2-D array, got shape {labels.shape}", path
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise LabelFormatError(f"labels must be integers, got dtype {labels.dtype}", path)
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise LabelFormatError(f"label ids must be >= 0, found {low}", path)
    if high > 65535:
        raise LabelFormatError(f"label ids must be <= 65535, found {high}", path)
    # copy=False: a full-size label image of a camera photo is 108 MB already as uint8.
    if high <= 255:
        img = Image.fromarray(labels.astype(np.uint8, copy=False))
        img.putpalette(label_colors(255).tobytes())  # turns the L image into mode P
    else:
        img = Image.fromarray(labels.astype(np.uint16, copy=False))
    buffer = io.BytesIO()
    # zlib level 3, not Pillow's 6: a camera photo's labels in 39 ms, not 91 (90 KB, not 54).
    img.save(buffer, format="PNG", optimize=False, compress_level=3)
    write_atomic(path, buffer.getvalue())


def relabel_consecutive(labels: np.ndarray) -> np.ndarray:
    """Renumber the leaves 1..n, keeping their order; 0 stays background.

    Parameters
    ----------
    labels : ndarray, shape (H, W), integer

    Returns
    -------
    ndarray, shape (H, W), int32
        The smallest leaf id becomes 1, the next 2, and so on (CVPPP counts
        distinct labels, so gaps must not change a count).

    Examples
    --------
    >>> relabel_consecutive(np.array([[0, 7, 7], [3, 0, 9]]))
    array([[0, 2, 2],
           [1, 0, 3]], dtype=int32)
    """
    labels = np.asarray(labels)
    ids, inverse = np.unique(labels, return_inverse=True)
    new_ids = np.arange(ids.size, dtype=np.int32)
    if ids.size and ids[0] != 0:
        new_ids += 1  # no background pixel: every id is a leaf
    return new_ids[inverse.reshape(labels.shape)]


def label_colors(n: int) -> np.ndarray:
    """Colours for label ids 0..n: black, then well separated bright colours.

    Hues step by the golden ratio, so neighbouring ids differ strongly and
    ``label_colors(m)[: k + 1] == label_colors(k)`` for any ``m >= k``: a
    leaf keeps its colour whatever the number of leaves.

    Parameters
    ----------
    n : int
        The largest label id, >= 0.

    Returns
    -------
    ndarray, shape (n + 1, 3), uint8

    Examples
    --------
    >>> label_colors(2)
    array([[  0,   0,   0],
           [191,  77,  85],
           [ 11,  91, 230]], dtype=uint8)
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    colors = np.zeros((n + 1, 3), dtype=np.uint8)
    for i in range(1, n + 1):
        hue = (0.37 + i * _GOLDEN_RATIO_CONJUGATE) % 1.0
        saturation = (0.8, 0.6, 0.95)[i % 3]
        value = (0.95, 0.75, 0.9, 0.65)[i % 4]
        rgb = colorsys.hsv_to_rgb(hue, saturation, value)
        colors[i] = np.round(np.array(rgb) * 255)
    return colors


def image_stem(image_path: str | Path) -> str:
    """The plant's name: ``plant001_rgb.png`` -> ``plant001``, ``x.jpg`` -> ``x``."""
    stem = Path(image_path).stem
    return stem[: -len("_rgb")] if stem.endswith("_rgb") and stem != "_rgb" else stem


def label_path_for(image_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Where the label image of an image lives.

    ``plant001_rgb.png`` -> ``plant001_label.png`` (CVPPP); ``photo.jpg`` ->
    ``photo_label.png``. In ``out_dir`` when given, else beside the image.
    Note that ``photo.jpg`` and ``photo.png`` in one folder share a label path.
    """
    image_path = Path(image_path)
    folder = Path(out_dir) if out_dir is not None else image_path.parent
    return folder / f"{image_stem(image_path)}_label.png"


def list_samples(folder: str | Path) -> list[Sample]:
    """Every image of a folder (see :func:`list_images`) with its label file, if any.

    Raises
    ------
    EmptyFolderError
        When the folder is missing or holds no image.
    """
    samples = []
    for image_path in list_images(folder):
        label_path = label_path_for(image_path)
        samples.append(
            Sample(
                name=image_stem(image_path),
                image_path=image_path,
                label_path=label_path if label_path.is_file() else None,
            )
        )
    return samples


def load_split(folder: str | Path) -> dict[str, list[str]]:
    """Read ``split.json``: ``{"train": [names], "val": [names]}``.

    Names are plant names as :func:`image_stem` gives them. Other keys
    (``"test"``) are kept if they also map to lists of names.

    Raises
    ------
    ConfigError
        When the file is missing or unreadable, is not valid JSON, lacks
        ``train`` or ``val``, holds something other than lists of strings, or
        names a plant in both ``train`` and ``val``.
    """
    path = Path(folder) / SPLIT_FILE
    try:
        split = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("split file not found", path) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the split file ({exc})", path) from exc
    if not isinstance(split, dict):
        raise ConfigError(
            f'expected an object {{"train": [...], "val": [...]}}, found {type(split).__name__}',
            path,
        )
    for key in ("train", "val"):
        if key not in split:
            raise ConfigError(f'missing the "{key}" list', path)
    for key, names in split.items():
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ConfigError(f'"{key}" must be a list of plant names', path)
    overlap = sorted(set(split["train"]) & set(split["val"]))
    if overlap:
        raise ConfigError(f"plants in both train and val: {', '.join(overlap[:5])}", path)
    return split


def load_pair(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Read a sample's image (full size) and labels, checking they match.

    Returns
    -------
    image : ndarray, shape (H, W, 3), float32 in [0, 1]
    labels : ndarray, shape (H, W), int32

    Raises
    ------
    ImageReadError
        When the image cannot be read.
    LabelFormatError
        When the sample has no label file, the label file cannot be read, or
        its size differs from the image's.
    """
    if sample.label_path is None:
        raise LabelFormatError("no label file for this image", sample.image_path)
    image = read_image(sample.image_path, max_pixels=None)
    labels = read_labels(sample.label_path)
    if labels.shape != image.shape[:2]:
        raise LabelFormatError(
            f"label image is {labels.shape[1]} x {labels.shape[0]} pixels but "
            f"{sample.image_path.name} is {image.shape[1]} x {image.shape[0]}",
            sample.label_path,
        )
    return image, labels
