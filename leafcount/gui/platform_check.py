"""Before Qt starts: can the window open at all?

On Linux the PySide6 wheel brings Qt but not the X11 client libraries its
xcb platform plugin links against (``libxcb-cursor0`` and friends). Without
them Qt aborts with several lines about "the Qt platform plugin xcb" that do
not say what to install. This check loads the plugin the way Qt will and
turns a failure into one line naming the missing library and its package.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

_PACKAGE_EXCEPTIONS = {"libglib-2.0.so.0": "libglib2.0-0"}
_MISSING = re.compile(r"([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file")


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that usually holds ``soname``.

    >>> debian_package("libxcb-cursor.so.0"), debian_package("libxkbcommon-x11.so.0")
    ('libxcb-cursor0', 'libxkbcommon-x11-0')
    """
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    base, _, version = soname.partition(".so")
    base, version = base.lower(), version.lstrip(".").split(".")[0]
    return base + ("-" if base[-1].isdigit() and version else "") + version


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Whether Qt will open the window through X11 (xcb) with this environment."""
    if not sys.platform.startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "")
    candidates = [name.split(":")[0] for name in asked.split(";") if name] or (
        ["wayland", "xcb"] if env.get("XDG_SESSION_TYPE") == "wayland" else ["xcb"]
    )
    if candidates[0] == "xcb":
        return True
    return "xcb" in candidates and candidates[0] == "wayland" and not env.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path:
    """The X11 platform plugin of the installed PySide6."""
    import PySide6  # only its location: Qt itself is not started

    return Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"


def window_problem(
    env: Mapping[str, str] = os.environ,
    load: Callable[[str], object] = ctypes.CDLL,
    plugin: Path | None = None,
) -> str | None:
    """One line saying why the window cannot open, or None when it can (as far as is known).

    ``load`` opens a shared library (``ctypes.CDLL``; a test passes a stand-in).
    """
    if not uses_xcb(env):
        return None
    if not env.get("DISPLAY"):
        return ("leafcount: no display to open the window on (DISPLAY is not set): start it from a desktop "
                "session, or save a picture of the window with --screenshot OUT.png")
    plugin = plugin or xcb_plugin()
    if not plugin.is_file():
        return None  # an unusual Qt layout: let Qt speak for itself
    try:
        load(str(plugin))
    except OSError as exc:
        found = _MISSING.search(str(exc))
        if found is None:
            return f"leafcount: the Qt window cannot start: {exc} (see README ▸ Install for the system libraries it needs)"
        soname = found.group(1)
        return (f"leafcount: the window needs the system library {soname}, which is not installed "
                f"(Debian/Ubuntu: sudo apt install {debian_package(soname)}; README ▸ Install lists "
                "everything the window needs)")
    return None
