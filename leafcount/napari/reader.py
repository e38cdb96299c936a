"""napari reader: leafcount's label PNGs (with their sidecar) and photos (with their correction).

A ``*_label.png`` opens as a Labels layer; any other image opens as an RGB
Image layer, plus its saved correction as a Labels layer when one lies
beside it, so a folder the app or ``leafcount segment`` worked on opens in
napari as it was left.
"""

from __future__ import annotations

import glob
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leafcount.data.cvppp import image_stem
from leafcount.data.folder import IMAGE_SUFFIXES, read_photo
from leafcount.errors import LabelFormatError, LeafcountError
from leafcount.io.corrections import load_corrections, read_sidecar
from leafcount.napari.metadata import LABEL_ENDING, layer_metadata, pairing_image_path

LayerData = tuple[Any, dict[str, Any], str]


def napari_get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """The reader for one image file leafcount can open, else None (napari asks the next plugin)."""
    if not isinstance(path, (str, Path)):
        return None
    name = Path(path).name
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        return None
    if name.endswith(LABEL_ENDING):
        return read_label_file if len(name) > len(LABEL_ENDING) else None
    return read_image_file


def read_label_file(path: str) -> list[LayerData]:
    """A label PNG as a Labels layer; its sidecar (manual leaves, model, thresholds) in ``metadata``.

    A sidecar that cannot be read costs only its own record: the labels open,
    ``metadata["sidecar_problem"]`` and a warning say why.
    """
    label_path = Path(path)
    image_path = pairing_image_path(label_path)
    sidecar = read_sidecar(image_path, lenient=True)
    loaded = load_corrections(image_path, sidecar=sidecar) if sidecar is not None else None
    if loaded is None:
        raise LabelFormatError("label file not found", label_path)
    labels, sidecar = loaded
    if sidecar.problem:
        warnings.warn(sidecar.problem, stacklevel=2)
    metadata = layer_metadata(_photo_beside(label_path) or image_path.name, sidecar)
    return [(labels, {"name": label_path.stem, "metadata": metadata}, "labels")]


def read_image_file(path: str) -> list[LayerData]:
    """A photo as an RGB Image layer at its full size (as leafcount reads it: float in [0, 1],
    EXIF orientation applied), and its saved correction as a Labels layer."""
    image_path = Path(path)
    photo = read_photo(image_path, max_pixels=None)  # full size: a saved correction must lie on it pixel for pixel
    image_meta = {"path": str(image_path), "notes": list(photo.notes)}
    layers: list[LayerData] = [
        (photo.pixels, {"name": image_stem(image_path), "rgb": True, "contrast_limits": (0.0, 1.0),
                        "metadata": image_meta}, "image")
    ]
    try:
        sidecar = read_sidecar(image_path, lenient=True)
        loaded = load_corrections(image_path, shape=photo.pixels.shape[:2], sidecar=sidecar) if sidecar else None
    except LeafcountError as exc:  # an unreadable correction must not keep the photo closed
        warnings.warn(f"{image_path.name}: its correction was not opened ({exc})", stacklevel=2)
        loaded = None
    if loaded is not None:
        labels, sidecar = loaded
        layers.append((labels, {"name": f"{image_stem(image_path)} leaves",
                                "metadata": layer_metadata(image_path.name, sidecar)}, "labels"))
    return layers


def _photo_beside(label_path: Path) -> str | None:
    """The name of the photo a label PNG pairs with in its own folder, if there is one."""
    stem = label_path.name[: -len(LABEL_ENDING)]
    for candidate in sorted(label_path.parent.glob(glob.escape(stem) + "*")):
        if candidate.suffix.lower() in IMAGE_SUFFIXES and image_stem(candidate) == stem:
            return candidate.name
    return None
