"""Smoke run of benchmarks/accuracy.py on a synthetic CVPPP folder with a tiny random model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from leafcount.data.synth import write_synth_folder
from leafcount.model.checkpoint import save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"


@pytest.fixture(scope="module")
def accuracy():
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture
def synth_data(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "synth"
    write_synth_folder(data, 5, seed=2, shape=(48, 52))  # split.json: 4 train, 1 val
    torch.manual_seed(0)
    model_path = tmp_path / "tiny.safetensors"
    save_checkpoint(model_path, build_ris(ModelConfig.tiny()))
    return data, model_path


def test_table_has_every_measured_and_published_row(accuracy, synth_data, capsys):
    data, model = synth_data
    assert accuracy.main(["--data", str(data), "--split", "train", "--limit", "2", "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "2 image(s) of the 'train' split" in out
    crf = [" + CRF (first, paper)", " + CRF (argmax)"] if "no CRF" not in out else []
    for suffix in [" (first, paper)", " (argmax)", " (grow over dense maps)", " (argmax, 4 mirrored passes)", *crf]:
        assert f"tiny [skip]{suffix}" in out
    assert "classical: excess green + watershed" in out
    assert "* published, not measured" in out
    for method, sbd, *_ in accuracy.PUBLISHED:
        assert f"{method} *" in out and sbd in out


def test_markdown_table_escapes_the_pipes(accuracy, synth_data, capsys):
    data, model = synth_data
    assert accuracy.main(["--data", str(data), "--model", str(model), "--no-crf", "--markdown"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert table[0] == r"| method | SBD | \|DiC\| | DiC | FBD | s / image |"
    # header, alignment, a RIS row per assignment and one mirrored, classical, the published: 6 columns each.
    assert len(table) == 2 + len(accuracy.ASSIGNMENTS) + 1 + 1 + len(accuracy.PUBLISHED)
    assert all(line.replace(r"\|", "").count("|") == 7 for line in table)


def test_unknown_split_is_an_error(accuracy, synth_data, capsys):
    data, model = synth_data
    assert accuracy.main(["--data", str(data), "--split", "test", "--model", str(model)]) == 2
    assert "has no 'test' list" in capsys.readouterr().err
