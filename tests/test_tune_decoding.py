"""benchmarks/tune_decoding.py's choice among settings whose objectives tie."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def tune():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its sibling module "tuning"
    try:
        spec = importlib.util.spec_from_file_location("tune_decoding_benchmark", BENCHMARKS / "tune_decoding.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def row(objective: float, abs_dic: float, passes: int = 1, name: str = "") -> tuple:
    # (objective, -passes, -dense passes, split, -fragment, -share, stop, rule, core, centre, peak, SBD, |DiC|)
    return (objective, -passes, -1, False, -0.45, -0.1, 0.5, name, 0.15, 0.4, 48, 87.0, abs_dic)


def test_among_tied_objectives_the_fewer_miscounted_leaves_win(tune):
    best, fewer_miscounts = row(85.36, 0.93, name="best"), row(85.35, 0.88, name="fewer")
    assert tune.best_setting([best, fewer_miscounts])[7] == "fewer"
    clearly_worse = row(85.36 - 2 * tune.OBJECTIVE_TIE, 0.50, name="worse")
    assert tune.best_setting([best, clearly_worse])[7] == "best"  # out of the tie: the objective decides
    assert tune.best_setting([row(85.36, 0.93, name="one pass"), row(85.36, 0.80, passes=4, name="four")])[7] == "one pass"
