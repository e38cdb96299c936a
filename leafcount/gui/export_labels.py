"""The labels an exported report reads: the folder's saved files, plus model results
the user chose to include without saving them.

Unsaved results must not be written into the user's folder (it may be
read-only, or the bundled demo inside the installation), so both are
gathered in a temporary folder that the report reads instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leafcount.io.corrections import save_corrections
from leafcount.gui.document import PackedLabels

LABEL_SUFFIX = "_label.png"


@dataclass(frozen=True)
class UnsavedLabels:
    """One image's model labels that are only in memory."""

    image_path: Path
    labels: PackedLabels
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
        save_corrections(item.image_path, item.labels.unpack(), (), item.meta, into)
