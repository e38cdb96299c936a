"""Issue 16, headless half: faults that once stopped a batch, lost results or said nothing.

Each test names the issue item it shows. ``leafcount segment`` runs in this
process (``--workers 1``) unless the test is about worker processes.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from PIL import Image

from leafcount.cli import main
from leafcount.data.cvppp import read_labels
from leafcount.data.folder import read_image_size
from leafcount.model.checkpoint import save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris


@pytest.fixture
def model_path(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.safetensors"
    path.parent.mkdir()
    save_checkpoint(path, build_ris(ModelConfig.tiny()))
    return path


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

TINY = {"a.png": (30, 40), "dot.png": (1, 1), "row.png": (1, 9), "column.png": (9, 1), "two.png": (2, 2),
        "z.png": (30, 40)}


@pytest.mark.parametrize("flips", ["1", "2", "4"])
def test_item1_tiny_images_are_segmented_with_mirrored_passes(tmp_path, model_path, capsys, flips):
    folder = _folder(tmp_path / "in", TINY)
    code, err = _segment([folder], tmp_path / "out", model_path, capsys, "--flips", flips)
    assert (code, err) == (0, [])
    for name in TINY:
        assert read_labels(tmp_path / "out" / f"{Path(name).stem}_label.png").shape == read_image_size(folder / name)
    assert sorted(row["image"] for row in _rows(tmp_path / "out")) == sorted(TINY)


def test_item1_an_unexpected_failure_is_one_line_and_counts_csv_keeps_the_rest(tmp_path, model_path, capsys,
                                                                                monkeypatch):
    import leafcount.segment

    real = leafcount.segment.segment_image

    def fails_on_narrow_images(model, image, *args, **kwargs):
        if image.shape[1] < 10:
            raise ValueError("At least one stride in the given numpy array is negative")
        return real(model, image, *args, **kwargs)

    monkeypatch.setattr(leafcount.segment, "segment_image", fails_on_narrow_images)
    folder = _folder(tmp_path / "in", {"a.png": (30, 40), "column.png": (9, 1), "z.png": (30, 40)})
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
        if len(workers) >= 2 and len(list(out.glob("*_label.png"))) >= 2:  # workers started and busy
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
