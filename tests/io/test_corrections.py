import json

import numpy as np
import pytest

from leafcount.data.cvppp import read_labels, write_labels
from leafcount.errors import LabelFormatError, LeafcountError
from leafcount.io.corrections import (
    RECOVERY_DIR_NAME,
    Sidecar,
    clear_recovery,
    load_corrections,
    read_recovery,
    read_sidecar,
    save_corrections,
    sidecar_path_for,
    write_recovery,
)


@pytest.fixture
def labels() -> np.ndarray:
    labels = np.zeros((20, 30), dtype=np.int32)
    labels[2:8, 2:8] = 1
    labels[10:18, 5:25] = 3
    labels[0, 29] = 12
    return labels


def test_save_then_load_round_trip(tmp_path, labels):
    image = tmp_path / "plant007_rgb.png"
    written = save_corrections(image, labels, {3, 99}, {"model": "tiny", "stop_threshold": 0.4})
    assert written == tmp_path / "plant007_label.png"
    assert sidecar_path_for(image) == tmp_path / "plant007_label.json"
    loaded, sidecar = load_corrections(image, shape=(20, 30))
    np.testing.assert_array_equal(loaded, labels)
    assert loaded.dtype == np.int32
    assert sidecar.manual_ids == {3}  # 99 is not in the image
    assert sidecar.leaf_count == 3
    assert sidecar.meta == {"model": "tiny", "stop_threshold": 0.4}
    assert sidecar.is_leafcount
    assert sidecar.saved.endswith("+00:00")
    assert sidecar.image == "plant007_rgb.png"  # the photo's own name, not the label's stem


def test_sidecar_is_readable_json(tmp_path, labels):
    save_corrections(tmp_path / "a.jpg", labels, [1], {})
    record = json.loads((tmp_path / "a_label.json").read_text(encoding="utf-8"))
    assert record["image"] == "a.jpg"
    assert record["image_size"] == [20, 30]
    assert record["manual_leaves"] == [1]
    assert record["leaf_count"] == 3


def test_save_into_an_output_folder(tmp_path, labels):
    out = tmp_path / "out" / "nested"
    save_corrections(tmp_path / "a.jpg", labels, [], {}, out_dir=out)
    assert (out / "a_label.png").is_file() and (out / "a_label.json").is_file()
    assert load_corrections(tmp_path / "a.jpg") is None
    np.testing.assert_array_equal(load_corrections(tmp_path / "a.jpg", out)[0], labels)


def test_saving_again_replaces_both_files_and_leaves_no_temporaries(tmp_path, labels):
    image = tmp_path / "a.jpg"
    save_corrections(image, labels, [1], {})
    labels[labels == 1] = 0
    save_corrections(image, labels, [1], {})
    loaded, sidecar = load_corrections(image)
    np.testing.assert_array_equal(loaded, labels)
    assert sidecar.manual_ids == frozenset() and sidecar.leaf_count == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_label.json", "a_label.png"]


def test_nothing_saved_gives_none(tmp_path):
    assert load_corrections(tmp_path / "a.jpg") is None
    assert read_sidecar(tmp_path / "a.jpg") is None


def test_a_foreign_label_file_loads_without_sidecar(tmp_path, labels):
    write_labels(tmp_path / "plant001_label.png", labels)
    assert read_sidecar(tmp_path / "plant001_rgb.png") == Sidecar(is_leafcount=False)
    loaded, sidecar = load_corrections(tmp_path / "plant001_rgb.png")
    np.testing.assert_array_equal(loaded, labels)
    assert not sidecar.is_leafcount
    assert sidecar.leaf_count == 3 and sidecar.manual_ids == frozenset()


def test_large_ids_survive_the_round_trip(tmp_path, labels):
    labels[0, 0] = 300
    save_corrections(tmp_path / "a.png", labels, [300], {})
    loaded, sidecar = load_corrections(tmp_path / "a.png")
    np.testing.assert_array_equal(loaded, labels)
    assert sidecar.manual_ids == {300}


def test_size_mismatch_is_an_error(tmp_path, labels):
    save_corrections(tmp_path / "a.png", labels, [], {})
    with pytest.raises(LabelFormatError, match=r"a_label.png: label image is 30 x 20 pixels but a.png is 31 x 20"):
        load_corrections(tmp_path / "a.png", shape=(20, 31))


def test_corrupt_sidecar_is_an_error(tmp_path, labels):
    save_corrections(tmp_path / "a.png", labels, [], {})
    (tmp_path / "a_label.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LabelFormatError, match="a_label.json: cannot read the corrections sidecar"):
        load_corrections(tmp_path / "a.png")


@pytest.mark.parametrize("garbage", ["{not json", '{"format": "other"}', "\x00\xff"])
def test_a_lenient_read_of_a_garbage_sidecar_keeps_the_labels_and_says_why(tmp_path, labels, garbage):
    save_corrections(tmp_path / "a.png", labels, [3], {"model": "m"})
    (tmp_path / "a_label.json").write_text(garbage, encoding="utf-8")
    sidecar = read_sidecar(tmp_path / "a.png", lenient=True)
    assert not sidecar.is_leafcount and sidecar.problem.startswith("a_label.json: ")
    loaded, kept = load_corrections(tmp_path / "a.png", sidecar=sidecar)
    np.testing.assert_array_equal(loaded, labels)
    assert kept.problem == sidecar.problem and kept.leaf_count == 3 and kept.manual_ids == frozenset()
    assert read_sidecar(tmp_path / "b.png", lenient=True) is None  # no label PNG: nothing saved


def test_sidecar_of_another_format_is_an_error(tmp_path, labels):
    save_corrections(tmp_path / "a.png", labels, [], {})
    (tmp_path / "a_label.json").write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(LabelFormatError, match="not a leafcount corrections sidecar"):
        read_sidecar(tmp_path / "a.png")


def test_bad_manual_ids_in_sidecar_are_an_error(tmp_path, labels):
    save_corrections(tmp_path / "a.png", labels, [], {})
    record = json.loads((tmp_path / "a_label.json").read_text(encoding="utf-8"))
    record["manual_leaves"] = [0, "x"]
    (tmp_path / "a_label.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(LabelFormatError, match="manual_leaves must be a list of leaf ids"):
        read_sidecar(tmp_path / "a.png")


def test_meta_must_be_json(tmp_path, labels):
    with pytest.raises(LabelFormatError, match="meta is not JSON-serialisable"):
        save_corrections(tmp_path / "a.png", labels, [], {"bad": object()})
    assert not (tmp_path / "a_label.png").exists()


@pytest.mark.parametrize(
    "bad", [np.zeros((3, 3)), np.zeros((2, 3, 3), dtype=np.int32), np.full((3, 3), -1, dtype=np.int32)]
)
def test_bad_labels_are_refused_before_writing(tmp_path, bad):
    with pytest.raises(LabelFormatError, match="label"):
        save_corrections(tmp_path / "a.png", bad, [], {})
    assert not any(tmp_path.iterdir())


def test_unwritable_folder_is_an_error(tmp_path, labels):
    (tmp_path / "blocked").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(LeafcountError, match="blocked: cannot create the folder"):
        save_corrections(tmp_path / "a.png", labels, [], {}, out_dir=tmp_path / "blocked")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a_label.png").mkdir()  # a folder where the file should go
    with pytest.raises(LeafcountError, match="a_label.png: could not write the file"):
        save_corrections(tmp_path / "a.png", labels, [], {}, out_dir=tmp_path / "folder")


def test_recovery_copy_round_trip_and_clear(tmp_path, labels):
    image = tmp_path / "a.png"
    assert read_recovery(image) is None
    write_recovery(image, labels, [1], {"model": "m"})
    assert (tmp_path / RECOVERY_DIR_NAME / "a_label.png").is_file()
    assert load_corrections(image) is None  # the real corrections are untouched
    recovered, sidecar = read_recovery(image, shape=(20, 30))
    np.testing.assert_array_equal(recovered, labels)
    assert sidecar.manual_ids == {1}
    clear_recovery(image)
    assert read_recovery(image) is None
    clear_recovery(image)  # clearing twice is fine


def test_recovery_lives_in_the_output_folder_when_given(tmp_path, labels):
    out = tmp_path / "out"
    write_recovery(tmp_path / "a.png", labels, [], {}, out_dir=out)
    assert (out / RECOVERY_DIR_NAME / "a_label.png").is_file()
    np.testing.assert_array_equal(read_labels(out / RECOVERY_DIR_NAME / "a_label.png"), labels)
