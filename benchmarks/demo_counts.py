"""Leaf counts of the model on the bundled real photos against counts by eye.

The photos in resources/demo are not CVPPP images (blue mesh, Raspberry-Pi
crops): this is how the model generalises. Prints one row per photo and the
mean |DiC|.

    python benchmarks/demo_counts.py [--model CKPT] [--crf]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch

from leafcount.crf import refine_labels
from leafcount.data.folder import read_image
from leafcount.metrics import count_leaves
from leafcount.model.checkpoint import find_default_model, load_checkpoint
from leafcount.segment import SegmentConfig, segment_image

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--crf", action="store_true")
    parser.add_argument("--assignment", choices=("first", "argmax"),
                        help="pixel assignment (default: the checkpoint's tuned decoding, as in the app)")
    parser.add_argument("--out", help="folder for overlays (optional)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, info = load_checkpoint(args.model or find_default_model())
    config = SegmentConfig.for_checkpoint(info.meta)
    if args.assignment:
        config = config.replace(assignment=args.assignment)
    with open(DEMO / "counts_by_eye.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    print(f"model {info.name}, assignment {config.assignment}, stop {config.stop_threshold}, "
          f"CRF {'on' if args.crf else 'off'}")
    print(f"{'photo':45s} {'by eye':>7s} {'model':>6s} {'DiC':>5s}")
    errors = []
    for row in rows:
        image = read_image(DEMO / row["image"])
        labels = segment_image(model, image, config).labels
        if args.crf:
            labels = refine_labels(image, labels)
        if args.out:
            from leafcount.overlay import overlay_labels, write_rgb_png

            Path(args.out).mkdir(parents=True, exist_ok=True)
            write_rgb_png(Path(args.out) / f"{Path(row['image']).stem}_overlay.png", overlay_labels(image, labels))
        count, truth = count_leaves(labels), int(row["leaf_count"])
        errors.append(count - truth)
        print(f"{row['image']:45s} {truth:7d} {count:6d} {count - truth:+5d}")
    print(f"mean |DiC| {np.mean(np.abs(errors)):.2f}, mean DiC {np.mean(errors):+.2f} over {len(errors)} photos")


if __name__ == "__main__":
    main()
