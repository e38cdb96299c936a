import numpy as np
import pytest

from leafcount.data.cvppp import read_labels
from leafcount.data.synth import write_synth_folder
from leafcount.inference.batch import segment_files
from leafcount.inference.segment import SegmentConfig
from leafcount.model.checkpoint import save_checkpoint

CONFIG = SegmentConfig(stop_threshold=0.3, max_steps=6)


@pytest.fixture
def job(tmp_path, tiny_model):
    images = write_synth_folder(tmp_path / "in", 3, seed=5, shape=(60, 64))
    (tmp_path / "in" / "broken.png").write_bytes(b"garbage")
    model = tmp_path / "m.safetensors"
    save_checkpoint(model, tiny_model)
    return [*images, tmp_path / "in" / "broken.png"], model, tmp_path


def _labels(folder):
    return {p.name: read_labels(p) for p in sorted(folder.glob("*_label.png"))}


def test_process_pool_gives_the_same_outputs_as_one_process(job):
    images, model, tmp = job
    single = segment_files(images, tmp / "single", model, CONFIG, workers=1)
    pooled = segment_files(images, tmp / "pool", model, CONFIG, workers=2)
    assert [o.image for o in pooled] == images  # input order, whatever finished first
    assert [o.leaf_count for o in single] == [o.leaf_count for o in pooled]
    assert single[-1].error is not None and "broken.png" in single[-1].error
    a, b = _labels(tmp / "single"), _labels(tmp / "pool")
    assert a.keys() == b.keys() and len(a) == 3
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_dask_local_cluster_gives_the_same_outputs(job):
    distributed = pytest.importorskip("distributed")
    images, model, tmp = job
    single = segment_files(images, tmp / "single", model, CONFIG, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster:
        seen = []
        remote = segment_files(images, tmp / "dask", model, CONFIG, scheduler=cluster.scheduler_address,
                               on_result=seen.append)
    assert len(seen) == 4
    assert [o.leaf_count for o in single] == [o.leaf_count for o in remote]
    a, b = _labels(tmp / "single"), _labels(tmp / "dask")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_worker_reloads_a_checkpoint_overwritten_in_place(tmp_path, tiny_model):
    import os

    import torch

    from leafcount.inference.batch import _cached_model

    path = tmp_path / "m.safetensors"
    save_checkpoint(path, tiny_model)
    first, _ = _cached_model(str(path))
    assert _cached_model(str(path))[0] is first
    with torch.no_grad():
        tiny_model.confidence.linear.bias.fill_(3.0)
    save_checkpoint(path, tiny_model)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    second, _ = _cached_model(str(path))
    assert second is not first and float(second.confidence.linear.bias) == 3.0
