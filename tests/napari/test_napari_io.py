"""Reader and writer through napari's own API: the label PNG and sidecar survive a round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Image, Labels
from PIL import Image as PILImage

from leafcount.data.cvppp import read_labels
from leafcount.data.folder import read_image
from leafcount.io.corrections import save_corrections
from leafcount.napari.reader import napari_get_reader

META = {"model": "tiny", "stop_threshold": 0.4, "assignment": "first", "flips": 1, "crf": False}


def _labels(high: int = 7) -> np.ndarray:
    labels = np.zeros((20, 30), dtype=np.int32)
    labels[2:8, 2:8] = 2
    labels[10:18, 5:25] = high
    labels[0, 29] = 3
    return labels


def _record(path: Path) -> dict:
    record = json.loads(path.read_text())
    record.pop("saved")
    return record


@pytest.mark.parametrize("high", [7, 300], ids=["palette", "16-bit"])
def test_label_png_round_trip(viewer, tmp_path, high):
    label_path = save_corrections(tmp_path / "photos" / "plant007_rgb.png", _labels(high), {2}, META, tmp_path / "out")
    [layer] = viewer.open(str(label_path), plugin="leafcount")
    assert isinstance(layer, Labels)
    np.testing.assert_array_equal(layer.data, read_labels(label_path))
    assert layer.metadata["manual_leaves"] == [2] and layer.metadata["leafcount"] == META
    assert layer.metadata["image"] == "plant007_rgb.png"  # the photo is elsewhere: the sidecar names it

    again = tmp_path / "again" / "plant007_label.png"
    again.parent.mkdir()
    written = viewer.layers.save(str(again), plugin="leafcount")
    assert written == [str(again), str(again.with_suffix(".json"))]
    assert again.read_bytes() == label_path.read_bytes()
    assert _record(again.with_suffix(".json")) == _record(label_path.with_suffix(".json"))


def test_photo_opens_with_its_correction(viewer, tmp_path, save_photo):
    photo = save_photo(tmp_path / "plant007_rgb.png", np.random.default_rng(0).random((20, 30, 3)))
    save_corrections(photo, _labels(), (), META)
    image, labels = viewer.open(str(photo), plugin="leafcount")
    assert isinstance(image, Image) and image.rgb
    np.testing.assert_array_equal(image.data, read_image(photo))
    assert isinstance(labels, Labels) and labels.name == "plant007 leaves"
    np.testing.assert_array_equal(labels.data, _labels())
    assert labels.metadata["image"] == "plant007_rgb.png"


def test_photo_opens_alone_without_a_correction_or_with_a_broken_one(viewer, tmp_path, save_photo):
    photo = save_photo(tmp_path / "plant007_rgb.png", np.zeros((20, 30, 3)))
    assert [type(layer) for layer in viewer.open(str(photo), plugin="leafcount")] == [Image]
    (tmp_path / "plant007_label.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="correction was not opened"):
        assert [type(layer) for layer in viewer.open(str(photo), plugin="leafcount")] == [Image]


def test_plain_integer_label_png_without_sidecar(viewer, tmp_path):
    path = tmp_path / "other_label.png"
    PILImage.fromarray(_labels(300).astype(np.uint16)).save(path)
    [layer] = viewer.open(str(path), plugin="leafcount")
    np.testing.assert_array_equal(layer.data, _labels(300))
    assert layer.metadata["manual_leaves"] == [] and layer.metadata["leafcount"] == {}


def test_garbage_sidecar_costs_only_its_record(viewer, tmp_path):
    label_path = save_corrections(tmp_path / "plant007_rgb.png", _labels(), {2}, META)
    label_path.with_suffix(".json").write_text("{ not json")
    with pytest.warns(UserWarning, match="sidecar"):
        [layer] = viewer.open(str(label_path), plugin="leafcount")
    np.testing.assert_array_equal(layer.data, _labels())
    assert layer.metadata["manual_leaves"] == [] and "sidecar" in layer.metadata["sidecar_problem"]


def test_saving_under_the_photo_name_writes_its_label_pair(viewer, tmp_path):
    viewer.add_labels(_labels(), name="drawn")
    written = viewer.layers.save(str(tmp_path / "photo.png"), plugin="leafcount")
    assert written == [str(tmp_path / "photo_label.png"), str(tmp_path / "photo_label.json")]
    np.testing.assert_array_equal(read_labels(tmp_path / "photo_label.png"), _labels())
    assert json.loads((tmp_path / "photo_label.json").read_text())["image"] == "photo.png"


@pytest.mark.parametrize("path", ["notes.txt", "_label.png", ["a.png", "b.png"]])
def test_reader_leaves_other_paths_to_other_plugins(path):
    assert napari_get_reader(path) is None
