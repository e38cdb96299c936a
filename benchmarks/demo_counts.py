"""Leaf counts of a model on the bundled real photos against counts by eye.

The photos in resources/demo are not CVPPP images (blue mesh, Raspberry-Pi
crops, a tray of 15+ rosettes): this is how the model generalises. Prints
one row per single-plant photo (``counts_by_eye.csv``) and one per tray
plant counted by eye (``counts_by_eye_tray.csv``; plants are found with
leafcount's tray detection and matched to the counted plant by its centre),
then the mean |DiC| of each group, and how many leaf pixels lie on the
colour cards of ``colour_cards.csv`` (boxes read off the photos by eye).

    python benchmarks/demo_counts.py [--model CKPT] [--crf] [--out OVERLAYS]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch

from leafcount.inference.crf import CrfConfig, refine_labels
from leafcount.data.folder import read_image
from leafcount.analysis.metrics import count_leaves
from leafcount.model.checkpoint import find_default_model, load_checkpoint
from leafcount.io.overlay import overlay_labels, write_rgb_png
from leafcount.analysis.plant_boxes import plant_leaf_counts
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import ASSIGNMENTS, SegmentConfig
from leafcount.inference.tray import detect_plants, segment_tray

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


def read_rows(name: str) -> list[dict[str, str]]:
    with open(DEMO / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--crf", action="store_true", help="dense CRF on the single-plant photos")
    parser.add_argument("--assignment", choices=ASSIGNMENTS,
                        help="pixel assignment (default: the checkpoint's tuned decoding, as in the app)")
    parser.add_argument("--out", type=Path, help="folder for overlays (optional)")
    parser.add_argument("--flips", type=int, choices=(1, 2, 4), help="mirrored passes (default: the checkpoint's)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, info = load_checkpoint(args.model or find_default_model())
    config = SegmentConfig.for_checkpoint(info.meta)
    if args.assignment:
        config = config.replace(assignment=args.assignment)
    if args.flips:
        config = config.replace(flips=args.flips)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"model {info.name}, assignment {config.assignment}, stop {config.stop_threshold}, {config.flips} pass(es), "
          f"CRF {'on' if args.crf else 'off'}")
    print(f"{'photo / plant':45s} {'by eye':>7s} {'model':>6s} {'DiC':>5s}")

    cards = {row["image"]: row for row in read_rows("colour_cards.csv")}
    photo_errors = []
    for row in read_rows("counts_by_eye.csv"):
        image = read_image(DEMO / row["image"])
        labels = segment_image(model, image, config).labels
        if row["image"] in cards:
            box = {key: int(cards[row["image"]][key]) for key in ("left", "top", "right", "bottom")}
            on_card = labels[box["top"] : box["bottom"], box["left"] : box["right"]] > 0
            print(f"{row['image']}: {int(on_card.sum())} leaf pixels on the colour card "
                  f"({len(np.unique(labels[box['top'] : box['bottom'], box['left'] : box['right']][on_card]))} leaves)")
        if args.crf:
            labels = refine_labels(image, labels, config=CrfConfig.for_checkpoint(info.meta))
        if args.out:
            write_rgb_png(args.out / f"{Path(row['image']).stem}_overlay.png", overlay_labels(image, labels))
        count, truth = count_leaves(labels), int(row["leaf_count"])
        photo_errors.append(count - truth)
        print(f"{row['image']:45s} {truth:7d} {count:6d} {count - truth:+5d}")

    plant_errors = []
    by_tray: dict[str, list[dict[str, str]]] = {}
    for row in read_rows("counts_by_eye_tray.csv"):
        by_tray.setdefault(row["image"], []).append(row)
    for tray, rows in by_tray.items():
        image = read_image(DEMO / tray)
        boxes = detect_plants(image)
        labels, _ = segment_tray(model, image, boxes, config)
        counts = plant_leaf_counts(labels, boxes)
        if args.out:
            write_rgb_png(args.out / f"{Path(tray).stem}_overlay.png", overlay_labels(image, labels))
        for row in rows:
            x, y = int(row["x"]), int(row["y"])
            found = [i for i, b in enumerate(boxes) if b.left <= x < b.right and b.top <= y < b.bottom]
            label = f"{tray} {row['plant']}"
            if not found:
                print(f"{label:45s} {row['leaf_count']:>7s} {'-':>6s}   (plant not detected)")
                continue
            count, truth = counts[found[0]], int(row["leaf_count"])
            plant_errors.append(count - truth)
            print(f"{label:45s} {truth:7d} {count:6d} {count - truth:+5d}")

    for what, errors in (("photos", photo_errors), ("tray plants", plant_errors)):
        if errors:
            print(f"{what}: mean |DiC| {np.mean(np.abs(errors)):.2f}, mean DiC {np.mean(errors):+.2f} "
                  f"over {len(errors)}")


if __name__ == "__main__":
    main()
