"""Pixel size of a folder of photos, stored with the folder.

A biologist measures it once per imaging set-up, by drawing a line over a
ruler of known length; every area in mm^2 of that folder then uses it. It is
kept in ``leafcount-folder.json`` inside the folder so it travels with the
photos.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from leafcount.atomic import write_text_atomic
from leafcount.errors import ConfigError

FOLDER_SETTINGS = "leafcount-folder.json"


def px_per_mm_from_line(start: tuple[float, float], end: tuple[float, float], length_mm: float) -> float:
    """Pixels per millimetre from a line drawn over ``length_mm`` of a ruler.

    >>> px_per_mm_from_line((0, 0), (30, 40), 10)
    5.0
    """
    if not length_mm > 0:
        raise ConfigError(f"the ruler length must be > 0 mm, got {length_mm}")
    pixels = math.dist(start, end)
    if pixels < 1:
        raise ConfigError("the line is shorter than one pixel: drag along the ruler")
    return pixels / length_mm


def read_folder_scale(folder: str | Path) -> float | None:
    """The folder's stored pixels per mm, or None when none was set."""
    path = Path(folder) / FOLDER_SETTINGS
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("px_per_mm")
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"cannot read the folder settings ({exc})", path) from exc
    if value is None:
        return None
    if not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"px_per_mm must be a positive number, found {value!r}", path)
    return float(value)


def write_folder_scale(folder: str | Path, px_per_mm: float, *, source: str = "") -> None:
    """Store the folder's pixels per mm (and how it was measured), atomically."""
    if not px_per_mm > 0:
        raise ConfigError(f"px_per_mm must be > 0, got {px_per_mm}")
    path = Path(folder) / FOLDER_SETTINGS
    settings = {}
    if path.is_file():
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            settings = {}  # an unreadable settings file is replaced, it only ever held settings
    settings.update({"px_per_mm": float(px_per_mm), "scale_source": source,
                     "scale_set": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    write_text_atomic(path, json.dumps(settings, indent=2) + "\n")
