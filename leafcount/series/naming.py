"""Which plant and which time each image of a series shows.

By default the file name says both, ``<plant>_<time>`` (``plant040_2026-03-01.png``,
``tray1_2026-03-01T14-30.jpg``); a folder named by a date (``2026-03-01/plant040.png``)
or the photo's EXIF DateTimeOriginal gives the time when the name has none.
An image whose time cannot be found, or whose name does not fit a user's
pattern, is never guessed: it gets one message and stays out of the series.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import ExifTags, Image

from leafcount.data.cvppp import image_stem
from leafcount.data.folder import IMAGE_SUFFIXES, list_images
from leafcount.errors import ConfigError, EmptyFolderError

ISO_TIME = r"\d{4}-\d{2}-\d{2}(?:[T_ ]\d{2}[-:.]?\d{2}(?:[-:.]?\d{2})?)?"
DEFAULT_PATTERN = rf"(?P<plant>.+?)(?:_(?P<time>{ISO_TIME}))?"
"""``<plant>`` alone (the time then comes from the folder or EXIF) or ``<plant>_<ISO time>``."""
EXPECTED_NAME = "<plant>_<YYYY-MM-DD>[T<HH-MM>[-<SS>]]"

_ISO_PARTS = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T_ ](\d{2})[-:.]?(\d{2})(?:[-:.]?(\d{2}))?)?")
_EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"


@dataclass(frozen=True)
class SeriesImage:
    """One photo of the series: which plant (or tray) it shows, and when.

    ``name`` is unique in the series and names its output files
    (``<name>_label.png``): the file's own stem when that holds the time, else
    ``<plant>_<time>``, since ``2026-03-01/plant040.png`` and
    ``2026-03-02/plant040.png`` must not share a label file.
    """

    path: Path
    plant: str
    time: datetime
    name: str


@dataclass(frozen=True)
class SeriesListing:
    """The images of a series in (plant, time) order, and one message per image left out."""

    images: tuple[SeriesImage, ...]
    left_out: tuple[str, ...]


def compile_pattern(pattern: str | None) -> re.Pattern[str]:
    """The file-name pattern, checked: it must compile and have a ``plant`` group."""
    try:
        compiled = re.compile(pattern if pattern is not None else DEFAULT_PATTERN)
    except re.error as exc:
        raise ConfigError(f"--pattern is not a regular expression ({exc}): {pattern!r}") from exc
    if "plant" not in compiled.groupindex:
        raise ConfigError(f"--pattern needs a named group (?P<plant>...), got {pattern!r}")
    return compiled


def parse_time(text: str, time_format: str | None = None) -> datetime:
    """``2026-03-01``, ``2026-03-01T14-30``, ``2026-03-01_14-30-00`` (or ``time_format``) as a datetime.

    >>> parse_time("2026-03-01_14-30-05")
    datetime.datetime(2026, 3, 1, 14, 30, 5)
    >>> parse_time("01.03.26", "%d.%m.%y")
    datetime.datetime(2026, 3, 1, 0, 0)
    """
    if time_format is not None:
        try:
            return datetime.strptime(text, time_format)
        except ValueError as exc:
            raise ValueError(f"time {text!r} does not fit --time-format {time_format!r}") from exc
    parts = _ISO_PARTS.fullmatch(text)
    if parts is None:
        raise ValueError(f"time {text!r} is not an ISO date ({EXPECTED_NAME.split('_', 1)[1]})")
    try:
        return datetime(*(int(part) for part in parts.groups(default="0")))
    except ValueError as exc:
        raise ValueError(f"time {text!r} is not a valid date ({exc})") from exc


def time_text(time: datetime) -> str:
    """A time for a file name: ``2026-03-01``, or ``2026-03-01T14-30`` / ``...T14-30-05`` when it has one."""
    text = time.strftime("%Y-%m-%d")
    if time.second:
        return text + time.strftime("T%H-%M-%S")
    if time.hour or time.minute:
        return text + time.strftime("T%H-%M")
    return text


def exif_time(path: Path) -> datetime | None:
    """The photo's EXIF DateTimeOriginal, or None when it has none (or no readable EXIF)."""
    try:
        with Image.open(path) as img:
            value = img.getexif().get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal)
        return datetime.strptime(str(value).strip("\x00 "), _EXIF_FORMAT) if value else None
    except (OSError, ValueError, SyntaxError):
        return None


def read_series(
    inputs: Sequence[str | Path], pattern: str | None = None, time_format: str | None = None
) -> SeriesListing:
    """The images of ``inputs`` (files, folders, folders of date-named sub-folders) as a series.

    Parameters
    ----------
    inputs : paths
        Image files and folders. A folder contributes its images and those of
        its sub-folders named by a date (other sub-folders, such as an output
        folder inside it, are ignored).
    pattern : str, optional
        Regular expression matched against the whole file name without its
        extension, with the named group ``plant`` and, optionally, ``time``.
    time_format : str, optional
        :meth:`datetime.strptime` format of the ``time`` group; ISO by default.

    Raises
    ------
    ConfigError
        When the pattern is invalid or an input does not exist.
    EmptyFolderError
        When a folder holds neither images nor date-named sub-folders with images.
    """
    compiled = compile_pattern(pattern)
    found: dict[tuple[str, datetime], SeriesImage] = {}
    left_out: list[str] = []
    for path in _image_files(inputs):
        image, problem = _identify(path, compiled, pattern, time_format)
        if image is None:
            left_out.append(f"{path.name}: {problem}; left out of the series")
        elif (image.plant, image.time) in found:
            first = found[(image.plant, image.time)].path
            left_out.append(f"{path.name}: the same plant and time as {first}; left out of the series")
        else:
            found[(image.plant, image.time)] = image
    return SeriesListing(tuple(found[key] for key in sorted(found)), tuple(left_out))


def _image_files(inputs: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(_folder_images(path))
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    return files


def _folder_images(folder: Path) -> list[Path]:
    images = _listed(folder)
    dated = sorted(sub for sub in folder.iterdir() if sub.is_dir() and _ISO_PARTS.fullmatch(sub.name))
    for sub in dated:
        images.extend(_listed(sub))
    if not images:
        raise EmptyFolderError("no images (.png, .jpg, .tif) in this folder nor in date-named sub-folders", folder)
    return images


def _listed(folder: Path) -> list[Path]:
    try:
        return list_images(folder)
    except EmptyFolderError:
        return []


def _identify(
    path: Path, pattern: re.Pattern[str], user_pattern: str | None, time_format: str | None
) -> tuple[SeriesImage | None, str]:
    """The image's plant and time, or None and why not."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None, "not an image (.png, .jpg, .tif ...)"
    stem = image_stem(path)
    match = pattern.fullmatch(stem)
    if match is None or not match.group("plant"):
        return None, f"the name does not fit --pattern {user_pattern!r}"
    plant = match.group("plant")
    named_time = match.groupdict().get("time")
    try:
        if named_time:
            return SeriesImage(path, plant, parse_time(named_time, time_format), stem), ""
        if _ISO_PARTS.fullmatch(path.parent.name):
            time = parse_time(path.parent.name)
        else:
            time = exif_time(path)
    except ValueError as exc:
        return None, str(exc)
    if time is None:
        expected = f"--pattern {user_pattern!r}" if user_pattern is not None else EXPECTED_NAME
        return None, (f"no time in the name (expected {expected}), in a date-named folder "
                      "nor in the photo's EXIF DateTimeOriginal")
    return SeriesImage(path, plant, time, f"{plant}_{time_text(time)}"), ""
