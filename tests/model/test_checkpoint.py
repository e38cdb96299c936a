import json
import pickle
import struct

import pytest
import torch

from leafcount.errors import CheckpointError
from leafcount.model.checkpoint import (
    FORMAT_VERSION,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
    save_tensors,
)
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris


def test_round_trip_keeps_weights_config_and_meta(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, tiny_model, {"parent": "base", "metrics": {"sbd": 0.5}})
    model, info = load_checkpoint(path)
    assert info.config == tiny_model.config
    assert info.meta["parent"] == "base" and info.meta["metrics"] == {"sbd": 0.5}
    assert info.meta["parameters"] > 0 and "created" in info.meta
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    assert json.loads((tmp_path / "m.json").read_text())["config"]["input_size"] == [60, 64]
    assert read_checkpoint_info(path).name == "m"


def test_truncated_file_is_refused(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, tiny_model)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="m.safetensors: .*(truncated|corrupt)"):
        load_checkpoint(path)


def test_pickle_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.safetensors"

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError, match="evil.safetensors: this is a pickle"):
        load_checkpoint(path)
    torch.save({"a": torch.zeros(1)}, tmp_path / "zip.pt")
    with pytest.raises(CheckpointError, match="zip.pt: this is a pickle"):
        load_checkpoint(tmp_path / "zip.pt")


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match="nope.safetensors: cannot read"):
        load_checkpoint(tmp_path / "nope.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(CheckpointError, match="junk.safetensors: corrupt"):
        load_checkpoint(tmp_path / "junk.safetensors")


def test_wrong_architecture_names_the_tensor(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    state = tiny_model.state_dict()
    state["confidence.linear.weight"] = torch.zeros(1, 99)
    header = {"format": "leafcount-ris", "format_version": 1, "config": tiny_model.config.to_dict(), "meta": {}}
    save_tensors(path, state, header)
    with pytest.raises(CheckpointError, match=r"confidence.linear.weight has shape \(1, 99\)"):
        load_checkpoint(path)
    other = build_ris(ModelConfig(input_size=(50, 55)))
    header["config"] = tiny_model.config.to_dict()
    save_tensors(path, other.state_dict(), header)
    with pytest.raises(CheckpointError, match=r"weights do not fit the architecture.*unexpected \[.encoder.body"):
        load_checkpoint(path)


def test_newer_format_and_foreign_files(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    header = {"format": "leafcount-ris", "format_version": FORMAT_VERSION + 1,
              "config": tiny_model.config.to_dict(), "meta": {}}
    save_tensors(path, tiny_model.state_dict(), header)
    with pytest.raises(CheckpointError, match="newer than this leafcount supports"):
        load_checkpoint(path)
    save_tensors(path, {"w": torch.zeros(2)}, {"format": "something-else"})
    with pytest.raises(CheckpointError, match="not a leafcount RIS checkpoint"):
        load_checkpoint(path)
    header = {"format": "leafcount-ris", "format_version": 1, "config": {"colour": 3}, "meta": {}}
    save_tensors(path, tiny_model.state_dict(), header)
    with pytest.raises(CheckpointError, match="invalid architecture.*colour"):
        load_checkpoint(path)


def test_header_length_beyond_file_is_truncation(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 10_000) + b"{}")
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


@pytest.mark.parametrize(("key", "value"), [("lstm_kernel", 3.0), ("lstm_channels", 20000)])
def test_hand_edited_architecture_is_refused_without_allocating(tmp_path, tiny_model, key, value):
    path = tmp_path / "m.safetensors"
    header = {"format": "leafcount-ris", "format_version": 1,
              "config": {**tiny_model.config.to_dict(), key: value}, "meta": {}}
    save_tensors(path, tiny_model.state_dict(), header)
    with pytest.raises(CheckpointError, match="m.safetensors: (invalid architecture|weight .* has shape)"):
        load_checkpoint(path)


def test_a_loaded_checkpoint_runs_channels_last_with_the_labels_of_the_plain_layout(tmp_path):
    """The faster memory order must not change what the network finds."""
    import numpy as np

    from leafcount.data.synth import make_rosette
    from leafcount.inference.passes import segment_image
    from leafcount.inference.segment import SegmentConfig, mask_at

    torch.manual_seed(3)
    config = ModelConfig.from_dict({**ModelConfig.tiny().to_dict(), "dense_input_size": [64, 64], "dense_centres": True})
    plain = build_ris(config).eval()
    save_checkpoint(tmp_path / "m.safetensors", plain)
    loaded, _ = load_checkpoint(tmp_path / "m.safetensors")
    convs = [p for p in loaded.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not all(p.is_contiguous() for p in convs)  # the order really changed
    image, _ = make_rosette(np.random.default_rng(0), shape=(80, 90), n_leaves=5)
    for assignment in ("argmax", "centres"):  # argmax: every pixel to the step with the highest y_t
        segment = SegmentConfig(assignment=assignment, stop_threshold=0.0, max_steps=6, mask_threshold=0.0)
        ours, theirs = segment_image(loaded, image, segment), segment_image(plain, image, segment)
        assert len(np.unique(theirs.labels)) >= 2
        # This untrained network's masks are nearly flat: where two steps' masks tie to float
        # rounding, argmax may pick either. Everywhere else the labels must be the same.
        masks = np.sort(np.stack([mask_at(step, image.shape) for step in theirs.steps]), axis=0)
        tie = masks[-1] - masks[-2] < 1e-6
        assert tie.mean() < 0.1  # (about 5% here: background where every mask is ~0)
        np.testing.assert_array_equal(ours.labels[~tie], theirs.labels[~tie])
        np.testing.assert_allclose(ours.steps[-1].mask, theirs.steps[-1].mask, atol=1e-5)
    save_checkpoint(tmp_path / "again.safetensors", loaded)  # saving writes contiguous copies
    again, _ = load_checkpoint(tmp_path / "again.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), plain.state_dict().values()))
