"""Where each image's labels come from: a saved hand correction, else the model.

A label PNG saved beside the photo (the app's Save, or ground truth) is
always the user's. One in the output folder is the user's when its sidecar
marks hand-edited leaves, when leafcount did not write it, or when it was
written by ``track`` and changed since (the fingerprint in its sidecar no
longer fits); only unedited model output there is segmented again, so a
new model or setting takes effect. Segmentation is :func:`leafcount.batch.segment_files`,
the ``segment`` pipeline, into a hidden staging folder: the model's own
leaf ids never reach the output folder, only the tracked ones do.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leafcount.inference.batch import ImageOutcome, segment_files
from leafcount.io.corrections import Sidecar, load_corrections, read_sidecar
from leafcount.data.cvppp import image_stem
from leafcount.data.folder import read_image_size
from leafcount.errors import ConfigError, LeafcountError
from leafcount.inference.segment import SegmentConfig
from leafcount.series.naming import SeriesImage

TRACK_META_KEY = "track"
STAGING_DIR_NAME = ".leafcount-track"


@dataclass(frozen=True)
class LabelSource:
    """Where one image's labels are read from: ``folder/<stem>_label.png`` and its sidecar."""

    image: SeriesImage
    stem_path: Path  # a path whose stem names the label file (see leafcount.data.cvppp.label_path_for)
    folder: Path
    corrected: bool  # a saved correction rather than the model's labels

    def load(self) -> tuple[np.ndarray, Sidecar]:
        """The labels (int32, the photo's size) and their sidecar."""
        sidecar = read_sidecar(self.stem_path, self.folder, lenient=True)
        found = load_corrections(self.stem_path, self.folder, shape=read_image_size(self.image.path), sidecar=sidecar)
        if found is None:
            raise LeafcountError("its label file disappeared while tracking", self.image.path)
        return found


def labels_fingerprint(labels: np.ndarray) -> str:
    """SHA-256 of the label values and shape: tells an edited label file from the one ``track`` wrote."""
    values = np.ascontiguousarray(labels, dtype=np.int32)
    return hashlib.sha256(f"{values.shape}".encode() + values.tobytes()).hexdigest()


def saved_correction(image: SeriesImage, out_dir: Path) -> LabelSource | None:
    """The image's hand correction, beside the photo or in ``out_dir``; None when there is none."""
    beside = image.path.parent
    if beside.resolve() != out_dir.resolve() and read_sidecar(image.path, lenient=True) is not None:
        return LabelSource(image, image.path, beside, corrected=True)
    stem_path = out_dir / f"{image.name}.png"
    sidecar = read_sidecar(stem_path, out_dir, lenient=True)
    if sidecar is None:
        return None
    if _edited_by_hand(sidecar, stem_path, out_dir):
        return LabelSource(image, stem_path, out_dir, corrected=True)
    return None


def _edited_by_hand(sidecar: Sidecar, stem_path: Path, out_dir: Path) -> bool:
    if sidecar.manual_ids or not sidecar.is_leafcount:
        return True
    tracked = sidecar.meta.get(TRACK_META_KEY)
    if not isinstance(tracked, dict):
        return False  # the model's labels, as `segment` writes them
    if tracked.get("source") == "correction":
        return True
    found = load_corrections(stem_path, out_dir, sidecar=sidecar)
    return found is not None and labels_fingerprint(found[0]) != tracked.get("labels_sha256")


def segment_into_staging(
    images: Sequence[SeriesImage],
    out_dir: Path,
    model_path: Path | None,
    config: SegmentConfig | None,
    *,
    tray: str | None,
    workers: int | None,
    on_result: Callable[[ImageOutcome], None] | None = None,
) -> tuple[list[LabelSource], list[str]]:
    """Segment ``images`` with the checkpoint's settings (``config``: None for exactly
    those) into the staging folder; their label sources and one error line per failure.

    Images that share a file name (``2026-03-01/plant040.png``, ``2026-03-02/plant040.png``)
    go to different staging sub-folders, since ``segment`` names labels by the photo.
    """
    if not images:
        return [], []
    if model_path is None:
        raise ConfigError("no model given and none in models/: pass --model CKPT")
    if config is None:
        from leafcount.model.checkpoint import read_checkpoint_info

        config = SegmentConfig.for_checkpoint(read_checkpoint_info(model_path).meta)
    sources, errors = [], []
    for index, group in enumerate(_unique_name_groups(images)):
        folder = staging_dir(out_dir) / str(index)
        outcomes = segment_files([image.path for image in group], folder, model_path, config, tray=tray,
                                 workers=workers, on_result=on_result)
        for image, outcome in zip(group, outcomes):
            if outcome.error:
                errors.append(f"{outcome.error}; left out of the series")
            else:
                sources.append(LabelSource(image, image.path, folder, corrected=False))
    return sources, errors


def staging_dir(out_dir: Path) -> Path:
    """The hidden folder the model's labels are segmented into before tracking."""
    return out_dir / STAGING_DIR_NAME


def remove_staging(out_dir: Path) -> None:
    """Delete the staging folder once the tracked labels are written."""
    shutil.rmtree(staging_dir(out_dir), ignore_errors=True)


def _unique_name_groups(images: Iterable[SeriesImage]) -> list[list[SeriesImage]]:
    groups: list[tuple[set[str], list[SeriesImage]]] = []
    for image in images:
        stem = image_stem(image.path)
        group = next((g for g in groups if stem not in g[0]), None)
        if group is None:
            group = (set(), [])
            groups.append(group)
        group[0].add(stem)
        group[1].append(image)
    return [members for _, members in groups]
