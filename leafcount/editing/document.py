"""One image's editable state, Qt-free: its files, labels, hand-edit tags, model
steps and run, plant boxes, and a bounded history of the changes made to them.

Views read the document and redraw on its callbacks; they keep no copies.
Every change a user can undo is a :mod:`leafcount.editing.changes` record
pushed with :meth:`LabelDocument.push`, so edits, model reruns and moved plant
boxes all make the document dirty and all come back with undo. The GUI's
document (``leafcount.gui.document``) adapts this history onto a QUndoStack.

In memory the photo and labels are at the size the pipeline works at
(:func:`leafcount.inference.pipeline.read_working_photo`); on disk labels and
plant boxes are at the file's own size, as ``leafcount segment`` saves them.
"""

from __future__ import annotations

import enum
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leafcount.analysis.plant_boxes import PlantBox, plants_from_meta, plants_to_meta
from leafcount.data.folder import Photo, read_image_size
from leafcount.editing.edits import LabelEdit
from leafcount.errors import ImageReadError, LabelFormatError, LeafcountError
from leafcount.inference.pipeline import read_working_photo
from leafcount.inference.run_meta import ModelRun, run_meta
from leafcount.inference.segment import Step
from leafcount.inference.tray import PlantResult
from leafcount.io.corrections import Sidecar, load_corrections, read_sidecar, save_corrections
from leafcount.resize import resize_labels

UNDO_LIMIT = 100


class ImageStatus(enum.Enum):
    NOT_SEGMENTED = "not segmented"
    MODEL = "model"
    EDITED = "edited by hand"
    SAVED = "saved"
    LABEL_FILE = "label file"  # labels on disk that leafcount did not write (e.g. ground truth)
    UNREADABLE_IMAGE = "unreadable image"
    UNREADABLE_CORRECTION = "unreadable correction"  # its label PNG cannot be read; the photo can
    FAILED = "segmentation failed"


# What Segment all runs on: nothing on disk or in memory that a run could replace.
TO_SEGMENT = frozenset({ImageStatus.NOT_SEGMENTED, ImageStatus.FAILED, ImageStatus.UNREADABLE_IMAGE})


def failure_text(path: Path, exc: BaseException) -> str:
    """``name: reason`` for one image (a LeafcountError names its file already)."""
    if not isinstance(exc, LeafcountError):
        return f"{path.name}: {type(exc).__name__}: {exc}"
    return str(exc) if str(exc).startswith(path.name) else f"{path.name}: {exc}"


@dataclass(frozen=True)
class PackedLabels:
    """A label image compressed for keeping in memory (exact; cheap for label images)."""

    data: bytes
    shape: tuple[int, int]
    dtype: str

    @classmethod
    def pack(cls, labels: np.ndarray) -> PackedLabels:
        top = int(labels.max(initial=0))
        dtype = np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int32
        data = zlib.compress(np.ascontiguousarray(labels, dtype=dtype).tobytes(), 1)
        return cls(data, tuple(labels.shape), np.dtype(dtype).str)

    def unpack(self) -> np.ndarray:
        flat = np.frombuffer(zlib.decompress(self.data), dtype=np.dtype(self.dtype))
        return flat.reshape(self.shape).astype(np.int32)


class Change:
    """One undoable change (kinds: :mod:`leafcount.editing.changes`): a description for
    the history and a reversible effect on a document."""

    description = ""

    def apply(self, doc: LabelDocument) -> None:
        raise NotImplementedError

    def revert(self, doc: LabelDocument) -> None:
        raise NotImplementedError


class Callbacks(list):
    """Plain callbacks of one kind of change: ``doc.on_labels_changed.append(f)``."""

    def __call__(self, *args: Any) -> None:
        for callback in list(self):
            callback(*args)


class LabelDocument:
    """State of one image of a folder.

    Labels are held unpacked only while the image is open; :meth:`release`
    compresses them (a 12-megapixel label image packs to a few hundred kB)
    and drops the pixels, which :meth:`load` reads again from disk.

    Callbacks: ``on_labels_changed(box)`` ((rows, cols) slices of the change,
    or None for all), ``on_status_changed()``, ``on_steps_changed()``,
    ``on_plants_changed()``.
    """

    def __init__(self, path: Path, out_dir: Path | None = None) -> None:
        self.path = path
        self.out_dir = out_dir
        self.on_labels_changed = Callbacks()
        self.on_status_changed = Callbacks()
        self.on_steps_changed = Callbacks()
        self.on_plants_changed = Callbacks()
        self.photo: Photo | None = None
        self.file_shape: tuple[int, int] | None = None  # the photo's own size (labels on disk have it)
        self.steps: list[Step] = []
        self.run: ModelRun | None = None
        self.notes: tuple[str, ...] = ()  # what the last model run noted (grey image, no plant found, ...)
        self.manual_ids: frozenset[int] = frozenset()
        self.plants: tuple[PlantBox, ...] | None = None  # a tray's boxes; () when it is no tray; None: unknown
        self.plant_results: list[PlantResult] = []  # each plant's last segmentation (its steps)
        # A garbage sidecar costs only its own hand-edit tags: the labels are used as a label file.
        self.saved: Sidecar | None = read_sidecar(path, out_dir, lenient=True)
        self.image_error = ""  # why the photo cannot be read
        self.label_error = ""  # why the saved label PNG cannot be read
        self.run_error = ""  # why the last Segment all of this image failed
        self._labels: np.ndarray | None = None
        self._packed: PackedLabels | None = None
        self._areas = np.zeros(1, dtype=np.int64)
        # A label file leafcount did not write has no count until it is read.
        self._leaf_count = self.saved.leaf_count if self.saved and self.saved.is_leafcount else None
        self.revision = 0  # grows with every change of labels or manual tags
        self._done: deque[Change] = deque()
        self._undone: list[Change] = []
        self._dropped = 0  # changes that fell off the undo limit
        self._clean_at: int | None = 0  # history position of the saved state; None: fell off the limit

    # -- what it is -----------------------------------------------------------

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def image(self) -> np.ndarray | None:
        return self.photo.pixels if self.photo is not None else None

    @property
    def labels(self) -> np.ndarray | None:
        if self._labels is None and self._packed is not None:
            self._labels, self._packed = self._packed.unpack(), None
        return self._labels

    @property
    def has_labels(self) -> bool:
        return self._labels is not None or self._packed is not None

    @property
    def label_shape(self) -> tuple[int, int] | None:
        """The size the labels are held at (the working photo's)."""
        if self._labels is not None:
            return tuple(self._labels.shape)
        return self._packed.shape if self._packed is not None else None

    @property
    def problem(self) -> str:
        """What is wrong with this image's files, for the image list ('' when nothing)."""
        if self.image_error or self.label_error or self.run_error:
            return self.image_error or self.label_error or self.run_error
        if self.saved is not None and self.saved.problem:
            return f"{self.saved.problem}; its labels are used without it (hand-edit tags lost)"
        return ""

    @property
    def is_dirty(self) -> bool:
        return self._clean_at != self._position

    @property
    def edited_by_hand(self) -> bool:
        """Whether the labels are no longer the model's as it gave them: edits not yet saved, or
        leaves saved as drawn by hand."""
        return self.is_dirty or bool(self.manual_ids)

    @property
    def holds_work(self) -> bool:
        """Whether replacing the labels would lose hand edits or a saved file's content."""
        return self.saved is not None or bool(self.manual_ids) or bool(self._done or self._undone)

    @property
    def status(self) -> ImageStatus:
        if self.is_dirty:
            return ImageStatus.EDITED
        if self.image_error:
            return ImageStatus.UNREADABLE_IMAGE
        if self.label_error and not self.has_labels:
            return ImageStatus.UNREADABLE_CORRECTION
        if self.saved is not None:
            return ImageStatus.SAVED if self.saved.is_leafcount else ImageStatus.LABEL_FILE
        if self.run is None and not self._leaf_count:
            return ImageStatus.FAILED if self.run_error else ImageStatus.NOT_SEGMENTED
        return ImageStatus.MODEL

    @property
    def leaf_count(self) -> int | None:
        return self._leaf_count

    @property
    def is_tray(self) -> bool:
        return bool(self.plants)

    def has_leaf(self, leaf_id: int) -> bool:
        return 0 < leaf_id < len(self._areas) and self._areas[leaf_id] > 0

    def leaf_area(self, leaf_id: int) -> int:
        return int(self._areas[leaf_id]) if 0 <= leaf_id < len(self._areas) else 0

    def plant_result(self, box: PlantBox) -> PlantResult | None:
        """The last segmentation of the plant at ``box``'s grid position (it survives a moved box)."""
        return next((r for r in self.plant_results if (r.plant.row, r.plant.col) == (box.row, box.col)), None)

    # -- files ----------------------------------------------------------------

    def load(self) -> None:
        """Read the photo (and saved corrections, the first time) from disk.

        Raises ImageReadError, and the document stays unloaded, when the photo
        cannot be read (``image_error`` says why). Saved labels that cannot be
        read leave the photo open without them (``label_error`` says why).
        """
        try:
            photo = read_working_photo(self.path)
            self.file_shape = read_image_size(self.path)
        except ImageReadError as exc:
            self._set_errors(image_error=str(exc))
            raise
        self._set_errors(image_error="")
        shape = photo.pixels.shape[:2]
        if self.labels is None and self.saved is not None:
            try:
                found = load_corrections(self.path, self.out_dir, shape=self.file_shape, sidecar=self.saved)
            except LabelFormatError as exc:
                self.saved = None  # nothing readable to keep: a run or a save replaces it
                self._set_errors(label_error=str(exc))
            else:
                labels, self.saved = found
                self.manual_ids = self.saved.manual_ids
                self._set_labels(resize_labels(labels, shape).astype(np.int32, copy=False))
        if self.plants is None and self.saved is not None:
            boxes = plants_from_meta(self.saved.meta.get("plants"))
            self.plants = tuple(box.rescaled(self.file_shape, shape) for box in boxes) or None
        self.photo = photo

    def mark_failed(self, exc: BaseException) -> None:
        """A Segment all of this image failed (not open: nothing else changes)."""
        text = failure_text(self.path, exc)
        if isinstance(exc, ImageReadError):
            self._set_errors(image_error=text)
        else:
            self._set_errors(run_error=text)

    def release(self) -> None:
        """Drop the pixels and pack the labels while another image is open."""
        self.photo = None
        if self._labels is not None:
            self._labels, self._packed = None, PackedLabels.pack(self._labels)

    def sidecar_meta(self) -> dict[str, Any]:
        """What the sidecar says about the labels: the model run, or what an earlier save said;
        plant boxes in the file's pixels."""
        shape, full = self.label_shape, self.file_shape or self.label_shape
        boxes = [box.rescaled(shape, full) for box in self.plants or ()] if shape else []
        if self.run is not None:
            return run_meta(self.run, boxes, self.notes)
        meta = dict(self.saved.meta) if self.saved is not None else {}  # keep what it said about the model
        if self.plants is not None:
            meta.pop("plants", None)
            if boxes:
                meta["plants"] = plants_to_meta(boxes)
        return meta

    def packed_labels(self) -> PackedLabels | None:
        """The labels as they are now, packed (a copy that later edits leave alone)."""
        if self._packed is not None:
            return self._packed
        return PackedLabels.pack(self._labels) if self._labels is not None else None

    def save(self) -> Path:
        """Write the corrections at the file's own size; the document is clean afterwards."""
        labels = resize_labels(self.labels, self.file_shape or self.label_shape)
        path = save_corrections(self.path, labels, self.manual_ids, self.sidecar_meta(), self.out_dir)
        self.saved = read_sidecar(self.path, self.out_dir)
        self.label_error = ""  # replaced by what was just written
        self.set_clean()
        return path

    # -- model results --------------------------------------------------------

    def set_model_result(
        self,
        labels: np.ndarray | PackedLabels,
        steps: list[Step],
        run: ModelRun,
        areas: np.ndarray | None = None,
        *,
        notes: tuple[str, ...] = (),
        plants: list[PlantResult] | None = None,
    ) -> None:
        """Replace labels, steps and run outside the history (nothing to lose).

        ``areas`` (pixels per id, from ``np.bincount``) saves a full pass over
        a large image when the worker computed it already; ``plants`` are a
        tray's plant results (their boxes become the document's).
        """
        self.steps, self.run, self.notes = list(steps), run, tuple(notes)
        self.manual_ids = frozenset()
        self.image_error = self.run_error = ""  # the worker read and segmented the photo
        if plants:
            self.plant_results = list(plants)
            self.set_plants(tuple(result.plant for result in plants))
        if isinstance(labels, PackedLabels):
            self._labels, self._packed = None, labels
            self._set_areas(np.bincount(labels.unpack().ravel()) if areas is None else areas)
            self.on_labels_changed(None)
        else:
            self._set_labels(np.asarray(labels, dtype=np.int32), areas)
            if self.photo is None:
                self.release()  # finished after the user moved to another image
        self.on_steps_changed()

    def start_empty(self) -> None:
        """Give an unsegmented image an empty label image to draw leaves by hand."""
        if self.labels is None and self.image is not None:
            self._set_labels(np.zeros(self.image.shape[:2], dtype=np.int32))

    # -- what changes call ----------------------------------------------------

    def set_steps(self, steps: list[Step], run: ModelRun | None) -> None:
        self.steps, self.run = list(steps), run
        self.on_steps_changed()

    def set_manual_ids(self, manual_ids: frozenset[int]) -> None:
        self.manual_ids = manual_ids
        self.revision += 1
        self.on_status_changed()

    def set_plants(self, plants: tuple[PlantBox, ...] | None) -> None:
        """The tray's boxes (working pixels); () when the image is no tray."""
        self.plants = plants
        self.on_plants_changed()

    def apply(self, edit: LabelEdit) -> None:
        """Apply ``edit`` to the labels; called by changes only."""
        self._count_out(edit.old_values)
        edit.apply(self.labels)
        self.revision += 1
        self._count_in(edit.new_values)
        self.on_labels_changed(edit.box)

    def revert(self, edit: LabelEdit) -> None:
        """Revert ``edit``; called by changes only."""
        self._count_out(edit.new_values)
        edit.revert(self.labels)
        self.revision += 1
        self._count_in(edit.old_values)
        self.on_labels_changed(edit.box)

    # -- history --------------------------------------------------------------

    @property
    def _position(self) -> int:
        return self._dropped + len(self._done)

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def push(self, change: Change) -> None:
        """Make ``change`` and record it; what was undone cannot be redone any more."""
        change.apply(self)
        self._undone.clear()
        if self._clean_at is not None and self._clean_at > self._position:
            self._clean_at = None  # the saved state was undone and is now out of reach
        self._done.append(change)
        if len(self._done) > UNDO_LIMIT:
            self._done.popleft()
            self._dropped += 1
            if self._clean_at is not None and self._clean_at < self._dropped:
                self._clean_at = None
        self.on_status_changed()

    def undo(self) -> None:
        change = self._done.pop()
        change.revert(self)
        self._undone.append(change)
        self.on_status_changed()

    def redo(self) -> None:
        change = self._undone.pop()
        change.apply(self)
        self._done.append(change)
        self.on_status_changed()

    def set_clean(self) -> None:
        """The state now is the saved one."""
        self._clean_at = self._position
        self.on_status_changed()

    def forget_history(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._dropped, self._clean_at = 0, 0

    def discard_changes(self) -> None:
        """Go back to the last clean state (the redo history keeps the edits), or reload
        what is on disk when the clean state fell off the undo limit."""
        if self._clean_at is not None:
            while self._position > self._clean_at:
                self.undo()
            while self._position < self._clean_at:
                self.redo()
            return
        self.reload()

    def reload(self) -> None:
        """Forget the history and the labels; read the saved ones again."""
        self.forget_history()
        self.manual_ids = frozenset()
        self._labels = self._packed = None
        self._leaf_count = None
        self.saved = read_sidecar(self.path, self.out_dir, lenient=True)
        if self.saved is not None and self.image is not None:
            labels, self.saved = load_corrections(self.path, self.out_dir, shape=self.file_shape, sidecar=self.saved)
            self.manual_ids = self.saved.manual_ids
            self._set_labels(resize_labels(labels, self.image.shape[:2]).astype(np.int32, copy=False))
        else:
            self.on_labels_changed(None)
            self.on_status_changed()

    # -- private --------------------------------------------------------------

    def _set_errors(self, **errors: str) -> None:
        if any(getattr(self, name) != text for name, text in errors.items()):
            for name, text in errors.items():
                setattr(self, name, text)
            self.on_status_changed()

    def _set_labels(self, labels: np.ndarray, areas: np.ndarray | None = None) -> None:
        self._labels, self._packed = labels, None
        self._set_areas(np.bincount(labels.ravel()) if areas is None else areas)
        self.on_labels_changed(None)

    def _set_areas(self, areas: np.ndarray) -> None:
        self.revision += 1
        self._areas = np.asarray(areas, dtype=np.int64)
        self._update_count()

    def _count_out(self, values: np.ndarray) -> None:
        self._areas = _padded_sum(self._areas, -np.bincount(values))

    def _count_in(self, values: np.ndarray) -> None:
        self._areas = _padded_sum(self._areas, np.bincount(values))
        self._update_count()

    def _update_count(self) -> None:
        self._leaf_count = int(np.count_nonzero(self._areas[1:]))
        self.on_status_changed()


def _padded_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) < len(b):
        a, b = b, a
    out = a.astype(np.int64, copy=True)
    out[: len(b)] += b
    return out

