"""Choose a checkpoint's decoding (mirrored passes, stop threshold, pixel assignment,
mirrored copies of the dense maps, the core threshold and the centre threshold) on
TRAINING images, and optionally store it in the checkpoint's metadata.

The network runs once per image and mirrored copy (leafcount.flips);
every setting is then a cheap re-decode of the same steps. The objective
is SBD (%) - 2 x |DiC|, so a setting that buys a little SBD with many
miscounted leaves does not win; on a tie, fewer passes win. Validation
images are never looked at here.

    python benchmarks/tune_decoding.py --model models/ris-cvppp-a1.safetensors --write [--passes 1]
"""

from __future__ import annotations

import itertools

from tuning import objective, parse_args, store, training_images

from leafcount.inference.flips import flipped_masks, fuse_dense_maps, fuse_steps
from leafcount.analysis.metrics import score_image
from leafcount.model.checkpoint import load_checkpoint
from leafcount.inference.segment import ASSIGNMENTS, SegmentConfig, decode_steps, segment_steps

STOP_THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
CORE_THRESHOLDS = (0.1, 0.2, 0.3, 0.5)
CENTRE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
DENSE_RULES = ("grow", "basins", "centres")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], every=3, rules=ASSIGNMENTS)
    model, info = load_checkpoint(args.model)
    runs = []
    for name, image, truth in training_images(args.data, args.every):
        steps = list(segment_steps(model, image, SegmentConfig(stop_floor=0.05)))
        mirrored = flipped_masks(model, image, SegmentConfig(flips=max(args.passes)))  # each pass once
        by_flips = {
            (flips, dense): fuse_dense_maps(model, image, fuse_steps(steps, mirrored[: flips - 1]), dense)
            for flips in args.passes for dense in args.passes
        }
        runs.append((name, image.shape[:2], by_flips, truth))
    print(f"{info.name}: {len(runs)} training images\n")
    has_centres = runs[0][2][args.passes[0], args.passes[0]][0].centre is not None
    rules = [rule for rule in args.rules if rule != "centres" or has_centres]
    print(f"{'flips':>5s} {'dense':>5s} {'stop':>5s} {'assignment':>10s} {'core':>5s} {'centre':>6s} "
          f"{'SBD':>6s} {'|DiC|':>6s} {'DiC':>6s} {'objective':>9s}")
    results = []
    grid = itertools.product(args.passes, args.passes, STOP_THRESHOLDS, rules, CORE_THRESHOLDS, CENTRE_THRESHOLDS)
    for flips, dense, stop, rule, core, centre in grid:
        if rule not in DENSE_RULES and (dense > 1 or core != SegmentConfig.core_threshold):
            continue  # only these read the dense maps
        if rule != "centres" and centre != SegmentConfig.centre_threshold:
            continue  # only this one reads the centre map
        config = SegmentConfig(stop_threshold=stop, assignment=rule, flips=flips, dense_flips=dense,
                               core_threshold=core, centre_threshold=centre)
        scores = [score_image(decode_steps(steps[flips, dense], shape, config), truth, n)
                  for n, shape, steps, truth in runs]
        value, sbd, abs_dic, dic = objective(scores)
        results.append((value, -flips, -dense, stop, rule, core, centre, sbd, abs_dic))  # on a tie, fewer passes win
        print(f"{flips:5d} {dense:5d} {stop:5.2f} {rule:>10s} {core:5.2f} {centre:6.2f} "
              f"{sbd:6.1f} {abs_dic:6.2f} {dic:+6.2f} {value:9.2f}")
    _, flips, dense, stop, rule, core, centre, sbd, abs_dic = max(results)
    flips, dense = -flips, -dense
    print(f"\nbest: {flips} pass(es), dense maps over {dense}, stop threshold {stop}, assignment {rule}, "
          f"core threshold {core}, centre threshold {centre} (SBD {sbd:.1f}, |DiC| {abs_dic:.2f} on training images)")
    if args.write:
        chosen = {"stop_threshold": stop, "assignment": rule, "flips": flips, "dense_flips": dense,
                  "core_threshold": core, "centre_threshold": centre}
        store(args.model, model, info, "segment", chosen, len(runs))


if __name__ == "__main__":
    main()
