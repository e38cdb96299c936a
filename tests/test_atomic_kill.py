"""Kill a process while it saves labels, a checkpoint and a CSV: every file on
disk must still be a complete old or a complete new version.

A helper script imports leafcount once (torch takes seconds to import) and
forks one saving child per kill; the test SIGKILLs each child after a random
delay, then compares every file with the two versions the same code wrote
before the kills began.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from leafcount.model.checkpoint import load_tensors

SAVER = r'''
import os, sys
from pathlib import Path
import numpy as np
import torch
from leafcount.atomic import write_text_atomic
from leafcount.data.cvppp import write_labels
from leafcount.model.checkpoint import save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris

torch.set_num_threads(1)  # no thread pool: forking stays safe
work, ref = Path(sys.argv[1]), Path(sys.argv[2])


def version(seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    # Big enough that a good share of each save is spent writing, not encoding.
    rows = "".join(f"plant{i:05d}_rgb.png,{count}\n" for i, count in enumerate(rng.integers(0, 20, 50000)))
    labels = np.kron(rng.integers(0, 40, (40, 50)), np.ones((10, 10), int)).astype(np.int32)
    meta = {"created": "2026-01-01T00:00:00+00:00", "seed": seed}  # fixed: model.json is the same at every save
    return labels, build_ris(ModelConfig()), meta, "image,leaf_count\n" + rows


def save(folder, labels, model, meta, text):
    write_labels(folder / "plant_label.png", labels)
    save_checkpoint(folder / "model.safetensors", model, meta)
    write_text_atomic(folder / "counts.csv", text)


old, new = version(0), version(1)
for name, payload in (("old", old), ("new", new)):
    (ref / name).mkdir(parents=True)
    save(ref / name, *payload)
save(work, *old)
print("ready", flush=True)
for _ in sys.stdin:  # one line per child to start
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                save(work, *new)
                save(work, *old)
        finally:
            os._exit(1)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
'''

BYTE_FILES = ("plant_label.png", "model.json", "counts.csv")
KILLS = 30


def _same_checkpoint(a: tuple[dict, dict], b: tuple[dict, dict]) -> bool:
    # safetensors orders its metadata keys differently at every save: compare what it holds.
    (tensors_a, header_a), (tensors_b, header_b) = a, b
    return header_a == header_b and tensors_a.keys() == tensors_b.keys() and all(
        torch.equal(tensors_a[key], tensors_b[key]) for key in tensors_a)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the saver forks its children")
def test_killed_saves_leave_old_or_new_complete_files(tmp_path):
    work, ref = tmp_path / "work", tmp_path / "ref"
    work.mkdir()
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    saver = subprocess.Popen([sys.executable, str(script), str(work), str(ref)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert saver.stdout.readline() == "ready\n"
        versions = {name: {(ref / v / name).read_bytes(): v for v in ("old", "new")} for name in BYTE_FILES}
        assert all(len(found) == 2 for found in versions.values())  # the two versions differ
        checkpoints = {v: load_tensors(ref / v / "model.safetensors") for v in ("old", "new")}
        rng = random.Random(7)
        seen = {name: set() for name in (*BYTE_FILES, "model.safetensors")}
        mid_write = 0
        for _ in range(KILLS):
            saver.stdin.write("go\n")
            saver.stdin.flush()
            child = int(saver.stdout.readline())
            time.sleep(rng.uniform(0.02, 0.3))
            os.kill(child, signal.SIGKILL)
            assert saver.stdout.readline() == "reaped\n"
            for name in BYTE_FILES:
                data = (work / name).read_bytes()
                if data not in versions[name]:
                    pytest.fail(f"{name} is neither the old nor the new version ({len(data)} bytes)")
                seen[name].add(versions[name][data])
            on_disk = load_tensors(work / "model.safetensors")  # a torn file raises CheckpointError
            matching = [v for v, saved in checkpoints.items() if _same_checkpoint(on_disk, saved)]
            assert len(matching) == 1, "model.safetensors is neither the old nor the new version"
            seen["model.safetensors"].add(matching[0])
            partial = list(work.glob(".*.partial"))  # what a kill leaves: never read, replaced next time
            mid_write += bool(partial)
            for path in partial:
                path.unlink()
    finally:
        saver.kill()
        saver.wait()
    assert all(found == {"old", "new"} for found in seen.values()), seen  # the kills caught both states
    # About a third of the kills land between opening a temporary file and renaming it.
    assert mid_write >= 3, f"only {mid_write} of {KILLS} kills landed during a write"
