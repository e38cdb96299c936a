"""Choose a checkpoint's dense-CRF settings on TRAINING images, and optionally
store them in the checkpoint's metadata (``meta["crf"]``), where the CLI, the
app and ``benchmarks/accuracy.py`` read them.

Each image is segmented once with the checkpoint's own decoding; every CRF
setting then refines the same labels. The objective is SBD (%) - 2 x |DiC|,
as in ``tune_decoding.py``: a CRF that merges or drops leaves must not win on
boundary overlap alone. Validation images are never looked at here.

    python benchmarks/tune_crf.py --model models/ris-cvppp-a1.safetensors --write
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch

from leafcount.crf import CrfConfig, refine_labels
from leafcount.data.cvppp import list_samples, load_pair, load_split
from leafcount.metrics import score_image, summarize
from leafcount.model.checkpoint import load_checkpoint, save_checkpoint
from leafcount.segment import SegmentConfig, segment_image

GT_PROBS = (0.7, 0.8, 0.9)
BILATERAL_SXY = (20.0, 40.0)
BILATERAL_SRGB = (13.0, 20.0)
BILATERAL_COMPAT = (10.0, 15.0)


def _objective(scores: list[dict]) -> tuple[float, float, float, float]:
    summary = summarize(scores)
    sbd, abs_dic, dic = 100 * summary["sbd"][0], summary["abs_dic"][0], summary["dic"][0]
    return sbd - 2 * abs_dic, sbd, abs_dic, dic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/ris-cvppp-a1.safetensors")
    parser.add_argument("--data", default="../shared/data/cvppp-a1")
    parser.add_argument("--every", type=int, default=4, help="use every k-th training image")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="store the best settings in the checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, info = load_checkpoint(args.model)
    decoding = SegmentConfig.for_checkpoint(info.meta)
    samples = {s.name: s for s in list_samples(args.data)}
    names = load_split(Path(args.data))["train"][:: args.every]
    runs = []
    for name in names:
        image, truth = load_pair(samples[name])
        runs.append((name, image, truth, segment_image(model, image, decoding).labels))
    print(f"{info.name}: {len(runs)} training images, decoding {decoding.assignment} "
          f"stop {decoding.stop_threshold}\n")
    header = f"{'gt_prob':>7s} {'sxy':>5s} {'srgb':>5s} {'compat':>6s} {'SBD':>6s} {'|DiC|':>6s} {'DiC':>6s} {'objective':>9s}"
    print(header)
    objective, sbd, abs_dic, dic = _objective([score_image(labels, truth, n) for n, _, truth, labels in runs])
    print(f"{'no CRF':>26s} {sbd:6.1f} {abs_dic:6.2f} {dic:+6.2f} {objective:9.2f}", flush=True)
    results = []
    for gt_prob, sxy, srgb, compat in itertools.product(GT_PROBS, BILATERAL_SXY, BILATERAL_SRGB, BILATERAL_COMPAT):
        config = CrfConfig(gt_prob=gt_prob, bilateral_sxy=sxy, bilateral_srgb=srgb, bilateral_compat=compat)
        scores = [score_image(refine_labels(image, labels, config=config), truth, n)
                  for n, image, truth, labels in runs]
        objective, sbd, abs_dic, dic = _objective(scores)
        results.append((objective, sbd, abs_dic, config))
        print(f"{gt_prob:7.2f} {sxy:5.0f} {srgb:5.0f} {compat:6.0f} {sbd:6.1f} {abs_dic:6.2f} {dic:+6.2f} "
              f"{objective:9.2f}", flush=True)
    objective, sbd, abs_dic, best = max(results, key=lambda row: row[0])
    print(f"\nbest: {best} (SBD {sbd:.1f}, |DiC| {abs_dic:.2f} on training images)")
    if args.write:
        meta = dict(info.meta)
        meta["crf"] = best.to_dict()
        meta["crf_tuned_on"] = {"split": "train", "images": len(runs), "objective": "SBD% - 2 |DiC|"}
        save_checkpoint(args.model, model, meta)
        print(f"written into {args.model}")


if __name__ == "__main__":
    main()
