"""The EfficientNet-Lite0 port: TensorFlow padding, every ImageNet weight
matched by name and shape, and ImageNet classes that make sense."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leafcount.model.config import ModelConfig
from leafcount.model.efficientnet_lite import (
    FEATURE_CHANNELS,
    HEAD_KEYS,
    EfficientNetLite0,
    imagenet_weights_path,
    load_imagenet_weights,
    same_padding,
    to_lite_input,
)
from leafcount.model.ris import build_ris, count_parameters

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
WINDOW_SCREEN = 904  # ImageNet-1k: a fine mesh, as under the plants of the bundled tray photo


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(256, 3, 2) == (0, 1)
    assert same_padding(255, 3, 2) == (1, 1)
    assert same_padding(17, 5, 2) == (2, 2)
    assert same_padding(16, 5, 1) == (2, 2)
    assert same_padding(16, 1, 1) == (0, 0)


def test_the_imagenet_state_dict_loads_with_every_key_matched():
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    assert set(model.state_dict()) == set(state)
    model.load_state_dict(state, strict=True)
    assert len(state) == 296
    assert count_parameters(model) == 4_652_008


def test_the_encoder_without_classifier_loads_all_but_the_head():
    model = EfficientNetLite0(classifier=False)
    load_imagenet_weights(model)  # strict=True inside
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    left_out = set(state) - set(model.state_dict())
    assert left_out and all(key.startswith(HEAD_KEYS) for key in left_out)


def _classify(model: EfficientNetLite0, path: Path) -> torch.Tensor:
    image = Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        return model(to_lite_input(x)).softmax(dim=1)[0]


def test_the_port_reproduces_imagenet_predictions(one_torch_thread):
    """A wrong padding side, BatchNorm eps or input range turns the answer to noise."""
    model = EfficientNetLite0()
    load_imagenet_weights(model)
    probs = _classify(model.eval(), DEMO / "arabidopsis_tray.jpg")
    assert int(probs.argmax()) == WINDOW_SCREEN
    assert float(probs[WINDOW_SCREEN]) > 0.2


def test_feature_maps_have_the_documented_channels_and_strides():
    model = EfficientNetLite0(classifier=False).eval()
    with torch.inference_mode():
        maps = model.features(torch.zeros(1, 3, 64, 96))
    assert [m.shape[1] for m in maps] == list(FEATURE_CHANNELS)
    assert [tuple(m.shape[2:]) for m in maps] == [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]


def test_a_pretrained_ris_starts_from_the_imagenet_backbone():
    config = ModelConfig(**{**ModelConfig.lite0().to_dict(), "input_size": (64, 72)})
    model = build_ris(config, pretrained=True)
    reference = EfficientNetLite0(classifier=False)
    load_imagenet_weights(reference)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.encoder.backbone.state_dict()[key], value), key
    fresh = build_ris(config)
    assert not torch.equal(fresh.encoder.backbone._conv_stem.weight, reference._conv_stem.weight)


def test_batchnorm_statistics_stay_frozen_in_training():
    config = ModelConfig(**{**ModelConfig.lite0().to_dict(), "input_size": (64, 72)})
    model = build_ris(config).train()
    before = model.encoder.backbone._bn0.running_mean.clone()
    seq = model(torch.rand(1, 3, 64, 72), 2)
    assert seq.mask_logits.shape == (1, 2, *config.output_size)
    assert seq.aux_logits.shape == (1, 2, *config.output_size)
    assert torch.equal(model.encoder.backbone._bn0.running_mean, before)


def test_resampling_puts_padding_shifted_pixels_back_where_they_belong():
    """A stride-2 "SAME" conv that picks its centre tap sees input pixel 2i + 1;
    resampled onto the input grid, a ramp must come back exactly."""
    from leafcount.model.efficientnet_lite import SameConv2d
    from leafcount.model.pyramid import resample

    ramp = torch.arange(32, dtype=torch.float32).view(1, 1, 1, 32).expand(1, 1, 32, 32).contiguous()
    conv = SameConv2d(1, 1, 3, 2)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0
        picked = conv(ramp)
        back = resample(picked, 2, (32, 32), 1, 0)
        plain = torch.nn.functional.interpolate(picked, size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(picked[0, 0, 0], torch.arange(1, 32, 2, dtype=torch.float32))
    assert torch.allclose(back[0, 0, :, 1:-1], ramp[0, 0, :, 1:-1], atol=1e-5)
    assert not torch.allclose(plain[0, 0, :, 2:-2], ramp[0, 0, :, 2:-2], atol=0.25)


def test_the_recurrent_part_sees_normalised_features_whatever_the_pyramid_scale():
    """Raw pyramid values in the hundreds saturated every ConvLSTM gate."""
    config = ModelConfig(**{**ModelConfig.lite0().to_dict(), "input_size": (64, 72)})
    model = build_ris(config).eval()
    with torch.no_grad():
        for conv in model.encoder.lateral:
            conv.weight.mul_(300.0)
        encoded = model.encode(torch.rand(1, 3, 64, 72))
    assert float(encoded.features.std()) == pytest.approx(1.0, abs=0.1)
    gates = encoded.lstm_input[0]
    assert float((gates.abs() > 3).float().mean()) < 0.2


@pytest.mark.parametrize("kernel, stride, groups", [(3, 1, 1), (5, 1, 8), (3, 2, 8), (1, 1, 1)])
def test_a_folded_batchnorm_computes_what_conv_then_batchnorm_does(kernel, stride, groups):
    from leafcount.model.efficientnet_lite import SameConv2d, conv_bn, same_padding

    torch.manual_seed(0)
    conv = SameConv2d(8, 8, kernel, stride, groups)
    bn = torch.nn.BatchNorm2d(8, eps=1e-3)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(2, 8, 17, 20)
    pads = [*same_padding(20, kernel, stride), *same_padding(17, kernel, stride)]
    expected = bn(torch.nn.functional.conv2d(torch.nn.functional.pad(x, pads), conv.weight, None, stride, 0, 1, groups))
    torch.testing.assert_close(conv_bn(x, conv, bn), expected, atol=1e-5, rtol=1e-5)
    x.requires_grad_(True)
    conv_bn(x, conv, bn).sum().backward()  # every parameter still learns
    assert conv.weight.grad is not None and bn.weight.grad is not None and bn.bias.grad is not None


@pytest.mark.parametrize("kernel, stride", [(3, 2), (5, 2), (3, 1), (5, 1)])
@pytest.mark.parametrize("height, width", [(16, 16), (17, 16), (16, 19), (21, 23)])
def test_same_convolution_equals_convolving_the_explicitly_padded_input(kernel, stride, height, width):
    from leafcount.model.efficientnet_lite import SameConv2d, same_padding

    torch.manual_seed(1)
    conv = SameConv2d(4, 6, kernel, stride)
    x = torch.randn(1, 4, height, width)
    pads = [*same_padding(width, kernel, stride), *same_padding(height, kernel, stride)]
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, pads), conv.weight, None, stride)
    with torch.no_grad():
        for layout in (torch.contiguous_format, torch.channels_last):
            out = conv(x.contiguous(memory_format=layout))
            assert out.shape[-2:] == (-(-height // stride), -(-width // stride))
            torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
