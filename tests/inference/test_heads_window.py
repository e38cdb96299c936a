import dataclasses

import numpy as np
import pytest

from leafcount.inference.heads_window import EDGE, SIZE_STEP, STRIDE, cut_off, pasted, plant_window
from leafcount.errors import ConfigError
from leafcount.inference.segment import SegmentConfig, _full_resolution_maps, dense_maps, image_to_tensor, segment_steps
from leafcount.model.config import ModelConfig
from leafcount.model.ris import RIS
from leafcount.resize import Box

torch = pytest.importorskip("torch")


def test_no_plant_pixel_gives_no_window():
    foreground = np.full((20, 30), -3.0, np.float32)
    assert plant_window(foreground, Box(0, 0, 20, 30), Box(0, 0, 80, 120), (80, 120)) is None


def test_the_window_holds_the_plant_and_the_margin_on_multiples_of_the_stride():
    foreground = np.full((64, 64), -1.0, np.float32)
    foreground[20:30, 8:12] = 2.0  # the plant, on a grid at a quarter of the heads' input
    rows, cols = plant_window(foreground, Box(0, 0, 64, 64), Box(0, 0, 256, 256), (256, 256), margin=32)
    # rows 80..120 and columns 32..48 of the heads' input, 32 pixels more each way, out to multiples of 16
    # (48..160, 0..80: clipped at the input's edge), then sides of multiples of 128 (from 48 and 0)
    assert (rows.start, rows.stop) == (48, 176)
    assert (cols.start, cols.stop) == (0, 128)
    assert all(v % STRIDE == 0 for v in (rows.start, rows.stop, cols.start, cols.stop))
    assert (rows.stop - rows.start) % SIZE_STEP == 0 and (cols.stop - cols.start) % SIZE_STEP == 0


def test_a_window_near_the_edge_moves_inside_and_the_input_bounds_it():
    foreground = np.full((64, 64), -1.0, np.float32)
    foreground[60:64, 62:64] = 2.0
    rows, cols = plant_window(foreground, Box(0, 0, 64, 64), Box(0, 0, 256, 250), (256, 250), margin=0)
    assert (rows.start, rows.stop) == (128, 256)  # 240..256 grown to 128 inside the input
    assert cols.stop == 250 and cols.start % STRIDE == 0 and cols.start <= 242  # the input's side is no multiple


def test_the_window_follows_both_letterboxes():
    # The encoder's grid holds the image at rows 4..12 of 16; the heads' input at rows 16..80 of 96.
    foreground = np.full((16, 20), -1.0, np.float32)
    foreground[6, 10] = 1.0  # image row 2 of 8 -> heads' rows 16 + 2 * 8 = 32..40
    rows, cols = plant_window(foreground, Box(4, 0, 8, 20), Box(16, 0, 64, 160), (96, 160), margin=0)
    assert (rows.start, rows.stop) == (0, 96)  # 32..48 grown to 128: the whole input's 96
    assert (cols.start, cols.stop) == (32, 160)  # column 10 of 20 -> 80..88 -> 80..96 -> 32..160, inside


def test_pasted_maps_are_background_outside_the_window_and_the_letterbox_is_cut_off():
    window_maps = np.arange(2 * 32 * 16, dtype=np.float32).reshape(2, 32, 16) + 1
    heads_box = Box(8, 0, 40, 48)  # the image in rows 8..48 of the heads' input
    maps = pasted(window_maps, (slice(0, 32), slice(16, 32)), heads_box)
    assert len(maps) == 2 and maps[0].shape == (40, 48)
    np.testing.assert_array_equal(maps[1][:24, 16:32], window_maps[1, 8:32])
    assert not maps[0][24:].any() and not maps[0][:, :16].any() and not maps[0][:, 32:].any()


def _with_foreground(model, logit):
    """``model`` whose encoder calls every pixel plant (logit > 0) or none (logit < 0)."""
    with torch.no_grad():
        model.encoder.aux.weight.zero_()
        model.encoder.aux.bias.fill_(logit)
    return model


@pytest.mark.parametrize("logit", [5.0, -5.0])
def test_a_window_of_the_whole_input_or_no_plant_gives_the_whole_images_maps(rng, tiny_dense_model, logit):
    model = _with_foreground(tiny_dense_model, logit)
    image = rng.random((40, 48, 3)).astype(np.float32)
    on_plant = list(segment_steps(model, image, SegmentConfig(max_steps=2, stop_floor=0.0)))
    whole = dense_maps(model, image)
    np.testing.assert_allclose(on_plant[0].foreground, whole[0], atol=1e-6)
    np.testing.assert_allclose(on_plant[0].boundary, whole[1], atol=1e-6)


def test_a_plant_reaching_a_side_of_the_window_inside_the_input_is_cut_off():
    window = (slice(32, 96), slice(0, 64))  # rows inside a 128 x 64 input, columns its whole width
    foreground = np.zeros((64, 64), np.float32)
    foreground[20:40, 20:40] = 0.9
    assert not cut_off(foreground, window, (128, 64))
    foreground[20:40, :EDGE] = 0.9  # the input's own left side: nothing lies beyond
    assert not cut_off(foreground, window, (128, 64))
    foreground[-1, 30] = 0.9  # the window's bottom, with input rows below it
    assert cut_off(foreground, window, (128, 64))


def _tiny_with_large_heads(plant_logit):
    """A tiny RIS with 192 x 192 heads whose foreground is ``plant_logit`` everywhere."""
    torch.manual_seed(0)
    model = RIS(ModelConfig.from_dict({**ModelConfig.tiny().to_dict(), "dense_input_size": [192, 192]})).eval()
    last = model.dense.full[-1]
    with torch.no_grad():
        last.weight[0].zero_()
        last.bias[0] = plant_logit
    return model


def _plant_in_the_corner(model, image):
    """``image``'s encoding, the encoder's foreground replaced by a plant in the top left corner."""
    small, _ = image_to_tensor(image, model.config.input_size, model.config.output_stride)
    with torch.inference_mode():
        encoded = model.encode(small, aux=True)
    grid = model.config.output_size
    plant = torch.full((1, 2, *grid), -4.0)
    plant[0, 0, : grid[0] // 8, : grid[1] // 8] = 4.0
    return dataclasses.replace(encoded, aux_logits=plant)


def test_the_heads_run_again_on_the_whole_input_when_the_plant_goes_on_past_the_window(rng):
    model = _tiny_with_large_heads(8.0)  # plant everywhere: past every side of any window
    image = rng.random((192, 192, 3)).astype(np.float32)
    encoded = _plant_in_the_corner(model, image)
    seen = []
    model.dense.register_forward_hook(lambda _m, inputs, _o: seen.append(tuple(inputs[0].shape[-2:])))
    with torch.inference_mode():
        maps = _full_resolution_maps(model, image, encoded, Box(0, 0, *model.config.output_size))
        whole = dense_maps(model, image)
    assert seen[:2] == [(128, 128), (192, 192)]
    np.testing.assert_allclose(maps[1], whole[1], atol=1e-6)


def test_the_heads_run_on_the_window_only_and_the_rest_is_background(rng):
    model = _tiny_with_large_heads(-8.0)  # no plant reaches the window's sides
    image = rng.random((192, 192, 3)).astype(np.float32)
    encoded = _plant_in_the_corner(model, image)
    grid = model.config.output_size
    seen = []
    model.dense.register_forward_hook(lambda _m, inputs, _o: seen.append(tuple(inputs[0].shape[-2:])))
    with torch.inference_mode():
        maps = _full_resolution_maps(model, image, encoded, Box(0, 0, *grid))
        tensor, _ = image_to_tensor(image, model.config.dense_input_size)
        alone = torch.sigmoid(model.dense(tensor[..., :128, :128]))[0].numpy()
    assert seen[0] == (128, 128)  # 24 pixels of plant and the margin, to a side of 128: not all 192
    assert maps[2] is None  # these heads have no centre map
    for channel, seen_map in enumerate(maps[:2]):
        assert seen_map.shape == (192, 192)
        np.testing.assert_allclose(seen_map[:128, :128], alone[channel], atol=1e-6)
        assert not seen_map[128:].any() and not seen_map[:, 128:].any()


def test_off_the_heads_see_the_whole_image_and_the_steps_do_not_change(rng, tiny_dense_model):
    model = tiny_dense_model
    seen = []
    model.dense.register_forward_hook(lambda _m, inputs, _o: seen.append(tuple(inputs[0].shape[-2:])))
    image = rng.random((48, 48, 3)).astype(np.float32)
    run = SegmentConfig(max_steps=3, stop_floor=0.0)
    whole = list(segment_steps(model, image, run.replace(heads_on_plant=False)))
    on_plant = list(segment_steps(model, image, run))
    assert seen[0] == (48, 48)
    for a, b in zip(whole, on_plant):
        np.testing.assert_array_equal(a.mask, b.mask)
        assert a.score == b.score
    np.testing.assert_array_equal(whole[0].boundary, dense_maps(model, image)[1])


def test_heads_on_plant_must_be_a_flag():
    with pytest.raises(ConfigError, match="heads_on_plant"):
        SegmentConfig(heads_on_plant="yes")


def test_the_sidecar_says_where_the_heads_ran():
    from leafcount.inference.run_meta import RUN_META_SCHEMA, ModelRun, run_meta

    assert "heads_on_plant" in RUN_META_SCHEMA
    assert run_meta(ModelRun("m", SegmentConfig()))["heads_on_plant"] is True
    assert run_meta(ModelRun("m", SegmentConfig(heads_on_plant=False)))["heads_on_plant"] is False
