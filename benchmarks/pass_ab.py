"""One pass of the default model, this working tree against an earlier revision, in one process.

The command-line comparison of ``speed.py`` runs the two versions in turn,
seconds apart, and these machines' speed drifts by 1.5x within minutes;
it also dilutes a change of the network with reading, decoding and
writing. Here both versions of the package live in this process (the
earlier one copied from git as ``leafcount_before``, its imports renamed),
load the same weights, and run the same image: each part of the pass
(encoder, full-resolution heads, the recurrent steps, the whole
``segment_steps``, the decoding of its steps into labels, and all that a
``leafcount segment`` worker does for the image file: reading, the tray
check, the pass, the decoding, the label PNG, its sidecar and the
overlay), the two versions alternating call by call. Prints the best and the median time of
each, their ratios, the largest difference between the two versions'
masks, maps and scores, and whether their labels are the same.

    python benchmarks/pass_ab.py --before 3360776 [--rounds 15] [--image 0]
"""

from __future__ import annotations

import argparse
import importlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from pass_parts import pass_parts

from leafcount.data.cvppp import Sample, list_samples, load_pair
from leafcount.model.checkpoint import DEFAULT_MODEL_PATH

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvppp-a1"
BEFORE = "leafcount_before"


def export_before(revision: str, folder: Path) -> None:
    """The ``leafcount`` package at ``revision`` as ``folder/leafcount_before``, every import of itself renamed."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "leafcount"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "leafcount").rename(folder / BEFORE)
    own = re.compile(r"\b(from|import) leafcount\b")
    for path in (folder / BEFORE).rglob("*.py"):
        path.write_text(own.sub(rf"\1 {BEFORE}", path.read_text()))


def version_parts(package: str, model_path: Path, sample: Sample, out: Path
                  ) -> tuple[dict[str, Callable[[], object]], Callable[[], list]]:
    """``package``'s parts of one pass on the image (:func:`pass_parts`, the whole ``segment_steps``,
    the decoding of its steps, a batch worker's ``segment_file`` writing into ``out``), and the call
    giving its steps and labels."""
    image, _ = load_pair(sample)
    segment = importlib.import_module(f"{package}.inference.segment")
    segment_file = importlib.import_module(f"{package}.inference.batch").segment_file
    model, info = importlib.import_module(f"{package}.model.checkpoint").load_checkpoint(model_path)
    decoding = segment.SegmentConfig.for_checkpoint(info.meta)
    config = decoding.replace(stop_floor=max(decoding.stop_floor, decoding.stop_threshold))

    def whole() -> list:
        return list(segment.segment_steps(model, image, config))

    steps = whole()

    def decode() -> np.ndarray:
        return segment.decode_steps(steps, image.shape[:2], decoding)

    def image_file() -> object:
        return segment_file(sample.image_path, out, model_path, decoding, False, "auto")

    parts = {**pass_parts(model, image, len(steps)), "whole pass": whole, "decoding": decode, "image file": image_file}
    return parts, lambda: (whole(), decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--image", type=int, default=0, help="index of the CVPPP image")
    parser.add_argument("--rounds", type=int, default=15, help="timed calls of each part and version")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sample = list_samples(args.data)[args.image]
    with tempfile.TemporaryDirectory() as tmp:
        export_before(args.before, Path(tmp))
        sys.path.insert(0, tmp)
        before, before_steps = version_parts(BEFORE, args.model, sample, Path(tmp) / "before")
        now, now_steps = version_parts("leafcount", args.model, sample, Path(tmp) / "now")
        compare(args, before, now, before_steps, now_steps)


def compare(args: argparse.Namespace, before: dict, now: dict, before_steps: Callable, now_steps: Callable) -> None:
    """Time each part of both versions, alternating, and print the table and the differences."""
    print(f"one pass of {args.model.name} on {list_samples(args.data)[args.image].image_path.name}, one thread, "
          f"{args.before} against this tree, alternating, {args.rounds} calls each")
    print(f"{'part':>12s} {'before best':>12s} {'now best':>9s} {'ratio':>6s} {'before median':>14s} "
          f"{'now median':>11s} {'ratio':>6s}")
    with torch.inference_mode():
        for name in now:
            times: dict[str, list[float]] = {"before": [], "now": []}
            for round_ in range(args.rounds + 1):
                order = (("before", before), ("now", now)) if round_ % 2 else (("now", now), ("before", before))
                for version, parts in order:
                    start = time.perf_counter()
                    parts[name]()
                    if round_:  # the first round warms up
                        times[version].append(time.perf_counter() - start)
            b, n = times["before"], times["now"]
            print(f"{name:>12s} {min(b) * 1000:9.1f} ms {min(n) * 1000:6.1f} ms {min(b) / min(n):5.2f}x "
                  f"{statistics.median(b) * 1000:11.1f} ms {statistics.median(n) * 1000:8.1f} ms "
                  f"{statistics.median(b) / statistics.median(n):5.2f}x")
    (old, old_labels), (new, new_labels) = before_steps(), now_steps()
    masks = max(float(np.abs(a.mask - b.mask).max()) for a, b in zip(old, new))
    scores = max(abs(a.score - b.score) for a, b in zip(old, new))
    maps = [float(np.abs(getattr(old[0], name) - getattr(new[0], name)).max())
            for name in ("foreground", "boundary", "centre") if getattr(new[0], name) is not None]
    print(f"steps {len(old)} and {len(new)}; largest difference of a step mask {masks:.2g}, of a score "
          f"{scores:.2g}, of a dense map {max(maps, default=0.0):.2g}; labels "
          f"{'identical' if np.array_equal(old_labels, new_labels) else 'DIFFERENT'}")

if __name__ == "__main__":
    main()
