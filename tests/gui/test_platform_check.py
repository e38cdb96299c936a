"""A machine without the X11 libraries Qt's window needs: one line that says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leafcount.gui.platform_check import debian_package, uses_xcb, window_problem

REPO = Path(__file__).resolve().parents[2]
MISSING = "libxcb-cursor.so.0: cannot open shared object file: No such file or directory"

# main() with a dynamic loader that cannot find libxcb-cursor for Qt's X11 plugin
# (as on a fresh Debian/Ubuntu), and a display to open the window on.
START_WITHOUT_XCB_CURSOR = textwrap.dedent(f"""
    import ctypes, sys
    real = ctypes.CDLL
    def load(name, *args, **kwargs):
        if str(name).endswith("libqxcb.so"):
            raise OSError({MISSING!r})
        return real(name, *args, **kwargs)
    ctypes.CDLL = load
    from leafcount.gui.app import main
    sys.exit(main([]))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the X11 window is Linux only")
def test_a_missing_x11_library_is_named_in_one_line_instead_of_qts_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env["DISPLAY"] = ":987"  # no X server there either: Qt would fail at once, after its own message
    done = subprocess.run([sys.executable, "-c", START_WITHOUT_XCB_CURSOR], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1, done.stderr
    assert "libxcb-cursor.so.0" in lines[0] and "sudo apt install libxcb-cursor0" in lines[0]
    assert "platform plugin" not in done.stderr


def test_the_check_names_a_missing_display_and_lets_other_platforms_through(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")

    def missing(_path):
        raise OSError(MISSING)

    linux = sys.platform.startswith("linux")
    problem = window_problem({"QT_QPA_PLATFORM": "xcb"}, load=missing, plugin=plugin)
    assert (problem is not None and "DISPLAY is not set" in problem) or not linux
    assert window_problem({"QT_QPA_PLATFORM": "offscreen"}, load=missing, plugin=plugin) is None
    assert window_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, load=lambda _path: None, plugin=plugin) is None
    assert uses_xcb({"XDG_SESSION_TYPE": "wayland"}) is (linux and True)  # no wayland display: Qt falls back to xcb
    assert not uses_xcb({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"})
    assert [debian_package(name) for name in ("libxcb-icccm.so.4", "libX11-xcb.so.1", "libdbus-1.so.3")] == [
        "libxcb-icccm4", "libx11-xcb1", "libdbus-1-3"]
