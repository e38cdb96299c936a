"""The one way from a photo to labels, steps, plants and a sidecar record.

``leafcount segment`` (:mod:`leafcount.inference.batch`), the app's workers,
the napari widget and the benchmarks all run :func:`segment_photo`, so they
cannot disagree: one plant or a tray, the mirrored passes, the decoding,
the CRF (for trays too), transparent pixels, grey photos, photos without a
plant, and labels at the file's own size.

It is a generator: it yields each :class:`~leafcount.inference.segment.Step`
of a single plant as it is found, the :class:`PlantsFound` of a tray and
each plant's :class:`~leafcount.inference.tray.PlantResult`, and returns the
:class:`PipelineResult`. :func:`run_pipeline` runs it to its end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leafcount.analysis.plant_boxes import PlantBox
from leafcount.arrays import check_image
from leafcount.cancel import CancelToken
from leafcount.data.folder import Photo, read_photo
from leafcount.errors import ConfigError
from leafcount.inference.crf import CrfConfig, refine_labels
from leafcount.inference.flips import with_mirrored_passes
from leafcount.inference.run_meta import ModelRun, run_meta
from leafcount.inference.segment import DenseMaps, SegmentConfig, Step, decode_steps, segment_steps, with_dense_maps
from leafcount.inference.tray import PlantResult, detect_plants, looks_like_tray, parse_grid, segment_tray_plants
from leafcount.model.checkpoint import CheckpointInfo
from leafcount.model.ris import RIS
from leafcount.resize import resize_labels

SEGMENT_MAX_PIXELS = 16_000_000
"""A photo above this size is segmented downscaled (JPEG: decoded so): the network sees
a few hundred pixels a side anyway, and a 12000 x 9000 photo then stays under 1 GB
(benchmarks/memory.py). Its labels are still saved at the file's own size."""

GREY_NOTE = "grey image: the model was trained on colour photos, the count may be wrong"
NO_PLANT_NOTE = "no plant found"
TRANSPARENT_NOTE = "transparent pixels taken as background"


def read_working_photo(path: str | Path) -> Photo:
    """The photo as the pipeline segments it: at most :data:`SEGMENT_MAX_PIXELS` pixels."""
    return read_photo(path, max_pixels=SEGMENT_MAX_PIXELS)


@dataclass(frozen=True)
class PipelineSettings:
    """How to segment a photo.

    ``tray``: "off" for one plant, "auto" to look for the plants of a tray
    (a single plant stays one plant), "ROWSxCOLS" for a tray of that layout.
    ``plants``: boxes the user has set (working pixels), trusted as they are
    and segmented as a tray whatever ``tray`` says. ``crf`` None: no CRF.
    ``every_step``: run the network until its confidence falls below
    ``segment.stop_floor``, so a stop-threshold slider can re-decode later
    (the app, napari); False, for a headless run, stops at the first step
    below ``segment.stop_threshold``, which gives the same labels sooner
    (with one pass; mirrored passes match leaves over whole sequences).
    ``heads_alongside``: compute a single plant's full-resolution heads on a
    second thread while the network steps (``segment_steps``), for a window
    that segments one photo at a time; a batch, which gives each core a
    photo of its own, leaves it off.
    """

    segment: SegmentConfig = SegmentConfig()
    crf: CrfConfig | None = None
    tray: str = "off"
    plants: tuple[PlantBox, ...] | None = None
    every_step: bool = True
    heads_alongside: bool = False

    @property
    def network_config(self) -> SegmentConfig:
        """The settings the network runs with (see ``every_step``)."""
        config = self.segment
        if self.every_step or config.flips > 1:
            return config
        return config.replace(stop_floor=max(config.stop_floor, config.stop_threshold))

    def __post_init__(self) -> None:
        if self.tray not in ("off", "auto"):
            parse_grid(self.tray)  # raises ConfigError naming the layout
        if self.plants is not None and not isinstance(self.plants, tuple):
            raise ConfigError(f"plants must be a tuple of PlantBox, got {type(self.plants).__name__}")


@dataclass(frozen=True)
class PlantsFound:
    """The plants of a tray, found (or given) before any is segmented."""

    plants: tuple[PlantBox, ...]


@dataclass(frozen=True)
class LabelsReady:
    """A single plant's labels (H, W) int32, final, as soon as a step's
    confidence fell below the stop threshold: the steps the network runs on
    for the threshold slider (down to ``stop_floor``) change none of them, so
    a window can show the whole image now rather than after every step."""

    labels: np.ndarray


PipelineEvent = Step | PlantsFound | PlantResult | LabelsReady


@dataclass(frozen=True)
class PipelineResult:
    """One photo segmented.

    ``labels`` (H, W) int32 and the plants' boxes are in the working photo's
    pixels; :meth:`full_size_labels` and :meth:`full_size_plants` are what is
    saved (the file's own size, ``full_shape``). ``steps`` are those of a
    single plant ([] for a tray: each plant has its own); ``areas`` the
    pixels of each leaf id (``np.bincount``).
    """

    labels: np.ndarray
    full_shape: tuple[int, int]
    run: ModelRun
    steps: list[Step] = dataclasses.field(default_factory=list)
    plants: list[PlantResult] = dataclasses.field(default_factory=list)
    notes: tuple[str, ...] = ()
    areas: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(1, np.int64))

    @property
    def leaf_count(self) -> int:
        """Leaves in the final labels: the ids that have pixels (``areas``; counting them on the
        labels again took 0.2 s on a 12-megapixel photo)."""
        return int(np.count_nonzero(self.areas[1:]))

    def full_size_labels(self) -> np.ndarray:
        """The labels at the file's own size (nearest neighbour keeps every id)."""
        return resize_labels(self.labels, self.full_shape)

    def full_size_plants(self) -> list[PlantBox]:
        """The plants' boxes in the file's own pixels."""
        return [plant.plant.rescaled(self.labels.shape, self.full_shape) for plant in self.plants]

    def plant_leaf_counts(self) -> list[int]:
        """Leaves of each plant in the final labels (after the CRF)."""
        present = np.flatnonzero(self.areas)
        return [len(np.intersect1d(present, plant.leaf_ids)) for plant in self.plants]

    def sidecar_meta(self) -> dict[str, Any]:
        """The sidecar record of this result (:func:`~leafcount.inference.run_meta.run_meta`)."""
        return run_meta(self.run, self.full_size_plants(), self.notes)


def model_run(info: CheckpointInfo, settings: PipelineSettings) -> ModelRun:
    """The record of running the checkpoint ``info`` with ``settings``."""
    return ModelRun(info.name, settings.segment, settings.crf is not None, str(info.meta.get("created", "")))


def tray_plants(found: Sequence[PlantBox], tray: str) -> list[PlantBox]:
    """The one answer to "a tray, or one plant?": the plants ``detect_plants`` found
    when ``tray`` is a layout (ROWSxCOLS), or "auto" and they look like a tray; else []."""
    if tray == "off" or (tray == "auto" and not looks_like_tray(found)):
        return []
    return list(found)


def _plants_to_segment(photo: Photo, settings: PipelineSettings) -> list[PlantBox] | None:
    """The tray's plants ([] for one plant), or None when the photo shows no plant.

    A colour photo without any green region has no plant (the network would
    otherwise outline leaves on soil or a colour card); a grey photo has no
    green to look for and is segmented as one plant.
    """
    if settings.plants is not None:
        return list(settings.plants)
    if photo.transparent is not None and bool(photo.transparent.all()):
        return None
    grid = parse_grid(settings.tray) if settings.tray not in ("off", "auto") else None
    found = detect_plants(photo.pixels, grid)
    if not (found or photo.grey):
        return None
    return tray_plants(found, settings.tray)


def segment_photo(
    model: RIS,
    info: CheckpointInfo,
    photo: Photo,
    full_shape: tuple[int, int],
    settings: PipelineSettings,
    cancel: CancelToken | None = None,
) -> Generator[PipelineEvent, None, PipelineResult]:
    """Segment one photo, yielding its progress; returns the :class:`PipelineResult`.

    Parameters
    ----------
    model, info : RIS, CheckpointInfo
        The network and the checkpoint it was loaded from (named in the sidecar).
    photo : Photo
        As :func:`read_working_photo` reads it: pixels (H, W, 3) float32 in
        [0, 1], transparency and whether it is grey.
    full_shape : (rows, cols)
        The file's own size (:func:`leafcount.data.folder.read_image_size`).
    settings : PipelineSettings
    cancel : CancelToken, optional
        Checked between steps and plants; raises ``Cancelled``.

    Raises
    ------
    ImageReadError
        When the pixels are not an (H, W, 3) float array.

    Yields
    ------
    Step, LabelsReady, PlantsFound or PlantResult
        A single plant's steps of the first pass as they are found (without
        the dense maps until the first step under the stop threshold; the
        result's steps all carry them), and with ``every_step`` and one pass
        its final labels once that step is in (:class:`LabelsReady`); or a
        tray's plants, then each plant once it is segmented.
    """
    image = check_image(photo.pixels)  # a bad array fails here, before any plant is looked for
    notes = list(photo.notes) + ([GREY_NOTE] if photo.grey else [])
    boxes = _plants_to_segment(photo, settings)
    steps: list[Step] = []
    plants: list[PlantResult] = []
    if boxes is None:
        invisible = photo.transparent is not None and bool(photo.transparent.all())
        notes.append(NO_PLANT_NOTE + (" (the image is fully transparent)" if invisible else ""))
        labels = np.zeros(image.shape[:2], dtype=np.int32)
    else:
        if boxes:
            yield PlantsFound(tuple(boxes))
            labels, plants = yield from segment_tray_plants(model, image, boxes, settings.network_config, cancel=cancel)
            labels = _finished(image, labels, settings, photo)
        else:
            labels, steps = yield from _segment_plant(model, image, photo, settings, cancel)
        if photo.transparent is not None:
            notes.append(TRANSPARENT_NOTE)
    labels = np.asarray(labels, dtype=np.int32)
    return PipelineResult(labels, tuple(full_shape), model_run(info, settings), steps, plants, tuple(notes),
                          np.bincount(labels.ravel()))


def _segment_plant(
    model: RIS, image: np.ndarray, photo: Photo, settings: PipelineSettings, cancel: CancelToken | None
) -> Generator[PipelineEvent, None, tuple[np.ndarray, list[Step]]]:
    """One plant's final labels and its steps (dense maps attached), yielding each step as it comes
    and, with ``every_step`` and one pass, :class:`LabelsReady` at the first step under the stop threshold."""
    threshold = settings.segment.stop_threshold
    one_pass = settings.segment.flips == 1
    live = segment_steps(model, image, settings.network_config, cancel, dense_last=True,
                         dense_below=threshold if one_pass else None, heads_alongside=settings.heads_alongside)
    steps: list[Step] = []
    labels = None
    while True:
        try:
            step = next(live)
        except StopIteration as end:
            maps = end.value
            break
        steps.append(step)
        yield step
        if labels is None and one_pass and step.score < threshold:  # this step brought the dense maps
            kept = with_dense_maps(steps, (step.foreground, step.boundary, step.centre))
            labels = _finished_labels(image, kept, settings, photo)
            if settings.every_step:
                yield LabelsReady(labels)
    if cancel is not None:
        cancel.raise_if_cancelled()
    steps = with_mirrored_passes(model, image, with_dense_maps(steps, maps), settings.segment, cancel)
    if labels is None:  # no step fell under the threshold, or mirrored passes
        labels = _finished_labels(image, steps, settings, photo)
    return labels, steps


def _finished_labels(image: np.ndarray, steps: Sequence[Step], settings: PipelineSettings, photo: Photo) -> np.ndarray:
    """Decoded from ``steps``, then as every result's labels are finished (:func:`_finished`)."""
    return _finished(image, decode_steps(steps, image.shape[:2], settings.segment), settings, photo)


def _finished(image: np.ndarray, labels: np.ndarray, settings: PipelineSettings, photo: Photo) -> np.ndarray:
    """CRF-refined where asked, transparent pixels cleared."""
    if settings.crf is not None:
        labels = refine_labels(image, labels, config=settings.crf)
    if photo.transparent is not None:
        labels[photo.transparent] = 0
    return labels


def run_pipeline(
    model: RIS,
    info: CheckpointInfo,
    photo: Photo,
    full_shape: tuple[int, int],
    settings: PipelineSettings,
    cancel: CancelToken | None = None,
    on_event: Callable[[PipelineEvent], None] | None = None,
) -> PipelineResult:
    """:func:`segment_photo` run to its end; ``on_event`` gets what it yields."""
    events = segment_photo(model, info, photo, full_shape, settings, cancel)
    while True:
        try:
            event = next(events)
        except StopIteration as end:
            return end.value
        if on_event is not None:
            on_event(event)


def redecode(
    steps: Sequence[Step], image: np.ndarray, config: SegmentConfig, crf: CrfConfig | None
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (H, W) int32 for new decoding settings from kept steps (no network),
    CRF-refined when ``crf`` is given, and their areas (``np.bincount``)."""
    labels = decode_steps(steps, image.shape[:2], config)
    if crf is not None:
        labels = refine_labels(image, labels, config=crf)
    return labels, np.bincount(labels.ravel())
