"""Tests for leafcount.data.cvppp: label PNGs, names and the CVPPP folder layout."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leafcount.data import cvppp
from leafcount.data.cvppp import (
    Sample,
    image_stem,
    label_colors,
    label_path_for,
    list_samples,
    load_pair,
    load_split,
    read_labels,
    relabel_consecutive,
    write_labels,
)
from leafcount.errors import (
    ConfigError,
    EmptyFolderError,
    ImageReadError,
    LabelFormatError,
    LeafcountError,
)


def _labels() -> np.ndarray:
    labels = np.zeros((6, 7), dtype=np.int32)
    labels[1:3, 1:4] = 3
    labels[4:, 5:] = 200
    labels[0, 6] = 1
    return labels


def test_doctests_pass():
    assert doctest.testmod(cvppp).failed == 0


# --- write_labels / read_labels -------------------------------------------------


def test_round_trip_as_cvppp_palette_png(tmp_path):
    path = tmp_path / "plant001_label.png"
    write_labels(path, _labels())
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "P"
        palette = np.array(img.getpalette()[: 3 * 256], dtype=np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(palette, label_colors(255))
    labels = read_labels(path)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, _labels())  # ids kept, not relabelled


def test_more_than_255_leaves_gives_16_bit_png(tmp_path):
    labels = np.arange(30 * 20, dtype=np.int64).reshape(30, 20)
    write_labels(tmp_path / "many.png", labels)
    with Image.open(tmp_path / "many.png") as img:
        assert img.mode == "I;16"
    np.testing.assert_array_equal(read_labels(tmp_path / "many.png"), labels)


def test_write_replaces_an_existing_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "x_label.png"
    write_labels(path, np.ones((3, 3), np.uint8))
    write_labels(path, _labels())
    np.testing.assert_array_equal(read_labels(path), _labels())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_label.png"]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros((2, 3, 3), np.int32), r"non-empty 2-D array, got shape \(2, 3, 3\)"),
        (np.zeros((0, 4), np.int32), r"non-empty 2-D array, got shape \(0, 4\)"),
        (np.zeros((2, 2), np.float32), "must be integers, got dtype float32"),
        (np.zeros((2, 2), bool), "must be integers, got dtype bool"),
        (np.array([[0, -1]]), "must be >= 0, found -1"),
        (np.array([[0, 70000]]), "must be <= 65535, found 70000"),
    ],
)
def test_write_labels_rejects_bad_arrays(tmp_path, labels, message):
    with pytest.raises(LabelFormatError, match=f"bad_label.png: labels? .*{message}"):
        write_labels(tmp_path / "bad_label.png", labels)
    assert not (tmp_path / "bad_label.png").exists()


def test_write_labels_into_missing_folder(tmp_path):
    with pytest.raises(LeafcountError, match="a_label.png: could not write the file"):
        write_labels(tmp_path / "missing" / "a_label.png", _labels())


def test_read_grayscale_label_pngs(tmp_path):
    ids = np.array([[0, 1], [2, 7]])
    Image.fromarray(ids.astype(np.uint8)).save(tmp_path / "l8.png")
    Image.fromarray((ids * 1000).astype(np.uint16)).save(tmp_path / "l16.png")
    np.testing.assert_array_equal(read_labels(tmp_path / "l8.png"), ids)
    np.testing.assert_array_equal(read_labels(tmp_path / "l16.png"), ids * 1000)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_read_colour_label_image_is_refused(tmp_path, mode):
    Image.new(mode, (3, 2)).save(tmp_path / "plant012_label.png")
    with pytest.raises(
        LabelFormatError,
        match=f"plant012_label.png: expected a palette or grayscale label PNG, found mode {mode}",
    ):
        read_labels(tmp_path / "plant012_label.png")


def test_read_missing_label_file(tmp_path):
    with pytest.raises(LabelFormatError, match="gone_label.png: label file not found"):
        read_labels(tmp_path / "gone_label.png")


def test_read_broken_label_file(tmp_path):
    (tmp_path / "broken_label.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(LabelFormatError, match="broken_label.png: cannot read the label image"):
        read_labels(tmp_path / "broken_label.png")


def test_read_negative_labels_is_refused(tmp_path):
    Image.fromarray(np.array([[0, -3]], dtype=np.int32)).save(tmp_path / "neg.tif")
    with pytest.raises(LabelFormatError, match="neg.tif: label ids must be >= 0, found -3"):
        read_labels(tmp_path / "neg.tif")


# --- relabel_consecutive / label_colors ---------------------------------------------


def test_relabel_keeps_background_and_order():
    labels = np.array([[5, 0, 5], [0, 9, 2]])
    relabelled = relabel_consecutive(labels)
    assert relabelled.dtype == np.int32
    np.testing.assert_array_equal(relabelled, [[2, 0, 2], [0, 3, 1]])


def test_relabel_without_background_and_already_consecutive():
    np.testing.assert_array_equal(relabel_consecutive(np.array([[4, 8]])), [[1, 2]])
    consecutive = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(relabel_consecutive(consecutive), consecutive)
    np.testing.assert_array_equal(relabel_consecutive(np.zeros((2, 2), int)), np.zeros((2, 2)))


def test_label_colors_black_background_distinct_and_stable():
    colors = label_colors(255)
    assert colors.shape == (256, 3) and colors.dtype == np.uint8
    np.testing.assert_array_equal(colors[0], [0, 0, 0])
    assert len({tuple(c) for c in colors}) == 256
    assert colors[1:].max(axis=1).min() >= 150  # no leaf colour near black
    np.testing.assert_array_equal(label_colors(10), colors[:11])
    steps = np.abs(np.diff(colors[1:].astype(int), axis=0)).sum(axis=1)
    assert steps.min() >= 100  # neighbouring ids look different


def test_label_colors_zero_and_negative():
    np.testing.assert_array_equal(label_colors(0), [[0, 0, 0]])
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        label_colors(-1)


# --- names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "stem", "label"),
    [
        ("plant001_rgb.png", "plant001", "plant001_label.png"),
        ("photo.jpg", "photo", "photo_label.png"),
        ("my plant é.tif", "my plant é", "my plant é_label.png"),
        ("_rgb.png", "_rgb", "_rgb_label.png"),
    ],
)
def test_image_stem_and_label_path(tmp_path, image, stem, label):
    assert image_stem(tmp_path / image) == stem
    assert label_path_for(tmp_path / image) == tmp_path / label
    assert label_path_for(tmp_path / image, out_dir=tmp_path / "out") == tmp_path / "out" / label


# --- folders --------------------------------------------------------------------


def _cvppp_folder(root: Path) -> Path:
    image = np.zeros((4, 5, 3), np.uint8)
    for name in ("plant002_rgb.png", "plant001_rgb.png", "extra photo.jpg"):
        Image.fromarray(image).save(root / name)
    write_labels(root / "plant001_label.png", np.ones((4, 5), np.int32))
    write_labels(root / "extra photo_label.png", np.ones((4, 5), np.int32))
    Image.fromarray(np.ones((4, 5), bool)).save(root / "plant001_fg.png")
    return root


def test_list_samples_pairs_images_with_labels(tmp_path):
    samples = list_samples(_cvppp_folder(tmp_path))
    assert [s.name for s in samples] == ["extra photo", "plant001", "plant002"]
    assert samples[0].label_path == tmp_path / "extra photo_label.png"
    assert samples[1] == Sample(
        "plant001", tmp_path / "plant001_rgb.png", tmp_path / "plant001_label.png"
    )
    assert samples[2].label_path is None


def test_list_samples_of_empty_folder(tmp_path):
    with pytest.raises(EmptyFolderError, match="no images"):
        list_samples(tmp_path)


def test_load_pair_reads_both(tmp_path):
    sample = list_samples(_cvppp_folder(tmp_path))[1]
    image, labels = load_pair(sample)
    assert image.shape == (4, 5, 3) and image.dtype == np.float32
    assert labels.shape == (4, 5) and labels.dtype == np.int32


def test_load_pair_without_label(tmp_path):
    sample = list_samples(_cvppp_folder(tmp_path))[2]
    with pytest.raises(LabelFormatError, match="plant002_rgb.png: no label file"):
        load_pair(sample)


def test_load_pair_size_mismatch_names_both_sizes(tmp_path):
    _cvppp_folder(tmp_path)
    write_labels(tmp_path / "plant001_label.png", np.ones((3, 5), np.int32))
    sample = list_samples(tmp_path)[1]
    with pytest.raises(
        LabelFormatError,
        match=r"plant001_label.png: label image is 5 x 3 pixels but plant001_rgb.png is 5 x 4",
    ):
        load_pair(sample)


def test_load_pair_unreadable_image(tmp_path):
    sample = Sample("p", tmp_path / "p_rgb.png", tmp_path / "p_label.png")
    with pytest.raises(ImageReadError, match="p_rgb.png: file not found"):
        load_pair(sample)


# --- split.json -----------------------------------------------------------------------


def test_load_split(tmp_path):
    split = {"train": ["plant001", "plant002"], "val": ["plant003"], "test": []}
    (tmp_path / "split.json").write_text(json.dumps(split), encoding="utf-8")
    assert load_split(tmp_path) == split


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "split file not found"),
        ("{not json", "cannot read the split file"),
        ("[1, 2]", "expected an object"),
        ('{"train": []}', 'missing the "val" list'),
        ('{"val": []}', 'missing the "train" list'),
        ('{"train": "plant001", "val": []}', '"train" must be a list of plant names'),
        ('{"train": [], "val": [1]}', '"val" must be a list of plant names'),
        ('{"train": ["a", "b"], "val": ["b"]}', "plants in both train and val: b"),
    ],
)
def test_load_split_errors_name_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / "split.json").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"split.json: {message}"):
        load_split(tmp_path)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` grey pixels (and holds none)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_a_label_file_claiming_a_billion_pixels_is_our_error(tmp_path, monkeypatch):
    path = tmp_path / "plant_label.png"
    path.write_bytes(_png_claiming(40_000, 30_000))
    with pytest.raises(LabelFormatError, match="too large"):
        read_labels(path)
    path.write_bytes(_png_claiming(20, 10))

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(Image.Image, "load", out_of_memory)  # a header that decodes into too much memory
    with pytest.raises(LabelFormatError, match="memory"):
        read_labels(path)
