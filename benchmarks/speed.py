"""Seconds per image of ``leafcount segment`` with the default settings, now and at an earlier revision.

Runs the command line as a user would (process start, reading, the shipped
checkpoint's own decoding, label PNGs, overlays, counts.csv) on a folder of
CVPPP-sized images, alternating this working tree and ``--before REV``
(checked out into a temporary git worktree) ``--rounds`` times, and prints
the best time of each, their ratio, and whether the two wrote the same
labels. Then, in this process: one pass of the default model (its
encoder, its steps until the stop threshold, its full-resolution heads)
against its FLOP floor (the pass's floating-point operations at the
machine's own matrix-multiply rate, measured here), the classical
watershed, the peak memory of the command, and how soon the app's
pipeline has its first leaf, the whole image's labels and its last step
(2 threads, as the app, with its heads after the steps, alongside them as
the app runs them, and alongside on the whole image instead of the plant's
window; ``app_segment.py`` times the window itself). The pass is also
split into its encoder, recurrent steps and full-resolution heads (on the
whole image and on the plant's window, as the pass runs them), each against
its own floor, to show where the time above the floor goes.

    python benchmarks/speed.py --before 9908b72 --n 100 [--before-model OLD.safetensors]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pass_parts import pass_parts
from timing import seconds
from torch.utils.flop_counter import FlopCounterMode

from leafcount.analysis.baseline import segment_classical
from leafcount.data.cvppp import list_samples, load_pair
from leafcount.data.folder import Photo
from leafcount.inference.pipeline import LabelsReady, PipelineSettings, segment_photo
from leafcount.inference.segment import SegmentConfig, Step, segment_steps
from leafcount.model import kernels
from leafcount.model.checkpoint import DEFAULT_MODEL_PATH, CheckpointInfo, load_checkpoint
from leafcount.model.ris import RIS

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cvppp-a1"


def image_folder(data: Path, n: int, folder: Path) -> list[Path]:
    """``n`` CVPPP images linked into ``folder`` (repeated when the set is smaller)."""
    sources = [s.image_path for s in list_samples(data)]
    folder.mkdir(parents=True)
    links = []
    for index in range(n):
        link = folder / f"img{index:04d}_rgb.png"
        link.symlink_to(sources[index % len(sources)].resolve())
        links.append(link)
    return links


PEAK_OF_CHILDREN = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
"""Runs a command and prints the largest resident size (KB) of any of its processes."""


def run_cli(code: Path, images: Path, out: Path, model: Path, threads: int) -> tuple[float, int]:
    """Wall seconds of one ``leafcount segment`` run from the code in ``code``, and its peak RSS (KB)."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": str(threads)}
    # Run from inside ``code``: ``python -c`` puts the working directory first on sys.path, so run
    # from the project root it would import this working tree whatever PYTHONPATH says.
    imported = subprocess.run([sys.executable, "-c", "import leafcount; print(leafcount.__file__)"], env=env,
                              cwd=code, check=True, capture_output=True, text=True).stdout.strip()
    if not Path(imported).resolve().is_relative_to(code.resolve()):
        raise SystemExit(f"the run meant for {code} would import {imported}")
    # What the ``leafcount`` command runs (``run``, since it exits without tearing the interpreter down;
    # ``main`` in revisions before it).
    entry = "import sys, leafcount.cli as cli; cli.run() if hasattr(cli, 'run') else sys.exit(cli.main())"
    command = [sys.executable, "-c", entry, "segment", str(images), "--out", str(out), "--model",
               str(model.resolve()), "-q"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILDREN, *command], env=env, cwd=code, check=True,
                          capture_output=True, text=True)
    return time.perf_counter() - start, int(done.stdout.split()[-1])


def same_labels(a: Path, b: Path) -> tuple[int, int, int, int]:
    """(images whose label PNGs are identical, images compared, pixels that differ, pixels compared)."""
    names = sorted(p.name for p in a.glob("*_label.png"))
    pairs = [(np.asarray(Image.open(a / n)), np.asarray(Image.open(b / n))) for n in names]
    same = sum(np.array_equal(x, y) for x, y in pairs)
    return same, len(names), sum(int((x != y).sum()) for x, y in pairs), sum(x.size for x, _ in pairs)


def matmul_gflops(threads: int) -> float:
    """The machine's float32 matrix-multiply rate: the floor's yardstick."""
    torch.set_num_threads(threads)
    a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
    a @ b
    best = seconds(lambda: a @ b, 5)
    return 2 * 1024**3 / best / 1e9


def app_run(model: RIS, info: CheckpointInfo, image: np.ndarray, heads_alongside: bool,
            on_plant: bool = True) -> tuple[float, float, float]:
    """Seconds from the start of the app's pipeline (a single plant, every step for the slider; the app
    runs the heads alongside the steps) to its first step, to its labels (:class:`LabelsReady`) and to its end.
    ``on_plant`` False: the heads on the whole image (as before the plant's window)."""
    segment = SegmentConfig.for_checkpoint(info.meta).replace(heads_on_plant=on_plant)
    settings = PipelineSettings(segment, tray="auto", every_step=True, heads_alongside=heads_alongside)
    start = time.perf_counter()
    marks: dict[str, float] = {}
    for event in segment_photo(model, info, Photo(image), image.shape[:2], settings):
        if isinstance(event, (Step, LabelsReady)):
            marks.setdefault("first" if isinstance(event, Step) else "labels", time.perf_counter() - start)
    end = time.perf_counter() - start
    return marks["first"], marks.get("labels", end), end


def part_timings(model: RIS, image: np.ndarray, n_steps: int, rounds: int) -> list[tuple[str, float, float]]:
    """(part, best seconds, GFLOP) of the pass's parts (:func:`pass_parts`): where the time above the floor goes."""
    rows = []
    with torch.inference_mode():
        for name, run in pass_parts(model, image, n_steps, window=True).items():
            kernels.ENABLED = False
            with FlopCounterMode(display=False) as counter:
                run()
            kernels.ENABLED = True
            rows.append((name, seconds(run, rounds, warm_up=True), counter.get_total_flops() / 1e9))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with (e.g. the commit before a change)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--before-model", type=Path,
                        help="the checkpoint the --before run uses (default: --model), to time a change of model "
                             "or of its stored decoding")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=100, help="images in the folder")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each version")
    parser.add_argument("--pass-rounds", type=int, default=7, help="alternating timings of one pass and of matmul")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (the CLI's default: 1)")
    parser.add_argument("--app-images", type=int, default=6, help="images of the app's pipeline timings")
    parser.add_argument("--app-rounds", type=int, default=3, help="alternating rounds of the app's pipeline timings")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before = tmp / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.before],
                       check=True, capture_output=True)
        try:
            images = tmp / "images"
            image_folder(args.data, args.n, images)
            times: dict[str, list[float]] = {"before": [], "now": []}
            peak = {}
            for round_ in range(args.rounds):
                for name, code, model in (("before", before, args.before_model or args.model),
                                          ("now", ROOT, args.model)):
                    wall, rss = run_cli(code, images, tmp / f"{name}{round_}", model, args.threads)
                    times[name].append(wall)
                    peak[name] = rss
            same, compared, pixels_differing, pixels = same_labels(tmp / "before0", tmp / "now0")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=True)

    best_before, best_now = min(times["before"]), min(times["now"])
    print(f"leafcount segment, {args.n} CVPPP images, default settings of {args.model.name}, "
          f"{os.cpu_count()} core(s), best of {args.rounds}")
    print(f"{'version':>10s} {'seconds':>8s} {'s/image':>8s} {'peak MB':>8s}")
    for name, best in (("before", best_before), ("now", best_now)):
        print(f"{name:>10s} {best:8.1f} {best / args.n:8.3f} {peak[name] / 1024:8.0f}")
    print(f"speed-up {best_before / best_now:.2f}x; identical label PNGs: {same} of {compared} "
          f"({pixels_differing} of {pixels} pixels differ)")

    model, info = load_checkpoint(args.model)
    model.eval()
    config = SegmentConfig.for_checkpoint(info.meta)
    headless = config.replace(stop_floor=max(config.stop_floor, config.stop_threshold))
    image, _ = load_pair(list_samples(args.data)[0])
    torch.set_num_threads(args.threads)
    list(segment_steps(model, image, headless))  # warm-up
    # Counted on torch's own ops: the counter does not see oneDNN's direct calls (kernels.py), and the
    # fast kernels do the same arithmetic.
    kernels.ENABLED = False
    with FlopCounterMode(display=False) as counter:
        steps = list(segment_steps(model, image, headless))
    kernels.ENABLED = True
    gflop = counter.get_total_flops() / 1e9
    # This machine's speed drifts by 1.5x within minutes: time the pass and the yardstick
    # alternately and keep the best of each, so that both see the same machine.
    one_pass, rate = float("inf"), 0.0
    for _ in range(args.pass_rounds):
        one_pass = min(one_pass, seconds(lambda: list(segment_steps(model, image, headless))))
        rate = max(rate, matmul_gflops(args.threads))
    print(f"\none pass ({len(steps)} steps, dense heads included): {one_pass * 1000:.0f} ms, {gflop:.2f} GFLOP; "
          f"floor at {rate:.0f} GFLOP/s (float32 matmul, {args.threads} thread(s)): {gflop / rate * 1000:.0f} ms; "
          f"{one_pass / (gflop / rate):.1f}x the floor")
    for name, part_seconds, part_gflop in part_timings(model, image, len(steps), args.pass_rounds):
        print(f"  {name:24s} {part_seconds * 1000:6.0f} ms, {part_gflop:5.2f} GFLOP: "
              f"{part_seconds / (part_gflop / rate):.1f}x its floor")
    classical = seconds(lambda: segment_classical(image), 3)
    print(f"classical watershed: {classical * 1000:.0f} ms per image (in process, no I/O)")

    torch.set_num_threads(2)
    variants = {"heads after the steps": (False, True), "heads alongside (the app)": (True, True),
                "alongside, on the whole image": (True, False)}
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    for _ in range(args.app_rounds):
        for sample in list_samples(args.data)[: args.app_images]:
            photo, _ = load_pair(sample)
            for name, (alongside, on_plant) in variants.items():
                runs[name].append(app_run(model, info, photo, alongside, on_plant))
    print(f"\napp's pipeline, 2 threads, medians of {args.app_rounds} x {args.app_images} images (alternating): "
          "first leaf / whole image's labels / last step")
    for name in variants:
        print(f"  {name:30s} " + " / ".join(f"{np.median([r[i] for r in runs[name]]) * 1000:4.0f} ms" for i in range(3)))


if __name__ == "__main__":
    main()
