"""Training and fine-tuning RIS (paper section 4.1) with progress, cancel and resume.

The loop is plain Python around :func:`train_step`; it reports through a
callback (CLI: tqdm, GUI: a worker's signals), checks a
:class:`~leafcount.cancel.CancelToken` between iterations, and writes a
resumable state (weights, Adam moments, iteration, RNG states) every few
minutes so a run can continue across sessions exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from skimage.segmentation import find_boundaries
from torch.nn.parallel import DistributedDataParallel

from leafcount.atomic import write_text_atomic
from leafcount.cancel import CancelToken
from leafcount.data.augment import AugmentConfig, augment
from leafcount.data.cvppp import list_samples, load_pair, load_split
from leafcount.errors import Cancelled, CheckpointError, ConfigError
from leafcount.analysis.metrics import score_image, summarize
from leafcount.model.checkpoint import load_tensors, save_checkpoint, save_tensors
from leafcount.model.config import ModelConfig
from leafcount.model.loss import dense_loss, labels_to_masks, matching_loss
from leafcount.model.ris import RIS
from leafcount.resize import letterbox, resize_array
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import ASSIGNMENTS, SegmentConfig


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. Defaults follow the paper (section 4.1) where it
    gives a value: Adam at 1e-4, x0.1 on plateau, element-wise clipping at 5,
    batch 1, curriculum from 2 steps; the rest are leafcount's choices."""

    lr: float = 1e-4
    lr_drop: float = 0.1
    min_lr: float = 1e-6
    plateau_patience: int = 4
    grad_clip: float = 5.0
    curriculum_start: int = 2
    curriculum_every: int = 200
    confidence_weight: float = 1.0
    pixel_weight: float = 1.0
    aux_weight: float = 0.5
    leaf_size_balance: float = 0.0  # heads: leaf pixels weighted by (median leaf area / leaf area) ** this
    pretrain_iterations: int = 0
    backbone_lr_scale: float = 1.0
    frozen_backbone_blocks: int = 0
    val_every: int = 500
    val_assignment: str = "first"
    checkpoint_minutes: float = 5.0
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        positive = ("lr", "grad_clip", "curriculum_every", "val_every", "checkpoint_minutes")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.lr_drop < 1:
            raise ConfigError(f"lr_drop must be in (0, 1), got {self.lr_drop}")
        if self.curriculum_start < 1:
            raise ConfigError(f"curriculum_start must be >= 1, got {self.curriculum_start}")
        if self.val_assignment not in ASSIGNMENTS:
            raise ConfigError(f"val_assignment must be one of {ASSIGNMENTS}, got {self.val_assignment!r}")
        if not 0 < self.backbone_lr_scale <= 1:
            raise ConfigError(f"backbone_lr_scale must be in (0, 1], got {self.backbone_lr_scale}")
        for name in ("confidence_weight", "pixel_weight", "aux_weight", "pretrain_iterations", "frozen_backbone_blocks",
                     "leaf_size_balance"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
        values = dict(data)
        if isinstance(values.get("augment"), dict):
            values["augment"] = AugmentConfig.from_dict(values["augment"])
        return cls(**values)


@dataclass(frozen=True)
class TrainingPair:
    """One image and its leaves, already fitted to the network's input size."""

    name: str
    image: np.ndarray  # (h, w, 3) float32
    labels: np.ndarray  # (h, w) int32, letterboxed like the image


@dataclass(frozen=True)
class TrainEvent:
    """Progress report handed to the callback."""

    kind: str  # "iteration" | "validation" | "checkpoint" | "lr"
    iteration: int
    total: int | None
    elapsed_s: float
    loss: float = math.nan
    iou: float = math.nan
    lr: float = math.nan
    steps: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    path: str = ""


def fit_pair(name: str, image: np.ndarray, labels: np.ndarray, input_size: tuple[int, int]) -> TrainingPair:
    """Letterbox an image and its labels identically into the input size."""
    fitted, box = letterbox(image, input_size)
    fitted_labels = np.zeros(input_size, dtype=np.int32)
    fitted_labels[box.top : box.top + box.height, box.left : box.left + box.width] = resize_array(
        labels, (box.height, box.width), nearest=True
    )
    return TrainingPair(name, fitted, fitted_labels)


def validation_scores(model: RIS, pairs: Sequence[TrainingPair], segment_config: SegmentConfig) -> dict[str, float]:
    """Mean DiC, |DiC|, SBD and FBD of ``model`` on ``pairs``, each segmented whole with
    ``segment_config``: the figures every trainer's validation reports."""
    model.eval()
    with torch.inference_mode():
        scores = [score_image(segment_image(model, pair.image, segment_config).labels, pair.labels, pair.name)
                  for pair in pairs]
    return {key: float(mean) for key, (mean, _) in summarize(scores).items()}


def _targets(labels: np.ndarray, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Leaf masks (N, h, w) and aux targets (2, h, w) at the mask resolution.

    Each leaf and plant target pixel is the fraction of its cell that the
    leaf (plant) covers, and a cell is boundary when any of its pixels is: a
    nearest-neighbour pick would take the cell's bottom-right pixel and teach
    every map a half-pixel shift.
    """
    full = torch.from_numpy(labels_to_masks(labels))
    edges = torch.from_numpy(find_boundaries(labels, mode="inner")[None].astype(np.float32))
    areas = torch.cat([full, full.sum(0, keepdim=True).clamp_max(1.0)])
    if tuple(labels.shape) != tuple(size):
        areas = F.adaptive_avg_pool2d(areas[None], size)[0]
        edges = F.adaptive_max_pool2d(edges[None], size)[0]
    n = full.shape[0]
    return areas[:n].contiguous(), torch.cat([areas[n:], edges]).contiguous()


def _aux_loss(aux_logits: torch.Tensor | None, aux_target: torch.Tensor) -> torch.Tensor:
    if aux_logits is None:
        return torch.zeros((), device=aux_target.device)
    return dense_loss(aux_logits, aux_target[None])


def backbone_groups(module: torch.nn.Module, backbone: torch.nn.Module | None, config: TrainConfig) -> list[dict[str, Any]]:
    """Adam parameter groups of ``module``'s trainable parameters: a pretrained
    ``backbone`` inside it learns ``backbone_lr_scale`` times slower than the
    rest, and its stem and first ``frozen_backbone_blocks`` blocks not at
    all: their ImageNet edge and colour filters are what makes photos from
    other labs look familiar, and skipping their gradients saves a fifth of
    an iteration."""
    if backbone is None:
        return [{"params": [p for p in module.parameters() if p.requires_grad], "lr": config.lr}]
    if config.frozen_backbone_blocks:
        for frozen in (backbone._conv_stem, backbone._bn0, *backbone._blocks[: config.frozen_backbone_blocks]):
            frozen.requires_grad_(False)
    inside = {id(p) for p in backbone.parameters()}
    rest = [p for p in module.parameters() if id(p) not in inside and p.requires_grad]
    tuned = [p for p in backbone.parameters() if p.requires_grad]
    return [{"params": rest, "lr": config.lr}, {"params": tuned, "lr": config.lr * config.backbone_lr_scale}]


def curriculum_length(iteration: int, n_leaves: int, config: TrainConfig) -> int:
    """Sequence length at an iteration: min(n + 2, K), K growing by one every
    ``curriculum_every`` iterations from ``curriculum_start`` (section 4.1)."""
    grown = config.curriculum_start + max(0, iteration - config.pretrain_iterations) // config.curriculum_every
    return min(n_leaves + 2, grown)


class Trainer:
    """Holds the model, optimiser, RNGs and schedule of one training run.

    Under ``torchrun`` (a process group is initialised) the model is wrapped
    in :class:`~torch.nn.parallel.DistributedDataParallel`: each rank draws
    its own images, gradients are averaged, and the ranks stay identical.
    """

    def __init__(
        self,
        model: RIS,
        train_pairs: Sequence[TrainingPair],
        val_pairs: Sequence[TrainingPair] = (),
        config: TrainConfig = TrainConfig(),
        device: str | torch.device = "cpu",
    ) -> None:
        if not train_pairs:
            raise ConfigError("no training images with labels")
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.config = config
        self.train_pairs = list(train_pairs)
        self.val_pairs = list(val_pairs)
        self.optimizer = torch.optim.Adam(self.parameter_groups())
        self.distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        self.rank = dist.get_rank() if self.distributed else 0
        # Pre-training leaves the recurrent part unused, hence find_unused_parameters.
        self.net = DistributedDataParallel(model, find_unused_parameters=True) if self.distributed else model
        self.rng = self._rank_rng(config.seed)
        self.iteration = 0
        self.elapsed_s = 0.0
        self.best_val_loss = math.inf
        self.bad_validations = 0
        self.best_metrics: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []

    def parameter_groups(self) -> list[dict[str, Any]]:
        """What this run trains: the recurrent network; full-resolution heads,
        when the model has them, keep their weights (``leafcount.train_dense``
        trains those), and heads that read the encoder's context keep it: the
        encoder's backbone and pyramid stay as they are."""
        self.model.requires_grad_(True)
        if self.model.dense is not None:
            self.model.dense.requires_grad_(False)
        if self.model.config.dense_context:
            self.model.encoder.backbone.requires_grad_(False)
            self.model.encoder.lateral.requires_grad_(False)
        return backbone_groups(self.model, getattr(self.model.encoder, "backbone", None), self.config)

    def _rank_rng(self, seed: int, iteration: int = 0) -> np.random.Generator:
        if not self.distributed:
            return np.random.default_rng(seed)
        return np.random.default_rng([seed, self.rank, iteration])

    @property
    def is_main(self) -> bool:
        """Only the main process validates files and writes checkpoints."""
        return self.rank == 0

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def set_lr(self, lr: float) -> None:
        """Set the learning rate (a manual schedule step); the plateau count restarts.
        A pretrained backbone keeps its ``backbone_lr_scale`` of it."""
        if not lr > 0:
            raise ConfigError(f"lr must be > 0, got {lr}")
        for index, group in enumerate(self.optimizer.param_groups):
            group["lr"] = lr * (self.config.backbone_lr_scale if index else 1.0)
        self.bad_validations = 0

    def train_step(self) -> tuple[float, float, int]:
        """One iteration on one random augmented image: (loss, matched IoU, steps)."""
        cfg = self.config
        pair = self.train_pairs[int(self.rng.integers(len(self.train_pairs)))]
        image, labels = augment(pair.image, pair.labels, self.rng, cfg.augment)
        masks, aux_target = _targets(labels, self.model.config.output_size)
        masks, aux_target = masks.to(self.device), aux_target.to(self.device)
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(self.device)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        if self.iteration < cfg.pretrain_iterations:
            seq = self.net(tensor, 0)
            loss = _aux_loss(seq.aux_logits, aux_target)
            iou, steps = math.nan, 0
        else:
            steps = curriculum_length(self.iteration, masks.shape[0], cfg)
            seq = self.net(tensor, steps)
            match = matching_loss(
                seq.mask_logits[0], seq.score_logits[0], masks,
                confidence_weight=cfg.confidence_weight, pixel_weight=cfg.pixel_weight,
            )
            loss = match.total + cfg.aux_weight * _aux_loss(seq.aux_logits, aux_target)
            iou = match.iou
        loss.backward()
        torch.nn.utils.clip_grad_value_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.iteration += 1
        return float(loss.detach()), iou, steps

    def validate(self, segment_config: SegmentConfig | None = None) -> dict[str, float]:
        """Loss (full n + 2 steps) and DiC / |DiC| / SBD / FBD on the held-out pairs
        (decoded with ``config.val_assignment`` unless ``segment_config`` is given)."""
        if segment_config is None:
            segment_config = SegmentConfig(assignment=self.config.val_assignment)
        self.model.eval()
        losses = []
        with torch.inference_mode():
            for pair in self.val_pairs:
                masks, _ = _targets(pair.labels, self.model.config.output_size)
                masks = masks.to(self.device)
                tensor = torch.from_numpy(np.ascontiguousarray(pair.image.transpose(2, 0, 1)))[None].to(self.device)
                seq = self.model(tensor, masks.shape[0] + 2)
                losses.append(float(matching_loss(seq.mask_logits[0], seq.score_logits[0], masks).total))
        return {**validation_scores(self.model, self.val_pairs, segment_config), "loss": float(np.mean(losses))}

    @property
    def curriculum_done(self) -> bool:
        """True once every training image is unrolled to its full n + 2 steps."""
        longest = max(int(np.unique(p.labels).size) - 1 for p in self.train_pairs) + 2
        return curriculum_length(self.iteration, longest, self.config) >= longest

    def _after_validation(self, metrics: dict[str, float]) -> bool:
        """Plateau schedule on the validation loss; True when the lr dropped.

        Only counts once the curriculum is complete: while sequences are
        still shorter than n + 2 the full-length validation loss is not yet
        what training optimises, and may rise while the model improves.
        """
        if not self.curriculum_done:
            self.best_val_loss = metrics["loss"]  # the reference the plateau starts from
            return False
        if metrics["loss"] < self.best_val_loss - 1e-3:
            self.best_val_loss = metrics["loss"]
            self.bad_validations = 0
            return False
        self.bad_validations += 1
        if self.bad_validations < self.config.plateau_patience or self.lr <= self.config.min_lr:
            return False
        for group in self.optimizer.param_groups:
            group["lr"] = max(self.config.min_lr, group["lr"] * self.config.lr_drop)
        self.bad_validations = 0
        return True

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed to resume exactly, as tensors plus a JSON header."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        names = {id(p): n for n, p in self.model.named_parameters()}
        steps = {}
        for param, state in self.optimizer.state.items():
            name = names[id(param)]
            tensors[f"adam.exp_avg.{name}"] = state["exp_avg"]
            tensors[f"adam.exp_avg_sq.{name}"] = state["exp_avg_sq"]
            steps[name] = float(state["step"])
        header = {
            "format": "leafcount-train-state",
            "model_config": self.model.config.to_dict(),
            "train_config": self.config.to_dict(),
            "iteration": self.iteration,
            "elapsed_s": self.elapsed_s,
            "lr": self.lr,
            "adam_steps": steps,
            "rng": self.rng.bit_generator.state,
            "best_val_loss": self.best_val_loss if math.isfinite(self.best_val_loss) else None,
            "bad_validations": self.bad_validations,
            "best_metrics": self.best_metrics,
            "history": self.history,
        }
        return tensors, header

    def save_state(self, path: str | Path) -> None:
        tensors, header = self.state_tensors()
        save_tensors(path, tensors, header)

    def load_state(self, path: str | Path) -> None:
        """Restore a state written by :meth:`save_state` (same architecture)."""
        tensors, header = load_tensors(path)
        if header.get("format") != "leafcount-train-state":
            raise CheckpointError("not a leafcount training state", path)
        if header["model_config"] != self.model.config.to_dict():
            raise CheckpointError("the training state was made for another architecture", path)
        model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_state, strict=True)
        params = dict(self.model.named_parameters())
        for name, step in header["adam_steps"].items():
            self.optimizer.state[params[name]] = {
                "step": torch.tensor(step),
                "exp_avg": tensors[f"adam.exp_avg.{name}"].to(self.device),
                "exp_avg_sq": tensors[f"adam.exp_avg_sq.{name}"].to(self.device),
            }
        for index, group in enumerate(self.optimizer.param_groups):
            group["lr"] = header["lr"] * (self.config.backbone_lr_scale if index else 1.0)
        self.rng.bit_generator.state = header["rng"]
        self.iteration = int(header["iteration"])
        if self.distributed and self.rank:
            self.rng = self._rank_rng(self.config.seed, self.iteration)
        self.elapsed_s = float(header["elapsed_s"])
        self.best_val_loss = header["best_val_loss"] if header["best_val_loss"] is not None else math.inf
        self.bad_validations = int(header["bad_validations"])
        self.best_metrics = dict(header["best_metrics"])
        self.history = list(header["history"])


def _any_rank(trainer: Trainer, *flags: bool) -> list[bool]:
    """Each flag is true when it is set on any rank, so all ranks stop together
    (a rank that stopped alone would leave the others waiting forever)."""
    if not trainer.distributed:
        return list(flags)
    value = torch.tensor([1.0 if flag else 0.0 for flag in flags])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return [bool(v) for v in value.tolist()]


def resume_path(out: str | Path) -> Path:
    """Where the resumable state of a run writing ``out`` lives."""
    out = Path(out)
    return out.with_name(f"{out.stem}.resume.safetensors")


def export_state(state: str | Path, out: str | Path, meta: dict[str, Any] | None = None) -> int:
    """Write the weights of a resumable training state to the checkpoint ``out``
    (with ``meta`` and the state's iteration and wall time); returns the iteration.

    A run's ``out`` holds its best weights by the validation it ran; when the
    weights to ship are chosen otherwise (the last ones, then a decoding tuned
    on the training images), this is how they leave the state.
    """
    tensors, header = load_tensors(state)
    if header.get("format") != "leafcount-train-state":
        raise CheckpointError("not a leafcount training state", state)
    model = RIS(ModelConfig.from_dict(header["model_config"]))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    training = {"iterations": int(header["iteration"]), "wall_time_s": round(float(header["elapsed_s"]), 1),
                "train_config": header["train_config"], "exported_from_state": True}
    save_checkpoint(out, model, {**(meta or {}), "training": training})
    return int(header["iteration"])


def run_training(
    trainer: Trainer,
    out: str | Path,
    *,
    iterations: int | None = None,
    minutes: float | None = None,
    meta: dict[str, Any] | None = None,
    on_event: Callable[[TrainEvent], None] | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Train until ``iterations`` (total, counting resumed ones) or ``minutes``
    (this call) run out, validating every ``val_every`` iterations.

    ``out`` receives the best checkpoint by validation SBD (or the last one
    without validation data); the resumable state is saved beside it every
    ``checkpoint_minutes`` and at the end. On cancel, the state and the best
    checkpoint so far are kept and :class:`Cancelled` is re-raised.
    """
    if iterations is None and minutes is None:
        raise ConfigError("give a number of iterations or of minutes")
    out = Path(out)
    cfg = trainer.config
    meta = dict(meta or {})
    start = time.monotonic()
    base_elapsed = trainer.elapsed_s
    last_save = start
    emit = on_event or (lambda event: None)

    def elapsed() -> float:
        return base_elapsed + time.monotonic() - start

    def save_best(metrics: dict[str, float]) -> None:
        if not trainer.is_main:
            return
        summary = {
            "iterations": trainer.iteration,
            "wall_time_s": round(elapsed(), 1),
            "train_images": len(trainer.train_pairs),
            "val_images": len(trainer.val_pairs),
            "train_config": cfg.to_dict(),
        }
        save_checkpoint(out, trainer.model, {**meta, "training": summary, "metrics": metrics})

    def checkpoint_state() -> None:
        trainer.elapsed_s = elapsed()
        if not trainer.is_main:
            return
        trainer.save_state(resume_path(out))
        write_text_atomic(out.with_name(f"{out.stem}.history.json"), json.dumps(trainer.history, indent=1))
        emit(TrainEvent("checkpoint", trainer.iteration, iterations, elapsed(), path=str(resume_path(out))))

    try:
        while True:
            stop = (iterations is not None and trainer.iteration >= iterations) or (
                minutes is not None and time.monotonic() - start >= minutes * 60
            )
            stop, cancelled = _any_rank(trainer, stop, cancel is not None and cancel.is_set())
            if cancelled:
                raise Cancelled("stopped by the user")
            if stop:
                break
            loss, iou, steps = trainer.train_step()
            emit(TrainEvent("iteration", trainer.iteration, iterations, elapsed(), loss, iou, trainer.lr, steps))
            if trainer.iteration % 50 == 0:
                trainer.history.append(
                    {"iteration": trainer.iteration, "loss": loss, "iou": iou, "steps": steps, "lr": trainer.lr,
                     "elapsed_s": round(elapsed(), 1)}
                )
            if trainer.val_pairs and trainer.iteration % cfg.val_every == 0:
                metrics = trainer.validate()
                trainer.history.append({"iteration": trainer.iteration, "val": metrics, "elapsed_s": round(elapsed(), 1)})
                emit(TrainEvent("validation", trainer.iteration, iterations, elapsed(), lr=trainer.lr, metrics=metrics))
                if metrics["sbd"] > trainer.best_metrics.get("sbd", -1.0):
                    trainer.best_metrics = {**metrics, "iteration": trainer.iteration}
                    save_best(trainer.best_metrics)
                if trainer._after_validation(metrics):
                    emit(TrainEvent("lr", trainer.iteration, iterations, elapsed(), lr=trainer.lr))
            if time.monotonic() - last_save >= cfg.checkpoint_minutes * 60:
                checkpoint_state()
                last_save = time.monotonic()
    except Cancelled:
        checkpoint_state()
        if not out.exists():
            save_best(trainer.best_metrics)
        raise
    checkpoint_state()
    if not trainer.val_pairs or not out.exists():
        save_best(trainer.best_metrics)
    return out


def load_pairs(
    folder: Path, input_size: tuple[int, int], val_split: str = "auto", *, seed: int = 0
) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """Read a labelled folder and split it into training and validation pairs.

    ``val_split``: "auto" uses ``split.json`` when the folder has one and
    holds out 20 % (at least one image) otherwise; a number in [0, 1) is the
    held-out fraction; "none" trains on everything.
    """
    samples = [s for s in list_samples(folder) if s.label_path is not None]
    if not samples:
        raise ConfigError(f"no labelled images (*_label.png) in {folder}")
    by_name = {s.name: s for s in samples}
    if val_split == "auto" and (folder / "split.json").is_file():
        split = load_split(folder)
        train_names = [n for n in split["train"] if n in by_name]
        val_names = [n for n in split.get("val", []) if n in by_name]
    else:
        fraction = 0.0 if val_split == "none" else 0.2 if val_split == "auto" else float(val_split)
        if not 0.0 <= fraction < 1.0:
            raise ConfigError(f"--val-split must be 'auto', 'none' or a fraction in [0, 1), got {val_split}")
        names = sorted(by_name)
        order = np.random.default_rng(seed).permutation(len(names))
        n_val = 0 if fraction == 0 else max(1, int(round(fraction * len(names))))
        if n_val >= len(names):
            n_val = len(names) - 1
        val_names = [names[i] for i in order[:n_val]]
        train_names = [names[i] for i in order[n_val:]]

    def fitted(names: list[str]) -> list[TrainingPair]:
        return [fit_pair(n, *load_pair(by_name[n]), input_size) for n in names]

    return fitted(train_names), fitted(val_names)


if __name__ == "__main__":  # torchrun --nproc-per-node N -m leafcount.train --data ... --out ...
    import sys

    from leafcount.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
