import math

import numpy as np
import pytest
import torch

from leafcount.analysis.metrics import symmetric_best_dice
from leafcount.cancel import CancelToken
from leafcount.data.augment import AugmentConfig
from leafcount.data.synth import make_rosette
from leafcount.errors import Cancelled, CheckpointError, ConfigError
from leafcount.inference.passes import segment_image
from leafcount.model.checkpoint import load_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris
from leafcount.train import (
    TrainConfig,
    Trainer,
    curriculum_length,
    fit_pair,
    resume_path,
    run_training,
)

NO_AUGMENT = AugmentConfig(p_flip=0.0, p_rotate=0.0, scale_range=(1.0, 1.0), brightness=0.0,
                           contrast=0.0, saturation=0.0, hue=0.0)


def _pairs(n, seed=0, leaves=3):
    rng = np.random.default_rng(seed)
    config = ModelConfig.tiny()
    out = []
    for i in range(n):
        image, labels = make_rosette(rng, shape=(60, 64), n_leaves=leaves)
        out.append(fit_pair(f"p{i}", image, labels, config.input_size))
    return out


def test_curriculum_grows_from_start_and_caps_at_n_plus_two():
    config = TrainConfig(curriculum_start=2, curriculum_every=10)
    assert curriculum_length(0, 10, config) == 2
    assert curriculum_length(25, 10, config) == 4
    assert curriculum_length(10_000, 10, config) == 12


@pytest.mark.parametrize(("changes", "message"), [({"lr": 0}, "lr must be > 0"),
                                                  ({"lr_drop": 1.5}, "lr_drop must be in"),
                                                  ({"pixel_weight": -1}, "pixel_weight must be >= 0")])
def test_bad_train_config(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_no_training_images_is_an_error():
    with pytest.raises(ConfigError, match="no training images"):
        Trainer(build_ris(ModelConfig.tiny()), [])


def test_short_training_lowers_loss_and_raises_sbd():
    """A tiny model on two synthetic rosettes: the loss clearly falls and the
    segmentation of those rosettes gets better than at initialisation."""
    torch.manual_seed(0)
    pairs = _pairs(2, leaves=3)
    model = build_ris(ModelConfig.tiny())
    config = TrainConfig(lr=3e-3, curriculum_start=5, augment=NO_AUGMENT, seed=0)

    def sbd():
        return np.mean([symmetric_best_dice(segment_image(model, p.image).labels, p.labels) for p in pairs])

    sbd_before = sbd()
    trainer = Trainer(model, pairs, config=config)
    losses = [trainer.train_step()[0] for _ in range(300)]
    assert np.mean(losses[-30:]) < np.mean(losses[:30]) - 1.0
    assert sbd() > sbd_before + 0.2


def test_resume_continues_exactly(tmp_path):
    pairs = _pairs(2, seed=1)
    config = TrainConfig(lr=1e-3, seed=3)

    def fresh():
        torch.manual_seed(0)
        return Trainer(build_ris(ModelConfig.tiny()), pairs, config=config)

    straight = fresh()
    for _ in range(6):
        straight.train_step()
    first = fresh()
    for _ in range(3):
        first.train_step()
    first.save_state(tmp_path / "state.safetensors")
    second = fresh()
    second.load_state(tmp_path / "state.safetensors")
    assert second.iteration == 3
    for _ in range(3):
        second.train_step()
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(second.model.state_dict()[key], value, atol=1e-6), key


def test_state_of_other_architecture_is_refused(tmp_path):
    pairs = _pairs(1)
    Trainer(build_ris(ModelConfig.tiny()), pairs).save_state(tmp_path / "s.safetensors")
    other_config = ModelConfig(**{**ModelConfig.tiny().to_dict(), "lstm_channels": 6})
    other = Trainer(build_ris(other_config), pairs)
    with pytest.raises(CheckpointError, match="another architecture"):
        other.load_state(tmp_path / "s.safetensors")


def test_run_training_validates_saves_and_cancels(tmp_path):
    pairs = _pairs(3, seed=2)
    trainer = Trainer(build_ris(ModelConfig.tiny()), pairs[:2], pairs[2:], TrainConfig(val_every=5))
    events = []
    out = run_training(trainer, tmp_path / "m.safetensors", iterations=10, on_event=events.append)
    kinds = [e.kind for e in events]
    assert kinds.count("iteration") == 10 and kinds.count("validation") == 2
    val = [e for e in events if e.kind == "validation"][0]
    assert {"sbd", "abs_dic", "dic", "fbd", "loss"} <= set(val.metrics)
    _, info = load_checkpoint(out)
    assert info.meta["training"]["iterations"] in (5, 10) and "sbd" in info.meta["metrics"]
    assert resume_path(out).is_file()

    token = CancelToken()

    def stop_at_13(event):
        if event.kind == "iteration" and event.iteration == 13:
            token.set()

    with pytest.raises(Cancelled):
        run_training(trainer, out, iterations=100, on_event=stop_at_13, cancel=token)
    assert trainer.iteration == 13
    load_checkpoint(out)  # the best checkpoint is still loadable
    resumed = Trainer(build_ris(ModelConfig.tiny()), pairs[:2], pairs[2:], TrainConfig(val_every=5))
    resumed.load_state(resume_path(out))
    assert resumed.iteration == 13 and math.isfinite(resumed.best_val_loss)


def test_run_training_needs_a_budget(tmp_path):
    trainer = Trainer(build_ris(ModelConfig.tiny()), _pairs(1))
    with pytest.raises(ConfigError, match="iterations or of minutes"):
        run_training(trainer, tmp_path / "m.safetensors")


def _lite_pairs(n):
    rng = np.random.default_rng(5)
    out = []
    for i in range(n):
        image, labels = make_rosette(rng, shape=(48, 56), n_leaves=3)
        out.append(fit_pair(f"p{i}", image, labels, (48, 56)))
    return out


def _lite_model():
    torch.manual_seed(0)
    return build_ris(ModelConfig(**{**ModelConfig.lite0().to_dict(), "input_size": (48, 56)}))


def test_a_pretrained_backbone_learns_slower_and_its_first_blocks_not_at_all(tmp_path, one_torch_thread):
    model = _lite_model()
    config = TrainConfig(lr=1e-3, backbone_lr_scale=0.1, frozen_backbone_blocks=2, augment=NO_AUGMENT,
                         curriculum_start=2)
    trainer = Trainer(model, _lite_pairs(2), config=config)
    backbone = model.encoder.backbone
    frozen = [p.detach().clone() for p in (*backbone._conv_stem.parameters(), *backbone._blocks[1].parameters())]
    tuned = backbone._blocks[2]._project_conv.weight.detach().clone()
    for _ in range(2):
        trainer.train_step()
    after = [*backbone._conv_stem.parameters(), *backbone._blocks[1].parameters()]
    assert all(torch.equal(a, b) for a, b in zip(frozen, after))
    assert not torch.equal(tuned, backbone._blocks[2]._project_conv.weight)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([1e-3, 1e-4])
    trainer.set_lr(5e-4)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([5e-4, 5e-5])
    trainer.save_state(tmp_path / "state.safetensors")
    again = Trainer(_lite_model(), _lite_pairs(2), config=config)
    again.load_state(tmp_path / "state.safetensors")
    assert [g["lr"] for g in again.optimizer.param_groups] == pytest.approx([5e-4, 5e-5])
    assert again.iteration == 2


def test_bad_backbone_settings_are_refused():
    with pytest.raises(ConfigError, match="backbone_lr_scale"):
        TrainConfig(backbone_lr_scale=0)
    with pytest.raises(ConfigError, match="val_assignment"):
        TrainConfig(val_assignment="nearest")
