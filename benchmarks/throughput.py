"""Batch segmentation throughput: images per second with 1 and 2 local workers.

Writes a folder of synthetic rosettes (530 wide x 500 high by default, the
size of a CVPPP A1 image) and segments it with
:func:`leafcount.batch.segment_files` once per worker count, as
``leafcount segment --workers N`` does: label PNG, overlay and leaf count
per image. One worker runs in this process with ``--threads`` torch threads;
N > 1 workers are N processes of one torch thread each, so with the default
``--threads 1`` the table shows how the batch scales with cores. Times
include starting the worker processes. The machine should be otherwise idle:
a busy core shows up as a lower speed-up.

    python benchmarks/throughput.py --n 40
    python benchmarks/throughput.py --n 40 --workers 1,2,4 --model models/other.safetensors
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from leafcount.inference.batch import segment_files
from leafcount.data.synth import write_synth_folder
from leafcount.model.checkpoint import DEFAULT_MODEL_PATH, read_checkpoint_info
from leafcount.inference.segment import SegmentConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="images in the batch")
    parser.add_argument("--size", default="500x530", help="HxW of the synthetic images")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the one-worker run")
    parser.add_argument("--max-steps", type=int, default=SegmentConfig().max_steps)
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.lower().split("x"))
    counts = [int(v) for v in args.workers.split(",")]
    model = Path(args.model)
    info = read_checkpoint_info(model)
    config = SegmentConfig(max_steps=args.max_steps)
    torch.set_num_threads(args.threads)
    print(f"model {info.name} (input {info.config.input_size[1]}x{info.config.input_size[0]}), "
          f"{args.n} image(s) of {w}x{h}, {os.cpu_count()} core(s), torch {torch.__version__}")

    with tempfile.TemporaryDirectory() as tmp:
        images = write_synth_folder(Path(tmp) / "in", args.n, seed=0, shape=(h, w))
        segment_files(images[:1], Path(tmp) / "warm-up", model, config, workers=1)  # lazy torch set-up
        rows = []
        for workers in counts:
            start = time.perf_counter()
            outcomes = segment_files(images, Path(tmp) / f"out{workers}", model, config, workers=workers)
            seconds = time.perf_counter() - start
            failed = [o for o in outcomes if o.error]
            if failed:
                raise SystemExit(f"{len(failed)} image(s) failed, first: {failed[0].error}")
            rows.append((workers, seconds, args.n / seconds))

    base = rows[0][2]
    print(f"\n{'workers':>7s} {'seconds':>8s} {'images/s':>9s} {'vs ' + str(rows[0][0]):>7s}")
    for workers, seconds, rate in rows:
        print(f"{workers:7d} {seconds:8.2f} {rate:9.2f} {rate / base:6.2f}x")


if __name__ == "__main__":
    main()
