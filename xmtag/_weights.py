"""Loading pickle-based weight files without running them: ``torch.load(weights_only=True)``.

A PyTorch ``.pt``/``.th``/``.bin`` file is a Python pickle; loaded with ``weights_only=False``
it can run any code its author chose. xmtag loads every such file with ``weights_only=True``,
which unpickles only tensors, plain containers and the classes named in an allow-list
(``torch.serialization.safe_globals``, as PyTorch and recent Demucs recommend). A file that
needs anything else is refused with :class:`~xmtag.errors.UnsafeModelFileError`, which says
which global the file asked for; nothing in it runs.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ModelNotFoundError, UnsafeModelFileError

__all__ = ["safe_torch_load", "is_unsafe_pickle_error", "unsafe_model_error"]


def is_unsafe_pickle_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) is ``torch.load(weights_only=True)`` refusing a pickle."""
    seen = 0
    while exc is not None and seen < 8:
        text = str(exc)
        if "Unsupported global" in text:  # the pickle names a callable outside the allow-list
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return False


def _why(exc: BaseException) -> str:
    text = str(exc)
    for line in text.splitlines():
        line = line.strip()
        if "Unsupported" in line:
            why = line.split("WeightsUnpickler error:", 1)[-1].strip()
            return why.split(" was not an allowed global", 1)[0].split(". Please use", 1)[0][:200]
    return (text.strip().splitlines() or [type(exc).__name__])[-1][:200]


def unsafe_model_error(
    path: str | os.PathLike[str], what: str, exc: BaseException, fix: str
) -> UnsafeModelFileError:
    """The error for a refused weight file: which file, why, and what to do."""
    return UnsafeModelFileError(
        f"Refusing to load the {what} {str(path)!r}: it is a pickle that asks to run more than "
        f"weights ({_why(exc)}), and xmtag loads weights only (torch.load(weights_only=True)); "
        f"nothing in it was run. {fix}"
    )


def safe_torch_load(
    path: str | os.PathLike[str], *, allowed: Iterable[Any] = (), what: str = "model file", fix: str = ""
) -> Any:
    """``torch.load(path, weights_only=True)`` with ``allowed`` globals, on the CPU.

    Raises
    ------
    UnsafeModelFileError
        If the file needs a global outside the allow-list (a code-running pickle, or a model
        class xmtag does not know).
    """
    import torch

    fix = fix or "Use the model's official files (or a .safetensors copy) from a source you trust."
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if is_unsafe_pickle_error(exc):
            raise unsafe_model_error(path, what, exc, fix) from None
        raise ModelNotFoundError(
            f"Cannot read the {what} {str(path)!r}: it is not a valid PyTorch file ({_why(exc)}). {fix}"
        ) from None
