"""Draw the figures of models/README.md: the validation curve of the training
phases and the shipped model on the bundled demo photos.

    python benchmarks/model_card_figures.py --no-curve      # writes models/demo-photos.png (the shipped model)
    python benchmarks/model_card_figures.py --model models/v1/ris-cvppp-a1.safetensors --out models/v1

The curve reads the ``*.history.json`` files the trainer writes; the
phases are laid end to end (each phase starts from the previous one's
chosen checkpoint, given with --phase FILE:ITERATION:LABEL).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from leafcount.analysis.metrics import count_leaves  # noqa: E402
from leafcount.data.folder import read_image_size  # noqa: E402
from leafcount.inference.pipeline import PipelineSettings, read_working_photo, run_pipeline  # noqa: E402
from leafcount.inference.segment import SegmentConfig  # noqa: E402
from leafcount.io.overlay import overlay_labels  # noqa: E402
from leafcount.model.checkpoint import load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
DEMO = ROOT / "resources" / "demo"
PHASES = (
    f"{MODELS / 'phase1' / 'ris-cvppp-a1-it11000.history.json'}:11000:CVPPP, flips + rotations",
    f"{MODELS / 'v1' / 'ris-cvppp-a1.history.json'}:8500:+ synthetic backgrounds, colour, zoom 0.5-1.2",
)


def read_phase(spec: str) -> tuple[list[dict], int, str]:
    """``FILE:ITERATION:LABEL`` -> validation records up to ITERATION, ITERATION, LABEL."""
    path, until, label = spec.rsplit(":", 2)
    history = json.loads(Path(path).read_text())
    return [e for e in history if "val" in e and e["iteration"] <= int(until)], int(until), label


def training_curve(phases: list[str], out: Path) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.6), sharex=True)
    offset = 0
    for number, spec in enumerate(phases, start=1):
        records, until, label = read_phase(spec)
        x = [offset + e["iteration"] for e in records]
        top.plot(x, [100 * e["val"]["sbd"] for e in records], marker=".", label=f"phase {number}: {label}")
        bottom.plot(x, [e["val"]["abs_dic"] for e in records], marker=".")
        offset += until
        top.axvline(offset, color="0.7", lw=0.8)
        bottom.axvline(offset, color="0.7", lw=0.8)
    top.set_ylabel("val SBD (%)")
    top.set_ylim(bottom=max(0, top.get_ylim()[0]))
    top.legend(fontsize=8, loc="lower right")
    bottom.set_ylabel("val |DiC|")
    bottom.set_xlabel("iteration (phases end to end; grey: the checkpoint each phase kept)")
    top.set_title("CVPPP A1 validation (20 images), paper decoding, during training", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def demo_photos(model_path: Path, out: Path) -> None:
    """The model's leaves on the single-plant demo photos, with the counts by eye."""
    model, info = load_checkpoint(model_path)
    config = SegmentConfig.for_checkpoint(info.meta)
    with open(DEMO / "counts_by_eye.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 4.4))
    for ax, row in zip(np.atleast_1d(axes), rows):
        name, by_eye = row["image"], row["leaf_count"]
        photo = read_working_photo(DEMO / name)  # as leafcount segment and the app segment it
        labels = run_pipeline(model, info, photo, read_image_size(DEMO / name), PipelineSettings(config)).labels
        ax.imshow(overlay_labels(photo.pixels, labels))
        ax.set_title(f"{name}\n{count_leaves(labels)} leaves found, {by_eye} by eye", fontsize=8)
        ax.axis("off")
    fig.suptitle(f"{info.name} on bundled photos that are not CVPPP", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", action="append", help="FILE:ITERATION:LABEL (default: model v1's two phases)")
    parser.add_argument("--no-curve", action="store_true",
                        help="only the demo photos (a run whose logged validation used another decoding)")
    parser.add_argument("--model", type=Path, default=MODELS / "ris-cvppp-a1.safetensors")
    parser.add_argument("--out", type=Path, default=MODELS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.no_curve:
        training_curve(args.phase or list(PHASES), args.out / "training-curve.png")
        print(f"wrote {args.out / 'training-curve.png'}")
    demo_photos(args.model, args.out / "demo-photos.png")
    print(f"wrote {args.out / 'demo-photos.png'}")


if __name__ == "__main__":
    main()
