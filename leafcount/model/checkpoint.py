"""Checkpoint files: safetensors weights with JSON metadata in the header.

The metadata plays the role of torchvision's ``meta``: it carries the
architecture (so weights never meet the wrong network), the input size,
the training summary, metrics and the parent checkpoint. Loading validates
all of it before any tensor reaches a network, and no pickle is ever read.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from leafcount import __version__
from leafcount.atomic import write_atomic, write_text_atomic
from leafcount.errors import CheckpointError, ConfigError
from leafcount.model.config import ModelConfig
from leafcount.model.ris import RIS, build_ris, count_parameters

FORMAT_NAME = "leafcount-ris"
FORMAT_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "ris-cvppp-a1.safetensors"


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself."""

    path: Path
    config: ModelConfig
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], header: dict[str, Any]) -> None:
    """Write tensors + a JSON-able header as one safetensors file, atomically."""
    text_header = {key: json.dumps(value) for key, value in header.items()}
    data = save_safetensors_bytes({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, text_header)
    write_atomic(path, data)


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors file written by :func:`save_tensors`; never unpickles.

    Raises
    ------
    CheckpointError
        Missing, truncated or corrupt file, a pickle / ``torch.save`` file, or a
        header that is not leafcount's.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint ({exc.strerror or exc})", path) from exc
    looks_like_safetensors = data[8:9] == b"{"
    if not looks_like_safetensors and (data[:2] == b"PK" or data[:1] == b"\x80"):
        raise CheckpointError(
            "this is a pickle / torch.save file; leafcount only loads .safetensors checkpoints "
            "and never unpickles files", path,
        )
    if len(data) < 8 or struct.unpack("<Q", data[:8])[0] > len(data) - 8:
        raise CheckpointError("not a complete safetensors file (truncated or another format)", path)
    try:
        tensors = load_safetensors_bytes(data)
        header_len = struct.unpack("<Q", data[:8])[0]
        raw_meta = json.loads(data[8 : 8 + header_len]).get("__metadata__", {})
        header = {key: json.loads(value) for key, value in raw_meta.items()}
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"corrupt safetensors file ({exc})", path) from exc
    return tensors, header


def save_checkpoint(path: str | Path, model: RIS, meta: dict[str, Any] | None = None) -> None:
    """Save ``model`` with its config and ``meta`` (training summary, metrics,
    parent, ...). ``created``, ``leafcount_version`` and ``parameters`` are
    filled in. Writes ``path`` and a human-readable ``<path>.json`` beside it."""
    path = Path(path)
    meta = dict(meta or {})
    meta.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    meta["leafcount_version"] = __version__
    meta["parameters"] = count_parameters(model)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "meta": meta,
    }
    save_tensors(path, model.state_dict(), header)
    write_text_atomic(path.with_suffix(".json"), json.dumps(header, indent=2, sort_keys=True) + "\n")


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Validate a checkpoint's header and return its description (no network built)."""
    return _validated(path)[1]


def _validated(path: str | Path) -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    path = Path(path)
    tensors, header = load_tensors(path)
    if header.get("format") != FORMAT_NAME:
        raise CheckpointError(f"not a leafcount RIS checkpoint (format {header.get('format')!r})", path)
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format version {version} is newer than this leafcount supports "
            f"({FORMAT_VERSION}); update leafcount", path,
        )
    try:
        config = ModelConfig.from_dict(header.get("config", {}))
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"invalid architecture in the metadata ({exc})", path) from exc
    return tensors, CheckpointInfo(path, config, dict(header.get("meta", {})))


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[RIS, CheckpointInfo]:
    """Build the network the checkpoint describes and load its weights strictly.

    The convolution weights are put in channels-last memory order: oneDNN's
    CPU convolutions (the depthwise ones of the EfficientNet-Lite encoder
    above all) then run on pixel-major data, which makes a whole
    ``segment_image`` about 1.2x faster on one thread (the full-resolution
    heads 1.6-1.9x) for the same results to float rounding. Saving is unaffected (:func:`save_tensors` writes
    contiguous copies).

    Raises
    ------
    CheckpointError
        For any problem, naming the file and, for a weight mismatch, the
        tensor key with the shapes expected and found.
    """
    tensors, info = _validated(path)
    try:
        # Shapes only, no memory: a hand-edited header cannot make us allocate gigabytes.
        with torch.device("meta"):
            expected = build_ris(info.config).state_dict()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"invalid architecture in the metadata ({exc})", info.path) from exc
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"weights do not fit the architecture: missing {missing[:3]}, unexpected {unexpected[:3]}", info.path
        )
    for key, value in expected.items():
        if tensors[key].shape != value.shape:
            raise CheckpointError(
                f"weight {key} has shape {tuple(tensors[key].shape)}, the architecture needs {tuple(value.shape)}",
                info.path,
            )
    model = build_ris(info.config)
    model.load_state_dict(tensors, strict=True)
    model.to(device, memory_format=torch.channels_last).eval()
    return model, info


def find_default_model() -> Path | None:
    """The shipped CVPPP model, else the newest checkpoint in ``models/``."""
    if DEFAULT_MODEL_PATH.is_file():
        return DEFAULT_MODEL_PATH
    candidates = sorted(MODELS_DIR.glob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
    return candidates[0] if candidates else None
