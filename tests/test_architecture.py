"""The layers of leafcount, as import-linter contracts in pyproject.toml (``lint-imports``)."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import leafcount

ROOT = Path(__file__).resolve().parents[1]
WINDOWED_FACES = {"leafcount.gui", "leafcount.napari"}


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {contract["name"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def test_the_qt_free_contract_covers_every_part_of_the_core():
    # A module added later is in the core unless it is one of the windowed faces.
    parts = {f"leafcount.{info.name}" for info in pkgutil.iter_modules(leafcount.__path__)}
    core = set(contracts()["The core never imports Qt, pyqtgraph, napari or the GUI"]["source_modules"])
    assert core == parts - WINDOWED_FACES


def test_the_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is in the test extra: pip install -e '.[test]'"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 kept, 0 broken" in done.stdout
