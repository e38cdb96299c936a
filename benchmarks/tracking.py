"""Leaf tracking through time series: identities kept, ID switches, seconds per image.

Two kinds of series whose leaf identities are known exactly:

- synthetic: seeded growing rosettes (leafcount.data.synth.make_growing_rosette):
  leaves grow, new ones appear at the centre, the plant shifts and turns;
- CVPPP: each validation image of the CVPPP A1 split, zoomed a little more on
  every date (about the plant's centre) and shifted and turned a little, as a
  plant that grows and is put back in another position; its ground-truth
  leaves keep their ids on every date (no new leaves, none grow on their own).

The identity figures run ``leafcount track`` with the ground-truth labels
saved beside the photos (as a hand correction would be), so they measure the
alignment and linking alone. A leaf's identity is kept when it has the same
track id on two consecutive dates it is on (leafcount.series.identity); an ID
switch is a pair where it does not. A second run segments a few of the same
series with the model (no labels beside the photos): its seconds per image
are those of a user's ``leafcount track`` (segmentation and linking), and its
identity figures those of the model's leaves.

    python benchmarks/tracking.py                 # 10 synthetic series, all CVPPP val images, 5 dates
    python benchmarks/tracking.py --cvppp-limit 3 --model-series 1

Every series is written to a temporary folder and deleted afterwards (the
CVPPP images' licence forbids copying them into the repository). The table
goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from leafcount.data.cvppp import list_samples, load_pair, load_split, read_labels, write_labels
from leafcount.data.synth import make_growing_rosette
from leafcount.errors import ConfigError
from leafcount.model.checkpoint import find_default_model
from leafcount.series.identity import IdentityScore, identity_score
from leafcount.series.pipeline import track_series

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvppp-a1"

Series = list[tuple[np.ndarray, np.ndarray]]  # (photo float RGB, truth labels) per date


@dataclass(frozen=True)
class SeriesResult:
    """One series tracked once: its identity score and the run's wall time."""

    kind: str
    plant: str
    segmentation: str  # "truth" or "model"
    dates: int
    score: IdentityScore
    seconds: float


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = parser.add_argument_group("input")
    g.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CVPPP folder with split.json (default: %(default)s)")
    g.add_argument("--split", default="val", help="which split.json list to use (default: %(default)s)")
    g.add_argument("--cvppp-limit", type=int, help="use only the first N images of the split")
    g.add_argument("--synthetic", type=int, default=10, help="synthetic series (default: %(default)s)")
    g.add_argument("--size", type=int, default=256, help="side of the synthetic images in px (default: %(default)s)")
    g.add_argument("--dates", type=int, default=5, help="dates per series (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0)
    g = parser.add_argument_group("model")
    g.add_argument("--model", type=Path, help="checkpoint for the timing run (default: the shipped model)")
    g.add_argument("--model-series", type=int, default=1,
                   help="series of each kind segmented by the model (default: %(default)s; 0: none)")
    g = parser.add_argument_group("hardware")
    g.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.dates < 2:
        parser.error(f"--dates must be at least 2, got {args.dates}")
    return args


def synthetic_series(seed: int, dates: int, size: int) -> Series:
    """A growing rosette of 8 to 14 leaves on its last date, about half of them on its first."""
    rng = np.random.default_rng(seed)
    n_leaves = int(rng.integers(8, 15))
    return make_growing_rosette(rng, dates, (size, size), n_leaves=n_leaves, max_shift=6.0, max_turn_deg=10.0)


def cvppp_series(photo: np.ndarray, truth: np.ndarray, dates: int, rng: np.random.Generator) -> Series:
    """``photo`` zoomed from 0.85x by 6 % a date about the plant's centre, each date shifted
    (up to 6 px) and turned (up to 8 degrees) a little more; the truth labels moved alike."""
    centre = np.argwhere(truth > 0).mean(axis=0) if truth.any() else np.array(truth.shape) / 2
    series, shift, turn = [], np.zeros(2), 0.0
    for date in range(dates):
        scale = 0.85 * 1.06**date
        series.append(_moved(photo, truth, centre, scale, turn, shift))
        shift = shift + rng.uniform(-6.0, 6.0, 2)
        turn += rng.uniform(-8.0, 8.0)
    return series


def _moved(photo: np.ndarray, truth: np.ndarray, centre: np.ndarray, scale: float, turn_deg: float,
           shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photo and labels grown by ``scale`` and turned about ``centre``, then shifted."""
    turn = math.radians(turn_deg)
    inverse = np.array([[math.cos(turn), math.sin(turn)], [-math.sin(turn), math.cos(turn)]]) / scale
    offset = centre - inverse @ (centre + shift)
    channels = [ndimage.affine_transform(photo[..., k], inverse, offset, order=1, mode="nearest") for k in range(3)]
    labels = ndimage.affine_transform(truth, inverse, offset, order=0, mode="constant", cval=0)
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0), labels.astype(np.int32)


def write_series(folder: Path, plant: str, series: Series, *, with_truth: bool) -> list[str]:
    """Photos ``<plant>_2026-03-DD.png`` (and the truth labels beside them); the image names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for day, (photo, truth) in enumerate(series, start=1):
        name = f"{plant}_2026-03-{day:02d}"
        Image.fromarray(np.round(photo * 255).astype(np.uint8)).save(folder / f"{name}.png")
        if with_truth:
            write_labels(folder / f"{name}_label.png", truth)
        names.append(name)
    return names


def track_one(kind: str, plant: str, series: Series, work: Path, model: Path | None) -> SeriesResult:
    """Track one series in its own folders (``model`` None: the truth is the segmentation)."""
    segmentation = "truth" if model is None else "model"
    photos, out = work / f"{kind}-{plant}-{segmentation}" / "photos", work / f"{kind}-{plant}-{segmentation}" / "out"
    names = write_series(photos, plant, series, with_truth=model is None)
    start = time.perf_counter()
    track_series([photos], out, model_path=model, workers=1, tray=None)
    seconds = time.perf_counter() - start
    tracked = [read_labels(out / f"{name}_label.png") for name in names]
    score = identity_score([truth for _, truth in series], tracked)
    return SeriesResult(kind, plant, segmentation, len(series), score, seconds)


def cvppp_samples(data: Path, split: str, limit: int | None):
    """The samples of one split.json list, in its order."""
    names = load_split(data).get(split)
    if names is None:
        raise ConfigError(f"split.json of {data} has no {split!r} list")
    by_name = {sample.name: sample for sample in list_samples(data)}
    return [by_name[name] for name in names[:limit] if name in by_name]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    model = args.model or find_default_model()
    rng = np.random.default_rng(args.seed)
    all_series: list[tuple[str, str, Series]] = [
        ("synthetic", f"synth{i:02d}", synthetic_series(args.seed * 1000 + i, args.dates, args.size))
        for i in range(args.synthetic)
    ]
    for sample in cvppp_samples(args.data, args.split, args.cvppp_limit):
        photo, truth = load_pair(sample)
        all_series.append(("cvppp", sample.name, cvppp_series(photo, truth, args.dates, rng)))

    results = []
    with tempfile.TemporaryDirectory(prefix="leafcount-tracking-") as tmp:
        for kind, plant, series in all_series:
            print(f"{kind} {plant}: tracking the truth", file=sys.stderr)
            results.append(track_one(kind, plant, series, Path(tmp), None))
        if model is not None and args.model_series:
            for wanted in ("synthetic", "cvppp"):
                for kind, plant, series in [s for s in all_series if s[0] == wanted][: args.model_series]:
                    print(f"{kind} {plant}: segmenting with {model.name} and tracking", file=sys.stderr)
                    results.append(track_one(kind, plant, series, Path(tmp), model))
    print(report(results, model, args))
    return 0


def report(results: Sequence[SeriesResult], model: Path | None, args: argparse.Namespace) -> str:
    """The per-series table, then the totals of each kind and segmentation."""
    lines = [f"leaf tracking, {args.dates} dates per series; {platform.processor() or platform.machine()}, "
             f"torch threads {args.threads}; model run: {model.name if model else 'none'}",
             "",
             f"{'series':<10} {'plant':<10} {'labels':<6} {'pairs':>5} {'kept':>7} {'switches':>8} {'s/image':>8}"]
    for r in results:
        lines.append(f"{r.kind:<10} {r.plant:<10} {r.segmentation:<6} {r.score.pairs:>5} "
                     f"{100 * r.score.kept_fraction:>6.1f}% {r.score.switches:>8} {r.seconds / r.dates:>8.2f}")
    lines += ["", f"{'total':<10} {'series':>10} {'labels':<6} {'pairs':>5} {'kept':>7} {'sw/series':>9} {'s/image':>8}"]
    for kind in ("synthetic", "cvppp"):
        for segmentation in ("truth", "model"):
            group = [r for r in results if r.kind == kind and r.segmentation == segmentation]
            if not group:
                continue
            score = sum((r.score for r in group), IdentityScore(0, 0))
            images = sum(r.dates for r in group)
            lines.append(f"{kind:<10} {len(group):>10} {segmentation:<6} {score.pairs:>5} "
                         f"{100 * score.kept_fraction:>6.1f}% {score.switches / len(group):>9.2f} "
                         f"{sum(r.seconds for r in group) / images:>8.2f}")
    lines += ["", "kept: leaves with the same track id on two consecutive dates, of those on both; "
              "s/image: wall time of `leafcount track` (truth rows: linking, tables and report; "
              "model rows: segmentation too) over the series' images"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
