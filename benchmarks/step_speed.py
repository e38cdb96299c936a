"""Inference and training speed of RIS on this machine.

Prints ms per image for full-resolution inference (the paper's plants
setting: 530x500 input, 106x100 grid, 20 steps) with leafcount's
implementation and, in the same process, a straightforward one that runs the
encoder again at every step and computes each gate with its own pair of
convolutions, on the same weights. Ratios are the numbers to trust: these
machines are noisy. Also prints the floating-point operations of one pass
(torch's FLOP counter: the encoder once and every step) and training ms per
iteration at full and half resolution.

    python benchmarks/step_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
import torch.nn.functional as F

from timing import seconds
from torch.utils.flop_counter import FlopCounterMode

from leafcount.model.config import ModelConfig
from leafcount.model.loss import matching_loss
from leafcount.model.ris import RIS, build_ris, coordinate_channels, standardize
from leafcount.inference.segment import SegmentConfig, segment_steps


def straightforward_sequence(model: RIS, image: torch.Tensor, steps: int) -> list[float]:
    """Eq. (1) as written: eight convolutions per ConvLSTM, encoder every step."""
    cfg = model.config
    hidden = cfg.lstm_channels
    gh, gw = cfg.grid_size
    h = [torch.zeros(1, hidden, gh, gw) for _ in model.cells]
    c = [torch.zeros(1, hidden, gh, gw) for _ in model.cells]
    canvas = torch.zeros(1, 1, *cfg.output_size) if cfg.feed_canvas else None
    scores = []
    for _ in range(steps):
        x = standardize(image) if cfg.standardize_input else image
        features, skip, _ = model.encoder(x)
        if cfg.coord_channels:
            features = torch.cat([features, coordinate_channels(1, gh, gw, features)], 1)
        below = F.adaptive_avg_pool2d(canvas, (gh, gw)) if canvas is not None else None
        for k, cell in enumerate(model.cells):
            dyn_in = h[k] if below is None else torch.cat([below, h[k]], 1)
            gates = []
            for g in range(4):
                sl = slice(g * hidden, (g + 1) * hidden)
                pre = F.conv2d(dyn_in, cell.dynamic_conv.weight[sl], padding=cell.dynamic_conv.padding)
                pre = pre + cell.bias[sl].view(1, -1, 1, 1)
                if k == 0 and cell.static_conv is not None:
                    pre = pre + F.conv2d(features, cell.static_conv.weight[sl], padding=cell.static_conv.padding)
                gates.append(pre)
            i, f, o, g_ = gates
            c[k] = torch.sigmoid(f) * c[k] + torch.sigmoid(i) * torch.tanh(g_)
            h[k] = torch.sigmoid(o) * torch.tanh(c[k])
            below = h[k]
        mask_logits = model.inhibition(h[-1], model.inhibition.precompute(skip), canvas)
        mask = torch.sigmoid(F.interpolate(mask_logits[:, None], size=cfg.input_size, mode="bilinear"))
        if canvas is not None:
            canvas = torch.maximum(canvas, torch.sigmoid(mask_logits)[:, None])
        scores.append(float(torch.sigmoid(model.confidence(h[-1]))[0]))
        _ = mask.numpy(), h[-1].abs().sum(1).numpy()
    return scores


def pass_gflop(model: RIS, steps: int) -> float:
    """GFLOP of one pass on one image: the encoder once, then ``steps`` steps
    (a multiply-add counts as two operations)."""
    x = torch.rand(1, 3, *model.config.input_size)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x, steps)
    return counter.get_total_flops() / 1e9


def time_ms(fn, repeats: int) -> float:
    """Median of ``repeats`` calls after a warm-up, in ms."""
    return 1000 * seconds(fn, repeats, warm_up=True, pick=statistics.median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.steps} steps, median of {args.repeats}")

    rows = []
    for name, config in (("paper 530x500 (grid 106x100)", ModelConfig.paper()),
                         ("leafcount skip 265x250 (grid 53x50)", ModelConfig()),
                         ("leafcount lite0 272x256 (grid 34x32)", ModelConfig.lite0())):
        model = build_ris(config).eval()
        image = np.random.default_rng(0).random((500, 530, 3), dtype=np.float32)
        tensor = torch.from_numpy(image).permute(2, 0, 1)[None]
        if config.input_size != (500, 530):
            tensor = F.interpolate(tensor, size=config.input_size, mode="area")
        seg = SegmentConfig(max_steps=args.steps, stop_floor=0.0)

        def ours() -> None:
            steps = list(segment_steps(model, image, seg))
            assert len(steps) == args.steps

        def naive() -> None:
            with torch.inference_mode():
                straightforward_sequence(model, tensor, args.steps)

        with torch.inference_mode():
            ref = straightforward_sequence(model, tensor, 3)
        got = [s.score for s in segment_steps(model, image, SegmentConfig(max_steps=3, stop_floor=0.0))]
        assert np.allclose(ref, got, atol=1e-4), (ref, got)
        t_ours, t_naive = time_ms(ours, args.repeats), time_ms(naive, args.repeats)
        rows.append((name, t_naive, t_ours, pass_gflop(model, args.steps)))

    print(f"\n{'inference, ms per image':40s} {'straightforward':>16s} {'leafcount':>10s} {'speed-up':>9s} "
          f"{'GFLOP':>7s} {'GFLOP/s':>8s}")
    for name, t_naive, t_ours, gflop in rows:
        print(f"{name:40s} {t_naive:16.1f} {t_ours:10.1f} {t_naive / t_ours:8.2f}x {gflop:7.2f} "
              f"{gflop / (t_ours / 1000):8.1f}")

    print(f"\n{'training, ms per iteration (T steps)':40s} {'T=5':>8s} {'T=20':>8s}")
    for name, config in (("paper 530x500", ModelConfig.paper()),
                         ("paper at half resolution 265x250", ModelConfig(**{**ModelConfig.paper().to_dict(),
                                                                             "input_size": (250, 265)})),
                         ("leafcount skip 265x250", ModelConfig()),
                         ("leafcount lite0 272x256", ModelConfig.lite0())):
        model = build_ris(config).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        x = torch.rand(1, 3, *config.input_size)
        truth = (torch.rand(16, *config.output_size) > 0.9).float()
        cells = []
        for steps in (5, 20):
            def iteration() -> None:
                opt.zero_grad()
                seq = model(x, steps)
                matching_loss(seq.mask_logits[0], seq.score_logits[0], truth).total.backward()
                opt.step()
            cells.append(time_ms(iteration, max(2, args.repeats // 2)))
        print(f"{name:40s} {cells[0]:8.0f} {cells[1]:8.0f}")


if __name__ == "__main__":
    main()
