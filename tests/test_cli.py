import csv

import pytest
import torch

from leafcount.analysis.metrics import count_leaves
from leafcount.cli import main
from leafcount.data.cvppp import read_labels
from leafcount.model.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture
def synth_folder(tmp_path):
    folder = tmp_path / "plants"
    assert main(["-q", "synth", "--out", str(folder), "-n", "5", "--size", "60x64"]) == 0
    return folder


def test_train_segment_evaluate_end_to_end(tmp_path, synth_folder, capsys):
    model = tmp_path / "m.safetensors"
    assert main(["-q", "train", "--data", str(synth_folder), "--arch", "tiny", "--iterations", "12",
                 "--val-every", "6", "--out", str(model)]) == 0
    _, info = load_checkpoint(model)
    assert info.meta["data"] == str(synth_folder)
    assert main(["-q", "train", "--data", str(synth_folder), "--arch", "tiny", "--iterations", "15",
                 "--out", str(model), "--resume"]) == 0
    assert "resumed at iteration 12" in capsys.readouterr().out

    out = tmp_path / "pred"
    assert main(["-q", "segment", str(synth_folder), "--model", str(model), "--out", str(out),
                 "--stop-threshold", "0.3"]) == 0
    labels = sorted(out.glob("plant*_label.png"))
    assert len(labels) == 5 and len(list(out.glob("*_overlay.png"))) == 5
    with open(out / "counts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == [f"plant{i:03d}_rgb.png" for i in range(5)] or len(rows) == 5
    for row, path in zip(rows, labels):
        assert int(row["leaf_count"]) == count_leaves(read_labels(path))
        assert row["model"] == "m"

    capsys.readouterr()
    assert main(["evaluate", "--pred", str(out), "--truth", str(synth_folder)]) == 0
    printed = capsys.readouterr().out
    assert "5 image(s)" in printed and "sbd" in printed.lower()
    with open(out / "metrics.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 5


def test_evaluating_truth_against_itself_is_perfect(tmp_path, synth_folder, capsys):
    assert main(["evaluate", "--pred", str(synth_folder), "--truth", str(synth_folder),
                 "--out", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "100.0 (0.0)" in out


def test_bad_files_get_one_line_and_the_rest_goes_on(tmp_path, synth_folder, tiny_model, capsys):
    model = tmp_path / "m.safetensors"
    save_checkpoint(model, tiny_model)
    (synth_folder / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "pred"
    code = main(["-q", "segment", str(synth_folder), "--model", str(model), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: broken.png:")
    assert len(list(out.glob("*_label.png"))) == 5


def test_bad_model_is_one_clear_line(tmp_path, synth_folder, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04junk")
    assert main(["segment", str(synth_folder), "--model", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "bad.safetensors: this is a pickle" in capsys.readouterr().err


def test_empty_folder_and_missing_predictions(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["segment", str(tmp_path / "empty"), "--model", "x.safetensors", "--out", str(tmp_path / "o")]) == 2
    assert main(["evaluate", "--pred", str(tmp_path / "empty"), "--truth", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no *_label.png predictions" in err


def test_tray_gives_one_csv_row_per_plant(tmp_path, tiny_model, capsys):
    from pathlib import Path

    from leafcount.data.folder import read_image
    from leafcount.inference.tray import detect_plants

    demo = Path(__file__).resolve().parents[1] / "resources" / "demo" / "chamber_tray.jpg"
    model = tmp_path / "m.safetensors"
    save_checkpoint(model, tiny_model)
    out = tmp_path / "o"
    assert main(["-q", "segment", str(demo), "--model", str(model), "--out", str(out), "--tray", "auto",
                 "--workers", "1"]) == 0
    with open(out / "counts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    plants = detect_plants(read_image(demo))
    assert len(rows) == len(plants) > 10
    assert {(int(r["row"]), int(r["col"])) for r in rows} == {(p.row + 1, p.col + 1) for p in plants}
    total = sum(int(r["leaf_count"]) for r in rows)
    assert total == count_leaves(read_labels(out / "chamber_tray_label.png"))
    # the sidecar keeps the boxes, so a later report also has a row per plant
    assert main(["-q", "report", "--labels", str(out), "--out", str(tmp_path / "report")]) == 0
    with open(tmp_path / "report" / "counts.csv", newline="") as f:
        report_rows = list(csv.DictReader(f))
    assert [(r["plant"], r["row"], r["col"]) for r in report_rows] == [(r["plant"], r["row"], r["col"]) for r in rows]


def test_report_command_writes_tables_and_html(tmp_path, synth_folder, capsys):
    out = tmp_path / "report"
    assert main(["-q", "report", "--labels", str(synth_folder), "--images", str(synth_folder),
                 "--truth", str(synth_folder), "--scale", "4", "--out", str(out)]) == 0
    for name in ("counts.csv", "leaves.csv", "plants.csv", "metrics.csv", "metrics.json", "report.html"):
        assert (out / name).is_file(), name
    assert "100.0 (0.0)" in capsys.readouterr().out  # truth against itself


def test_resume_with_explicit_lr_overrides_the_saved_one(tmp_path, synth_folder, capsys):
    from leafcount.model.checkpoint import load_tensors
    from leafcount.train import resume_path

    model = tmp_path / "m.safetensors"
    assert main(["-q", "train", "--data", str(synth_folder), "--arch", "tiny", "--iterations", "4",
                 "--lr", "1e-3", "--out", str(model)]) == 0
    assert load_tensors(resume_path(model))[1]["lr"] == 1e-3
    assert main(["-q", "train", "--data", str(synth_folder), "--arch", "tiny", "--iterations", "6",
                 "--out", str(model), "--resume"]) == 0
    assert load_tensors(resume_path(model))[1]["lr"] == 1e-3  # kept when not given
    assert main(["-q", "train", "--data", str(synth_folder), "--arch", "tiny", "--iterations", "8",
                 "--lr", "1e-4", "--out", str(model), "--resume"]) == 0
    assert load_tensors(resume_path(model))[1]["lr"] == 1e-4


def test_trays_are_found_image_by_image_by_default(tmp_path, tiny_model):
    import shutil
    from pathlib import Path

    demo = Path(__file__).resolve().parents[1] / "resources" / "demo"
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("chamber_tray.jpg", "pi_rosette_2019-10-31.png"):
        shutil.copy(demo / name, folder / name)
    model = tmp_path / "m.safetensors"
    save_checkpoint(model, tiny_model)
    assert main(["-q", "segment", str(folder), "--model", str(model), "--out", str(tmp_path / "o"),
                 "--workers", "1"]) == 0
    with open(tmp_path / "o" / "counts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    tray_rows = [r for r in rows if r["image"] == "chamber_tray.jpg"]
    [single] = [r for r in rows if r["image"] == "pi_rosette_2019-10-31.png"]
    assert len(tray_rows) > 10 and all(r["plant"] for r in tray_rows)
    assert single["plant"] == "" and single["row"] == ""
    assert main(["-q", "segment", str(folder), "--model", str(model), "--out", str(tmp_path / "off"),
                 "--workers", "1", "--tray", "off"]) == 0
    with open(tmp_path / "off" / "counts.csv", newline="") as f:
        assert [r["image"] for r in csv.DictReader(f)] == ["chamber_tray.jpg", "pi_rosette_2019-10-31.png"]


def test_a_bad_tray_layout_fails_before_any_work(tmp_path, tiny_model, capsys):
    model = tmp_path / "m.safetensors"
    save_checkpoint(model, tiny_model)
    assert main(["segment", str(tmp_path), "--model", str(model), "--out", str(tmp_path / "o"), "--tray", "5by3"]) == 2
    assert "5by3" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_synth_with_dates_writes_a_series(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "s"), "-n", "1", "--dates", "2", "--size", "48x48"]) == 0
    assert "wrote 1 growing rosette(s) on 2 date(s) (2 photos)" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "s").glob("*.png")) == ["plant01_2026-03-01.png", "plant01_2026-03-03.png"]


def test_export_writes_the_last_weights_of_a_training_state(tmp_path, synth_folder, capsys):
    from leafcount.model.checkpoint import load_tensors
    from leafcount.train import resume_path

    model = tmp_path / "m.safetensors"
    assert main(["-q", "train", "--data", str(synth_folder), "--arch", "tiny", "--iterations", "4",
                 "--val-every", "100", "--out", str(model)]) == 0
    exported = tmp_path / "last.safetensors"
    resume_path(model).rename(resume_path(exported))
    assert main(["-q", "train", "--data", str(synth_folder), "--out", str(exported), "--export"]) == 0
    assert "the weights of iteration 4" in capsys.readouterr().out
    weights, info = load_checkpoint(exported)
    state, _ = load_tensors(resume_path(exported))
    for key, value in weights.state_dict().items():
        assert torch.equal(value, state[f"model.{key}"]), key
    assert info.meta["training"]["iterations"] == 4
    capsys.readouterr()
    assert main(["-q", "train", "--data", str(synth_folder), "--out", str(tmp_path / "none.safetensors"), "--export"]) == 2
    assert "no training state" in capsys.readouterr().err


def test_the_command_exits_quickly_with_its_code_after_the_exit_handlers_and_output(tmp_path, synth_folder,
                                                                                    model_path):
    import subprocess
    import sys

    marker = tmp_path / "exit-handlers-ran"
    command = ("import atexit, pathlib, sys; from leafcount.cli import run; "
               f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes'); sys.argv[0] = 'leafcount'; run()")
    out = tmp_path / "pred"
    done = subprocess.run([sys.executable, "-c", command, "segment", str(synth_folder), "--model", str(model_path),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "5 image(s) segmented" in done.stdout  # printed, and flushed before the process ended
    assert marker.read_text() == "yes"
    with open(out / "counts.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 5
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04junk")
    failed = subprocess.run([sys.executable, "-c", command, "segment", str(synth_folder), "--model", str(bad),
                             "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2 and "bad.safetensors: this is a pickle" in failed.stderr


def test_a_closed_output_pipe_does_not_turn_the_exit_code_into_a_traceback(monkeypatch):
    import io

    import leafcount.cli as cli

    exits, handlers = [], []
    monkeypatch.setattr(cli, "main", lambda: 1)
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: handlers.append("ran"))
    monkeypatch.setattr(cli.os, "_exit", exits.append)
    class ReaderGone(io.StringIO):  # leafcount segment ... | head, once head has quit
        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli.sys, "stdout", ReaderGone())
    cli.run()
    assert exits == [1] and handlers == ["ran"]


def test_the_command_waits_for_a_thread_still_working_as_the_interpreter_does(tmp_path):
    import subprocess
    import sys

    marker = tmp_path / "thread-finished"
    command = ("import pathlib, threading, time, leafcount.cli as cli; cli.main = lambda: 3; "
               f"threading.Thread(target=lambda: (time.sleep(0.5), pathlib.Path({str(marker)!r}).write_text('yes')))"
               ".start(); cli.run()")
    done = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr
    assert marker.read_text() == "yes"


def test_output_read_by_a_reader_that_quits_early_ends_without_a_traceback(tmp_path, synth_folder, model_path):
    import subprocess
    import sys

    out = tmp_path / "pred"
    command = [sys.executable, "-c", "import leafcount.cli as cli; cli.run()", "segment", str(synth_folder),
               "--model", str(model_path), "--out", str(out)]
    reader_gone = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader_gone.stdout.close()  # as `leafcount segment ... | head -0` does
    err = reader_gone.stderr.read()
    assert reader_gone.wait(timeout=300) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert len(list(out.glob("*_label.png"))) == 5  # the work itself is done and saved
