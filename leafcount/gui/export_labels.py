"""The labels an exported report reads: the folder's saved files, plus model results
the user chose to include without saving them.

Unsaved results must not be written into the user's folder (it may be
read-only, or the bundled demo inside the installation), so both are
gathered in a temporary folder that the report reads instead.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from leafcount.analysis.report import ReportSummary, write_report
from leafcount.cancel import CancelToken
from leafcount.editing.document import PackedLabels
from leafcount.io.corrections import save_corrections
from leafcount.resize import resize_labels

LABEL_SUFFIX = "_label.png"


@dataclass(frozen=True)
class UnsavedLabels:
    """One image's model labels that are only in memory."""

    image_path: Path
    labels: PackedLabels  # at the size the app works at
    file_shape: tuple[int, int]  # the photo's own size, which a report's label file must have
    meta: dict


def stage_labels(labels_dir: Path, unsaved: Sequence[UnsavedLabels], into: Path) -> None:
    """Copy every saved label PNG (and sidecar) of ``labels_dir`` into ``into``, then
    write the unsaved labels there as leafcount corrections (no leaf hand-edited)."""
    for label_path in labels_dir.glob(f"*{LABEL_SUFFIX}"):
        if label_path.is_file() and not label_path.name.startswith("."):
            shutil.copyfile(label_path, into / label_path.name)
            sidecar = label_path.with_suffix(".json")
            if sidecar.is_file():
                shutil.copyfile(sidecar, into / sidecar.name)
    for item in unsaved:  # replaces a copied file that could not be read
        save_corrections(item.image_path, resize_labels(item.labels.unpack(), item.file_shape), (), item.meta, into)


def write_report_with_unsaved(
    labels_dir: Path,
    out_dir: Path,
    unsaved: Sequence[UnsavedLabels],
    *,
    images_dir: Path | None,
    truth_dir: Path | None,
    px_per_mm: float | None,
    on_progress: Callable[[int, int], None],
    cancel: CancelToken,
) -> ReportSummary:
    """``write_report`` of a folder's label images, with ``unsaved`` model results
    gathered beside them in a temporary folder."""
    options = {"images_dir": images_dir, "truth_dir": truth_dir, "px_per_mm": px_per_mm,
               "on_progress": on_progress, "cancel": cancel}
    if not unsaved:
        return write_report(labels_dir, out_dir, **options)
    with tempfile.TemporaryDirectory(prefix="leafcount-export-") as staged:
        stage_labels(labels_dir, unsaved, Path(staged))
        source = f"{labels_dir.absolute()} and the unsaved model results of {len(unsaved)} image(s)"
        return write_report(staged, out_dir, labels_source=source, **options)
