"""napari writer: a Labels layer as the CVPPP palette PNG plus JSON sidecar.

It calls :func:`leafcount.io.corrections.save_corrections`, the one function the
app and ``leafcount segment`` save with, so napari writes the same pair of
files, atomically, that leafcount reads everywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from leafcount.io.corrections import save_corrections, sidecar_path_for
from leafcount.napari.metadata import MANUAL_LEAVES, RUN, image_path_for


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save one Labels layer; returns the label PNG and sidecar written.

    ``path`` ending in ``_label.png`` is written as given; any other name is
    taken as the photo's and gets its pair beside it (``photo.png`` ->
    ``photo_label.png`` + ``photo_label.json``), as the app would save it.
    """
    metadata = meta.get("metadata") or {}
    target = Path(path)
    image_path = image_path_for(target, metadata)
    manual = [int(i) for i in metadata.get(MANUAL_LEAVES, ())]
    # out_dir: the folder is created when missing, as for ``leafcount segment --out``.
    label_path = save_corrections(image_path, np.asarray(data), manual, dict(metadata.get(RUN) or {}), target.parent)
    return [str(label_path), str(sidecar_path_for(image_path, target.parent))]
