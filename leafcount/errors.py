"""The project's exception hierarchy.

Every error a user can cause (bad file, bad setting) is a ``LeafcountError``
whose message names the file and says what was expected and what was found.
Subclasses also derive from the built-in a generic caller would catch.
"""

from __future__ import annotations

from pathlib import Path


class LeafcountError(Exception):
    """Base class; ``path`` is the file the problem is about, when there is one."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path.name}: {message}" if self.path is not None else message)


class ImageReadError(LeafcountError, ValueError):
    """An image file is missing, unreadable, truncated or of an unsupported kind."""


class LabelFormatError(LeafcountError, ValueError):
    """A label image has the wrong mode, dtype or size."""


class CheckpointError(LeafcountError, ValueError):
    """A checkpoint is corrupt, truncated, a pickle, or does not fit the network."""


class EmptyFolderError(LeafcountError, FileNotFoundError):
    """A folder holds no image leafcount can read."""


class ConfigError(LeafcountError, ValueError):
    """A configuration value is out of range or unknown."""


class Cancelled(LeafcountError):
    """A long job was stopped by the user; not a failure."""
