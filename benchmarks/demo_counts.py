"""Leaf counts of a model on the bundled real photos against counts by eye.

The photos in resources/demo are not CVPPP images (blue mesh, Raspberry-Pi
crops, a tray of 15+ rosettes): this is how the model generalises. Prints
one row per single-plant photo (``counts_by_eye.csv``) and one per tray
plant counted by eye (``counts_by_eye_tray.csv``; plants are found with
leafcount's tray detection and matched to the counted plant by its centre),
then the mean |DiC| of each group, and how many leaf pixels lie on the
colour cards of ``colour_cards.csv`` (boxes read off the photos by eye).
Every photo goes through the pipeline ``leafcount segment`` runs
(:func:`leafcount.inference.pipeline.run_pipeline`, trays found
automatically), so these are the counts a user gets.

    python benchmarks/demo_counts.py [--model CKPT] [--crf] [--out OVERLAYS]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch

from leafcount.analysis.metrics import count_leaves
from leafcount.data.folder import read_image_size
from leafcount.inference.crf import CrfConfig
from leafcount.inference.pipeline import PipelineResult, PipelineSettings, read_working_photo, run_pipeline
from leafcount.inference.segment import ASSIGNMENTS, SegmentConfig
from leafcount.io.overlay import overlay_labels, write_rgb_png
from leafcount.model.checkpoint import find_default_model, load_checkpoint

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


def read_rows(name: str) -> list[dict[str, str]]:
    with open(DEMO / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--crf", action="store_true", help="dense CRF (as leafcount segment --crf)")
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
    settings = PipelineSettings(segment=config, crf=CrfConfig.for_checkpoint(info.meta) if args.crf else None,
                                tray="auto", every_step=False)

    def segment(name: str) -> PipelineResult:
        photo = read_working_photo(DEMO / name)
        result = run_pipeline(model, info, photo, read_image_size(DEMO / name), settings)
        if args.out:
            write_rgb_png(args.out / f"{Path(name).stem}_overlay.png", overlay_labels(photo.pixels, result.labels))
        return result
    print(f"model {info.name}, assignment {config.assignment}, stop {config.stop_threshold}, {config.flips} pass(es), "
          f"CRF {'on' if args.crf else 'off'}")
    print(f"{'photo / plant':45s} {'by eye':>7s} {'model':>6s} {'DiC':>5s}")

    cards = {row["image"]: row for row in read_rows("colour_cards.csv")}
    photo_errors = []
    for row in read_rows("counts_by_eye.csv"):
        labels = segment(row["image"]).full_size_labels()  # the colour-card boxes are in the file's pixels
        if row["image"] in cards:
            box = {key: int(cards[row["image"]][key]) for key in ("left", "top", "right", "bottom")}
            on_card = labels[box["top"] : box["bottom"], box["left"] : box["right"]] > 0
            print(f"{row['image']}: {int(on_card.sum())} leaf pixels on the colour card "
                  f"({len(np.unique(labels[box['top'] : box['bottom'], box['left'] : box['right']][on_card]))} leaves)")
        count, truth = count_leaves(labels), int(row["leaf_count"])
        photo_errors.append(count - truth)
        print(f"{row['image']:45s} {truth:7d} {count:6d} {count - truth:+5d}")

    plant_errors = []
    by_tray: dict[str, list[dict[str, str]]] = {}
    for row in read_rows("counts_by_eye_tray.csv"):
        by_tray.setdefault(row["image"], []).append(row)
    for tray, rows in by_tray.items():
        result = segment(tray)
        boxes, counts = result.full_size_plants(), result.plant_leaf_counts()
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
