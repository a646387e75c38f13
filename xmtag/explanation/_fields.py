"""Validation of an :class:`~xmtag.Explanation`'s fields: float64, read-only, finite, of the right shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidGameError

__all__ = ["ARRAY_FIELDS", "register_class", "explanation_class"]

#: Array fields of an explanation, in file order (``None`` when absent).
ARRAY_FIELDS = (
    "values",
    "base_values",
    "prediction",
    "stderr",
    "coalition_values",
    "interactions",
    "segment_values",
    "segment_stderr",
    "segment_coalition_values",
    "segment_weights",
    "segment_bounds",
    "envelope",
)

_CLASS: dict[str, type] = {}


def register_class(cls: type) -> type:
    """Class decorator: the :class:`~xmtag.Explanation` type that the builders in this package make.

    The file format, :func:`~xmtag.explanation.from_game` and the score tables build explanations
    without importing the module that defines the class (which imports them): the class
    registers itself here when :mod:`xmtag.explanation` is imported, which always happens
    before any of its modules runs.
    """
    _CLASS["Explanation"] = cls
    return cls


def explanation_class() -> type:
    """The registered :class:`~xmtag.Explanation` type (see :func:`register_class`)."""
    return _CLASS["Explanation"]


def _as_float_array(x: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    try:
        a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidGameError(f"Explanation: {name} must be a numeric array ({exc}).") from exc
    if shape is not None and a.shape != shape:
        raise InvalidGameError(f"Explanation: {name} must have shape {shape}, got {a.shape}.")
    if not np.isfinite(a).all():
        raise InvalidGameError(f"Explanation: {name} contains NaN or infinite values.")
    a.flags.writeable = False
    return a


def _optional(x: Any, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    return None if x is None else _as_float_array(x, name, shape)


def _names(names: Sequence[str], what: str) -> list[str]:
    if isinstance(names, (str, bytes)):
        raise InvalidGameError(
            f"Explanation: {what} names must be a list of strings, got the string {names!r}."
        )
    out = [str(s) for s in names]
    if len(set(out)) != len(out):
        dup = sorted({x for x in out if out.count(x) > 1})
        raise InvalidGameError(f"Explanation: repeated {what} names {dup}.")
    return out
