"""napari plugin fixtures: offscreen Qt, the plugin registered with npe2, a tiny checkpoint, a rosette photo.

napari's viewer model (no canvas, no OpenGL) is enough for everything here
but the one test that docks the widget in a real window.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("napari")

from leafcount.data.synth import make_rosette
from leafcount.model.checkpoint import save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris

TINY_DECODING = {"mask_threshold": 0.0, "assignment": "argmax", "stop_threshold": 0.0, "max_steps": 4, "stop_floor": 0.0}
"""A random tiny network's masks all lie near 0.12 and its scores near 0.51: with these
settings (the checkpoint's recommendation, as a tuned model carries it) every run
takes 4 steps and gives several leaves, and any threshold above 0.51 gives none."""


@pytest.fixture(scope="session")
def plugins():
    """npe2's plugin manager with the installed manifests, leafcount's among them."""
    import npe2

    manager = npe2.PluginManager.instance()
    manager.discover()
    assert "leafcount" in {m.name for m in manager.iter_manifests()}, "not installed: pip install -e '.[napari]'"
    return manager


@pytest.fixture
def viewer(plugins):
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture
def model_path(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.safetensors"
    path.parent.mkdir()
    save_checkpoint(path, build_ris(ModelConfig.tiny()), {"segment": TINY_DECODING})
    return path


def _save_photo(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((image * 255).round().astype(np.uint8)).save(path)
    return path


@pytest.fixture
def save_photo():
    """Write an (H, W, 3) float image as an 8-bit PNG, as a camera would have."""
    return _save_photo


@pytest.fixture
def rosette_path(tmp_path) -> Path:
    image, _ = make_rosette(np.random.default_rng(3), (96, 128), n_leaves=6)
    return _save_photo(tmp_path / "photos" / "plant001_rgb.png", image)
