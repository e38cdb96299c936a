"""Choose a checkpoint's decoding (mirrored passes, stop threshold, pixel assignment,
mirrored copies of the dense maps, the core, centre and fragment thresholds, the smallest
core and centre peak, whether the steps may split basins) on TRAINING images, and
optionally store it in the checkpoint's metadata.

The network runs once per image and mirrored copy (leafcount.flips);
every setting is then a cheap re-decode of the same steps. The objective
is SBD (%) - 2 x |DiC|, so a setting that buys a little SBD with many
miscounted leaves does not win; on a tie, fewer passes win. Validation
images are never looked at here.

    python benchmarks/tune_decoding.py --model models/ris-cvppp-a1.safetensors --write [--passes 1]
        [--rules centres] [--stops 0.5] [--steps-split no] [--peak-sizes 40,48] [--core-shares 0,0.1]
        [--cores 0.05,0.1] [--centres 0.5,0.6]
"""

from __future__ import annotations

import itertools

from tuning import objective, parse_args, store, training_images

from leafcount.inference.flips import flipped_masks, fuse_dense_maps, fuse_steps
from leafcount.analysis.metrics import score_image
from leafcount.model.checkpoint import load_checkpoint
from leafcount.inference.segment import ASSIGNMENTS, SegmentConfig, decode_steps, segment_steps

STOP_THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
CORE_THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.3)
CENTRE_THRESHOLDS = (0.3, 0.35, 0.4, 0.5)
FRAGMENT_THRESHOLDS = (0.0, 0.4, 0.45, 0.5)
PEAK_SIZES = (32,)
"""SegmentConfig.centre_min_pixels to try (--peak-sizes); 32, the default, unless asked."""
CORE_SHARES = (0.0,)
"""SegmentConfig.core_min_share to try (--core-shares); 0, the default, unless asked."""
OBJECTIVE_TIE = 0.05
"""Settings this close to the best objective are tied: on 80 images that is a
tenth of a leaf's count or less than 0.1 SBD, below what the images can tell apart."""
DENSE_RULES = ("grow", "basins", "centres")
SPLITTING_RULES = ("basins", "centres")


def best_setting(results: list[tuple]) -> tuple:
    """The best of ``results`` (rows of objective, -passes, -dense passes, ..., |DiC| last).

    Among the settings tied with the best objective (:data:`OBJECTIVE_TIE`),
    fewer passes win, then the fewer miscounted leaves (the count is the
    first figure a biologist reads, and |DiC| the target with the least
    room), then the higher objective, then the simpler decoding (steps
    allowed to split, no fragments).
    """
    best = max(row[0] for row in results)
    tied = [row for row in results if row[0] >= best - OBJECTIVE_TIE]
    return max(tied, key=lambda row: (row[1], row[2], -round(row[-1], 2), row))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], every=3, rules=ASSIGNMENTS, stops=STOP_THRESHOLDS, splits=True,
                      peak_sizes=PEAK_SIZES, core_shares=CORE_SHARES, cores=CORE_THRESHOLDS, centres=CENTRE_THRESHOLDS)
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
          f"{'share':>5s} {'frag.':>5s} {'peak':>4s} {'split':>5s} {'SBD':>6s} {'|DiC|':>6s} {'DiC':>6s} {'objective':>9s}")
    defaults = SegmentConfig()
    results = []
    grid = itertools.product(args.passes, args.passes, args.stops, rules, args.cores, args.core_shares,
                             args.centres, FRAGMENT_THRESHOLDS, args.peak_sizes, args.steps_split)
    for flips, dense, stop, rule, core, share, centre, fragment, peak, split in grid:
        if rule not in DENSE_RULES and (dense > 1 or core != defaults.core_threshold):
            continue  # only these read the dense maps
        if rule not in SPLITTING_RULES and share != defaults.core_min_share:
            continue  # only these read the cores' sizes
        if rule != "centres" and (centre, fragment, peak) != (
                defaults.centre_threshold, defaults.fragment_threshold, defaults.centre_min_pixels):
            continue  # only this one reads the centre map
        if rule not in SPLITTING_RULES and split != args.steps_split[0]:
            continue
        config = SegmentConfig(stop_threshold=stop, assignment=rule, flips=flips, dense_flips=dense,
                               core_threshold=core, core_min_share=share, centre_threshold=centre,
                               fragment_threshold=fragment, centre_min_pixels=peak, steps_split=split)
        scores = [score_image(decode_steps(steps[flips, dense], shape, config), truth, n)
                  for n, shape, steps, truth in runs]
        value, sbd, abs_dic, dic = objective(scores)
        results.append((value, -flips, -dense, split, -fragment, -share, stop, rule, core, centre, peak, sbd, abs_dic))
        print(f"{flips:5d} {dense:5d} {stop:5.2f} {rule:>10s} {core:5.2f} {centre:6.2f} {share:5.2f} {fragment:5.2f} "
              f"{peak:4d} {'yes' if split else 'no':>5s} {sbd:6.1f} {abs_dic:6.2f} {dic:+6.2f} {value:9.2f}", flush=True)
    _, flips, dense, split, fragment, share, stop, rule, core, centre, peak, sbd, abs_dic = best_setting(results)
    flips, dense, fragment, share = -flips, -dense, -fragment, -share
    print(f"\nbest: {flips} pass(es), dense maps over {dense}, stop threshold {stop}, assignment {rule}, "
          f"core threshold {core}, cores of {share} of the median, centre threshold {centre}, "
          f"centre peaks of {peak} px, fragment threshold {fragment}, "
          f"steps split basins: {'yes' if split else 'no'} (SBD {sbd:.1f}, |DiC| {abs_dic:.2f} on training images)")
    if args.write:
        chosen = {"stop_threshold": stop, "assignment": rule, "flips": flips, "dense_flips": dense,
                  "core_threshold": core, "centre_threshold": centre, "fragment_threshold": fragment,
                  "centre_min_pixels": peak, "core_min_share": share, "steps_split": split}
        store(args.model, model, info, "segment", chosen, len(runs))


if __name__ == "__main__":
    main()
