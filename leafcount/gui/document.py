"""One image of the open folder: its pixels, labels, model steps and undo stack."""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack

from leafcount.io.corrections import (
    Sidecar,
    load_corrections,
    read_sidecar,
    save_corrections,
)
from leafcount.data.folder import read_image
from leafcount.editing.edits import LabelEdit
from leafcount.errors import ImageReadError, LabelFormatError, LeafcountError
from leafcount.inference.segment import SegmentConfig, Step

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
class ModelRun:
    """What produced a document's model labels (written to the sidecar)."""

    model_name: str
    config: SegmentConfig
    crf: bool = False
    model_created: str = ""  # the checkpoint's creation time: which version of the model

    def to_meta(self) -> dict:
        return {
            "model": self.model_name,
            "model_created": self.model_created,
            "mask_threshold": self.config.mask_threshold,
            "stop_threshold": self.config.stop_threshold,
            "max_steps": self.config.max_steps,
            "assignment": self.config.assignment,
            "flips": self.config.flips,
            "crf": self.crf,
        }


@dataclass(frozen=True)
class PackedLabels:
    """A label image compressed for keeping in memory (exact; cheap for label images)."""

    data: bytes
    shape: tuple[int, int]
    dtype: str

    @classmethod
    def pack(cls, labels: np.ndarray) -> "PackedLabels":
        top = int(labels.max(initial=0))
        dtype = np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int32
        data = zlib.compress(np.ascontiguousarray(labels, dtype=dtype).tobytes(), 1)
        return cls(data, tuple(labels.shape), np.dtype(dtype).str)

    def unpack(self) -> np.ndarray:
        flat = np.frombuffer(zlib.decompress(self.data), dtype=np.dtype(self.dtype))
        return flat.reshape(self.shape).astype(np.int32)


class ImageDoc(QObject):
    """State of one image; views listen to its signals, commands change it.

    Labels are held unpacked only while the image is open; ``release``
    compresses them (a 12-megapixel label image packs to a few hundred kB)
    and drops the pixels, which ``load`` reads again from disk.
    """

    labels_changed = Signal(object)  # (rows, cols) slices of the change, or None for all
    status_changed = Signal()
    steps_changed = Signal()

    def __init__(self, path: Path, group: QUndoGroup, out_dir: Path | None = None) -> None:
        super().__init__()
        self.path = path
        self.out_dir = out_dir
        # The document owns its stack; the group only lists it (for Undo/Redo actions).
        self.undo_stack = QUndoStack()
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        group.addStack(self.undo_stack)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.image: np.ndarray | None = None
        self.steps: list[Step] = []
        self.run: ModelRun | None = None
        self.manual_ids: frozenset[int] = frozenset()
        # A garbage sidecar costs only its own hand-edit tags: the labels are used as a label file.
        self.saved: Sidecar | None = read_sidecar(path, out_dir, lenient=True)
        self.image_error = ""  # why the photo cannot be read
        self.label_error = ""  # why the saved label PNG cannot be read
        self.run_error = ""  # why the last Segment all of this image failed
        # More JSON for the sidecar, beside the model run (e.g. the plant boxes of a tray).
        self.extra_meta: dict = {}
        self._labels: np.ndarray | None = None
        self._packed: PackedLabels | None = None
        self._areas = np.zeros(1, dtype=np.int64)
        # A label file leafcount did not write has no count until it is read.
        self._leaf_count = self.saved.leaf_count if self.saved and self.saved.is_leafcount else None
        self.revision = 0  # grows with every change of labels or manual tags

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def labels(self) -> np.ndarray | None:
        if self._labels is None and self._packed is not None:
            self._labels, self._packed = self._packed.unpack(), None
        return self._labels

    @property
    def has_labels(self) -> bool:
        return self._labels is not None or self._packed is not None

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
        return not self.undo_stack.isClean()

    @property
    def holds_work(self) -> bool:
        """Whether replacing the labels would lose hand edits or a saved file's content."""
        return self.saved is not None or bool(self.manual_ids) or self.undo_stack.count() > 0

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

    def has_leaf(self, leaf_id: int) -> bool:
        return 0 < leaf_id < len(self._areas) and self._areas[leaf_id] > 0

    def leaf_area(self, leaf_id: int) -> int:
        return int(self._areas[leaf_id]) if 0 <= leaf_id < len(self._areas) else 0

    def load(self) -> None:
        """Read the image (and saved corrections, the first time) from disk.

        Raises ImageReadError, and the document stays unloaded, when the photo
        cannot be read (``image_error`` says why). Saved labels that cannot be
        read leave the photo open without them (``label_error`` says why).
        """
        try:
            image = read_image(self.path)
        except ImageReadError as exc:
            self._set_errors(image_error=str(exc))
            raise
        self._set_errors(image_error="")
        if self.labels is None and self.saved is not None:
            try:
                found = load_corrections(self.path, self.out_dir, shape=image.shape[:2], sidecar=self.saved)
            except LabelFormatError as exc:
                self.saved = None  # nothing readable to keep: a run or a save replaces it
                self._set_errors(label_error=str(exc))
            else:
                labels, self.saved = found
                self.manual_ids = self.saved.manual_ids
                self._set_labels(labels)
        self.image = image

    def mark_failed(self, exc: BaseException) -> None:
        """A Segment all of this image failed (not open: nothing else changes)."""
        text = failure_text(self.path, exc)
        if isinstance(exc, ImageReadError):
            self._set_errors(image_error=text)
        else:
            self._set_errors(run_error=text)

    def _set_errors(self, **errors: str) -> None:
        if any(getattr(self, name) != text for name, text in errors.items()):
            for name, text in errors.items():
                setattr(self, name, text)
            self.status_changed.emit()

    def release(self) -> None:
        """Drop the pixels and pack the labels while another image is open."""
        self.image = None
        if self._labels is not None:
            self._labels, self._packed = None, PackedLabels.pack(self._labels)

    def set_model_result(
        self,
        labels: np.ndarray | PackedLabels,
        steps: list[Step],
        run: ModelRun,
        areas: np.ndarray | None = None,
    ) -> None:
        """Replace labels, steps and run outside the undo stack (nothing to lose).

        ``areas`` (pixels per id, from ``np.bincount``) saves a full pass over
        a large image when the worker computed it already.
        """
        self.steps, self.run = list(steps), run
        self.manual_ids = frozenset()
        self.image_error = self.run_error = ""  # the worker read and segmented the photo
        if isinstance(labels, PackedLabels):
            self._labels, self._packed = None, labels
            self._set_areas(np.bincount(labels.unpack().ravel()) if areas is None else areas)
            self.labels_changed.emit(None)
        else:
            self._set_labels(np.asarray(labels, dtype=np.int32), areas)
            if self.image is None:
                self.release()  # finished after the user moved to another image
        self.steps_changed.emit()

    def start_empty(self) -> None:
        """Give an unsegmented image an empty label image to draw leaves by hand."""
        if self.labels is None and self.image is not None:
            self._set_labels(np.zeros(self.image.shape[:2], dtype=np.int32))

    def set_steps(self, steps: list[Step], run: ModelRun | None) -> None:
        self.steps, self.run = list(steps), run
        self.steps_changed.emit()

    def set_manual_ids(self, manual_ids: frozenset[int]) -> None:
        self.manual_ids = manual_ids
        self.revision += 1
        self.status_changed.emit()

    def apply(self, edit: LabelEdit) -> None:
        """Apply ``edit`` to the labels; called by undo commands only."""
        self._count_out(edit.old_values)
        edit.apply(self.labels)
        self.revision += 1
        self._count_in(edit.new_values)
        self.labels_changed.emit(edit.box)

    def revert(self, edit: LabelEdit) -> None:
        """Revert ``edit``; called by undo commands only."""
        self._count_out(edit.new_values)
        edit.revert(self.labels)
        self.revision += 1
        self._count_in(edit.old_values)
        self.labels_changed.emit(edit.box)

    def sidecar_meta(self) -> dict:
        """What the sidecar says about the labels: the model run, or what an earlier save said."""
        if self.run is not None:
            meta = self.run.to_meta()
        else:  # labels from an earlier save: keep what it said about the model
            meta = dict(self.saved.meta) if self.saved is not None else {}
        meta.update(self.extra_meta)
        return meta

    def packed_labels(self) -> PackedLabels | None:
        """The labels as they are now, packed (a copy that later edits leave alone)."""
        if self._packed is not None:
            return self._packed
        return PackedLabels.pack(self._labels) if self._labels is not None else None

    def save(self) -> Path:
        """Write the corrections; the undo stack is clean afterwards."""
        path = save_corrections(self.path, self.labels, self.manual_ids, self.sidecar_meta(), self.out_dir)
        self.saved = read_sidecar(self.path, self.out_dir)
        self.label_error = ""  # replaced by what was just written
        self.undo_stack.setClean()
        self.status_changed.emit()
        return path

    def discard_changes(self) -> None:
        """Go back to the last clean state (the redo history keeps the edits)."""
        if self.undo_stack.cleanIndex() >= 0:
            self.undo_stack.setIndex(self.undo_stack.cleanIndex())
            return
        # The clean state fell off the undo limit: reload what is on disk.
        self.undo_stack.clear()
        self.manual_ids = frozenset()
        self._labels = self._packed = None
        self._leaf_count = None
        self.saved = read_sidecar(self.path, self.out_dir, lenient=True)
        if self.saved is not None and self.image is not None:
            labels, self.saved = load_corrections(self.path, self.out_dir, shape=self.image.shape[:2],
                                                  sidecar=self.saved)
            self.manual_ids = self.saved.manual_ids
            self._set_labels(labels)
        else:
            self.labels_changed.emit(None)
            self.status_changed.emit()

    def _on_clean_changed(self, _clean: bool) -> None:
        self.status_changed.emit()

    def _set_labels(self, labels: np.ndarray, areas: np.ndarray | None = None) -> None:
        self._labels, self._packed = labels, None
        self._set_areas(np.bincount(labels.ravel()) if areas is None else areas)
        self.labels_changed.emit(None)

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
        self.status_changed.emit()


def _padded_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) < len(b):
        a, b = b, a
    out = a.astype(np.int64, copy=True)
    out[: len(b)] += b
    return out
