"""What tune_decoding.py and tune_crf.py share: the command line, the training
images they look at, the objective and how a choice is stored in a checkpoint."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from leafcount.analysis.metrics import ImageScores, summarize
from leafcount.data.cvppp import list_samples, load_pair, load_split
from leafcount.model.checkpoint import CheckpointInfo, save_checkpoint
from leafcount.model.ris import RIS

OBJECTIVE = "SBD% - 2 |DiC|"


def values_of(kind: type) -> Callable[[str], tuple]:
    """An argparse type: "0.1,0.2" -> (0.1, 0.2) of ``kind``."""
    def parse(text: str) -> tuple:
        return tuple(kind(value) for value in text.split(","))
    return parse


def parse_args(
    description: str, every: int, rules: Sequence[str] = (), stops: Sequence[float] = (), splits: bool = False,
    peak_sizes: Sequence[int] = (), core_shares: Sequence[float] = (), cores: Sequence[float] = (),
    centres: Sequence[float] = (),
) -> argparse.Namespace:
    """The shared command line; with ``rules``, also ``--rules`` (a comma-separated subset of them);
    with ``stops``, also ``--stops`` (the stop thresholds to try, default these); with ``splits``,
    also ``--steps-split`` (whether the recurrent steps may split basins: yes, no or both); with
    ``peak_sizes``, also ``--peak-sizes`` (the centre-peak sizes to try, default these); with
    ``core_shares``, also ``--core-shares`` (the smallest cores, as shares of the median, to try); with
    ``cores`` and ``centres``, also ``--cores`` and ``--centres`` (the core and centre thresholds to try)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="models/ris-cvppp-a1.safetensors")
    parser.add_argument("--data", default="../shared/data/cvppp-a1")
    parser.add_argument("--every", type=int, default=every, help="use every k-th training image")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passes", type=values_of(int), default=(1, 2, 4),
                        help="mirrored pass counts to try, for the masks and the dense maps (1: one pass only, "
                             "when the speed budget allows no more)")
    parser.add_argument("--write", action="store_true", help="store the best setting in the checkpoint")
    if rules:
        parser.add_argument("--rules", type=values_of(str), default=tuple(rules),
                            help="decoding rules to try (default: all)")
    if splits:
        parser.add_argument("--steps-split", choices=("yes", "no", "both"), default="both",
                            help="let the recurrent steps split basins (SegmentConfig.steps_split)")
    if stops:
        parser.add_argument("--stops", type=values_of(float), default=tuple(stops), help="stop thresholds to try")
    if peak_sizes:
        parser.add_argument("--peak-sizes", type=values_of(int), default=tuple(peak_sizes),
                            help="smallest centre-map peaks that split a basin, in the maps' pixels "
                                 "(SegmentConfig.centre_min_pixels)")
    if core_shares:
        parser.add_argument("--core-shares", type=values_of(float), default=tuple(core_shares),
                            help="cores smaller than this share of the plant's median core seed no basin "
                                 "(SegmentConfig.core_min_share)")
    if cores:
        parser.add_argument("--cores", type=values_of(float), default=tuple(cores),
                            help="core thresholds to try: a leaf's interior is where the boundary map is below it")
    if centres:
        parser.add_argument("--centres", type=values_of(float), default=tuple(centres),
                            help="centre thresholds to try: a leaf's centre is where the centre map is above it")
    args = parser.parse_args()
    if splits:
        args.steps_split = {"yes": (True,), "no": (False,), "both": (True, False)}[args.steps_split]
    if rules:
        unknown = sorted(set(args.rules) - set(rules))
        if unknown:
            parser.error(f"--rules: unknown {', '.join(unknown)} (choose from {', '.join(rules)})")
    torch.set_num_threads(args.threads)
    return args


def training_images(data: str, every: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image, truth) of every k-th training image: validation images are never looked at."""
    samples = {s.name: s for s in list_samples(data)}
    for name in load_split(Path(data))["train"][::every]:
        yield (name, *load_pair(samples[name]))


def objective(scores: Sequence[ImageScores]) -> tuple[float, float, float, float]:
    """(objective, SBD %, |DiC|, DiC): a little SBD must not buy many miscounted leaves."""
    summary = summarize(scores)
    sbd, abs_dic, dic = 100 * summary["sbd"][0], summary["abs_dic"][0], summary["dic"][0]
    return sbd - 2 * abs_dic, sbd, abs_dic, dic


def store(path: str, model: RIS, info: CheckpointInfo, key: str, value: dict, images: int) -> None:
    """``meta[key] = value`` in the checkpoint, with a note of what it was chosen on."""
    meta = dict(info.meta)
    meta[key] = value
    meta[f"{key}_tuned_on"] = {"split": "train", "images": images, "objective": OBJECTIVE}
    save_checkpoint(path, model, meta)
    print(f"written into {path}")
