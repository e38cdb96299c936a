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

import itertools

from tuning import objective, parse_args, store, training_images

from leafcount.analysis.metrics import score_image
from leafcount.inference.crf import CrfConfig, refine_labels
from leafcount.inference.passes import segment_image
from leafcount.inference.segment import SegmentConfig
from leafcount.model.checkpoint import load_checkpoint

GT_PROBS = (0.7, 0.8, 0.9)
BILATERAL_SXY = (20.0, 40.0)
BILATERAL_SRGB = (13.0, 20.0)
BILATERAL_COMPAT = (10.0, 15.0)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], every=4)
    model, info = load_checkpoint(args.model)
    decoding = SegmentConfig.for_checkpoint(info.meta)
    runs = [(name, image, truth, segment_image(model, image, decoding).labels)
            for name, image, truth in training_images(args.data, args.every)]
    print(f"{info.name}: {len(runs)} training images, decoding {decoding.assignment} "
          f"stop {decoding.stop_threshold}, {decoding.flips} pass(es)\n")
    print(f"{'gt_prob':>7s} {'sxy':>5s} {'srgb':>5s} {'compat':>6s} {'SBD':>6s} {'|DiC|':>6s} {'DiC':>6s} {'objective':>9s}")
    value, sbd, abs_dic, dic = objective([score_image(labels, truth, n) for n, _, truth, labels in runs])
    print(f"{'no CRF':>26s} {sbd:6.1f} {abs_dic:6.2f} {dic:+6.2f} {value:9.2f}", flush=True)
    results = []
    for gt_prob, sxy, srgb, compat in itertools.product(GT_PROBS, BILATERAL_SXY, BILATERAL_SRGB, BILATERAL_COMPAT):
        config = CrfConfig(gt_prob=gt_prob, bilateral_sxy=sxy, bilateral_srgb=srgb, bilateral_compat=compat)
        scores = [score_image(refine_labels(image, labels, config=config), truth, n)
                  for n, image, truth, labels in runs]
        value, sbd, abs_dic, dic = objective(scores)
        results.append((value, sbd, abs_dic, config))
        print(f"{gt_prob:7.2f} {sxy:5.0f} {srgb:5.0f} {compat:6.0f} {sbd:6.1f} {abs_dic:6.2f} {dic:+6.2f} "
              f"{value:9.2f}", flush=True)
    _, sbd, abs_dic, best = max(results, key=lambda row: row[0])
    print(f"\nbest: {best} (SBD {sbd:.1f}, |DiC| {abs_dic:.2f} on training images)")
    if args.write:
        store(args.model, model, info, "crf", best.to_dict(), len(runs))


if __name__ == "__main__":
    main()
