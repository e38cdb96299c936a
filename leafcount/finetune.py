"""Fine-tuning a checkpoint on a folder's saved corrections.

The desktop app's "Train on corrections" panel and its tests use this
module; it decides which images train and which are held out, reads them
with their saved labels, measures the starting checkpoint on the held-out
images, trains (:func:`leafcount.train.run_training`) into a new, versioned
checkpoint beside the photos, and lists those checkpoints so the user can
switch between them. A checkpoint is never overwritten: each run writes a
file named after its start time, and its metadata names its parent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from leafcount.cancel import CancelToken
from leafcount.data.cvppp import image_stem, label_path_for
from leafcount.data.folder import list_images, read_image_size
from leafcount.errors import (
    CheckpointError,
    ConfigError,
    LabelFormatError,
    LeafcountError,
)
from leafcount.inference.pipeline import read_working_photo
from leafcount.io.corrections import load_corrections
from leafcount.model.checkpoint import CheckpointInfo, read_checkpoint_info
from leafcount.model.ris import RIS
from leafcount.resize import resize_labels
from leafcount.settings import check_number
from leafcount.train import (
    TrainConfig,
    Trainer,
    TrainEvent,
    TrainingPair,
    fit_pair,
    load_pairs,
    resume_path,
    run_training,
)

CHECKPOINTS_DIR_NAME = ".leafcount-models"
CHECKPOINT_PREFIX = "ris-finetune-"
FULL_LENGTH = 1000  # curriculum start past any leaf count: a trained parent unrolls n + 2 steps at once


@dataclass(frozen=True)
class FineTuneSettings:
    """How long and how fast to fine-tune.

    Training stops after ``iterations`` or ``minutes``, whichever comes
    first; the held-out images are scored every ``val_every`` iterations.
    """

    iterations: int = 300
    minutes: float = 15.0
    val_every: int = 50
    lr: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("iterations", "minutes", "val_every", "lr"):
            check_number(name, getattr(self, name), "> 0", lambda v: v > 0)

    def train_config(self) -> TrainConfig:
        """Paper defaults otherwise; no curriculum, since the parent is trained already."""
        return TrainConfig(lr=self.lr, val_every=self.val_every, curriculum_start=FULL_LENGTH, seed=self.seed)


@dataclass(frozen=True)
class FineTuneResult:
    """A finished fine-tune: the new checkpoint and the held-out metrics before and after.

    Metrics are the mean DiC, |DiC|, SBD, FBD (fractions) and loss of
    :meth:`leafcount.train.Trainer.validate`.
    """

    path: Path
    baseline: dict[str, float]
    metrics: dict[str, float]


def checkpoints_dir(folder: str | Path, out_dir: str | Path | None = None) -> Path:
    """Where a folder's fine-tuned checkpoints live: a hidden folder beside its corrections."""
    return Path(out_dir if out_dir is not None else folder) / CHECKPOINTS_DIR_NAME


def labelled_images(folder: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """The images of ``folder`` that have a label PNG (saved corrections or ground truth).

    Raises
    ------
    EmptyFolderError
        When the folder is missing or holds no image.
    """
    return [path for path in list_images(folder) if label_path_for(path, out_dir).is_file()]


def choose_held_out(names: Sequence[str], fraction: float = 0.2) -> list[str]:
    """Names to hold out for validation, spread evenly over the list.

    ``round(fraction * n)`` of them, at least one, and always leaving at
    least one to train on (none when there are fewer than two names).

    Examples
    --------
    >>> choose_held_out(["a", "b", "c", "d", "e"])
    ['c']
    >>> choose_held_out(["a", "b"]), choose_held_out(["a"])
    (['b'], [])
    >>> choose_held_out([f"p{i}" for i in range(10)])
    ['p2', 'p7']
    """
    n = len(names)
    if n < 2:
        return []
    k = min(n - 1, max(1, round(fraction * n)))
    return [names[int((i + 0.5) * n / k)] for i in range(k)]


def load_training_pairs(
    image_paths: Sequence[Path],
    input_size: tuple[int, int],
    out_dir: str | Path | None = None,
    cancel: CancelToken | None = None,
) -> list[TrainingPair]:
    """Read images and their saved labels, letterboxed into the network's input size.

    Raises
    ------
    ImageReadError
        When an image cannot be read.
    LabelFormatError
        When an image has no label PNG, or it is unreadable or of another size.
    Cancelled
        When ``cancel`` is set (checked between images).
    """
    pairs = []
    for path in image_paths:
        if cancel is not None:
            cancel.raise_if_cancelled()
        image = read_working_photo(path).pixels  # as the app and the pipeline see it
        found = load_corrections(path, out_dir, shape=read_image_size(path))  # saved at the photo's own size
        if found is None:
            raise LabelFormatError("no saved labels for this image", label_path_for(path, out_dir))
        labels = resize_labels(found[0], image.shape[:2]).astype(np.int32, copy=False)
        pairs.append(fit_pair(image_stem(path), image, labels, input_size))
    return pairs


def new_checkpoint_path(directory: str | Path, now: datetime | None = None) -> Path:
    """A file name for a new fine-tuned checkpoint that no file has yet.

    ``ris-finetune-YYYYmmdd-HHMMSS.safetensors``, with ``-2``, ``-3`` ... added
    when two runs start within the same second.
    """
    directory = Path(directory)
    stem = CHECKPOINT_PREFIX + (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    path, n = directory / f"{stem}.safetensors", 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}.safetensors"
    return path


def list_checkpoints(directory: str | Path) -> tuple[list[CheckpointInfo], list[CheckpointError]]:
    """The checkpoints in ``directory``, oldest first, and the files that are not valid ones.

    Training states (``*.resume.safetensors``) and hidden files are skipped;
    a missing folder has no checkpoints.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return [], []
    found, broken = [], []
    for path in sorted(directory.glob("*.safetensors")):
        if path.name.startswith(".") or path.name.endswith(".resume.safetensors"):
            continue
        try:
            found.append(read_checkpoint_info(path))
        except CheckpointError as exc:
            broken.append(exc)
    found.sort(key=lambda info: (str(info.meta.get("created", "")), info.name))
    return found, broken


def fine_tune(
    model: RIS,
    parent: CheckpointInfo,
    out: str | Path,
    train_images: Sequence[Path],
    held_out: Sequence[Path],
    *,
    out_dir: str | Path | None = None,
    base_folder: str | Path | None = None,
    settings: FineTuneSettings = FineTuneSettings(),
    on_event: Callable[[TrainEvent], None] | None = None,
    cancel: CancelToken | None = None,
) -> FineTuneResult:
    """Fine-tune ``model`` on images with saved labels into a new checkpoint ``out``.

    Parameters
    ----------
    model : RIS
        The starting network; it is trained in place, so pass a copy of a
        model that is in use.
    parent : CheckpointInfo
        The checkpoint ``model`` was loaded from (recorded as the parent).
    out : str or Path
        The new checkpoint; gets the weights with the best held-out SBD.
    train_images, held_out : sequences of Path
        Images whose saved labels (``<name>_label.png``, in ``out_dir`` when
        given) train the model, and images scored only. No image may be in both.
    base_folder : str or Path, optional
        A labelled CVPPP-style folder whose every image also trains the model.
    settings : FineTuneSettings
    on_event : callable, optional
        Receives a ``"validation"`` :class:`~leafcount.train.TrainEvent` at
        iteration 0 with the parent's held-out metrics, then every event of
        :func:`~leafcount.train.run_training`.
    cancel : CancelToken, optional
        Stops training; the best checkpoint so far is kept (see Raises).

    Returns
    -------
    FineTuneResult

    Raises
    ------
    ConfigError
        When nothing is held out, nothing is left to train on, or an image is
        in both lists.
    ImageReadError, LabelFormatError
        When an image or its labels cannot be read.
    LeafcountError
        When the checkpoints folder cannot be created or written.
    Cancelled
        When ``cancel`` is set; a checkpoint is still written (loadable) once
        training began.

    Notes
    -----
    The parent checkpoint is never written to. The resumable training
    state that :func:`run_training` keeps beside ``out`` is deleted at the
    end: each fine-tune starts afresh from the checkpoint in use.
    """
    if not held_out:
        raise ConfigError("hold out at least one image with saved labels to measure the fine-tuned model on")
    both = sorted({Path(p).name for p in train_images} & {Path(p).name for p in held_out})
    if both:
        raise ConfigError(f"images both trained on and held out: {', '.join(both[:5])}")
    if not train_images and base_folder is None:
        raise ConfigError("nothing to train on: every image with saved labels is held out")
    size = model.config.input_size
    train_pairs = load_training_pairs(train_images, size, out_dir, cancel)
    if base_folder is not None:
        train_pairs += load_pairs(Path(base_folder), size, "none")[0]
    val_pairs = load_training_pairs(held_out, size, out_dir, cancel)
    trainer = Trainer(model, train_pairs, val_pairs, settings.train_config())
    if cancel is not None:
        cancel.raise_if_cancelled()
    baseline = trainer.validate()
    if on_event is not None:
        on_event(TrainEvent("validation", 0, settings.iterations, 0.0, metrics=baseline))
    folders = sorted({str(Path(p).parent) for p in (*train_images, *held_out)})
    meta = {
        "parent": parent.name,
        "parent_created": str(parent.meta.get("created", "")),
        "data": folders[0] if len(folders) == 1 else folders,
        "data_summary": {
            "train_images": [image_stem(p) for p in train_images],
            "held_out_images": [image_stem(p) for p in held_out],
            "base_folder": str(base_folder) if base_folder is not None else None,
        },
        "baseline_metrics": baseline,
    }
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeafcountError(f"cannot create the checkpoints folder ({exc.strerror or exc})", out.parent) from exc
    try:
        run_training(
            trainer, out, iterations=settings.iterations, minutes=settings.minutes,
            meta=meta, on_event=on_event, cancel=cancel,
        )
    finally:
        resume_path(out).unlink(missing_ok=True)
    return FineTuneResult(out, baseline, dict(read_checkpoint_info(out).meta.get("metrics", {})))
