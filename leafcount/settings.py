"""Checks shared by the frozen settings dataclasses: one error style for every setting.

A bad value is a :class:`~leafcount.errors.ConfigError` reading
``<name> must be <what>, got <value>``; an unknown key names itself and the
known ones. Settings that travel with a checkpoint (decoding, CRF) are read
with :func:`settings_from_dict`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping
from numbers import Real
from typing import Any, TypeVar

from leafcount.errors import ConfigError

Settings = TypeVar("Settings")


def check_number(name: str, value: object, wanted: str, is_valid: Callable[[float], bool]) -> None:
    """Raise unless ``value`` is a finite real number (not a bool) for which ``is_valid`` holds.

    >>> check_number("gt_prob", 1.5, "in (0, 1)", lambda v: 0 < v < 1)
    Traceback (most recent call last):
    leafcount.errors.ConfigError: gt_prob must be in (0, 1), got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or not is_valid(value):
        raise ConfigError(f"{name} must be {wanted}, got {value!r}")


def check_integer(name: str, value: object, minimum: int) -> None:
    """Raise unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_flag(name: str, value: object) -> None:
    """Raise unless ``value`` is True or False (1 and "yes" are not)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")


def check_choice(name: str, value: object, choices: Collection[object]) -> None:
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def settings_from_dict(cls: type[Settings], data: object, what: str) -> Settings:
    """``cls(**data)`` for a settings dataclass; missing keys take their defaults.

    Raises ConfigError when ``data`` is not a mapping or has a key ``cls`` does
    not know (naming it and the known ones), or a value is out of range.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Brush:
    ...     radius: int = 3
    >>> settings_from_dict(Brush, {"radius": 5}, "brush")
    Brush(radius=5)
    >>> settings_from_dict(Brush, {"size": 5}, "brush")
    Traceback (most recent call last):
    leafcount.errors.ConfigError: unknown brush setting 'size'; known: radius
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} settings must be a mapping, got {type(data).__name__}")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise ConfigError(f"unknown {what} setting {names}; known: {', '.join(sorted(known))}")
    return cls(**data)


def checkpoint_settings(meta: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A checkpoint's recommended settings ``meta[key]`` (empty when it has none)."""
    tuned = meta.get(key) or {}
    if not isinstance(tuned, Mapping):
        raise ConfigError(f"checkpoint meta {key!r} must be a mapping, got {type(tuned).__name__}")
    return tuned
