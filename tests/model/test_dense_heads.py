"""Full-resolution foreground/boundary heads: shapes, ImageNet start, their
place in checkpoints and decoding, and a trainer that trains them alone."""

import numpy as np
import pytest
import torch

from leafcount.data.augment import AugmentConfig
from leafcount.data.synth import make_rosette
from leafcount.errors import ConfigError
from leafcount.inference.passes import all_steps
from leafcount.inference.segment import SegmentConfig, decode_steps, dense_maps, segment_steps
from leafcount.model.checkpoint import load_checkpoint, save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.dense import FullResolutionHeads
from leafcount.model.efficientnet_lite import EfficientNetLite0, imagenet_weights_path, load_imagenet_weights
from leafcount.model.ris import RIS, build_ris
from leafcount.resize import letterbox
from leafcount.train import TrainConfig, Trainer, fit_pair
from leafcount.model.loss import dense_loss
from leafcount.train_dense import CROP, DenseTrainer, dense_targets, random_crop, with_dense_heads

TINY_DENSE = ModelConfig.from_dict({**ModelConfig.tiny().to_dict(), "dense_input_size": [64, 64]})


def test_a_truncated_backbone_keeps_the_imagenet_weights_of_its_blocks():
    model = EfficientNetLite0(classifier=False, levels=4)
    load_imagenet_weights(model)  # strict=True on what the truncated model keeps
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    assert len(model._blocks) == 11
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    maps = model.features(torch.zeros(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == [16, 24, 40, 112]
    with pytest.raises(ValueError):
        EfficientNetLite0(classifier=True, levels=4)


@pytest.mark.parametrize("size", [(64, 64), (61, 90)])
def test_the_heads_answer_every_input_pixel(size):
    heads = FullResolutionHeads().eval()
    with torch.inference_mode():
        out = heads(torch.rand(2, 3, *size))
    assert out.shape == (2, 2, *size)
    assert torch.isfinite(out).all()


def test_the_config_round_trips_and_checks_the_size(tmp_path):
    assert ModelConfig.from_dict(TINY_DENSE.to_dict()) == TINY_DENSE
    assert TINY_DENSE.dense_input_size == (64, 64)
    assert ModelConfig.from_dict(ModelConfig.tiny().to_dict()).dense_input_size is None
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({**ModelConfig.tiny().to_dict(), "dense_input_size": [8, 8]})
    model = RIS(TINY_DENSE)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model)
    loaded, info = load_checkpoint(path)
    assert info.config == TINY_DENSE
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_adding_heads_keeps_every_other_weight():
    torch.manual_seed(0)
    base = build_ris(ModelConfig.tiny())
    grown = with_dense_heads(base, (64, 64), pretrained=False)
    assert grown.config.dense_input_size == (64, 64)
    for key, value in base.state_dict().items():
        assert torch.equal(grown.state_dict()[key], value), key
    assert any(key.startswith("dense.") for key in grown.state_dict())


def test_steps_carry_the_full_resolution_maps_of_the_image(rng):
    torch.manual_seed(0)
    model = RIS(TINY_DENSE).eval()
    image, _ = make_rosette(rng, shape=(50, 70), n_leaves=4)
    steps = list(segment_steps(model, image, SegmentConfig(max_steps=3, stop_floor=0.0)))
    fitted, box = letterbox(image.astype(np.float32), (64, 64))
    assert steps[0].foreground.shape == (box.height, box.width) == (46, 64)  # the heads' size, the image's aspect
    assert steps[0].mask.shape != steps[0].foreground.shape  # the masks stay at the network's resolution
    assert all(s.boundary is steps[0].boundary for s in steps)
    with torch.inference_mode():
        expected = torch.sigmoid(model.dense(torch.from_numpy(np.ascontiguousarray(fitted.transpose(2, 0, 1)))[None]))
    np.testing.assert_allclose(steps[0].foreground, box.crop(expected[0, 0].numpy()), atol=1e-5)
    fg, *_ = dense_maps(model, image)
    np.testing.assert_allclose(fg, steps[0].foreground, atol=1e-6)
    mirrored = all_steps(model, image, SegmentConfig(max_steps=3, stop_floor=0.0, dense_flips=2))
    assert mirrored[0].foreground.shape == (46, 64)
    assert not np.allclose(mirrored[0].foreground, steps[0].foreground)
    grown = decode_steps(steps, image.shape[:2], SegmentConfig(assignment="grow", stop_threshold=0.0))
    assert grown.shape == (50, 70)


def test_targets_mark_the_plant_and_the_edges_inside_each_leaf():
    labels = np.zeros((8, 10), dtype=np.int32)
    labels[2:6, 1:5] = 1
    labels[2:6, 5:9] = 2
    target = dense_targets(labels).numpy()
    np.testing.assert_array_equal(target[0], labels > 0)
    assert target[1, 3, 4] == 1 and target[1, 3, 5] == 1  # both sides of the touching edge
    assert target[1, 3, 2] == 0 and target[1, 0, 0] == 0
    assert float(dense_loss(torch.full((1, 2, 8, 10), -20.0), torch.from_numpy(target)[None])) > 1.0


def test_a_crop_is_a_window_of_both_arrays(rng):
    image = rng.random((300, 280, 3)).astype(np.float32)
    labels = np.arange(300 * 280, dtype=np.int32).reshape(300, 280)
    crop, crop_labels = random_crop(image, labels, CROP, rng)
    assert crop.shape == (CROP, CROP, 3)
    top, left = divmod(int(crop_labels[0, 0]), 280)
    np.testing.assert_array_equal(crop, image[top : top + CROP, left : left + CROP])
    small, _ = random_crop(image[:100], labels[:100], CROP, rng)
    assert small.shape == (100, CROP, 3)


def test_the_dense_trainer_trains_the_heads_and_nothing_else(rng, one_torch_thread):
    torch.manual_seed(0)
    model = with_dense_heads(build_ris(ModelConfig.tiny()), (64, 64), pretrained=False)
    pairs = [fit_pair(f"p{i}", *make_rosette(rng, shape=(64, 64), n_leaves=4), (64, 64)) for i in range(3)]
    config = TrainConfig(lr=3e-3, val_assignment="grow", augment=AugmentConfig(rotate="right_angles"))
    trainer = DenseTrainer(model, pairs, pairs[:1], config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = trainer.validate()["loss"]
    for _ in range(25):
        trainer.train_step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("dense.") for k in changed)
    assert not any(k.startswith("dense.backbone._bn") and "running" in k for k in changed)  # BN stays ImageNet's
    assert trainer.validate()["loss"] < first
    # The RIS trainer leaves the heads alone.
    ris_trainer = Trainer(model, pairs, (), TrainConfig())
    trained = {id(p) for group in ris_trainer.optimizer.param_groups for p in group["params"]}
    assert not trained & {id(p) for p in model.dense.parameters()}
    assert trained


def test_the_dense_trainer_needs_the_heads(rng):
    pairs = [fit_pair("p", *make_rosette(rng, shape=(64, 64), n_leaves=4), (64, 64))]
    with pytest.raises(ConfigError):
        DenseTrainer(build_ris(ModelConfig.tiny()), pairs, (), TrainConfig())


def test_train_dense_heads_from_the_command_line(tmp_path, model_path, one_torch_thread, capsys):
    from leafcount.cli import main
    from leafcount.data.synth import write_synth_folder

    data = tmp_path / "data"
    write_synth_folder(data, 3, shape=(64, 64))
    out = tmp_path / "dense.safetensors"
    args = ["train", "--data", str(data), "--dense-heads", "64x64", "--iterations", "3", "--val-every", "2",
            "--val-assignment", "grow", "--no-imagenet", "--out", str(out), "-q"]
    assert main(args) != 0
    assert "--init" in capsys.readouterr().err
    assert main([*args, "--init", str(model_path)]) == 0
    model, info = load_checkpoint(out)
    parent, _ = load_checkpoint(model_path)
    assert info.config.dense_input_size == (64, 64)
    for key, value in parent.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert main([*args, "--init", str(model_path), "--resume", "--iterations", "5"]) == 0
    from leafcount.model.checkpoint import load_tensors
    from leafcount.train import resume_path

    assert load_tensors(resume_path(out))[1]["iteration"] == 5  # the resumed run went on from 3
