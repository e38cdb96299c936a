"""Hand-corrected labels on disk: a CVPPP label PNG plus a small JSON sidecar.

``plant001_rgb.png`` is corrected into ``plant001_label.png`` (the palette PNG
every CVPPP tool reads, see :func:`leafcount.data.cvppp.label_path_for`) and
``plant001_label.json``, which says which leaves were edited by hand, which
model and thresholds made the rest, and when it was saved. Both are written
atomically. A label PNG without a sidecar (ground truth, another tool's
output) still loads; :attr:`Sidecar.is_leafcount` tells the two apart so a
caller can ask before replacing it.

The same pair, written into a hidden ``.leafcount-recovery`` folder, is the
autosave copy that lets the GUI recover edits after a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from leafcount import __version__
from leafcount.atomic import write_text_atomic
from leafcount.data.cvppp import label_path_for, read_labels, write_labels
from leafcount.errors import LabelFormatError, LeafcountError

__all__ = [
    "RECOVERY_DIR_NAME",
    "Sidecar",
    "clear_recovery",
    "load_corrections",
    "read_recovery",
    "read_sidecar",
    "recovery_dir",
    "save_corrections",
    "sidecar_path_for",
    "write_recovery",
]

SIDECAR_FORMAT = "leafcount-corrections"
SIDECAR_VERSION = 1
RECOVERY_DIR_NAME = ".leafcount-recovery"


@dataclass(frozen=True)
class Sidecar:
    """What the JSON beside a label PNG says.

    Attributes
    ----------
    manual_ids : frozenset of int
        Leaves edited by hand.
    leaf_count : int
        Distinct leaves in the label image when it was saved.
    saved : str
        ISO 8601 time of the save (UTC); empty for a foreign label file.
    meta : dict
        Free JSON data of the caller: model name, thresholds, ...
    is_leafcount : bool
        False when the label PNG has no sidecar (not written by leafcount),
        or when its sidecar could not be read (see ``problem``).
    image : str
        The file name of the image the labels were saved for (a label PNG
        in another folder than its photo still names it); empty for a
        foreign label file.
    problem : str
        Why the sidecar beside the label PNG could not be read (the message
        names the file); empty when it could. The labels are then used as a
        label file leafcount did not write: the hand-edit tags are unknown.
    """

    manual_ids: frozenset[int] = frozenset()
    leaf_count: int = 0
    saved: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    is_leafcount: bool = True
    image: str = ""
    problem: str = ""


def sidecar_path_for(image_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """``plant001_rgb.png`` -> ``plant001_label.json`` (beside the label PNG)."""
    return label_path_for(image_path, out_dir).with_suffix(".json")


def save_corrections(
    image_path: str | Path,
    labels: np.ndarray,
    manual_ids: Iterable[int],
    meta: Mapping[str, Any],
    out_dir: str | Path | None = None,
) -> Path:
    """Write the label PNG and its sidecar for one image, atomically.

    Parameters
    ----------
    image_path : str or Path
        The image the labels belong to (only its name and folder are used).
    labels : ndarray, shape (H, W), int
        0 = background, leaves >= 1 (ids kept as they are).
    manual_ids : iterable of int
        Leaves edited by hand; ids absent from ``labels`` are dropped.
    meta : mapping
        JSON-serialisable extra data (model name, thresholds, ...).
    out_dir : str or Path, optional
        Folder to write into instead of the image's folder; created if missing.

    Returns
    -------
    Path
        The label PNG written.

    Raises
    ------
    LabelFormatError
        When ``labels`` cannot be a label PNG (see
        :func:`~leafcount.data.cvppp.write_labels`) or ``meta`` is not JSON.
    LeafcountError
        When ``out_dir`` cannot be created or a file cannot be written.
    """
    image_path = Path(image_path)
    label_path = label_path_for(image_path, out_dir)
    sidecar_path = sidecar_path_for(image_path, out_dir)
    present = _leaf_ids(labels, label_path)
    record = {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "image": image_path.name,
        "image_size": [int(v) for v in np.shape(labels)],
        "leaf_count": len(present),
        "manual_leaves": sorted(int(i) for i in set(manual_ids) & present),
        "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "leafcount_version": __version__,
        "meta": dict(meta),
    }
    try:
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    except TypeError as exc:
        raise LabelFormatError(f"meta is not JSON-serialisable ({exc})", sidecar_path) from exc
    if out_dir is not None:
        try:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LeafcountError(f"cannot create the folder ({exc.strerror or exc})", out_dir) from exc
    # Labels first: a crash between the two writes leaves new labels with the
    # old sidecar, never a sidecar describing labels that were not written.
    write_labels(label_path, labels)
    write_text_atomic(sidecar_path, text)
    return label_path


def read_sidecar(
    image_path: str | Path, out_dir: str | Path | None = None, *, lenient: bool = False
) -> Sidecar | None:
    """The sidecar of an image's corrections, without reading the label PNG.

    Returns ``None`` when there is no label PNG; a label PNG without a
    sidecar gives ``Sidecar(is_leafcount=False)`` (its leaf count unknown, 0).
    With ``lenient``, a sidecar that cannot be read gives the same plus the
    reason in :attr:`Sidecar.problem`, so that one bad file of a folder
    costs only its own image's hand-edit tags.

    Raises
    ------
    LabelFormatError
        When the sidecar is not valid JSON or not leafcount's format (not
        with ``lenient``).
    """
    if not label_path_for(image_path, out_dir).is_file():
        return None
    path = sidecar_path_for(image_path, out_dir)
    if not path.is_file():
        return Sidecar(is_leafcount=False)
    if lenient:
        try:
            return read_sidecar(image_path, out_dir)
        except LabelFormatError as exc:
            return Sidecar(is_leafcount=False, problem=str(exc))
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelFormatError(f"cannot read the corrections sidecar ({exc})", path) from exc
    if not isinstance(record, dict) or record.get("format") != SIDECAR_FORMAT:
        raise LabelFormatError(f"not a leafcount corrections sidecar (expected format {SIDECAR_FORMAT!r})", path)
    manual = record.get("manual_leaves", [])
    if not isinstance(manual, list) or not all(isinstance(i, int) and i >= 1 for i in manual):
        raise LabelFormatError(f"manual_leaves must be a list of leaf ids >= 1, found {manual!r}", path)
    meta = record.get("meta", {})
    return Sidecar(
        manual_ids=frozenset(manual),
        leaf_count=int(record.get("leaf_count", 0)),
        saved=str(record.get("saved", "")),
        meta=meta if isinstance(meta, dict) else {},
        image=str(record.get("image", "")),
    )


def load_corrections(
    image_path: str | Path,
    out_dir: str | Path | None = None,
    *,
    shape: tuple[int, int] | None = None,
    sidecar: Sidecar | None = None,
) -> tuple[np.ndarray, Sidecar] | None:
    """Read an image's saved labels and sidecar.

    Parameters
    ----------
    image_path : str or Path
        The image; its label PNG is looked up with ``label_path_for``.
    out_dir : str or Path, optional
        Where the corrections were saved, if not beside the image.
    shape : (H, W), optional
        The image size; the labels must have it.
    sidecar : Sidecar, optional
        The sidecar as already read by :func:`read_sidecar` (a lenient one
        keeps its ``problem``); read here when not given.

    Returns
    -------
    (labels, Sidecar) or None
        ``labels`` (H, W) int32; ``None`` when no label PNG exists.

    Raises
    ------
    LabelFormatError
        When the label PNG or sidecar is unreadable, or the size differs from
        ``shape``.
    """
    if sidecar is None:
        sidecar = read_sidecar(image_path, out_dir)
        if sidecar is None:
            return None
    label_path = label_path_for(image_path, out_dir)
    labels = read_labels(label_path)
    if shape is not None and labels.shape != tuple(shape[:2]):
        raise LabelFormatError(
            f"label image is {labels.shape[1]} x {labels.shape[0]} pixels but "
            f"{Path(image_path).name} is {shape[1]} x {shape[0]}",
            label_path,
        )
    if not sidecar.is_leafcount:
        sidecar = Sidecar(leaf_count=len(_leaf_ids(labels, label_path)), is_leafcount=False, problem=sidecar.problem)
    return labels, sidecar


def _leaf_ids(labels: np.ndarray, path: Path) -> set[int]:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) or labels.size == 0:
        raise LabelFormatError(
            f"labels must be a non-empty 2-D integer array, got shape {labels.shape} dtype {labels.dtype}",
            path,
        )
    if labels.min() < 0:
        raise LabelFormatError(f"label ids must be >= 0, found {labels.min()}", path)
    # By rows: bincount makes an int64 copy of what it counts (864 MB for a 12000 x 9000 photo).
    rows = max(1, (1 << 20) // labels.shape[1])
    counts = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    for top in range(0, labels.shape[0], rows):
        counts += np.bincount(labels[top : top + rows].ravel(), minlength=len(counts))
    return {int(i) for i in np.flatnonzero(counts) if i != 0}


def recovery_dir(image_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """The hidden folder holding autosave copies (in ``out_dir`` or beside the image)."""
    base = Path(out_dir) if out_dir is not None else Path(image_path).parent
    return base / RECOVERY_DIR_NAME


def write_recovery(
    image_path: str | Path,
    labels: np.ndarray,
    manual_ids: Iterable[int],
    meta: Mapping[str, Any],
    out_dir: str | Path | None = None,
) -> None:
    """Autosave: :func:`save_corrections` into :func:`recovery_dir` (created if missing)."""
    save_corrections(image_path, labels, manual_ids, meta, recovery_dir(image_path, out_dir))


def read_recovery(
    image_path: str | Path,
    out_dir: str | Path | None = None,
    *,
    shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, Sidecar] | None:
    """The autosaved labels of an image, or ``None``; errors as :func:`load_corrections`."""
    return load_corrections(image_path, recovery_dir(image_path, out_dir), shape=shape)


def clear_recovery(image_path: str | Path, out_dir: str | Path | None = None) -> None:
    """Delete an image's autosave copy (after a save or a discard)."""
    folder = recovery_dir(image_path, out_dir)
    label_path_for(image_path, folder).unlink(missing_ok=True)
    sidecar_path_for(image_path, folder).unlink(missing_ok=True)
