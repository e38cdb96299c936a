"""Full-resolution heads that read the recurrent encoder's context: the setting, the maps they
give in inference, distilling them from heads with their own backbone, and fine-tuning around them."""

import numpy as np
import pytest
import torch

from leafcount.data.augment import AugmentConfig
from leafcount.data.synth import make_rosette, write_synth_folder
from leafcount.distill_heads import HeadsDistiller, distillation_loss, least_squares, neighbourhoods, with_context_heads
from leafcount import distill_heads
from leafcount.errors import ConfigError
from leafcount.inference.segment import SegmentConfig, dense_maps, image_to_tensor, segment_steps
from leafcount.model import kernels
from leafcount.model.checkpoint import load_checkpoint, save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import RIS
from leafcount.train import TrainConfig, Trainer, fit_pair
from leafcount.train_dense import DenseTrainer

SMALL = {**ModelConfig.lite0().to_dict(), "input_size": [48, 56], "dense_input_size": [96, 112], "dense_centres": True}
OWN = ModelConfig.from_dict(SMALL)
CONTEXT = ModelConfig.from_dict({**SMALL, "dense_context": True})
NO_AUGMENT = AugmentConfig(p_flip=0.0, p_rotate=0.0, scale_range=(1.0, 1.0), brightness=0.0, contrast=0.0,
                           saturation=0.0, hue=0.0)


def _model(config: ModelConfig, seed: int = 0) -> RIS:
    torch.manual_seed(seed)
    return RIS(config).eval()


def _run_steps(model: RIS, image: np.ndarray):
    run = segment_steps(model, image, SegmentConfig(max_steps=2, stop_floor=0.0), dense_last=True)
    while True:
        try:
            next(run)
        except StopIteration as end:
            return end.value


def test_context_heads_need_the_lite0_encoder_at_half_their_input():
    assert ModelConfig.from_dict(CONTEXT.to_dict()) == CONTEXT
    assert not OWN.dense_context
    for bad in ({**SMALL, "dense_input_size": [96, 96], "dense_context": True},
                {**ModelConfig.lite0().to_dict(), "dense_context": True},
                {**ModelConfig.tiny().to_dict(), "dense_input_size": [120, 128], "dense_context": True}):
        with pytest.raises(ConfigError):
            ModelConfig.from_dict(bad)


def test_context_heads_read_the_encoders_pyramid_and_stop_their_backbone_at_stride_8():
    model, own = _model(CONTEXT), _model(OWN)
    assert len(model.dense.backbone._blocks) == 5 and len(own.dense.backbone._blocks) == 11
    large = torch.rand(1, 3, 96, 112)
    with torch.inference_mode():
        encoded = model.encode(torch.rand(1, 3, 48, 56), aux=False)
        other = model.encode(torch.rand(1, 3, 48, 56), aux=False)
        assert encoded.context.shape == (1, CONTEXT.encoder_channels, 6, 7)
        logits = model.dense_logits(large, encoded)
        assert logits.shape == (1, 3, 96, 112)
        assert not torch.allclose(model.dense_logits(large, other), logits)  # the context is read
        assert own.encode(torch.rand(1, 3, 48, 56)).context is None
        assert own.dense_logits(large, None).shape == (1, 3, 96, 112)
        with pytest.raises(ValueError):
            model.dense_logits(large, None)
        with pytest.raises(ValueError):
            own.dense(large, encoded.context)


def test_the_maps_of_a_pass_are_the_maps_of_the_image(rng):
    model = _model(CONTEXT)
    image = rng.random((90, 101, 3)).astype(np.float32)
    from_steps = _run_steps(model, image)
    alone = dense_maps(model, image)
    for a, b in zip(from_steps, alone):
        assert a.ndim == 2 and a.size > 0
        np.testing.assert_array_equal(a, b)
    kernels.ENABLED = False
    try:
        plain = dense_maps(model, image)
    finally:
        kernels.ENABLED = True
    for a, b in zip(plain, alone):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_checkpoint_keeps_context_heads(tmp_path, rng):
    model = _model(CONTEXT)
    path = tmp_path / "context.safetensors"
    save_checkpoint(path, model)
    loaded, info = load_checkpoint(path)
    assert info.config == CONTEXT
    image = rng.random((96, 112, 3)).astype(np.float32)
    for a, b in zip(dense_maps(model, image), dense_maps(loaded, image)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_distilled_heads_start_from_the_teachers_weights_and_a_fitted_context(rng, monkeypatch):
    teacher = _model(OWN)
    images = [rng.random((96, 112, 3)).astype(np.float32) for _ in range(3)]
    fits = []
    monkeypatch.setattr(distill_heads, "least_squares", lambda x, y: fits.append(least_squares(x, y)) or fits[-1])
    student = with_context_heads(teacher, images)
    assert len(fits) == 1
    assert student.config == CONTEXT
    old = teacher.state_dict()
    for key, value in student.state_dict().items():  # BatchNorm statistics included: built in eval mode
        if not key.startswith("dense.context."):
            assert torch.equal(value, old[key]), key
    # The context branch starts as the fitted linear map of each pixel's 3x3 neighbourhood.
    weight, bias = fits[0]
    with torch.inference_mode():
        small, _ = image_to_tensor(images[0], CONTEXT.input_size, CONTEXT.output_stride)
        level = student.encode(small, aux=False).context
        mapped = student.dense.context(level)[0].flatten(1).t()
    torch.testing.assert_close(mapped, neighbourhoods(level) @ weight.t() + bias, atol=1e-5, rtol=1e-4)
    with pytest.raises(ConfigError):
        with_context_heads(student, images)
    with pytest.raises(ConfigError):
        with_context_heads(_model(ModelConfig.tiny()), images)


def test_the_context_convolution_starts_from_a_least_squares_fit():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(500, 6, generator=generator)
    weight, bias = torch.randn(4, 6, generator=generator), torch.randn(4, generator=generator)
    fitted_weight, fitted_bias = least_squares(inputs, inputs @ weight.t() + bias)
    torch.testing.assert_close(fitted_weight, weight, atol=1e-4, rtol=0)
    torch.testing.assert_close(fitted_bias, bias, atol=1e-4, rtol=0)


def test_the_distillation_loss_is_least_at_the_teachers_logits():
    torch.manual_seed(0)
    teacher = torch.randn(2, 3, 8, 9)
    logits = teacher.clone().requires_grad_(True)
    loss = distillation_loss(logits, teacher)
    loss.backward()
    assert float(logits.grad.abs().max()) < 1e-6
    assert float(distillation_loss(teacher + 0.5 * torch.randn_like(teacher), teacher)) > float(loss.detach())
    # The centre map weighs most: the same error costs more there than on the foreground.
    off = torch.zeros_like(teacher)
    off[:, 0] += 1.0
    on_foreground = distillation_loss(teacher + off, teacher)
    assert float(distillation_loss(teacher + off.roll(2, dims=1), teacher)) > float(on_foreground)


def test_distilling_trains_the_heads_alone_towards_the_teacher(rng, one_torch_thread):
    teacher_model = _model(OWN, seed=1)
    pairs = [fit_pair(f"p{i}", *make_rosette(rng, shape=(96, 112), n_leaves=4), (96, 112)) for i in range(2)]
    student = with_context_heads(teacher_model, [pair.image for pair in pairs])
    with torch.no_grad():
        student.dense.full[-1].bias += 2.0  # a start well off the teacher's maps
    teacher_before = {k: v.clone() for k, v in teacher_model.dense.state_dict().items()}
    trainer = HeadsDistiller(student, teacher_model.dense, SegmentConfig(), pairs, pairs[:1],
                             TrainConfig(lr=1e-2, augment=NO_AUGMENT))
    before = {k: v.clone() for k, v in student.state_dict().items()}
    first = trainer.validate()
    assert {"sbd", "abs_dic", "loss"} <= set(first)
    for _ in range(12):
        trainer.train_step()
    after = student.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("dense.") for k in changed)
    assert trainer.validate()["loss"] < first["loss"] - 0.1
    for key, value in teacher_model.dense.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    with pytest.raises(ConfigError):
        HeadsDistiller(teacher_model, teacher_model.dense, SegmentConfig(), pairs)
    with pytest.raises(ConfigError):
        DenseTrainer(student, pairs, (), TrainConfig())


def test_fine_tuning_keeps_the_context_the_heads_read(rng, one_torch_thread):
    model = _model(CONTEXT).train()
    pairs = [fit_pair("p", *make_rosette(rng, shape=(48, 56), n_leaves=3), (48, 56))]
    trainer = Trainer(model, pairs, (), TrainConfig(lr=1e-2))
    image = torch.from_numpy(np.ascontiguousarray(pairs[0].image.transpose(2, 0, 1)))[None]
    with torch.inference_mode():
        context = model.encode(image, aux=False).context.clone()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(2):
        trainer.train_step()
    changed = {k for k in before if not torch.equal(before[k], model.state_dict()[k])}
    assert changed and not any(k.startswith(("encoder.backbone.", "encoder.lateral.", "dense.")) for k in changed)
    with torch.inference_mode():
        torch.testing.assert_close(model.encode(image, aux=False).context, context, rtol=0, atol=0)


def test_distill_heads_from_the_command_line(tmp_path, one_torch_thread, capsys):
    from leafcount.cli import main

    data = tmp_path / "data"
    write_synth_folder(data, 3, shape=(96, 112))
    parent = tmp_path / "parent.safetensors"
    save_checkpoint(parent, _model(OWN), {"segment": {"assignment": "centres", "stop_threshold": 0.4}})
    out = tmp_path / "context.safetensors"
    args = ["train", "--data", str(data), "--distill-heads", "--iterations", "2", "--val-every", "2",
            "--out", str(out), "-q"]
    assert main(args) != 0
    assert "--init" in capsys.readouterr().err
    assert main([*args, "--init", str(parent), "--dense-heads", "96x112"]) != 0
    assert "--distill-heads" in capsys.readouterr().err
    assert main([*args, "--init", str(parent)]) == 0
    model, info = load_checkpoint(out)
    assert info.config.dense_context
    assert info.meta["segment"]["assignment"] == "centres"
    assert main([*args, "--init", str(out)]) != 0  # its heads already read the encoder's context
