"""Property tests: whatever bytes or arrays come in, only leafcount's own errors come out.

Random bytes alone rarely get past a format's first check, so the files are
also valid PNG, JPEG, TIFF and checkpoint files with bytes overwritten and
the end cut off at random places.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from leafcount.analysis.metrics import count_leaves, score_image, symmetric_best_dice
from leafcount.data.cvppp import read_labels, write_labels
from leafcount.data.folder import DEFAULT_MAX_PIXELS, read_image, read_image_size
from leafcount.errors import ConfigError, LabelFormatError, LeafcountError
from leafcount.inference.segment import SegmentConfig, Step, decode_steps
from leafcount.model.checkpoint import load_checkpoint, save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris

# Pillow and tifffile warn about odd files; a warning is fine, an exception is not.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _valid_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    ids = rng.integers(0, 4, (12, 10), dtype=np.uint8)
    palette = Image.fromarray(ids)
    palette.putpalette(bytes(range(256)) * 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotated camera photo
    tiff = io.BytesIO()
    tifffile.imwrite(tiff, (rgb.astype(np.uint16) * 257), photometric="rgb")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        save_checkpoint(Path(folder) / "c.safetensors", build_ris(ModelConfig.tiny()))
        checkpoint = (Path(folder) / "c.safetensors").read_bytes()
    return {
        "png": _encoded(Image.fromarray(rgb), "PNG"),
        "palette-png": _encoded(palette, "PNG"),
        "grey16-png": _encoded(Image.fromarray(ids.astype(np.uint16) * 300), "PNG"),
        "jpeg": _encoded(Image.fromarray(rgb), "JPEG", exif=exif),
        "tiff": tiff.getvalue(),
        "lzw-tiff": _encoded(Image.fromarray(rgb), "TIFF", compression="tiff_lzw"),
        "checkpoint": checkpoint,
    }


VALID = _valid_files()
MAGICS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"II+\x00", b"GIF89a", b"BM",
          b"\x80\x04", b"PK\x03\x04", b"\x10\x00\x00\x00\x00\x00\x00\x00{"]


@st.composite
def _damaged(draw, kind: str | None = None) -> bytes:
    """A valid file of ``kind`` (or any) with a few bytes overwritten, maybe cut short."""
    data = bytearray(VALID[kind] if kind else draw(st.sampled_from(sorted(VALID.values()))))
    # Headers hold the interesting structure: most changes land in the first 600 bytes.
    where = st.one_of(st.integers(0, min(600, len(data) - 1)), st.integers(0, len(data) - 1))
    for position, value in draw(st.lists(st.tuples(where, st.integers(0, 255)), max_size=6)):
        data[position] = value
    return bytes(data[: draw(st.one_of(st.just(len(data)), st.integers(0, len(data))))])


def _file_bytes(kind: str | None = None):
    return st.one_of(
        st.binary(max_size=400),
        st.builds(bytes.__add__, st.sampled_from(MAGICS), st.binary(max_size=400)),
        _damaged(kind),
    )


def _only_our_errors(call, *args):
    """``call(*args)``, or None when it raised one of our errors (any other escapes)."""
    try:
        return call(*args)
    except LeafcountError:
        return None


@FUZZ
@given(data=_file_bytes(), suffix=st.sampled_from([".png", ".jpg", ".tif"]))
def test_image_readers_raise_only_our_errors(tmp_path, data, suffix):
    path = tmp_path / f"photo{suffix}"
    path.write_bytes(data)
    image = _only_our_errors(read_image, path)
    size = _only_our_errors(read_image_size, path)
    labels = _only_our_errors(read_labels, path)
    if image is not None and size[0] * size[1] <= DEFAULT_MAX_PIXELS:  # what reads is what the header says
        assert size == image.shape[:2]
    elif image is not None:  # a header claiming more pixels than the limit: read box-averaged under it
        assert image.shape[0] * image.shape[1] <= DEFAULT_MAX_PIXELS
        assert all(0 < got <= claimed for got, claimed in zip(image.shape[:2], size))
    if labels is not None:
        assert labels.ndim == 2 and labels.dtype == np.int32 and labels.min() >= 0 and labels.size


@FUZZ
@given(data=_file_bytes())
def test_images_that_read_are_float_rgb_in_range(tmp_path, data):
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    try:
        image = read_image(path)
    except LeafcountError:
        return
    assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3 and image.size
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1


@FUZZ
@given(data=_file_bytes("checkpoint"))
def test_checkpoint_loader_raises_only_our_errors(tmp_path, data):
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    _only_our_errors(load_checkpoint, path)


# --- arrays ----------------------------------------------------------------------------------

_DTYPES = st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes())
_SHAPES = st.one_of(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
                    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12))


def _arrays(shape=_SHAPES):
    return hnp.arrays(_DTYPES, shape)


@FUZZ
@given(labels=_arrays())
def test_count_leaves_raises_only_our_errors(labels):
    try:
        count = count_leaves(labels)
    except LeafcountError:
        return
    assert count == len(set(labels.ravel().tolist()) - {0})


@FUZZ
@given(pred=_arrays(), truth=_arrays())
def test_scores_raise_only_our_errors(pred, truth):
    scores = _only_our_errors(score_image, pred, truth, "x")
    sbd = _only_our_errors(symmetric_best_dice, pred, truth)
    if scores is not None:  # CVPPP's ranges and counting
        assert 0.0 <= scores.sbd <= 1.0 and 0.0 <= scores.fbd <= 1.0
        assert scores.dic == scores.count_pred - scores.count_true and scores.abs_dic == abs(scores.dic)
        assert scores.count_pred == count_leaves(pred) and scores.count_true == count_leaves(truth)
    if sbd is not None:
        assert 0.0 <= sbd <= 1.0 and sbd == pytest.approx(symmetric_best_dice(truth, pred))


@FUZZ
@given(labels=st.one_of(_arrays(), hnp.arrays(st.sampled_from([np.int32, np.uint16, np.int64]),
                                               hnp.array_shapes(min_dims=2, max_dims=2, max_side=8))))
def test_write_labels_raises_only_our_errors_and_round_trips(tmp_path, labels):
    path = tmp_path / "x_label.png"
    try:
        write_labels(path, labels)
    except LeafcountError:
        return
    np.testing.assert_array_equal(read_labels(path), labels)


@st.composite
def _steps(draw) -> list[Step]:
    steps = []
    for index in range(draw(st.integers(0, 4))):
        mask = draw(_arrays(st.one_of(_SHAPES, hnp.array_shapes(min_dims=2, max_dims=2, max_side=8))))
        score = draw(st.floats(allow_nan=True, allow_infinity=True))
        steps.append(Step(index, mask, score, np.zeros((1, 1), np.float32)))
    return steps


@FUZZ
@given(steps=_steps(),
       shape=st.tuples(st.integers(-2, 9), st.integers(-2, 9)),
       config=st.builds(SegmentConfig, mask_threshold=st.floats(0, 1), stop_threshold=st.floats(0, 1),
                        assignment=st.sampled_from(["first", "argmax"])))
def test_decode_steps_raises_only_our_errors(steps, shape, config):
    try:
        labels = decode_steps(steps, shape, config)
    except LeafcountError:
        return
    assert labels.shape == shape and labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() <= len(steps)


@pytest.mark.parametrize("shape", [(0, 4), (3, -1), (2,), (2, 2.5)])
def test_decode_steps_names_a_bad_image_shape(shape):
    with pytest.raises(ConfigError, match=r"image_shape must be \(H, W\) with H, W >= 1"):
        decode_steps([], shape)


@pytest.mark.parametrize("mask", [np.float32(0.5), np.zeros(3), np.zeros((0, 2)), np.zeros((2, 2, 2))])
def test_decode_steps_names_a_step_with_a_bad_mask(mask):
    step = Step(4, mask, 0.9, np.zeros((1, 1), np.float32))
    with pytest.raises(LabelFormatError, match=r"step 4: the mask must be a non-empty 2-D array, got shape"):
        decode_steps([step], (2, 2))
