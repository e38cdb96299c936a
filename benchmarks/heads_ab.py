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

from leafcount.analysis.metrics import score_image, summarize
from leafcount.data.cvppp import list_samples, load_pair
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import SegmentConfig, image_to_tensor, segment_steps
from leafcount.model.checkpoint import load_checkpoint
from leafcount.train import load_pairs

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
    for name, (model, info) in models.items():
        _, val = load_pairs(args.data, model.config.dense_input_size, "auto")
        decoding = SegmentConfig.for_checkpoint(info.meta)
        scores = [score_image(segment_image(model, pair.image, decoding).labels, pair.labels, pair.name) for pair in val]
        summary = summarize(scores)
        print(f"{name}: {len(val)} validation images at {model.config.dense_input_size}: "
              f"SBD {100 * summary['sbd'][0]:.1f}, |DiC| {summary['abs_dic'][0]:.2f}, DiC {summary['dic'][0]:+.2f}")
    image, _ = load_pair(list_samples(args.data)[0])
    calls = {}
    for name, (model, info) in models.items():
        config = SegmentConfig.for_checkpoint(info.meta)
        headless = config.replace(stop_floor=max(config.stop_floor, config.stop_threshold))
        small, _ = image_to_tensor(image, model.config.input_size, model.config.output_stride)
        large, _ = image_to_tensor(image, model.config.dense_input_size)
        with torch.inference_mode():
            encoded = model.encode(small, aux=False)

        def heads(model=model, large=large, encoded=encoded) -> None:
            with torch.inference_mode():
                model.dense_logits(large, encoded)

        calls[name] = {"heads": heads, "pass": lambda model=model, headless=headless: list(segment_steps(model, image, headless))}
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
