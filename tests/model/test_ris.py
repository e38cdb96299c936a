import pytest
import torch

from leafcount.errors import ConfigError
from leafcount.model.config import ModelConfig
from leafcount.model.ris import ConvLSTMCell, build_ris, count_parameters, standardize


@pytest.mark.parametrize("config", [ModelConfig.tiny(), ModelConfig(input_size=(50, 55)),
                                    ModelConfig(**{**ModelConfig.paper().to_dict(), "input_size": (50, 55)})])
def test_forward_shapes_and_ranges(config):
    torch.manual_seed(0)
    model = build_ris(config)
    image = torch.rand(1, 3, *config.input_size)
    seq = model(image, 3)
    assert seq.mask_logits.shape == (1, 3, *config.output_size)
    assert seq.score_logits.shape == (1, 3)
    assert seq.kappa.shape == (1, 3, *config.grid_size)
    assert (seq.kappa >= 0).all()
    probs = torch.sigmoid(seq.mask_logits)
    assert 0 <= float(probs.min()) and float(probs.max()) <= 1
    if config.encoder == "skip":
        assert seq.aux_logits.shape == (1, 2, *config.output_size)
    else:
        assert seq.aux_logits is None


def test_initial_masks_start_near_sigmoid_minus_two():
    """The inhibition bias log(N) - 2 makes a uniform softmax give sigmoid(-2)."""
    config = ModelConfig.tiny()
    model = build_ris(config)
    with torch.no_grad():
        model.inhibition.project.weight.zero_()
        seq = model(torch.rand(1, 3, *config.input_size), 1)
    assert torch.allclose(seq.mask_logits, torch.full_like(seq.mask_logits, -2.0), atol=1e-4)


def test_recurrent_init_is_paper_uniform_and_forget_bias_one():
    model = build_ris(ModelConfig.tiny())
    cell = model.cells[0]
    assert float(cell.dynamic_conv.weight.abs().max()) <= 0.08
    hidden = cell.hidden
    assert torch.all(cell.bias[hidden : 2 * hidden] == 1)
    assert torch.all(cell.bias[:hidden] == 0)


def test_convlstm_matches_unfused_equations():
    """The fused gate conv computes eq. (1) exactly."""
    torch.manual_seed(1)
    cell = ConvLSTMCell(static_channels=3, dynamic_channels=2, hidden=4, kernel=3)
    cell.reset_parameters()
    static, dynamic = torch.rand(1, 3, 6, 7), torch.rand(1, 2, 6, 7)
    h0, c0 = torch.rand(1, 4, 6, 7), torch.rand(1, 4, 6, 7)
    h, c = cell(cell.precompute(static), dynamic, (h0, c0))
    gates = cell.static_conv(static) + cell.dynamic_conv(torch.cat([dynamic, h0], 1)) + cell.bias.view(1, -1, 1, 1)
    i, f, o, g = (gates[:, k * 4 : (k + 1) * 4] for k in range(4))
    c_ref = torch.sigmoid(f) * c0 + torch.sigmoid(i) * torch.tanh(g)
    assert torch.allclose(c, c_ref, atol=1e-6)
    assert torch.allclose(h, torch.sigmoid(o) * torch.tanh(c_ref), atol=1e-6)


def test_step_by_step_equals_unrolled_forward():
    torch.manual_seed(2)
    model = build_ris(ModelConfig.tiny()).eval()
    image = torch.rand(1, 3, *model.config.input_size)
    with torch.no_grad():
        seq = model(image, 4)
        encoded = model.encode(image)
        state, canvas = model.initial_state(encoded), model.initial_canvas(encoded)
        for t in range(4):
            out, state, canvas = model.step(encoded, state, canvas)
            assert torch.allclose(out.mask_logits, seq.mask_logits[:, t], atol=1e-5)
            assert torch.allclose(out.kappa, seq.kappa[:, t], atol=1e-5)


def test_standardize_gives_zero_mean_unit_std():
    out = standardize(torch.rand(1, 3, 20, 20) * 0.2 + 0.5)
    assert torch.allclose(out.mean(dim=(2, 3)), torch.zeros(1, 3), atol=1e-5)
    assert torch.allclose(out.std(dim=(2, 3)), torch.ones(1, 3), atol=0.03)


def test_paper_config_has_paper_numbers():
    config = ModelConfig.paper()
    assert config.input_size == (500, 530)
    assert config.grid_size == (100, 106)
    assert config.encoder_channels == config.lstm_channels == 30
    assert config.first_kernel == 9 and len(config.encoder_dilations) == 4
    assert count_parameters(build_ris(config)) < 1_000_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"encoder": "vgg"}, "encoder must be one of"), ({"lstm_channels": 0}, "lstm_channels must be >= 1"),
     ({"input_size": (2, 2)}, "input_size"), ({"lstm_kernel": 4}, "odd")],
)
def test_bad_config_is_rejected(changes, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**changes)


def test_config_dict_round_trip_and_unknown_key():
    config = ModelConfig.paper()
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown model setting.*colour"):
        ModelConfig.from_dict({**config.to_dict(), "colour": 1})


def test_mask_refinement_with_the_skip_share_precomputed_equals_one_conv_over_all_channels():
    from leafcount.model.ris import SpatialInhibition

    torch.manual_seed(0)
    head = SpatialInhibition(hidden=8, grid_cells=12, skip_channels=4, output_size=(12, 16))
    for parameter in head.parameters():
        torch.nn.init.normal_(parameter)  # the last conv starts at zero: make every term count
    h, skip, canvas = torch.randn(2, 8, 3, 4), torch.randn(2, 4, 12, 16), torch.rand(2, 1, 12, 16)
    logits = torch.log_softmax(head.project(h).view(2, -1), dim=1).view(2, 1, 3, 4) + head.threshold
    up = torch.nn.functional.interpolate(logits, size=(12, 16), mode="bilinear", align_corners=False)
    expected = (up + head.refine(torch.cat([skip, up, canvas], dim=1)))[:, 0]  # the refinement as trained
    torch.testing.assert_close(head(h, head.precompute(skip), canvas), expected, rtol=1e-5, atol=1e-5)
    assert head.precompute(None) is None
