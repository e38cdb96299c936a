"""Shared fixtures: seeded synthetic rosettes and a tiny random RIS."""

from __future__ import annotations

from collections.abc import Callable, Generator

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
def tiny_dense_model() -> RIS:
    """A tiny random RIS with full-resolution heads (48 x 48) on top."""
    torch.manual_seed(0)
    return RIS(ModelConfig.from_dict({**ModelConfig.tiny().to_dict(), "dense_input_size": [48, 48]})).eval()


@pytest.fixture
def drained() -> Callable[[Generator], tuple[list, object]]:
    """Run a generator to its end: (what it yielded, what it returned)."""

    def drain(events: Generator) -> tuple[list, object]:
        seen = []
        while True:
            try:
                seen.append(next(events))
            except StopIteration as end:
                return seen, end.value

    return drain


class ScriptedConfidence(torch.nn.Module):
    """A confidence head that says the scripted scores, one per step of each
    sequence (the model's ``encode`` starts one), whatever the state."""

    def __init__(self, model, scores):
        super().__init__()
        self.logits = [float(np.log(s / (1 - s))) for s in scores]
        self.step = self.calls = 0
        encode = model.encode

        def restart(image, **kwargs):
            self.step = 0
            return encode(image, **kwargs)

        model.encode = restart

    def forward(self, h):
        logit = self.logits[min(self.step, len(self.logits) - 1)]
        self.step += 1
        self.calls += 1
        return torch.full((h.shape[0],), logit)


@pytest.fixture
def scripted_scores() -> Callable[[RIS, list[float]], ScriptedConfidence]:
    """Give a model a confidence head that follows a script (a random network's scores barely
    move, and a test needs them to cross a threshold); returns the head, which counts its calls."""

    def script(model: RIS, scores: list[float]) -> ScriptedConfidence:
        model.confidence = ScriptedConfidence(model, scores)
        return model.confidence

    return script


@pytest.fixture
def model_path(tmp_path):
    """A tiny random checkpoint on disk, for commands that take --model."""
    from leafcount.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.safetensors"
    path.parent.mkdir()
    save_checkpoint(path, build_ris(ModelConfig.tiny()))
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def one_torch_thread():
    """A tiny network gains nothing from a thread pool, and on a busy machine
    two OpenMP threads can wait on each other for seconds per iteration."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def paced_steps(monkeypatch) -> Callable[[Callable[[object], None]], None]:
    """``paced_steps(pause)``: every step the pipeline's ``segment_steps``
    yields is followed by ``pause(cancel)`` (a tiny network outruns any
    window; a test needs a run still going). What the steps return, the
    dense maps computed after the last one, still comes through."""
    import leafcount.inference.pipeline as pipeline

    real = pipeline.segment_steps

    def install(pause: Callable[[object], None]) -> None:
        def paced(model, image, config, cancel=None, **kwargs):
            steps = real(model, image, config, cancel, **kwargs)
            while True:
                try:
                    step = next(steps)
                except StopIteration as end:
                    return end.value
                yield step
                pause(cancel)

        monkeypatch.setattr(pipeline, "segment_steps", paced)

    return install
