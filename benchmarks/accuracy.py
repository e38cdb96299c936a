"""Accuracy on the CVPPP A1 validation split: RIS models, a classical baseline, published rows.

One run scores, on the same images and in the same process: every given
RIS checkpoint with both pixel-assignment rules ("first": the earliest step
keeps a pixel, as in the paper; "argmax": the kept step with the highest
mask value), the checkpoint's own tuned decoding, that decoding fused
over 4 mirrored passes (leafcount.flips), that decoding with the
full-resolution heads run on the whole image instead of the plant's window
(leafcount.inference.heads_window), each without and with the dense
CRF (with the checkpoint's tuned CRF settings), and the classical
excess-green + watershed baseline (leafcount.baseline). The paper's
published rows follow as reference lines; they were measured by their
authors on the A1 *test* set, not here.

    python benchmarks/accuracy.py                                  # default model, all val images
    python benchmarks/accuracy.py --model models/ris-cvppp-a1.safetensors --model PAPER.safetensors
    python benchmarks/accuracy.py --limit 3 --markdown             # a quick check, table for a README

The table goes to stdout, progress to stderr. SBD and FBD are percentages;
every score is mean (std) over images with std over N - 1 (CVPPP's Matlab
code). Seconds per image are wall time on this machine with --threads torch
threads: RIS rows count the network and decoding, CRF rows add the CRF.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from leafcount.analysis.baseline import segment_classical
from leafcount.inference.crf import CrfConfig, is_crf_available, refine_labels
from leafcount.data.cvppp import Sample, list_samples, load_pair, load_split
from leafcount.errors import ConfigError, LeafcountError
from leafcount.inference.flips import with_mirrored_passes
from leafcount.analysis.metrics import ImageScores, format_summary, score_image, summarize
from leafcount.model.checkpoint import load_checkpoint
from leafcount.inference.segment import ASSIGNMENTS, SegmentConfig, decode_steps, segment_steps

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvppp-a1"
DEFAULT_MODEL = ROOT / "models" / "ris-cvppp-a1.safetensors"
COLUMNS = ("method", "SBD", "|DiC|", "DiC", "FBD", "s / image")
RULE_NAMES = {"first": "first, paper", "argmax": "argmax", "grow": "grow over dense maps",
              "basins": "boundary basins split/merged by the steps", "centres": "one leaf per centre-map seed"}
MIRRORED = 4  # passes of the test-time flip rows (leafcount.flips)

# Romera-Paredes & Torr (ECCV 2016), Table 2, and Ren & Zemel (CVPR 2017),
# all on the CVPPP A1 test set: (method, SBD, |DiC|, DiC, FBD); "—" = not reported.
PUBLISHED = (
    ("RIS, Romera-Paredes & Torr 2016", "56.8 (8.2)", "1.1 (0.9)", "0.2 (1.4)", "—"),
    ("RIS+CRF, Romera-Paredes & Torr 2016", "66.6 (8.7)", "1.1 (0.9)", "0.2 (1.4)", "—"),
    ("Nottingham distance-map watershed, RIS Table 2", "68.3 (6.3)", "3.8 (2.0)", "-3.6 (2.4)", "—"),
    ("recurrent attention, Ren & Zemel 2017", "84.9 (4.8)", "0.8 (1.0)", "—", "—"),
)


@dataclass
class Row:
    """One measured method: a score and a time per image."""

    method: str
    scores: list[ImageScores] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, scores: ImageScores, seconds: float) -> None:
        self.scores.append(scores)
        self.seconds.append(seconds)

    def cells(self) -> tuple[str, ...]:
        text = format_summary(summarize(self.scores))
        return (self.method, text["sbd"], text["abs_dic"], text["dic"], text["fbd"], f"{np.mean(self.seconds):.2f}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = parser.add_argument_group("input")
    g.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CVPPP folder with split.json (default: %(default)s)")
    g.add_argument("--split", default="val", help="which split.json list to score (default: %(default)s)")
    g.add_argument("--limit", type=int, help="score only the first N images of the split (quick checks)")
    g = parser.add_argument_group("model")
    g.add_argument(
        "--model", type=Path, action="append",
        help=f"RIS checkpoint; repeat for several (default: {DEFAULT_MODEL.relative_to(ROOT)})",
    )
    g = parser.add_argument_group("algorithm")
    g.add_argument("--stop-threshold", type=float, default=0.5)
    g.add_argument("--mask-threshold", type=float, default=0.5)
    g.add_argument("--max-steps", type=int, default=30)
    g.add_argument("--no-crf", action="store_true", help="skip the CRF rows")
    g = parser.add_argument_group("hardware")
    g.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: %(default)s)")
    g = parser.add_argument_group("output")
    g.add_argument("--markdown", action="store_true", help="print a Markdown table (for models/README.md)")
    return parser.parse_args(argv)


def split_samples(data: Path, split: str, limit: int | None) -> list[Sample]:
    """The samples of one split.json list, in its order."""
    names = load_split(data).get(split)
    if names is None:
        raise ConfigError(f"split.json of {data} has no {split!r} list")
    by_name = {sample.name: sample for sample in list_samples(data)}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ConfigError(f"split.json names {', '.join(missing[:3])}, which {data} does not hold")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    return [by_name[name] for name in names[:limit]]


def measure(args: argparse.Namespace) -> tuple[list[Row], int, bool]:
    """Score every method on every image; returns the rows, image count and whether CRF ran."""
    samples = split_samples(args.data, args.split, args.limit)
    use_crf = not args.no_crf and is_crf_available()
    if not args.no_crf and not use_crf:
        print("pydensecrf2 is not installed: CRF rows left out", file=sys.stderr)
    config = SegmentConfig(
        mask_threshold=args.mask_threshold, stop_threshold=args.stop_threshold, max_steps=args.max_steps
    )
    models = [load_checkpoint(path) for path in (args.model or [DEFAULT_MODEL])]
    # rows[(model index, crf, rule)]; the classical baseline is the last row.
    rows: dict[tuple[int, bool, str], Row] = {}
    # A checkpoint's decoding tuned on training images (benchmarks/tune_decoding.py) is one more rule.
    tuned = {index: SegmentConfig.for_checkpoint(info.meta) for index, (_, info) in enumerate(models)
             if info.meta.get("segment")}
    # Likewise its CRF settings (benchmarks/tune_crf.py), else CrfConfig's defaults.
    crf_configs = [CrfConfig.for_checkpoint(info.meta) for _, info in models]
    for index, (_, info) in enumerate(models):
        rules = {rule: RULE_NAMES[rule] for rule in ASSIGNMENTS}
        if index in tuned:
            t = tuned[index]
            dense = f", dense maps over {t.dense_flips} views" if t.dense_flips > 1 else ""
            share = f" (cores of {t.core_min_share} of the median)" if t.core_min_share else ""
            core = (f", core {t.core_threshold}{share}" if t.assignment in ("grow", "basins")
                    else f", core {t.core_threshold}{share}, centre {t.centre_threshold} "
                         f"(peaks of {t.centre_min_pixels} px), fragments {t.fragment_threshold}"
                    if t.assignment == "centres" else "")
            merge_only = ", steps merge only" if t.assignment in ("basins", "centres") and not t.steps_split else ""
            rules["tuned"] = f"tuned on train: stop {t.stop_threshold}, {t.assignment}{core}{merge_only}{dense}"
        rules["mirrored"] = f"{rules.get('tuned', 'argmax')}, {MIRRORED} mirrored passes"
        if models[index][0].dense is not None:
            rules["whole"] = f"{rules.get('tuned', 'argmax')}, heads on the whole image, not the plant's window"
        for crf in (False, True) if use_crf else (False,):
            for rule, label in rules.items():
                crf_name = " + CRF (tuned on train)" if info.meta.get("crf") else " + CRF"
                name = f"{info.name} [{info.config.encoder}]" + (crf_name if crf else "")
                rows[index, crf, rule] = Row(f"{name} ({label})")
    classical = Row("classical: excess green + watershed")

    for sample in tqdm(samples, desc="images", unit="image", file=sys.stderr):
        image, truth = load_pair(sample)
        for index, (model, _) in enumerate(models):
            start = time.perf_counter()
            steps = list(segment_steps(model, image, config))
            network_s = time.perf_counter() - start
            decodings = {rule: config.replace(assignment=rule) for rule in ASSIGNMENTS}
            if index in tuned:
                decodings["tuned"] = tuned[index].replace(flips=1)
            decodings["mirrored"] = decodings.get("tuned", decodings["argmax"]).replace(flips=MIRRORED)
            if model.dense is not None:  # the plain path of the heads, timed as a run of its own
                decodings["whole"] = decodings.get("tuned", decodings["argmax"])
                start = time.perf_counter()
                whole_steps = list(segment_steps(model, image, config.replace(heads_on_plant=False)))
                whole_s = time.perf_counter() - start
            for rule, decoding in decodings.items():
                seen, seen_s = (whole_steps, whole_s) if rule == "whole" else (steps, network_s)
                start = time.perf_counter()
                labels = decode_steps(with_mirrored_passes(model, image, seen, decoding), truth.shape, decoding)
                ris_s = seen_s + time.perf_counter() - start
                rows[index, False, rule].add(score_image(labels, truth, sample.name), ris_s)
                if use_crf:
                    start = time.perf_counter()
                    refined = refine_labels(image, labels, config=crf_configs[index])
                    crf_s = ris_s + time.perf_counter() - start
                    rows[index, True, rule].add(score_image(refined, truth, sample.name), crf_s)
        start = time.perf_counter()
        labels = segment_classical(image)
        classical.add(score_image(labels, truth, sample.name), time.perf_counter() - start)
    return [*rows.values(), classical], len(samples), use_crf


def plain_table(measured: list[Row]) -> str:
    published = [(f"{method} *", *scores, "—") for method, *scores in PUBLISHED]
    body = [row.cells() for row in measured]
    widths = [max(len(line[i]) for line in (COLUMNS, *body, *published)) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))

    rule = "-" * len(line(COLUMNS))
    return "\n".join(
        [line(COLUMNS), rule, *map(line, body), rule, "* published, not measured (CVPPP A1 test set)",
         *map(line, published)]
    )


def markdown_table(measured: list[Row]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    lines = [line(COLUMNS), "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|"]
    lines += [line(row.cells()) for row in measured]
    lines += [line((f"*{method}* (published, not measured)", *scores, "—")) for method, *scores in PUBLISHED]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        rows, n_images, use_crf = measure(args)
    except LeafcountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"{n_images} image(s) of the {args.split!r} split of {args.data}; {when}; "
        f"{platform.processor() or platform.machine()}, {args.threads} torch thread(s); "
        f"stop threshold {args.stop_threshold}, mask threshold {args.mask_threshold}"
        + ("" if use_crf else "; no CRF")
    )
    print("SBD and FBD in %; mean (std) over images, std with N - 1; seconds per image on this machine.\n")
    print(markdown_table(rows) if args.markdown else plain_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
