"""One plant's dates as the app's timeline shows them: small photos, leaves in track ids, areas.

The app has no ``track`` output to read, so it links the leaves itself, the
way ``track`` does (:mod:`.frames`, :mod:`.linking`), from the labels saved
for each photo (beside it, or in the app's output folder). A date without
saved labels is shown as a photo without leaves and breaks no track: the
dates on either side of it are matched to each other. Everything is shrunk
to :data:`THUMBNAIL_SIDE` pixels, since the timeline shows a dozen dates side
by side; areas are measured on the full-size labels.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from leafcount.data.folder import read_image
from leafcount.errors import EmptyFolderError
from leafcount.io.corrections import load_corrections
from leafcount.resize import resize_array
from leafcount.series.frames import plant_frames
from leafcount.series.linking import link_plant
from leafcount.series.naming import SeriesImage, read_series

THUMBNAIL_SIDE = 192


@dataclass(frozen=True)
class TimelineDate:
    """One date of a plant: ``photo`` (h, w, 3) float32 and ``labels`` (h, w) int32 in track ids,
    both thumbnail-sized; ``has_labels`` False when nothing was saved for it."""

    image: SeriesImage
    photo: np.ndarray
    labels: np.ndarray
    has_labels: bool


@dataclass(frozen=True)
class PlantTimeline:
    """A plant's dates in time order and each track's area (full-size pixels) by date index."""

    plant: str
    dates: tuple[TimelineDate, ...]
    areas: dict[int, dict[int, int]]  # track id -> {date index: pixels}

    @property
    def times(self) -> list[datetime]:
        return [date.image.time for date in self.dates]


def series_plants(folder: Path) -> dict[str, list[SeriesImage]]:
    """The plants of ``folder`` photographed on two or more dates, each with its images in time order.

    Empty when the folder holds no series (no name with a date, or one date per plant).
    """
    try:
        listing = read_series([folder])
    except EmptyFolderError:
        return {}
    plants: dict[str, list[SeriesImage]] = {}
    for image in listing.images:
        plants.setdefault(image.plant, []).append(image)
    return {plant: images for plant, images in plants.items() if len({i.time for i in images}) >= 2}


def plant_timeline(
    plant: str,
    images: Sequence[SeriesImage],
    labels_dir: Path | None = None,
    *,
    on_date: Callable[[int, int], None] | None = None,
) -> PlantTimeline:
    """Read and link one plant's dates (see the module's docstring).

    Parameters
    ----------
    plant : str
        The plant's name, as :func:`series_plants` gives it.
    images : sequence of SeriesImage
        Its images, in time order.
    labels_dir : Path, optional
        Where the app saves labels, when not beside the photos; looked in first.
    on_date : callable, optional
        Called with (dates done, dates in all) as each date is read.

    Returns
    -------
    PlantTimeline
    """
    read = []
    for done, image in enumerate(images, start=1):
        labels = _saved_labels(image.path, labels_dir)
        read.append((image, read_image(image.path), labels))
        if on_date is not None:
            on_date(done, len(images))
    frames = [plant_frames(image, labels, [])[0] for image, _, labels in read if labels is not None]
    linked, _ = link_plant(frames, itertools.count(1))
    track_ids = {frame.frame.image.name: frame.track_ids for frame in linked}

    dates, areas = [], {}
    for index, (image, photo, labels) in enumerate(read):
        small_shape = _thumbnail_shape(photo.shape[:2])
        small_photo = resize_array(photo, small_shape).astype(np.float32)
        if labels is None:
            dates.append(TimelineDate(image, small_photo, np.zeros(small_shape, np.int32), False))
            continue
        lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
        for leaf, track in track_ids[image.name].items():
            lookup[leaf] = track
        tracked = lookup[labels]
        for track, pixels in enumerate(np.bincount(tracked.ravel())[1:], start=1):
            if pixels:
                areas.setdefault(track, {})[index] = int(pixels)
        dates.append(TimelineDate(image, small_photo, resize_array(tracked, small_shape, nearest=True), True))
    return PlantTimeline(plant, tuple(dates), areas)


def _saved_labels(photo: Path, labels_dir: Path | None) -> np.ndarray | None:
    for folder in (labels_dir, photo.parent):
        if folder is not None:
            found = load_corrections(photo, folder)
            if found is not None:
                return found[0]
    return None


def _thumbnail_shape(shape: tuple[int, int]) -> tuple[int, int]:
    factor = min(1.0, THUMBNAIL_SIDE / max(shape))
    return max(1, round(shape[0] * factor)), max(1, round(shape[1] * factor))
