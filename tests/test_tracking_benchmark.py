"""Smoke run of benchmarks/tracking.py on a synthetic CVPPP folder, truth labels only (no model)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from leafcount.data.synth import make_rosette, write_synth_folder

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "tracking.py"


@pytest.fixture(scope="module")
def tracking():
    spec = importlib.util.spec_from_file_location("tracking_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_a_cvppp_series_keeps_every_truth_id_as_the_plant_grows(tracking):
    photo, truth = make_rosette(np.random.default_rng(0), (80, 84), n_leaves=5)
    series = tracking.cvppp_series(photo, truth, 3, np.random.default_rng(1))
    areas = [(labels > 0).sum() for _, labels in series]
    assert areas[0] < areas[1] < areas[2]
    assert all(set(np.unique(labels)) <= set(np.unique(truth)) for _, labels in series)


def test_the_table_has_a_row_per_series_and_totals(tracking, tmp_path, capsys):
    write_synth_folder(tmp_path / "cvppp", 5, seed=2, shape=(72, 76))  # one val image
    assert tracking.main(["--data", str(tmp_path / "cvppp"), "--synthetic", "1", "--size", "96", "--dates", "2",
                          "--model-series", "0"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("synthetic ", "cvppp "))]
    assert [row[:3] for row in rows[:2]] == [["synthetic", "synth00", "truth"], ["cvppp", "plant005", "truth"]]
    assert len(rows) == 4 and all(int(row[3]) > 0 for row in rows)  # two series, two totals, each with pairs
    assert rows[1][4] == "100.0%"  # a CVPPP plant only moves and zooms: every leaf keeps its id
