"""Training across processes with DistributedDataParallel (gloo, CPU)."""

import os
import subprocess
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from leafcount.data.synth import make_rosette, write_synth_folder
from leafcount.model.checkpoint import load_checkpoint, load_tensors, save_tensors
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris
from leafcount.train import TrainConfig, Trainer, fit_pair


def _rank_main(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        rng = np.random.default_rng(0)
        pairs = [fit_pair(f"p{i}", *make_rosette(rng, shape=(60, 64), n_leaves=3), ModelConfig.tiny().input_size)
                 for i in range(4)]
        torch.manual_seed(0)
        trainer = Trainer(build_ris(ModelConfig.tiny()), pairs, config=TrainConfig(lr=3e-3, curriculum_start=5))
        assert trainer.distributed and trainer.rank == rank
        losses = [trainer.train_step()[0] for _ in range(60)]
        save_tensors(os.path.join(out_dir, f"rank{rank}.safetensors"), trainer.model.state_dict(),
                     {"losses": losses})
    finally:
        dist.destroy_process_group()


def test_two_ranks_stay_identical_and_learn(tmp_path):
    mp.spawn(_rank_main, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    w0, h0 = load_tensors(tmp_path / "rank0.safetensors")
    w1, h1 = load_tensors(tmp_path / "rank1.safetensors")
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key
    assert h0["losses"] != h1["losses"]  # each rank drew its own images
    for losses in (h0["losses"], h1["losses"]):
        assert np.mean(losses[-15:]) < np.mean(losses[:15])


def test_torchrun_launch(tmp_path):
    data = tmp_path / "data"
    write_synth_folder(data, 4, seed=1, shape=(60, 64))
    out = tmp_path / "m.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "leafcount.train", "-q", "--data", str(data), "--arch", "tiny", "--iterations", "8",
           "--val-every", "4", "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    _, info = load_checkpoint(out)
    assert info.meta["training"]["iterations"] in (4, 8)
