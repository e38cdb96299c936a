"""Where the bundled demo photos are: one folder for the app, the napari samples and the tests."""

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[2] / "resources" / "demo"
