"""Runs the real-window tests (test_napari_window.py) in a virtual X display.

The suite runs on Qt's offscreen platform, which has no OpenGL, so those
tests skip in it. This test starts them again in a child pytest under
``xvfb-run`` on the xcb platform, where napari's canvas draws. Without
Xvfb it skips, unless ``LEAFCOUNT_REQUIRE_XVFB=1`` (set by ``.ci/run`` once
it has installed Xvfb) makes a missing display a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WINDOW_TESTS = Path(__file__).with_name("test_napari_window.py")


def test_the_real_window_tests_pass_in_a_virtual_display():
    if os.environ.get("QT_QPA_PLATFORM", "offscreen") != "offscreen":
        pytest.skip("already on a display platform: test_napari_window.py runs directly")
    if shutil.which("xvfb-run") is None:
        if os.environ.get("LEAFCOUNT_REQUIRE_XVFB") == "1":
            pytest.fail("LEAFCOUNT_REQUIRE_XVFB=1 but xvfb-run is not installed")
        pytest.skip("xvfb-run is not installed (Debian/Ubuntu: apt-get install xvfb libxcb-cursor0)")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "OMP_NUM_THREADS": "1"}
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable, "-m", "pytest", "-q",
               "-p", "no:cacheprovider", "-rs", str(WINDOW_TESTS)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    report = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "2 passed" in done.stdout and "skipped" not in done.stdout, report
