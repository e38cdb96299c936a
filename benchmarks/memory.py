"""Peak memory of ``leafcount segment`` on one camera-sized photo (issue 16, item 9).

Writes a synthetic 12000 x 9000 photo (soil, a green rosette, a colour card),
segments it in a fresh process with one worker, and prints that process's
peak resident memory (its VmHWM, what ``/usr/bin/time -v`` calls maximum
resident set size; Linux) beside that of a process that only imports
leafcount and torch.
Then reopens the full-size label PNG with warnings as errors (Pillow's
DecompressionBombWarning included).

    python benchmarks/memory.py                      # the shipped model, a JPEG
    python benchmarks/memory.py --format png --model models/ris-cvppp-a1.safetensors
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from leafcount.data.cvppp import read_labels
from leafcount.data.folder import read_image_size
from leafcount.model.checkpoint import find_default_model

LIMIT_MB = 1024
CARD = np.array([[200, 40, 40], [40, 40, 200], [230, 230, 230]], np.uint8)


def write_photo(path: Path, height: int, width: int) -> None:
    """Soil with grain, a rosette of elliptic leaves and a colour card, drawn band by band."""
    photo = np.empty((height, width, 3), np.uint8)
    rng = np.random.default_rng(0)
    cy, cx, radius = height / 2, width / 2, min(height, width) / 4
    cols = np.arange(width)
    for top in range(0, height, 500):
        rows = np.arange(top, min(top + 500, height))[:, None]
        band = photo[top : top + len(rows)]
        band[:] = (110, 80, 50)
        band += rng.integers(0, 20, band.shape, dtype=np.uint8)
        angle, distance = np.arctan2(rows - cy, cols - cx), np.hypot(rows - cy, cols - cx)
        leaf = distance < radius * (0.55 + 0.45 * np.abs(np.cos(4 * angle)))  # eight leaves
        band[leaf] = (50, 150, 55)
        card = (rows < height // 8) & (cols < width // 6)
        patch = np.broadcast_to((cols // 300) % 3, card.shape)  # red, blue and white patches side by side
        band[card] = CARD[patch[card]]
    Image.fromarray(photo).save(path, **({"quality": 90} if path.suffix == ".jpg" else {"compress_level": 1}))


# The child reads its own high-water mark: a child's ru_maxrss also counts the pages of the
# parent it was forked from (here, the photo this script drew), so it cannot be trusted.
# An exit handler: the leafcount command leaves through its exit handlers and os._exit (cli.run),
# which no ``finally`` here would see.
_MEASURED = """
import atexit, runpy, sys

def report():
    with open("/proc/self/status") as f:
        print("VmHWM", next(line.split()[1] for line in f if line.startswith("VmHWM:")), file=sys.stderr)
    sys.stderr.flush()

atexit.register(report)
sys.argv = sys.argv[1:]  # [module, *argv]: run_module puts the module's file first
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def peak_mb(module: str, *argv: str) -> tuple[float, float, int]:
    """Run ``python -m module argv``; its peak resident memory in MB, its wall time in s, its exit status."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _MEASURED, module, *argv], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = done.stderr.splitlines()
    sys.stderr.write("".join(f"{line}\n" for line in lines if not line.startswith("VmHWM ")))
    peak_kib = next(int(line.split()[1]) for line in lines if line.startswith("VmHWM "))
    return peak_kib / 1024, time.monotonic() - start, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint (default: the one in models/)")
    parser.add_argument("--format", choices=("jpeg", "png"), default="jpeg")
    parser.add_argument("--size", default="12000x9000", help="WIDTHxHEIGHT")
    args = parser.parse_args()
    model = Path(args.model) if args.model else find_default_model()
    if model is None:
        parser.error("no model in models/: pass --model")
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "in" / ("field.jpg" if args.format == "jpeg" else "field.png")
        photo.parent.mkdir()
        write_photo(photo, height, width)
        out = Path(tmp) / "out"
        baseline, _, _ = peak_mb("leafcount.cli", "segment", "--help")  # leafcount and torch imported
        peak, seconds, code = peak_mb("leafcount.cli", "-q", "segment", str(photo.parent), "--model", str(model),
                                      "--out", str(out), "--workers", "1")
        if code != 0:
            print(f"leafcount segment failed (exit {code})", file=sys.stderr)
            return 1
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            labels = read_labels(out / "field_label.png")
        assert labels.shape == (height, width) == read_image_size(photo)
        print(f"{width} x {height} {args.format.upper()} ({photo.stat().st_size / 1e6:.0f} MB), model {model.name}: "
              f"peak {peak:.0f} MB in {seconds:.0f} s (leafcount and torch imported: {baseline:.0f} MB); "
              f"label PNG {width} x {height} reopened without a warning, {len(np.unique(labels)) - 1} leaves")
        return 0 if peak < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
