"""Whatever an imaging station wrote: each bad file gets one clear line, the rest goes on.

``leafcount segment`` runs in this process (``--workers 1``) so monkeypatched
faults apply; the big-image runs use a subprocess to measure peak memory.
"""

from __future__ import annotations

import builtins
import csv
import errno
import io
import os
import pickle
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from leafcount import atomic
from leafcount.analysis.metrics import count_leaves
from leafcount.cli import main
from leafcount.data.cvppp import read_labels, write_labels
from leafcount.data.folder import read_image, read_image_size
from leafcount.errors import CheckpointError, LabelFormatError
from leafcount.model.checkpoint import (
    FORMAT_VERSION,
    load_checkpoint,
    load_tensors,
    save_tensors,
)
from leafcount.model.config import ModelConfig


def _photo(h: int = 30, w: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def _segment(inputs: list[Path], out: Path, model: Path, capsys, *extra: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["-q", "segment", *map(str, inputs), "--model", str(model), "--out", str(out),
                 "--workers", "1", "--max-steps", "3", *extra])
    return code, capsys.readouterr().err.splitlines()


def _assert_labelled(image: Path, out: Path) -> None:
    label = out / f"{image.stem}_label.png"
    assert read_labels(label).shape == read_image_size(image)


def _counted(out: Path) -> list[str]:
    with open(out / "counts.csv", newline="", encoding="utf-8") as f:
        return [row["image"] for row in csv.DictReader(f)]


# --- files that are fine, whatever their kind -----------------------------------------------

GOOD_FILES = {
    "grey.png": lambda: _encoded(Image.fromarray(_photo()[..., 0]), "PNG"),
    "rgba.png": lambda: _encoded(Image.fromarray(np.dstack([_photo(), np.full((30, 40), 200, np.uint8)])), "PNG"),
    "palette.png": lambda: _encoded(Image.fromarray(_photo()).quantize(16), "PNG"),
    "sixteen.tif": lambda: _tiff_bytes(_photo().astype(np.uint16) * 257),
    "dot.png": lambda: _encoded(Image.fromarray(_photo(1, 1)), "PNG"),
    "wide.png": lambda: _encoded(Image.fromarray(_photo(3, 200)), "PNG"),
}


def _tiff_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, photometric="rgb")
    return buffer.getvalue()


# What segment says about a file it reads well but cannot trust (tests/test_reliability_cli.py, item 8).
GOOD_FILE_WARNINGS = {
    "grey.png": ["warning: grey.png: grey image: the model was trained on colour photos, the count may be wrong"],
    "dot.png": ["warning: dot.png: no plant found"],
}


@pytest.mark.parametrize("name", GOOD_FILES)
def test_any_readable_image_gets_labels_of_its_size(tmp_path, model_path, capsys, name):
    image = tmp_path / "in" / name
    image.parent.mkdir()
    image.write_bytes(GOOD_FILES[name]())
    code, err = _segment([image.parent], tmp_path / "out", model_path, capsys)
    assert (code, err) == (0, GOOD_FILE_WARNINGS.get(name, []))
    _assert_labelled(image, tmp_path / "out")
    assert _counted(tmp_path / "out") == [name]


def test_sixteen_bit_tiff_is_read_as_sixteen_bit(tmp_path):
    path = tmp_path / "sixteen.tif"
    path.write_bytes(GOOD_FILES["sixteen.tif"]())
    np.testing.assert_allclose(read_image(path), _photo() / 255.0, atol=1e-6)


def test_names_with_spaces_and_non_ascii_characters(tmp_path, model_path, capsys):
    folder = tmp_path / "Pflanzen März"
    folder.mkdir()
    names = ["plant 01.png", "plante été.png", "植物 3.jpg"]
    for i, name in enumerate(names):
        Image.fromarray(_photo(seed=i)).save(folder / name)
    code, err = _segment([folder], tmp_path / "out put", model_path, capsys)
    assert (code, err) == (0, [])
    for name in names:
        _assert_labelled(folder / name, tmp_path / "out put")
    assert sorted(_counted(tmp_path / "out put")) == sorted(names)


# --- files that are not what they say --------------------------------------------------------

def _truncated_png() -> bytes:
    data = _encoded(Image.fromarray(_photo()), "PNG")
    return data[: len(data) // 2]


def _corrupt_jpeg() -> bytes:
    data = _encoded(Image.fromarray(_photo()), "JPEG")
    return data[:20] + np.random.default_rng(1).bytes(600)  # JFIF header intact, markers garbage


BAD_FILES = {
    "notes.png": (lambda: b"plant 12 looked yellow on Monday\n", "not a readable image"),
    "cut.png": (_truncated_png, r"corrupt or truncated image \(image file is truncated"),
    "empty.png": (lambda: b"", r"empty file \(0 bytes\)"),
    "garbled.jpg": (_corrupt_jpeg, "(not a readable image|corrupt or truncated image)"),
    "cut.tif": (lambda: _tiff_bytes(_photo())[:300], "corrupt or unsupported TIFF"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_file_is_one_line_and_the_batch_goes_on(tmp_path, model_path, capsys, name):
    make, problem = BAD_FILES[name]
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_photo()).save(folder / "a.png")
    (folder / name).write_bytes(make())
    Image.fromarray(_photo(seed=2)).save(folder / "z.png")
    code, err = _segment([folder], tmp_path / "out", model_path, capsys)
    assert code == 1
    assert len(err) == 1 and re.match(rf"error: {re.escape(name)}: {problem}", err[0]), err
    _assert_labelled(folder / "a.png", tmp_path / "out")
    _assert_labelled(folder / "z.png", tmp_path / "out")
    assert not (tmp_path / "out" / f"{Path(name).stem}_label.png").exists()
    assert _counted(tmp_path / "out") == ["a.png", "z.png"]


def test_unreadable_file_is_one_line(tmp_path, model_path, capsys, monkeypatch):
    # chmod does not stop root, so the operating system's answer is simulated.
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "locked.png"):
        Image.fromarray(_photo()).save(folder / name)
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).name == "locked.png":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    code, err = _segment([folder], tmp_path / "out", model_path, capsys)
    assert code == 1 and err == ["error: locked.png: permission denied"]
    _assert_labelled(folder / "a.png", tmp_path / "out")


def test_missing_file_given_by_name_is_one_line(tmp_path, model_path, capsys):
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    code, err = _segment([tmp_path / "gone.png", tmp_path / "a.png"], tmp_path / "out", model_path, capsys)
    assert code == 1 and err == ["error: gone.png: file not found"]
    _assert_labelled(tmp_path / "a.png", tmp_path / "out")


@pytest.mark.parametrize("contents", [[], ["notes.txt", "data.csv", "plant1_label.png"]], ids=["empty", "no-images"])
def test_folder_without_images_is_one_line(tmp_path, model_path, capsys, contents):
    folder = tmp_path / "station"
    folder.mkdir()
    for name in contents:
        (folder / name).write_bytes(b"x")
    code, err = _segment([folder], tmp_path / "out", model_path, capsys)
    assert code == 2
    assert err == ["error: station: no images (.png, .jpg, .tif) in this folder"]


# --- very large images -----------------------------------------------------------------------

def _write_png_by_rows(path: Path, height: int, width: int) -> None:
    """An RGB PNG (green disk on soil) streamed row by row: the test never holds the pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(1)
    cols = np.arange(width)
    row = np.empty((width, 3), np.uint8)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        for r in range(height):
            row[:] = (110, 80, 50)
            row[(cols - width / 2) ** 2 + (r - height / 2) ** 2 < (min(height, width) / 3) ** 2] = (40, 160, 50)
            data = compressor.compress(b"\x00" + row.tobytes())
            if data:
                f.write(chunk(b"IDAT", data))
        f.write(chunk(b"IDAT", compressor.flush()) + chunk(b"IEND", b""))


_PEAK_MEMORY_SCRIPT = """
import resource, sys
from leafcount.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
sys.exit(code)
"""


def _segment_big(tmp_path: Path, model: Path, height: int, width: int) -> int:
    """Segment one height x width PNG in a fresh process; return its peak memory in MB."""
    image = tmp_path / "in" / "field.png"
    image.parent.mkdir()
    _write_png_by_rows(image, height, width)
    out = tmp_path / "out"
    argv = ["-q", "segment", str(image.parent), "--model", str(model), "--out", str(out),
            "--workers", "1", "--max-steps", "2"]
    done = subprocess.run([sys.executable, "-c", _PEAK_MEMORY_SCRIPT, *argv], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert read_image_size(out / "field_label.png") == (height, width)
    assert (out / "field_overlay.png").is_file()
    return int(done.stdout.split()[-1])


def test_image_above_the_pixel_limit_gets_labels_of_its_own_size(tmp_path, model_path, capsys, monkeypatch):
    # segment's working size lowered to 0.1 megapixel: a 600 x 800 photo is read at 1/3 size.
    from leafcount.inference import pipeline

    monkeypatch.setattr(pipeline, "SEGMENT_MAX_PIXELS", 100_000)
    image = tmp_path / "in" / "field.png"
    image.parent.mkdir()
    _write_png_by_rows(image, 600, 800)
    # The random network's masks are faint: thresholds at 0 so that it finds leaves.
    code, err = _segment([image], tmp_path / "out", model_path, capsys, "--stop-threshold", "0",
                         "--mask-threshold", "0", "--assignment", "argmax")
    assert (code, err) == (0, [])
    labels = read_labels(tmp_path / "out" / "field_label.png")
    assert labels.shape == (600, 800)
    assert read_image_size(tmp_path / "out" / "field_overlay.png") == (200, 266)  # a preview at the read size
    with open(tmp_path / "out" / "counts.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert int(row["leaf_count"]) == count_leaves(labels) > 1


def test_tray_read_downscaled_gives_plant_boxes_in_the_photo_s_pixels(tmp_path, model_path, capsys, monkeypatch):
    from leafcount.inference import pipeline

    demo = Path(__file__).resolve().parents[1] / "resources" / "demo" / "chamber_tray.jpg"  # 400 x 300

    def plant_boxes(out: Path) -> dict[tuple[str, str], np.ndarray]:
        assert _segment([demo], out, model_path, capsys, "--tray", "auto") == (0, [])
        assert read_image_size(out / "chamber_tray_label.png") == (300, 400)
        with open(out / "counts.csv", newline="") as f:
            return {(r["row"], r["col"]): np.array([int(r[k]) for k in ("top", "left", "bottom", "right")])
                    for r in csv.DictReader(f)}

    full = plant_boxes(tmp_path / "full")
    monkeypatch.setattr(pipeline, "SEGMENT_MAX_PIXELS", 30_000)  # half size
    half = plant_boxes(tmp_path / "half")
    assert full.keys() == half.keys() and len(full) > 10
    assert max(np.abs(full[key] - half[key]).max() for key in full) <= 3


@pytest.mark.slow
def test_camera_sized_image_does_not_exhaust_memory(tmp_path, model_path):
    # 12000 x 9000 PNG (about 30 s): segmented at a third of its size (pipeline.SEGMENT_MAX_PIXELS),
    # labels written back at full size as integers. Pillow's decode alone is 324 MB; at full
    # size as float32 the image would be 1.3 GB and its overlay about 4 GB more.
    # benchmarks/memory.py measures the shipped model on a JPEG.
    assert _segment_big(tmp_path, model_path, 9000, 12000) < 1000


# --- checkpoints -----------------------------------------------------------------------------

def _rewrite_header(good: Path, bad: Path, **changes) -> Path:
    tensors, header = load_tensors(good)
    header.update(changes)
    save_tensors(bad, tensors, header)
    return bad


class _MarkerPayload:
    """Unpickling this creates ``marker``: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickle_files(folder: Path, marker: Path) -> dict[str, Path]:
    payload = _MarkerPayload(marker)
    files = {"protocol2.safetensors": pickle.dumps(payload, protocol=2),
             "protocol0.safetensors": pickle.dumps(payload, protocol=0)}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    paths["torch-save.safetensors"] = folder / "torch-save.safetensors"
    torch.save({"weights": payload}, paths["torch-save.safetensors"])
    return paths


def test_pickle_payload_is_armed(tmp_path):
    armed = tmp_path / "armed"
    for path in _pickle_files(tmp_path, armed).values():
        armed.unlink(missing_ok=True)
        if path.name.startswith("torch"):
            torch.load(io.BytesIO(path.read_bytes()), weights_only=False)
        else:
            pickle.loads(path.read_bytes())
        assert armed.exists()  # so the refusal tests below can fail


def test_pickles_are_refused_and_never_unpickled(tmp_path, capsys):
    marker = tmp_path / "unpickled"
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    for name, path in _pickle_files(tmp_path, marker).items():
        with pytest.raises(CheckpointError, match=rf"{re.escape(name)}: (this is a pickle|not a complete safetensors)"):
            load_checkpoint(path)
        code, err = _segment([tmp_path / "a.png"], tmp_path / "out", path, capsys)
        assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {name}: ")
        assert not marker.exists()
    assert not (tmp_path / "out").exists()  # refused before any work


BAD_CHECKPOINTS = {
    "truncated": (lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
                  r"corrupt safetensors file \(.*incomplete"),
    "truncated-header": (lambda good, bad: bad.write_bytes(good.read_bytes()[:100]),
                         r"not a complete safetensors file \(truncated or another format\)"),
    "other-shapes": (lambda good, bad: _rewrite_header(good, bad, config={**ModelConfig.tiny().to_dict(),
                                                                            "lstm_channels": 16}),
                     r"weight \S+ has shape .*, the architecture needs"),
    "unknown-setting": (lambda good, bad: _rewrite_header(good, bad, config={**ModelConfig.tiny().to_dict(),
                                                                               "attention_heads": 8}),
                        r"invalid architecture in the metadata \(unknown model setting\(s\): attention_heads\)"),
    "newer-format": (lambda good, bad: _rewrite_header(good, bad, format_version=FORMAT_VERSION + 1),
                     rf"checkpoint format version {FORMAT_VERSION + 1} is newer than this leafcount supports"),
}


@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_bad_checkpoint_is_one_line_before_any_work(tmp_path, model_path, capsys, kind):
    make, problem = BAD_CHECKPOINTS[kind]
    bad = tmp_path / f"{kind}.safetensors"
    make(model_path, bad)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(_photo()).save(folder / name)
    with pytest.raises(CheckpointError, match=rf"{kind}.safetensors: {problem}"):
        load_checkpoint(bad)
    code, err = _segment([folder], tmp_path / "out", bad, capsys)
    assert code == 2
    assert len(err) == 1 and re.match(rf"error: {kind}.safetensors: {problem}", err[0]), err
    assert not list((tmp_path / "out").glob("*"))  # refused before any image


# --- output folder read-only or full ---------------------------------------------------------

def _fail_with(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


# Faults after the file was created: the folder took the write test (a folder that
# refuses new files is one line before any image, tests/test_reliability_cli.py).
WRITE_FAULTS = {
    "disk-full-at-fsync": ("fsync", errno.ENOSPC),
    "read-only-at-rename": ("replace", errno.EROFS),
}


@pytest.mark.parametrize("fault", WRITE_FAULTS)
def test_unwritable_output_is_one_line_per_file_and_leaves_no_partial_file(tmp_path, model_path, capsys,
                                                                           monkeypatch, fault):
    function, code = WRITE_FAULTS[fault]
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(_photo()).save(folder / name)
    out = tmp_path / "out"
    monkeypatch.setattr(atomic.os, function, _fail_with(code))
    exit_code, err = _segment([folder], out, model_path, capsys)
    assert exit_code != 0
    problem = re.escape(f"could not write the file ({os.strerror(code)})")
    assert len(err) == 3, err  # each image, then counts.csv
    assert re.fullmatch(rf"error: a_\w+\.png: {problem}", err[0])
    assert re.fullmatch(rf"error: b_\w+\.png: {problem}", err[1])
    assert re.fullmatch(rf"error: counts\.csv: {problem}", err[2])
    assert list(out.iterdir()) == []  # no label, no overlay, no .partial


def test_only_the_images_whose_writes_fail_are_reported(tmp_path, model_path, capsys, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(_photo()).save(folder / name)
    real_replace = os.replace

    def replace_fails_for_b(src, dst):
        if Path(dst).name.startswith("b_"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace_fails_for_b)
    code, err = _segment([folder], tmp_path / "out", model_path, capsys)
    assert code == 1 and len(err) == 1 and err[0].startswith("error: b_")
    _assert_labelled(folder / "a.png", tmp_path / "out")
    _assert_labelled(folder / "c.png", tmp_path / "out")
    assert _counted(tmp_path / "out") == ["a.png", "c.png"]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".partial")]


def test_output_folder_that_is_a_file_is_one_line(tmp_path, model_path, capsys):
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    (tmp_path / "results").write_text("not a folder")
    code, err = _segment([tmp_path / "a.png"], tmp_path / "results", model_path, capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: results: cannot create the output folder (")


# --- label PNGs: evaluate and report ---------------------------------------------------------

def _label_folders(tmp_path: Path, pred: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> tuple[Path, Path]:
    for folder, arrays in (("pred", pred), ("truth", truth)):
        (tmp_path / folder).mkdir()
        for name, labels in arrays.items():
            write_labels(tmp_path / folder / f"{name}_label.png", labels)
    return tmp_path / "pred", tmp_path / "truth"


def _leaves(h: int, w: int, ids: list[int]) -> np.ndarray:
    labels = np.zeros((h, w), dtype=np.int32)
    for i, leaf in enumerate(ids):
        labels[2 + 4 * i : 5 + 4 * i, 2:-2] = leaf
    return labels


def test_evaluate_names_a_label_png_of_the_wrong_size_and_scores_the_rest(tmp_path, capsys):
    pred, truth = _label_folders(
        tmp_path,
        pred={"a": _leaves(20, 30, [1, 2]), "b": _leaves(20, 30, [1, 2])},
        truth={"a": _leaves(24, 30, [1, 2]), "b": _leaves(20, 30, [1, 2])},
    )
    capsys.readouterr()
    code = main(["evaluate", "--pred", str(pred), "--truth", str(truth)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.splitlines() == [
        "error: a_label.png: prediction and ground truth differ in shape: prediction (20, 30), truth (24, 30)"]
    with open(pred / "metrics.csv", newline="") as f:
        assert [row["image"] for row in csv.DictReader(f)] == ["b"]


def test_report_names_a_label_png_whose_size_differs_from_its_photo(tmp_path, capsys):
    labels_dir, _ = _label_folders(tmp_path, pred={"a": _leaves(20, 30, [1])}, truth={})
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_photo(24, 30)).save(photos / "a.png")
    capsys.readouterr()
    code = main(["-q", "report", "--labels", str(labels_dir), "--images", str(photos), "--out", str(tmp_path / "r")])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: a_label.png: label image is 30 x 20 pixels but a.png is 30 x 24"]
    assert not (tmp_path / "r").exists()  # nothing half-done


@pytest.mark.parametrize("ids", [[3, 250, 7], [300, 65535, 1024]], ids=["gaps", "sixteen-bit"])
def test_non_consecutive_and_large_label_ids_are_counted_as_distinct_leaves(tmp_path, capsys, ids):
    truth_ids = [1, 2, 3]
    pred, truth = _label_folders(tmp_path, pred={"a": _leaves(20, 30, ids)}, truth={"a": _leaves(20, 30, truth_ids)})
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_photo(20, 30)).save(photos / "a.png")
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth)]) == 0
    with open(pred / "metrics.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert (row["count_pred"], row["count_true"], row["dic"], row["sbd"]) == ("3", "3", "0", "1.0000")
    assert main(["-q", "report", "--labels", str(pred), "--truth", str(truth), "--images", str(photos),
                 "--out", str(tmp_path / "r")]) == 0
    with open(tmp_path / "r" / "leaves.csv", newline="") as f:
        assert sorted(int(row["leaf_id"]) for row in csv.DictReader(f)) == sorted(ids)
    with open(tmp_path / "r" / "counts.csv", newline="") as f:
        assert [row["leaf_count"] for row in csv.DictReader(f)] == ["3"]


def test_label_ids_beyond_sixteen_bits_are_refused_by_name(tmp_path, capsys):
    # A 32-bit TIFF saved under a label name: per-id tables would be gigabytes long.
    (tmp_path / "pred").mkdir()
    huge = _leaves(20, 30, [1, 2_000_000_000])
    Image.fromarray(huge).save(tmp_path / "pred" / "a_label.png", format="TIFF")
    with pytest.raises(LabelFormatError, match="a_label.png: label ids must be <= 65535, found 2000000000"):
        read_labels(tmp_path / "pred" / "a_label.png")
    capsys.readouterr()
    assert main(["-q", "report", "--labels", str(tmp_path / "pred"), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: a_label.png: label ids must be <= 65535, found 2000000000"]
