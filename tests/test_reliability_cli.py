"""Issue 16, headless half: faults that once stopped a batch, lost results or said nothing.

Each test names the issue item it shows. ``leafcount segment`` runs in this
process (``--workers 1``) unless the test is about worker processes.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from leafcount.cli import main
from leafcount.data.cvppp import read_labels
from leafcount.data.folder import read_image_size


def _photo(h: int = 30, w: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _folder(path: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    path.mkdir(parents=True)
    for i, (name, (h, w)) in enumerate(sizes.items()):
        Image.fromarray(_photo(h, w, seed=i)).save(path / name)
    return path


def _segment(inputs: list[Path], out: Path, model: Path, capsys, *extra: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["-q", "segment", *map(str, inputs), "--model", str(model), "--out", str(out),
                 "--workers", "1", "--max-steps", "3", *extra])
    return code, capsys.readouterr().err.splitlines()


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "counts.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- 1. tiny images ----------------------------------------------------------------------------

def _plant(h: int, w: int) -> np.ndarray:
    """A green rosette (a disk) on soil, as uint8 RGB."""
    rows, cols = np.mgrid[:h, :w]
    disk = (rows - (h - 1) / 2) ** 2 / max(h / 2.5, 0.5) ** 2 + (cols - (w - 1) / 2) ** 2 / max(w / 2.5, 0.5) ** 2 < 1
    image = np.empty((h, w, 3), np.uint8)
    image[:] = (110, 80, 50)
    image[disk] = (40, 160, 50)
    return image


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (3, 200)])
def test_item1_segment_image_with_mirrored_passes_on_tiny_images(tiny_model, shape):
    # The app's path: segment_image fused over 4 mirrored passes.
    from leafcount.inference.passes import segment_image
    from leafcount.inference.segment import SegmentConfig

    image = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    result = segment_image(tiny_model, image, SegmentConfig(flips=4, max_steps=3))
    assert result.labels.shape == shape


TINY = {"a.png": (30, 40), "dot.png": (1, 1), "row.png": (1, 9), "column.png": (9, 1), "two.png": (2, 2),
        "z.png": (30, 40)}


@pytest.mark.parametrize("flips", ["1", "2", "4"])
def test_item1_tiny_images_are_segmented_with_mirrored_passes(tmp_path, model_path, capsys, flips):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, shape in TINY.items():
        Image.fromarray(_plant(*shape)).save(folder / name)
    code, err = _segment([folder], tmp_path / "out", model_path, capsys, "--flips", flips)
    # 1 x 9 and 9 x 1 go through the network; 4 pixels or fewer are no plant
    assert (code, err) == (0, ["warning: dot.png: no plant found", "warning: two.png: no plant found"])
    for name in TINY:
        assert read_labels(tmp_path / "out" / f"{Path(name).stem}_label.png").shape == read_image_size(folder / name)
    assert sorted(row["image"] for row in _rows(tmp_path / "out")) == sorted(TINY)


def test_item1_an_unexpected_failure_is_one_line_and_counts_csv_keeps_the_rest(tmp_path, model_path, capsys,
                                                                                monkeypatch):
    import leafcount.inference.pipeline

    real = leafcount.inference.pipeline.segment_steps

    def fails_on_narrow_images(model, image, *args, **kwargs):
        if image.shape[1] < 10:
            raise ValueError("At least one stride in the given numpy array is negative")
        return real(model, image, *args, **kwargs)

    monkeypatch.setattr(leafcount.inference.pipeline, "segment_steps", fails_on_narrow_images)
    folder = tmp_path / "in"
    folder.mkdir()
    for name, shape in {"a.png": (30, 40), "column.png": (9, 1), "z.png": (30, 40)}.items():
        Image.fromarray(_plant(*shape)).save(folder / name)
    code, err = _segment([folder], tmp_path / "out", model_path, capsys)
    assert code == 1
    assert err == ["error: column.png: unexpected failure, please report it "
                   "(ValueError: At least one stride in the given numpy array is negative)"]
    assert [row["image"] for row in _rows(tmp_path / "out")] == ["a.png", "z.png"]


# --- 3. read-only output folder ----------------------------------------------------------------

def _read_only(monkeypatch, folder: Path, code: int) -> None:
    """Make ``folder`` behave like a read-only mount (EROFS) or a forbidden folder (EACCES):
    creating, replacing and removing files inside it fail, even removing one that does not exist."""
    import builtins
    import os

    inside = folder.resolve()

    def guard(function, is_write=lambda *args, **kwargs: True):
        def guarded(path, *args, **kwargs):
            if isinstance(path, (str, os.PathLike)) and Path(path).resolve().parent == inside \
                    and is_write(*args, **kwargs):
                raise OSError(code, os.strerror(code), str(path))
            return function(path, *args, **kwargs)

        return guarded

    def writes(mode="r", *args, **kwargs) -> bool:
        return any(c in mode for c in "wax+")

    def os_writes(flags, *args, **kwargs) -> bool:
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))

    monkeypatch.setattr(builtins, "open", guard(builtins.open, writes))
    monkeypatch.setattr(os, "open", guard(os.open, os_writes))
    for name in ("unlink", "remove"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))


@pytest.mark.parametrize("code", ["EROFS", "EACCES"])
def test_item3_read_only_output_folder_is_one_line_before_any_image(tmp_path, model_path, capsys, monkeypatch,
                                                                     code):
    import errno
    import os

    folder = _folder(tmp_path / "in", {"a.png": (30, 40), "b.png": (30, 40)})
    out = tmp_path / "out"
    out.mkdir()
    _read_only(monkeypatch, out, getattr(errno, code))
    import leafcount.data.folder

    read = []
    monkeypatch.setattr(leafcount.data.folder, "read_image",
                        lambda path, *args, real=leafcount.data.folder.read_image: read.append(path) or real(path))
    exit_code, err = _segment([folder], out, model_path, capsys)
    assert exit_code == 2
    assert err == [f"error: out: cannot write in this folder ({os.strerror(getattr(errno, code))})"]
    assert read == []  # nothing attempted per image
    assert list(out.iterdir()) == []


def test_item3_a_write_refused_by_a_read_only_folder_is_a_leafcount_error(tmp_path, monkeypatch):
    # Removing the temporary file that was never created fails too there (EROFS): not a traceback.
    import errno

    from leafcount.atomic import write_text_atomic
    from leafcount.errors import LeafcountError

    _read_only(monkeypatch, tmp_path, errno.EROFS)
    with pytest.raises(LeafcountError, match=r"^counts.csv: could not write the file \(Read-only file system\)$"):
        write_text_atomic(tmp_path / "counts.csv", "image\n")


# --- 4. worker processes die with the command ------------------------------------------------

def _start_segment_with_workers(tmp_path: Path, model: Path) -> tuple[subprocess.Popen, list[psutil.Process], Path]:
    """``leafcount segment --workers 2`` on a folder long enough to be busy; returns it once its workers run."""
    folder = _folder(tmp_path / "in", {f"p{i:03d}.png": (60, 64) for i in range(300)})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "leafcount.cli", "-q", "segment", str(folder), "--model", str(model),
               "--out", str(out), "--workers", "2", "--max-steps", "30", "--stop-threshold", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = parent.children(recursive=True)
        # Workers started and busy, and some answers in: a label is written before its worker answers,
        # and under a loaded machine the parent can be a few images behind (two labels were once too few).
        if len(workers) >= 2 and len(list(out.glob("*_label.png"))) >= 6:
            return process, workers, out
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.kill()
    pytest.fail("the workers did not start within 60 s")


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    def running(p: psutil.Process) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    return [p for p in processes if running(p)]


def _gone_within(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while _alive(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(processes)


def test_item4_workers_die_when_the_command_is_killed(tmp_path, model_path):
    process, workers, out = _start_segment_with_workers(tmp_path, model_path)
    try:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert _gone_within(workers, 5) == []
        written = sorted(out.iterdir())
        time.sleep(1)
        assert sorted(out.iterdir()) == written  # nobody writes on for nobody
    finally:
        for worker in _alive(workers):
            worker.kill()


def test_item4_sigterm_stops_the_workers_and_keeps_what_was_done(tmp_path, model_path):
    process, workers, out = _start_segment_with_workers(tmp_path, model_path)
    try:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
        assert process.returncode == 130
        assert err.splitlines() == ["stopped"]
        assert _gone_within(workers, 5) == []
        # A worker stopped between its label PNG and its answer leaves a label that is not counted.
        counted = {row["image"] for row in _rows(out)}
        labelled = {f"{p.name[: -len('_label.png')]}.png" for p in out.glob("*_label.png")}
        assert 1 <= len(counted) < 300 and counted <= labelled
    finally:
        process.kill()
        for worker in _alive(workers):
            worker.kill()


# --- 5. a failing rerun keeps the good results ------------------------------------------------

def test_item5_a_rerun_where_every_image_fails_keeps_counts_csv_of_the_labels_on_disk(tmp_path, model_path,
                                                                                       capsys, monkeypatch):
    import errno

    from leafcount import atomic

    folder = _folder(tmp_path / "in", {"a.png": (30, 40), "b.png": (30, 40), "c.png": (30, 40)})
    out = tmp_path / "out"
    assert _segment([folder], out, model_path, capsys) == (0, [])
    before = _rows(out)
    real_replace = os.replace

    def disk_full_but_for_small_files(src, dst):
        if Path(dst).name != "counts.csv":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", disk_full_but_for_small_files)
    capsys.readouterr()
    code = main(["-q", "segment", str(folder), "--model", str(model_path), "--out", str(out), "--workers", "1",
                 "--max-steps", "3"])
    printed = capsys.readouterr()
    assert code == 1 and len(printed.err.splitlines()) == 3
    assert _rows(out) == before
    assert printed.out.splitlines() == [
        f"0 image(s) segmented into {out}, 3 failed; counts.csv still lists the 3 image(s) of an earlier run"
        " whose labels are there"]


def test_item5_a_rerun_on_some_images_merges_with_the_labels_already_there(tmp_path, model_path, capsys):
    folder = _folder(tmp_path / "in", {"a.png": (30, 40), "b.png": (30, 40), "c.png": (30, 40)})
    out = tmp_path / "out"
    assert _segment([folder], out, model_path, capsys) == (0, [])
    before = {row["image"]: row for row in _rows(out)}
    (out / "c_label.png").unlink()  # the user deleted c's labels: its row goes
    Image.fromarray(_photo(seed=9)).save(folder / "d.png")
    assert _segment([folder / "a.png", folder / "d.png"], out, model_path, capsys, "--max-steps", "2") == (0, [])
    after = {row["image"]: row for row in _rows(out)}
    assert sorted(after) == ["a.png", "b.png", "d.png"]
    assert after["b.png"] == before["b.png"]


# --- 6. every file with an image name is processed or named ------------------------------------

def _animated_gif(path: Path) -> None:
    first, second = Image.fromarray(_plant(30, 40)), Image.fromarray(_photo(30, 40, seed=5))
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)


def test_item6_a_folder_names_every_file_it_cannot_read_and_segments_gifs(tmp_path, model_path, capsys):
    folder = _folder(tmp_path / "in", {"a.png": (30, 40), "z.png": (30, 40)})
    _animated_gif(folder / "growth.gif")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "moved.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    code, err = _segment([folder], tmp_path / "out", model_path, capsys)
    assert code == 1
    assert sorted(err) == [
        "error: loop.png: symbolic link loop (the link leads back to itself)",
        "error: moved.jpg: broken symbolic link (its target does not exist)",
        "warning: growth.gif: animated GIF: the first of its 2 frames is used",
    ]
    assert sorted(row["image"] for row in _rows(tmp_path / "out")) == ["a.png", "growth.gif", "z.png"]
    assert read_labels(tmp_path / "out" / "growth_label.png").shape == (30, 40)


def test_item6_a_gif_given_by_name_is_treated_as_in_a_folder(tmp_path, model_path, capsys):
    (tmp_path / "in").mkdir()
    _animated_gif(tmp_path / "in" / "growth.gif")
    by_name = _segment([tmp_path / "in" / "growth.gif"], tmp_path / "a", model_path, capsys)
    in_folder = _segment([tmp_path / "in"], tmp_path / "b", model_path, capsys)
    assert by_name == in_folder == (0, ["warning: growth.gif: animated GIF: the first of its 2 frames is used"])
    assert np.array_equal(read_labels(tmp_path / "a" / "growth_label.png"),
                          read_labels(tmp_path / "b" / "growth_label.png"))


# --- 8. grey images, images without a plant, transparency --------------------------------------

# The random network's masks are faint: thresholds at 0 so that it outlines leaves wherever it may.
EAGER = ("--stop-threshold", "0", "--mask-threshold", "0", "--assignment", "argmax")
GREY_WARNING = "grey image: the model was trained on colour photos, the count may be wrong"


def _row(out: Path, image: str) -> dict[str, str]:
    (row,) = [row for row in _rows(out) if row["image"] == image]
    return row


GREY_FILES = {
    "grey8.png": lambda path: Image.fromarray(_plant(30, 40).mean(axis=2).astype(np.uint8)).save(path),
    "grey16.png": lambda path: Image.fromarray(_plant(30, 40).mean(axis=2).astype(np.uint16) * 257).save(path),
    "grey_as_rgb.jpg": lambda path: Image.fromarray(np.repeat(_plant(30, 40)[..., 1:2], 3, axis=2)).save(path),
}


@pytest.mark.parametrize("name", GREY_FILES)
def test_item8_a_grey_image_gets_a_warning_and_a_note(tmp_path, model_path, capsys, name):
    (tmp_path / "in").mkdir()
    GREY_FILES[name](tmp_path / "in" / name)
    code, err = _segment([tmp_path / "in"], tmp_path / "out", model_path, capsys, *EAGER)
    assert (code, err) == (0, [f"warning: {name}: {GREY_WARNING}"])
    row = _row(tmp_path / "out", name)
    assert row["note"] == GREY_WARNING and int(row["leaf_count"]) > 0  # segmented all the same


def test_item8_a_colour_photo_keeps_an_empty_note(tmp_path, model_path, capsys):
    (tmp_path / "in").mkdir()
    Image.fromarray(_plant(30, 40)).save(tmp_path / "in" / "plant.png")
    assert _segment([tmp_path / "in"], tmp_path / "out", model_path, capsys, *EAGER) == (0, [])
    row = _row(tmp_path / "out", "plant.png")
    assert row["note"] == "" and int(row["leaf_count"]) > 0


def _soil(h: int = 30, w: int = 40) -> np.ndarray:
    noise = np.random.default_rng(3).integers(-12, 13, (h, w, 1))
    return np.clip(np.array([110, 80, 50]) + noise, 0, 255).astype(np.uint8)


# Plants are found as trays are, by excess green: a card's green or yellow patches would count as plant.
NO_PLANT_FILES = {
    "soil.png": lambda: Image.fromarray(_soil()),
    "red_blue_card.png": lambda: Image.fromarray(np.kron(np.array(
        [[[200, 30, 30], [30, 30, 200], [230, 230, 230]], [[120, 120, 120], [20, 20, 20], [150, 60, 160]]],
        dtype=np.uint8), np.ones((15, 13, 1), np.uint8))),
}


@pytest.mark.parametrize("name", NO_PLANT_FILES)
def test_item8_an_image_without_a_plant_gets_no_leaves_and_says_so(tmp_path, model_path, capsys, name):
    (tmp_path / "in").mkdir()
    NO_PLANT_FILES[name]().save(tmp_path / "in" / name)
    code, err = _segment([tmp_path / "in"], tmp_path / "out", model_path, capsys, *EAGER)
    assert (code, err) == (0, [f"warning: {name}: no plant found"])
    row = _row(tmp_path / "out", name)
    assert (row["leaf_count"], row["note"]) == ("0", "no plant found")
    assert not read_labels(tmp_path / "out" / f"{Path(name).stem}_label.png").any()


def test_item8_a_fully_transparent_image_is_background(tmp_path, model_path, capsys):
    (tmp_path / "in").mkdir()
    rgba = np.dstack([_plant(30, 40), np.zeros((30, 40), np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "in" / "clear.png")
    code, err = _segment([tmp_path / "in"], tmp_path / "out", model_path, capsys, *EAGER)
    note = "no plant found (the image is fully transparent)"
    assert (code, err) == (0, [f"warning: clear.png: {note}"])
    assert (_row(tmp_path / "out", "clear.png")["leaf_count"], _row(tmp_path / "out", "clear.png")["note"]) == (
        "0", note)


def test_item8_transparent_pixels_are_background(tmp_path, model_path, capsys):
    (tmp_path / "in").mkdir()
    alpha = np.full((30, 40), 255, np.uint8)
    alpha[:, 20:] = 0  # the right half cut away
    Image.fromarray(np.dstack([_plant(30, 40), alpha])).save(tmp_path / "in" / "half.png")
    code, err = _segment([tmp_path / "in"], tmp_path / "out", model_path, capsys, *EAGER)
    assert (code, err) == (0, ["warning: half.png: transparent pixels taken as background"])
    labels = read_labels(tmp_path / "out" / "half_label.png")
    assert labels[:, :20].any() and not labels[:, 20:].any()


# --- 10. what Pillow's limits mean for the user --------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with_oversized(kind: bytes, *, after_pixels: bool = False, truncate: bool = False) -> bytes:
    """A plant PNG with an 8 MB colour profile or text block (Pillow decompresses at most 1 MB)."""
    buffer = io.BytesIO()
    Image.fromarray(_plant(30, 40)).save(buffer, format="PNG")
    png = buffer.getvalue()
    block = _png_chunk(kind, (b"profile" if kind == b"iCCP" else b"Comment") + b"\0\0" + zlib.compress(bytes(8 << 20)))
    where = len(png) - 12 if after_pixels else 33  # before IEND, or after IHDR
    data = png[:where] + block + png[where:]
    if truncate:  # cut inside the pixel data
        start = data.index(b"IDAT") + 8
        data = data[:start] + data[start + 8 :]
    return data


OVERSIZED = {
    "profile.png": dict(kind=b"iCCP"),
    "text_first.png": dict(kind=b"zTXt"),
    "text_last.png": dict(kind=b"zTXt", after_pixels=True),
}


@pytest.mark.parametrize("name", OVERSIZED)
def test_item10_an_oversized_colour_profile_or_text_block_is_skipped_and_named(tmp_path, model_path, capsys,
                                                                                 name):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(_png_with_oversized(**OVERSIZED[name]))
    assert read_image_size(tmp_path / "in" / name) == (30, 40)
    code, err = _segment([tmp_path / "in"], tmp_path / "out", model_path, capsys)
    assert (code, err) == (0, [f"warning: {name}: oversized colour profile or metadata block ignored"])
    assert read_labels(tmp_path / "out" / f"{Path(name).stem}_label.png").shape == (30, 40)


def test_item10_an_oversized_profile_with_broken_pixels_says_both_in_words(tmp_path, model_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.png").write_bytes(_png_with_oversized(b"iCCP", truncate=True))
    code, err = _segment([tmp_path / "in"], tmp_path / "out", model_path, capsys)
    assert code == 1 and len(err) == 1
    assert err[0].startswith("error: broken.png: oversized colour profile or metadata block, "
                             "and the pixels cannot be read either (")
    assert "MAX_TEXT_CHUNK" not in err[0]


# --- 9. memory on huge photos ----------------------------------------------------------------

def test_item9_a_big_photo_is_segmented_without_a_float_copy_at_its_full_size(tmp_path, model_path, monkeypatch):
    # The 12000 x 9000 measurement is benchmarks/memory.py; here the same mechanism at 2400 x 3200
    # with the working size lowered to 0.3 megapixels. numpy reports its arrays to tracemalloc.
    import tracemalloc

    from leafcount.inference import batch, pipeline
    from leafcount.inference.segment import SegmentConfig

    monkeypatch.setattr(pipeline, "SEGMENT_MAX_PIXELS", 300_000)
    image = tmp_path / "field.png"
    Image.fromarray(_plant(2400, 3200)).save(image)
    full_float = 2400 * 3200 * 3 * 4  # 92 MB: the photo as float32 RGB
    (tmp_path / "out").mkdir()
    tracemalloc.start()
    try:
        outcome = batch.segment_file(image, tmp_path / "out", model_path, SegmentConfig(max_steps=2), crf=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.error is None
    assert peak < full_float / 3, f"peak {peak / 1e6:.0f} MB"
    assert read_labels(tmp_path / "out" / "field_label.png").shape == (2400, 3200)
    assert read_image_size(tmp_path / "out" / "field_overlay.png") == (400, 533)  # the working size, 1/6



# --- 7. evaluate names and counts missing predictions ------------------------------------------

def _leaves(h: int, w: int, n: int) -> np.ndarray:
    labels = np.zeros((h, w), dtype=np.int32)
    for i in range(n):
        labels[2 + 4 * i : 5 + 4 * i, 2:-2] = i + 1
    return labels


def _evaluation_folders(tmp_path: Path) -> tuple[Path, Path]:
    from leafcount.data.cvppp import write_labels

    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    for name in ("a", "b"):
        write_labels(pred / f"{name}_label.png", _leaves(20, 30, 3))
    for name in ("a", "b", "c"):
        write_labels(truth / f"{name}_label.png", _leaves(20, 30, 3))
    return pred, truth


def _metrics(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["image"]: row for row in csv.DictReader(f)}


def test_item7_evaluate_counts_a_missing_prediction_as_a_missed_plant(tmp_path, capsys):
    pred, truth = _evaluation_folders(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth)]) == 0
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [
        "warning: c_label.png: no prediction, counted as a missed plant (every true leaf missed)"]
    assert printed.out.splitlines()[0] == (
        f"3 image(s), 1 of them without a prediction (counted as missed); per-image scores in {pred / 'metrics.csv'}")
    rows = _metrics(pred / "metrics.csv")
    assert sorted(rows) == ["a", "b", "c"]
    c = rows["c"]
    assert (c["count_pred"], c["count_true"], c["dic"], c["sbd"], c["note"]) == ("0", "3", "-3", "0.0000",
                                                                                  "no prediction")
    assert rows["a"]["note"] == "" and rows["a"]["sbd"] == "1.0000"
    assert "  abs_dic  1.0 (1.7)" in printed.out.splitlines()  # 0, 0 and 3 over the three images


def test_item7_evaluate_only_predicted_leaves_them_out_and_says_so(tmp_path, capsys):
    pred, truth = _evaluation_folders(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--only-predicted"]) == 0
    printed = capsys.readouterr()
    assert printed.err.splitlines() == ["warning: c_label.png: no prediction, left out (--only-predicted)"]
    assert printed.out.splitlines()[0] == (
        f"2 image(s); 1 without a prediction left out (--only-predicted); per-image scores in {pred / 'metrics.csv'}")
    assert sorted(_metrics(pred / "metrics.csv")) == ["a", "b"]
