"""Shared fixtures: seeded synthetic rosettes and a tiny random RIS."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leafcount.model.config import ModelConfig
from leafcount.model.ris import RIS, build_ris


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tiny_model() -> RIS:
    torch.manual_seed(0)
    return build_ris(ModelConfig.tiny()).eval()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
