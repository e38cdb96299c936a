"""The full-resolution heads on the plant's window against the whole image, image by image.

For each of the first ``--n`` CVPPP images (and the bundled single-plant
photos with ``--demo``): the window's share of the heads' input, the
heads' time on the window and on the whole input (one thread, alternating
call by call, best of ``--rounds``; each window shape warmed up first,
since oneDNN builds kernels for every new shape), and how far the labels
of the two paths differ (SBD of one against the other, the leaf counts),
and whether the plant the heads found reaches the window's side (the
pipeline then runs them again on the whole input). Then the means, and
how many window shapes the folder needed.

    python benchmarks/heads_window.py --n 100 [--rounds 3] [--demo]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from leafcount.analysis.metrics import score_image
from leafcount.data.cvppp import list_samples, load_pair
from leafcount.inference.heads_window import cut_off, plant_window
from leafcount.inference.pipeline import read_working_photo
from leafcount.inference.segment import SegmentConfig, content_boxes, decode_steps, image_to_tensor, segment_steps
from leafcount.model.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvppp-a1"
DEMO_PHOTOS = ("Col-0_M_9_17dpi.jpg", "pi_rosette_2019-10-31.png", "pi_series_2019-11-02-11-05_crop-img17.jpg")


def best_of(run, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--demo", action="store_true", help="also the bundled single-plant photos")
    args = parser.parse_args()

    torch.set_num_threads(1)
    model, info = load_checkpoint(args.model)
    model.eval()
    cfg = model.config
    decoding = SegmentConfig.for_checkpoint(info.meta)
    headless = decoding.replace(stop_floor=max(decoding.stop_floor, decoding.stop_threshold))
    images = [(s.name, load_pair(s)[0]) for s in list_samples(args.data)[: args.n]]
    if args.demo:
        images += [(name, read_working_photo(ROOT / "resources" / "demo" / name).pixels) for name in DEMO_PHOTOS]
    rows, shapes = [], set()
    print(f"{'image':44s} {'share':>6s} {'whole ms':>9s} {'window ms':>10s} {'ratio':>6s} {'SBD':>6s} {'leaves':>7s}")
    with torch.inference_mode():
        for name, image in images:
            small, box = image_to_tensor(image, cfg.input_size, cfg.output_stride)
            large, large_box = image_to_tensor(image, cfg.dense_input_size)
            encoded = model.encode(small, aux=True)
            grid_box = content_boxes(model, box)[0]
            window = plant_window(encoded.aux_logits[0, 0].numpy(), grid_box, large_box, tuple(large.shape[-2:]))
            inside = large if window is None else large[..., window[0], window[1]]
            shapes.add(tuple(inside.shape[-2:]))
            model.dense(large)  # oneDNN builds kernels for each new shape: not timed
            foreground = torch.sigmoid(model.dense(inside)[0, 0]).numpy()
            cut = window is not None and cut_off(foreground, window, tuple(large.shape[-2:]))
            whole_s = window_s = float("inf")
            for _ in range(args.rounds):
                whole_s = min(whole_s, best_of(lambda: model.dense(large), 1))
                window_s = min(window_s, best_of(lambda: model.dense(inside), 1))
            labels = {}
            for on_plant in (False, True):
                steps = list(segment_steps(model, image, headless.replace(heads_on_plant=on_plant)))
                labels[on_plant] = decode_steps(steps, image.shape[:2], decoding)
            sbd = score_image(labels[True], labels[False]).sbd
            counts = [len(np.unique(labels[k])) - 1 for k in (False, True)]
            share = inside.shape[-2] * inside.shape[-1] / (large.shape[-2] * large.shape[-1])
            rows.append((share, whole_s, window_s, sbd, counts[0] != counts[1], cut))
            print(f"{name[:44]:44s} {share:6.2f} {whole_s * 1e3:9.1f} {window_s * 1e3:10.1f} "
                  f"{window_s / whole_s:6.2f} {sbd:6.3f} {counts[0]:3d}/{counts[1]:<3d}" + ("  cut off" if cut else ""))
    table = np.array(rows, dtype=float)
    print(f"\n{len(rows)} images, {len(shapes)} window shapes: the window {table[:, 0].mean():.2f} of the heads' input, "
          f"the heads {table[:, 2].sum() / table[:, 1].sum():.2f} of their time on the whole "
          f"({table[:, 2].mean() * 1e3:.0f} against {table[:, 1].mean() * 1e3:.0f} ms); labels against the whole "
          f"image's: SBD {table[:, 3].mean():.4f} (lowest {table[:, 3].min():.3f}), "
          f"leaf count changed on {int(table[:, 4].sum())}; the plant reached the window's side (the heads ran "
          f"again on the whole input) on {int(table[:, 5].sum())}")


if __name__ == "__main__":
    main()
