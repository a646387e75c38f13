"""Argument checks shared by the whole package: one place, one wording.

Every public function that takes a count, a level, a tag selection, a label list, a thread
count or a device validates it here, so a bad argument raises the same
:class:`~xmtag.errors.XmtagError` subclass with the same message wherever it is passed, and
never reaches a dependency as a raw value (``threads=-1`` into torch, ``max_pad=nan`` into
numpy).

Examples
--------
>>> from xmtag._checks import positive_int, finite_float
>>> positive_int(3, "segments")
3
>>> positive_int(0, "segments")
Traceback (most recent call last):
...
xmtag.errors.XmtagError: segments must be a positive integer, got 0.
>>> finite_float(float("nan"), "max_pad", low=0)
Traceback (most recent call last):
...
xmtag.errors.XmtagError: max_pad must be a finite number >= 0, got nan.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import limits
from .errors import UnknownTagError, XmtagError

__all__ = [
    "positive_int",
    "non_negative_int",
    "finite_float",
    "share",
    "choice",
    "label_list",
    "tag_indices",
    "unknown_tag",
    "threads",
    "resolve_device",
]


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def positive_int(x: Any, name: str, *, allow_none: bool = False, error: type[XmtagError] = XmtagError) -> Any:
    """``x`` as an ``int >= 1`` (or ``None`` when allowed), else ``error`` naming ``name``."""
    if x is None and allow_none:
        return None
    if not _is_int(x) or int(x) < 1:
        tail = " or None" if allow_none else ""
        raise error(f"{name} must be a positive integer{tail}, got {x!r}.")
    return int(x)


def budget(
    x: Any, name: str = "budget", *, allow_none: bool = True, error: type[XmtagError] = XmtagError
) -> Any:
    """A tagger-row budget: a positive int at most ``xmtag.limits.MAX_BUDGET`` (or ``None``)."""
    x = positive_int(x, name, allow_none=allow_none, error=error)
    if x is not None and x > limits.MAX_BUDGET:
        raise error(
            f"{name}={x:,} tagger rows is more than xmtag evaluates (the sampled methods hold a row of "
            f"scores, and lime a row of the design matrix, per evaluation); pass a smaller {name}. "
            + limits.how_to_raise("MAX_BUDGET")
        )
    return x


def non_negative_int(
    x: Any, name: str, *, allow_none: bool = False, error: type[XmtagError] = XmtagError
) -> Any:
    """``x`` as an ``int >= 0`` (or ``None`` when allowed), else ``error`` naming ``name``."""
    if x is None and allow_none:
        return None
    if not _is_int(x) or int(x) < 0:
        tail = " or None" if allow_none else ""
        raise error(f"{name} must be a non-negative integer{tail}, got {x!r}.")
    return int(x)


def finite_float(
    x: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    allow_none: bool = False,
    error: type[XmtagError] = XmtagError,
) -> Any:
    """``x`` as a finite float within ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    if x is None and allow_none:
        return None
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"<= {high:g}")
    what = f"a finite number {' and '.join(bounds)}".rstrip()
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise error(f"{name} must be {what}, got {x!r}.")
    v = float(x)
    if not math.isfinite(v):
        raise error(f"{name} must be {what}, got {v!r}.")
    if low is not None and (v < low or (low_open and v == low)):
        raise error(f"{name} must be {what}, got {v!r}.")
    if high is not None and v > high:
        raise error(f"{name} must be {what}, got {v!r}.")
    return v


def share(x: Any, name: str = "share") -> float:
    """A share in ``(0, 1]``."""
    return finite_float(x, name, low=0.0, high=1.0, low_open=True)


def choice(x: Any, name: str, options: Sequence[str]) -> str:
    """``x`` if it is one of ``options`` (strings), else an error listing them."""
    if not isinstance(x, str) or x not in options:
        raise XmtagError(f"{name} must be one of {', '.join(map(repr, options))}; got {x!r}.")
    return x


def label_list(labels: Any, who: str, *, error: type[XmtagError] = XmtagError) -> list[str]:
    """A list of distinct, non-empty string labels.

    A plain string is refused (``labels="rock"`` would otherwise be four tags r, o, c, k).
    """
    if isinstance(labels, (str, bytes)):
        raise error(
            f"{who}: labels must be a list of tag names, got the single string {labels!r}; "
            f"write [{labels!r}] for one tag."
        )
    try:
        out = list(labels)
    except TypeError:
        raise error(f"{who}: labels must be a list of tag names, got {type(labels).__name__}.") from None
    if not out:
        raise error(f"{who}: labels is empty; a tagger needs at least one tag name.")
    bad = [x for x in out if not isinstance(x, (str, np.str_)) or not str(x)]
    if bad:
        raise error(f"{who}: every label must be a non-empty string; got {bad[:3]!r}.")
    out = [str(x) for x in out]
    longest = max(out, key=len)
    if len(longest) > limits.MAX_NAME_CHARS:
        raise error(
            f"{who}: a label of {len(longest):,} characters ({longest[:40]!r}...) is longer than tag "
            f"names can be. {limits.how_to_raise('MAX_NAME_CHARS')}"
        )
    if len(set(out)) != len(out):
        dup = sorted({x for x in out if out.count(x) > 1})
        raise error(f"{who}: repeated labels {dup}.")
    return out


def unknown_tag(tag: object, labels: Sequence[str]) -> UnknownTagError:
    """The error for a tag that is not a label, suggesting close ones."""
    import difflib

    close = difflib.get_close_matches(str(tag), list(labels), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(list(labels)[:12]) + (", ..." if len(labels) > 12 else "")
    return UnknownTagError(f"Unknown tag {tag!r}.{hint} The tagger's labels are: {shown}.")


def tag_indices(
    labels: Sequence[str],
    tags: Iterable[str | int] | str | int | None = None,
    top: int | None = None,
    prediction: np.ndarray | None = None,
    *,
    who: str = "tags",
) -> list[int]:
    """Indices of the selected tags: ``tags`` in that order (default all), then the ``top``
    of them by ``prediction`` (highest first, stable)."""
    labels = list(labels)
    if tags is None:
        idx = list(range(len(labels)))
    else:
        if isinstance(tags, (str, int, np.integer)):
            tags = [tags]
        idx = []
        for t in tags:
            if _is_int(t):
                if not -len(labels) <= int(t) < len(labels):
                    raise UnknownTagError(f"Tag index {t} is out of range for {len(labels)} tags.")
                idx.append(int(t) % len(labels))
            elif str(t) in labels:
                idx.append(labels.index(str(t)))
            else:
                raise unknown_tag(t, labels)
        if not idx:
            raise XmtagError(f"{who}: no tags given; pass at least one tag name.")
        if len(set(idx)) != len(idx):
            raise XmtagError(f"{who}: repeated tags in {list(tags)}.")
    top = positive_int(top, "top", allow_none=True)
    if top is not None:
        if prediction is None:
            raise XmtagError(f"{who}: top= needs predictions to rank tags by.")
        order = np.argsort(-np.asarray(prediction)[idx], kind="stable")[:top]
        idx = [idx[i] for i in order]
    return idx


def threads(x: Any, name: str = "threads") -> int | None:
    """A thread count: ``None`` (library default) or an int >= 1."""
    return positive_int(x, name, allow_none=True)


def resolve_device(device: Any = "auto") -> Any:
    """A :class:`torch.device` from ``"auto"`` (CUDA when available, else CPU), a name or a device.

    ``XMTAG_DEVICE`` overrides ``"auto"``. Asking for CUDA on a machine without it is an error
    that says so (not a traceback from torch).
    """
    import torch

    if device is None or device == "auto":
        device = os.environ.get("XMTAG_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise XmtagError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device; "
            f"got {device!r} ({exc})."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise XmtagError(
            f"device={device!r}: this machine has no CUDA GPU visible to torch (or torch is a CPU build); "
            "use device='cpu' or 'auto'."
        )
    return dev
