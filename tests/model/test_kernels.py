"""The fast inference kernels give the plain ops' results, and the network the plain network's labels."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from leafcount.model import kernels
from leafcount.model.pyramid import _source_index, resample, resample_concat


def _both_layouts(x):
    return x, x.contiguous(memory_format=torch.channels_last)


def test_with_autograd_on_the_kernels_are_torchs_own_ops_and_have_gradients():
    x = torch.randn(1, 3, 6, 6, requires_grad=True)
    weight = torch.randn(1, 3, 3, 3, requires_grad=True)
    out = kernels.conv3x3_to_one(x, weight) + kernels.tanh(x).sum() + kernels.pointwise_conv(x, weight[:, :, :1, :1])
    out = out + kernels.conv2d_clamped(x, weight, None, padding=1, upper=6.0)
    out = out + kernels.conv2d_add_relu(x, weight, torch.randn(1, 1, 6, 6), padding=1)
    out.sum().backward()
    assert x.grad is not None and weight.grad is not None and torch.count_nonzero(weight.grad) > 0


def test_tanh_through_sigmoid_equals_tanh():
    x = torch.linspace(-30, 30, 10001)
    with torch.no_grad():
        torch.testing.assert_close(kernels.tanh(x), torch.tanh(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("kernel", "weight_shape", "batch", "padding"), [
    (kernels.pointwise_conv, (7, 5, 1, 1), 2, 0),
    (kernels.conv3x3_to_one, (1, 16, 3, 3), 1, 1),
])
def test_each_convolution_kernel_equals_conv2d_in_either_memory_order(kernel, weight_shape, batch, padding, bias):
    torch.manual_seed(0)
    weight, b = torch.randn(weight_shape), torch.randn(weight_shape[0]) if bias else None
    for x in _both_layouts(torch.randn(batch, weight_shape[1], 13, 17)):
        with torch.no_grad():
            fast = kernel(x, weight, b)
        assert fast.shape == (batch, weight_shape[0], 13, 17)
        torch.testing.assert_close(fast, F.conv2d(x, weight, b, padding=padding), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("upper", [None, 6.0])
@pytest.mark.parametrize(("kernel", "stride", "groups"), [(3, 1, 1), (3, 2, 1), (5, 2, 8), (1, 1, 1), (3, 1, 8)])
def test_convolution_with_its_clamp_fused_equals_conv2d_then_relu(kernel, stride, groups, upper):
    torch.manual_seed(3)
    weight, bias = torch.randn(16, 8 // groups, kernel, kernel), torch.randn(16)
    for x in _both_layouts(torch.randn(2, 8, 13, 17) * 3):
        with torch.no_grad():
            fast = kernels.conv2d_clamped(x, weight, bias, stride, kernel // 2, groups, upper)
        plain = F.conv2d(x, weight, bias, stride, kernel // 2, 1, groups)
        plain = F.relu(plain) if upper is None else F.hardtanh(plain, 0.0, upper)
        assert 0 < float((plain == 0).float().mean()) < 1  # the clamp matters here
        if upper is not None:
            assert bool((plain == upper).any())
        torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


def test_convolution_plus_a_map_then_relu_fused_equals_the_plain_ops():
    torch.manual_seed(4)
    weight = torch.randn(16, 2, 3, 3)
    other = torch.randn(1, 16, 12, 15).contiguous(memory_format=torch.channels_last)
    for x in _both_layouts(torch.randn(1, 2, 12, 15)):
        with torch.no_grad():
            fast = kernels.conv2d_add_relu(x, weight, other, 1)
        torch.testing.assert_close(fast, F.relu(other + F.conv2d(x, weight, padding=1)), rtol=1e-5, atol=1e-5)


def _heads_last_layers_plain(fine, pixels, weight, bias, out_weight, out_bias):
    """The full-resolution heads' last layers as the network defines them (dense.FullResolutionHeads)."""
    height, width = pixels.shape[-2:]
    up = F.interpolate(fine, scale_factor=2.0, mode="bilinear", align_corners=False)[..., :height, :width]
    return F.conv2d(F.relu(F.conv2d(torch.cat([up, pixels], 1), weight, bias, padding=1)), out_weight, out_bias)


@pytest.mark.parametrize(("batch", "size"), [(1, (24, 30)), (2, (25, 31)), (1, (4, 5)), (1, (3, 9))])
def test_upsampled_convolution_by_phases_equals_upsampling_then_convolving(batch, size):
    torch.manual_seed(5)
    height, width = size
    fine = torch.rand(batch, 16, -(-height // 2), -(-width // 2)) * 4 - 1
    pixels = torch.rand(batch, 3, height, width)
    weight, bias = torch.randn(8, 19, 3, 3) * 0.3, torch.randn(8) * 0.1
    out_weight, out_bias = torch.randn(3, 8, 1, 1), torch.randn(3)
    plain = _heads_last_layers_plain(fine, pixels, weight, bias, out_weight, out_bias)
    for fine_in, pixels_in in zip(_both_layouts(fine), _both_layouts(pixels)):
        with torch.no_grad():
            fast = kernels.upsampled_conv_relu_conv(fine_in, pixels_in, weight, bias, out_weight, out_bias)
        assert fast.shape == (batch, 3, height, width)
        torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    if height > 3:  # the phases alone are the upsampled map's convolution inside, not on its outermost lines
        phases = F.conv2d(F.pad(fine, (1, 1, 1, 1), mode="replicate"), kernels._phase_weight(weight[:, :16]))
        rows, cols = phases.shape[-2:]
        shuffled = F.pixel_shuffle(phases.view(batch, 4, 8, rows, cols).transpose(1, 2).reshape(batch, 32, rows, cols), 2)
        up = F.interpolate(fine, scale_factor=2.0, mode="bilinear", align_corners=False)[..., :height, :width]
        difference = (shuffled[..., :height, :width] - F.conv2d(up, weight[:, :16], padding=1)).abs()
        assert float(difference[..., 1:-1, 1:-1].max()) < 1e-4
        assert float(difference[..., 0, :].max()) > 1e-2 and float(difference[..., :, -1].max()) > 1e-2


@pytest.mark.parametrize("size", [(24, 30), (25, 31)])
@pytest.mark.parametrize("block_index", [1, 3])  # the stride-2 blocks with a 3x3 and a 5x5 depthwise layer
def test_a_stride_2_block_padding_its_narrow_input_equals_the_plain_block(block_index, size, monkeypatch):
    from leafcount.model.efficientnet_lite import EfficientNetLite0

    torch.manual_seed(6)
    net = EfficientNetLite0(classifier=False, levels=3).eval()
    for module in net.modules():  # BatchNorm statistics far from 0 and 1, so a wrong border shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.bias.data.uniform_(0.5, 2)  # ReLU6(bias) > 0: the expanded padding must be zeroed again
    block = net._blocks[block_index]
    assert block._depthwise_conv.stride[0] == 2
    x = torch.randn(1, block._expand_conv.in_channels, *size).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        fast = block(x)
        monkeypatch.setattr(kernels, "ENABLED", False)
        plain = block(x)
    assert fast.shape == plain.shape == (1, block._project_conv.out_channels, -(-size[0] // 2), -(-size[1] // 2))
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


def test_conv3x3_to_one_channel_on_a_batch_falls_back_to_conv2d():
    x, weight = torch.randn(3, 4, 5, 5), torch.randn(1, 4, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(kernels.conv3x3_to_one(x, weight), F.conv2d(x, weight, padding=1))


def _resample_by_grid_sample(x, stride, size, out_stride, out_offset):
    """The same resampling through ``grid_sample`` (the implementation before the channels-last one)."""
    rows = _source_index(size[0], stride, out_stride, out_offset, x)
    cols = _source_index(size[1], stride, out_stride, out_offset, x)
    height, width = x.shape[-2:]
    rows = rows * (2.0 / (height - 1)) - 1.0 if height > 1 else torch.zeros_like(rows)
    cols = cols * (2.0 / (width - 1)) - 1.0 if width > 1 else torch.zeros_like(cols)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij")[::-1], dim=-1)[None].expand(x.shape[0], -1, -1, -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


@pytest.mark.parametrize(("stride", "size", "out_stride", "out_offset", "shape"), [
    (4, (24, 34), 2, 0.5, (6, 9)),  # up onto the stride-2 skip grid, the last row and column clamped
    (2, (12, 17), 2, 0.5, (12, 17)),  # the same size, shifted by a quarter pixel
    (8, (4, 4), 8, 3.5, (4, 5)),  # onto a cell-centred grid
    (16, (3, 1), 8, 7, (1, 1)),  # a single pixel: every output takes it
])
def test_resample_equals_grid_sample_and_comes_out_channels_last(stride, size, out_stride, out_offset, shape):
    torch.manual_seed(2)
    for x in _both_layouts(torch.randn(2, 3, *shape)):
        ours = resample(x, stride, size, out_stride, out_offset)
        assert ours.shape == (2, 3, *size)
        assert ours.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(ours, _resample_by_grid_sample(x, stride, size, out_stride, out_offset),
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("stride", "size", "out_stride", "out_offset", "shape"), [
    (4, (24, 34), 2, 0.5, (12, 17)),  # up by two onto the stride-2 skip grid, the heads' and the encoder's case
    (4, (23, 33), 2, 0.5, (12, 17)),  # an odd number of output lines: the phases differ in length
    (2, (12, 17), 2, 0.5, (12, 17)),  # the same size, shifted by a quarter pixel
    (16, (6, 8), 8, 7, (3, 4)),  # the pyramid's top-down step
    (8, (4, 4), 8, 3.5, (4, 5)),  # onto a cell-centred grid
    (3, (5, 5), 2, 0.5, (4, 4)),  # not a whole refinement: every line gathered
])
def test_resample_by_phases_equals_the_gathered_blend_exactly(stride, size, out_stride, out_offset, shape, monkeypatch):
    torch.manual_seed(7)
    x = torch.randn(1, 6, *shape).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        fast = resample(x, stride, size, out_stride, out_offset)
        together = resample_concat([(x, stride), (x[:, :2] * 3, stride)], size, out_stride, out_offset)
        monkeypatch.setattr(kernels, "ENABLED", False)
        gathered = resample(x, stride, size, out_stride, out_offset)
    assert torch.equal(fast, gathered)
    assert together.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(together, torch.cat([gathered, resample(x[:, :2] * 3, stride, size, out_stride, out_offset)], 1))


def test_the_shipped_network_with_fast_kernels_finds_the_labels_of_the_plain_ops(monkeypatch):
    from leafcount.data.synth import make_rosette
    from leafcount.inference.passes import segment_image
    from leafcount.inference.segment import SegmentConfig
    from leafcount.model.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint

    model, info = load_checkpoint(DEFAULT_MODEL_PATH)
    segment = SegmentConfig.for_checkpoint(info.meta)
    image, _ = make_rosette(np.random.default_rng(1), shape=(150, 160), n_leaves=7)
    fast = segment_image(model, image, segment)
    monkeypatch.setattr(kernels, "ENABLED", False)
    plain = segment_image(model, image, segment)
    assert len(np.unique(plain.labels)) >= 4
    np.testing.assert_array_equal(fast.labels, plain.labels)
    for ours, theirs in zip(fast.steps, plain.steps, strict=True):
        np.testing.assert_allclose(ours.mask, theirs.mask, atol=1e-4)
        np.testing.assert_allclose(ours.boundary, theirs.boundary, atol=1e-4)
        assert ours.score == pytest.approx(theirs.score, abs=1e-4)
