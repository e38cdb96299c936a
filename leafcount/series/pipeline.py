"""``leafcount track``: segment a series, follow every leaf, write what was found.

Two passes over the images keep memory flat however long the series: the
first reads each label image once to find its plants and leaves
(:mod:`.frames`, subsampled), the tracks are linked plant by plant, and the
second reads each label image again to write it in track ids, with its
overlay and its measures. What a run writes into ``out_dir``:

- ``<name>_label.png`` and its sidecar: the labels in track ids (the same
  leaf, the same value on every date), hand-edit tags carried over;
- ``<name>_overlay.png``: the leaves over the photo in their labels' colours;
- ``tracks.csv``, ``growth.csv`` (:mod:`.tables`) and ``growth.html``
  (:mod:`.growth_report`).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from leafcount.atomic import check_writable, write_text_atomic
from leafcount.inference.batch import ImageOutcome
from leafcount.io.corrections import save_corrections
from leafcount.data.cvppp import image_stem
from leafcount.data.folder import read_image
from leafcount.errors import ConfigError, LeafcountError
from leafcount.io.overlay import overlay_labels, write_rgb_png
from leafcount.analysis.plant_boxes import plants_from_meta
from leafcount.resize import resize_array
from leafcount.inference.segment import SegmentConfig
from leafcount.series.frames import PlantFrame, plant_frames
from leafcount.series.growth_report import growth_html, thumbnail_png
from leafcount.series.linking import LinkedFrame, link_plant
from leafcount.series.metadata import Metadata, read_metadata
from leafcount.series.naming import SeriesImage, read_series
from leafcount.series.sources import (
    TRACK_META_KEY,
    LabelSource,
    labels_fingerprint,
    remove_staging,
    saved_correction,
    segment_into_staging,
)
from leafcount.series.tables import (
    GROWTH_COLUMNS,
    TRACK_COLUMNS,
    growth_table,
    measure_frame,
    tracks_table,
    write_table,
)

THUMBNAIL_MARGIN = 0.1


@dataclass(frozen=True)
class TrackSummary:
    """What :func:`track_series` did; each message names its file."""

    out_dir: Path
    files: tuple[Path, ...]
    n_images: int
    n_plants: int
    n_tracks: int
    corrected: tuple[str, ...]  # images whose saved hand correction was used instead of the model
    left_out: tuple[str, ...]  # one message per image left out of the series
    warnings: tuple[str, ...]  # metadata mismatches, unreadable sidecars


def track_series(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    model_path: Path | None = None,
    config: SegmentConfig | None = None,
    tray: str | None = "auto",
    workers: int | None = None,
    pattern: str | None = None,
    time_format: str | None = None,
    metadata_path: str | Path | None = None,
    group_by: str | None = None,
    px_per_mm: float | None = None,
    on_result: Callable[[ImageOutcome], None] | None = None,
) -> TrackSummary:
    """Track the leaves of every plant of ``inputs`` through its dates into ``out_dir``.

    Parameters
    ----------
    model_path : Path, optional
        The checkpoint; needed only when some image has no saved correction.
    config : SegmentConfig, optional
        Decoding settings; default: the checkpoint's own, as ``segment`` uses.
    tray, workers
        As for :func:`leafcount.batch.segment_files`.
    pattern, time_format
        How file names give plant and time (:func:`.naming.read_series`).
    metadata_path : path, optional
        ``plants.csv`` joined into both tables (:mod:`.metadata`).
    group_by : str, optional
        The metadata column whose groups get mean curves (default: its first column).
    px_per_mm : float, optional
        The photos' scale, for areas in mm^2.

    Raises
    ------
    ConfigError
        Bad pattern, metadata table or ``group_by``, no model when one is needed.
    LeafcountError
        No image fits the series, or ``out_dir`` cannot be written.
    """
    listing = read_series(inputs, pattern, time_format)
    if not listing.images:
        reason = f": {listing.left_out[0]}" if listing.left_out else ""
        raise ConfigError(f"no image of the input makes a series ({len(listing.left_out)} left out{reason})")
    metadata = read_metadata(metadata_path, reserved=TRACK_COLUMNS + GROWTH_COLUMNS) if metadata_path else None
    group_by = _group_column(metadata, group_by)
    out_dir = _writable(Path(out_dir))
    sources, failures = _label_sources(listing.images, out_dir, model_path, config, tray, workers, on_result)
    frames, unreadable, warnings = _read_frames(sources)
    left_out = [*listing.left_out, *failures, *unreadable]
    sources = [source for source in sources if source.image.name in frames]
    leaf_rows, growth_rows, strips = _write_tracked(sources, frames, out_dir, px_per_mm)
    remove_staging(out_dir)

    tracks, growth = tracks_table(leaf_rows, metadata), growth_table(growth_rows, metadata)
    if metadata is not None:
        warnings.extend(metadata.mismatches(str(row[metadata.key]) for row in growth_rows))
    files = [write_table(out_dir / "tracks.csv", tracks), write_table(out_dir / "growth.csv", growth)]
    page = growth_html(growth, tracks, strips, group_by=group_by, notes=left_out + warnings, px_per_mm=px_per_mm)
    write_text_atomic(out_dir / "growth.html", page)
    files.append(out_dir / "growth.html")
    return TrackSummary(
        out_dir=out_dir,
        files=tuple(files),
        n_images=len(sources),
        n_plants=int(growth["plant"].nunique()),
        n_tracks=len(tracks.groupby(["plant", "leaf_id"])) if len(tracks) else 0,
        corrected=tuple(source.image.path.name for source in sources if source.corrected),
        left_out=tuple(left_out),
        warnings=tuple(warnings),
    )


def _label_sources(images: Sequence[SeriesImage], out_dir: Path, model_path: Path | None,
                   config: SegmentConfig | None, tray: str | None, workers: int | None,
                   on_result: Callable[[ImageOutcome], None] | None) -> tuple[list[LabelSource], list[str]]:
    """Each image's saved correction, else its segmentation (in series order); one line per failure."""
    corrections = {image.name: saved_correction(image, out_dir) for image in images}
    to_segment = [image for image in images if corrections[image.name] is None]
    segmented, failures = segment_into_staging(to_segment, out_dir, model_path, config, tray=tray, workers=workers,
                                               on_result=on_result)
    found = {source.image.name: source for source in segmented}
    found.update({name: source for name, source in corrections.items() if source is not None})
    return [found[image.name] for image in images if image.name in found], failures


def _read_frames(sources: Sequence[LabelSource]) -> tuple[dict[str, list[PlantFrame]], list[str], list[str]]:
    """Pass 1: the plants of every image (by image name), the images whose labels cannot be
    read (left out) and the sidecars that cannot be (their labels are used)."""
    frames: dict[str, list[PlantFrame]] = {}
    left_out, warnings = [], []
    for source in sources:
        try:
            labels, sidecar = source.load()
        except LeafcountError as exc:
            left_out.append(f"{exc}; left out of the series")
            continue
        if sidecar.problem:
            warnings.append(f"{sidecar.problem}; its labels are used without it")
        frames[source.image.name] = plant_frames(source.image, labels, plants_from_meta(sidecar.meta.get("plants")))
    return frames, left_out, warnings


def _write_tracked(
    sources: Sequence[LabelSource], frames: dict[str, list[PlantFrame]], out_dir: Path, px_per_mm: float | None
) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, list[tuple[datetime, bytes]]]]:
    """Pass 2: every image's labels and overlay in track ids; the table rows and thumbnails."""
    linked, first_seen = _link(frames)
    windows = _plant_windows(frames)
    leaf_rows, growth_rows = [], []
    strips: dict[str, list[tuple[datetime, bytes]]] = defaultdict(list)
    for source in sources:
        labels, sidecar = source.load()
        lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
        for frame in linked[source.image.name]:
            for leaf, track in frame.track_ids.items():
                lookup[leaf] = track
        tracked = lookup[labels]
        manual = frozenset(int(lookup[i]) for i in sidecar.manual_ids if i < len(lookup) and lookup[i])
        _write_labels(source, tracked, manual, sidecar.meta, out_dir)
        overlay = _write_overlay(source.image, tracked, out_dir)
        for frame in linked[source.image.name]:
            plant = frame.frame.plant
            rows, growth_row = measure_frame(frame, tracked, first_seen[source.image.plant], px_per_mm, manual)
            leaf_rows.extend(rows)
            growth_rows.append(growth_row)
            strips[plant].append((source.image.time, _thumbnail(overlay, windows[plant], tracked.shape)))
    return leaf_rows, growth_rows, strips


def _group_column(metadata: Metadata | None, group_by: str | None) -> str | None:
    if metadata is None:
        if group_by:
            raise ConfigError("--group-by needs --metadata: the groups are columns of that table")
        return None
    if group_by is None:
        return metadata.columns[0] if metadata.columns else None
    if group_by not in metadata.columns:
        raise ConfigError(f"--group-by {group_by!r} is no column of the metadata table "
                          f"(it has {', '.join(metadata.columns) or 'only its key'})", metadata.path)
    return group_by


def _writable(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeafcountError(f"cannot create the output folder ({exc.strerror or exc})", out_dir) from exc
    check_writable(out_dir)
    return out_dir


def _link(frames: dict[str, list[PlantFrame]]) -> tuple[dict[str, list[LinkedFrame]], dict[str, dict[int, datetime]]]:
    """Track ids for every frame (by image name) and first-seen times (by the images' plant:
    the positions of one tray share its ids)."""
    by_plant: dict[str, dict[str, list[PlantFrame]]] = defaultdict(lambda: defaultdict(list))
    for image_frames in frames.values():  # images come in (plant, time) order
        for frame in image_frames:
            by_plant[frame.image.plant][frame.plant].append(frame)
    linked: dict[str, list[LinkedFrame]] = {name: [] for name in frames}
    first_seen: dict[str, dict[int, datetime]] = {}
    for series_plant, positions in by_plant.items():
        new_ids = itertools.count(1)
        first_seen[series_plant] = {}
        for position_frames in positions.values():
            plant_linked, seen = link_plant(position_frames, new_ids)
            first_seen[series_plant].update(seen)
            for frame in plant_linked:
                linked[frame.frame.image.name].append(frame)
    return linked, first_seen


def _write_labels(source: LabelSource, tracked: np.ndarray, manual: frozenset[int], meta: dict, out_dir: Path) -> None:
    """The labels in track ids, with a sidecar that keeps the original's and says how they were tracked."""
    image = source.image
    photo_name = image.path if image_stem(image.path) == image.name else Path(f"{image.name}{image.path.suffix}")
    meta = {**meta, TRACK_META_KEY: {"plant": image.plant, "time": image.time.isoformat(), "photo": str(image.path),
                                     "source": "correction" if source.corrected else "model",
                                     "labels_sha256": labels_fingerprint(tracked)}}
    save_corrections(photo_name, tracked, manual, meta, out_dir)


def _write_overlay(image: SeriesImage, tracked: np.ndarray, out_dir: Path) -> np.ndarray:
    photo = read_image(image.path)
    shown = tracked if photo.shape[:2] == tracked.shape else resize_array(tracked, photo.shape[:2], nearest=True)
    overlay = overlay_labels(photo, shown)
    write_rgb_png(out_dir / f"{image.name}_overlay.png", overlay)
    return overlay


def _plant_windows(frames: dict[str, list[PlantFrame]]) -> dict[str, tuple[int, int, int, int]]:
    """Each plant's thumbnail window: around its leaves on all its dates (its box when it has none),
    so its thumbnails share one framing and show it grow."""
    windows: dict[str, tuple[int, int, int, int]] = {}
    for frame in (frame for image_frames in frames.values() for frame in image_frames):
        if frame.leaf_box is None:
            continue
        old = windows.get(frame.plant, frame.leaf_box)
        windows[frame.plant] = (min(old[0], frame.leaf_box[0]), min(old[1], frame.leaf_box[1]),
                                max(old[2], frame.leaf_box[2]), max(old[3], frame.leaf_box[3]))
    for frame in (frame for image_frames in frames.values() for frame in image_frames):
        windows.setdefault(frame.plant, frame.window)
    return windows


def _thumbnail(overlay: np.ndarray, window: tuple[int, int, int, int], shape: tuple[int, int]) -> bytes:
    """The plant's window of the overlay (which may be smaller than the labels), with a margin."""
    fy, fx = overlay.shape[0] / shape[0], overlay.shape[1] / shape[1]
    top, left, bottom, right = window
    dy, dx = THUMBNAIL_MARGIN * (bottom - top), THUMBNAIL_MARGIN * (right - left)
    rows = slice(max(0, int((top - dy) * fy)), min(overlay.shape[0], int(np.ceil((bottom + dy) * fy))))
    cols = slice(max(0, int((left - dx) * fx)), min(overlay.shape[1], int(np.ceil((right + dx) * fx))))
    return thumbnail_png(np.ascontiguousarray(overlay[rows, cols]))
