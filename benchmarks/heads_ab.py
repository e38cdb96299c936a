"""Two checkpoints' full-resolution heads side by side: their validation as a distillation run logs it,
and their speed in one process.

For heads distilled with ``leafcount train --distill-heads``: the run logs
SBD and |DiC| on the validation images fitted to the heads' input size with
the parent's decoding; this prints the same figures for any checkpoint (the
parent's included, which the run's log cannot show), then times each
model's heads and whole pass on one CVPPP image, the models alternating
call by call (these machines' speed drifts within minutes).

    python benchmarks/heads_ab.py --model models/ris-cvppp-a1.safetensors \
        --model models/v5/ris-cvppp-a1-context.safetensors [--rounds 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from pass_parts import pass_parts

from leafcount.data.cvppp import list_samples, load_pair
from leafcount.inference.pipeline import PipelineSettings
from leafcount.inference.segment import SegmentConfig, segment_steps
from leafcount.model.checkpoint import load_checkpoint
from leafcount.train import load_pairs, validation_scores

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvppp-a1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", required=True, help="a checkpoint (give two)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = {path.name: load_checkpoint(path) for path in args.model}
    val_by_size = {}  # the validation images are read once per heads' input size
    for name, (model, info) in models.items():
        size = model.config.dense_input_size
        if size not in val_by_size:
            val_by_size[size] = load_pairs(args.data, size, "auto")[1]
        scores = validation_scores(model, val_by_size[size], SegmentConfig.for_checkpoint(info.meta))
        print(f"{name}: {len(val_by_size[size])} validation images at {size}: "
              f"SBD {100 * scores['sbd']:.1f}, |DiC| {scores['abs_dic']:.2f}, DiC {scores['dic']:+.2f}")
    image, _ = load_pair(list_samples(args.data)[0])
    calls = {}
    for name, (model, info) in models.items():
        headless = PipelineSettings(SegmentConfig.for_checkpoint(info.meta), every_step=False).network_config
        heads = pass_parts(model, image, 0)["heads"]

        def timed_heads(heads=heads) -> None:
            with torch.inference_mode():
                heads()

        calls[name] = {"heads": timed_heads,
                       "pass": lambda model=model, headless=headless: list(segment_steps(model, image, headless))}
    times = {name: {part: [] for part in parts} for name, parts in calls.items()}
    for round_ in range(args.rounds + 1):
        for name, parts in calls.items():
            for part, call in parts.items():
                start = time.perf_counter()
                call()
                if round_:  # the first round warms oneDNN's kernels up
                    times[name][part].append(time.perf_counter() - start)
    print(f"\none thread, {args.rounds} alternating rounds on {list_samples(args.data)[0].name}: best / median ms")
    for name, parts in times.items():
        print(f"  {name}: " + ", ".join(f"{part} {min(t) * 1e3:.1f} / {statistics.median(t) * 1e3:.1f}"
                                        for part, t in parts.items()))


if __name__ == "__main__":
    main()
