"""What every separator backend shares: the :class:`Separator` entry point and its checks.

``Separator(spec, ...)`` is a factory: the spec names a backend and :class:`Separator`
returns an instance of it (all backends subclass :class:`Separator`, so
``isinstance(sep, xmtag.Separator)`` holds for every one):

========================== ==================================================================
spec                       backend
========================== ==================================================================
``"auto"``                 the best available one (:func:`~xmtag.separation.choose_separator`)
``"htdemucs"``, ...        Demucs (:class:`~xmtag.separation._demucs.DemucsSeparator`);
                           ``"demucs:NAME"`` says so explicitly
``"spleeter:2stems"``      Spleeter 2-stem, packaged weights
                           (:class:`~xmtag.separation._spleeter.SpleeterSeparator`)
``"A+hpss"``, ``"A+nmf:3"`` separator ``A`` followed by a decomposition
                           (:class:`~xmtag.separation._chain.ChainSeparator`); ``"hpss"``
                           alone decomposes the mix
========================== ==================================================================

**Residual policy.** A separator model does not always return stems that add up to its
input. Every backend takes ``residual=``: ``"auto"`` (default) adds an explicit stem
``"residual"`` (mixture minus the sum of the model's stems) when its energy is above
:data:`RESIDUAL_FLOOR_DB` relative to the mixture, so the stems sum to the mix to float
precision; ``True`` always adds it, ``False`` never (the residual is then only stated, in
:attr:`Stems.residual_db <xmtag.Stems.residual_db>`).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._checks import positive_int
from ..audio import check_waveform
from ..errors import AudioError, XmtagError
from ._stems import Stems

__all__ = ["Separator", "RESIDUAL_FLOOR_DB", "RESIDUAL_NAME", "CACHE_NAMESPACE"]

#: Cache namespace of separated stems (all backends).
CACHE_NAMESPACE = "stems"
#: Name of the explicit residual stem.
RESIDUAL_NAME = "residual"
#: A residual at or below this energy (dB relative to the mixture) is negligible: no stem.
RESIDUAL_FLOOR_DB = -60.0


#: What the registry (``_registry``) puts here when :mod:`xmtag.separation` is imported:
#: ``make_separator`` (a spec -> a backend) and ``backend_class`` (a spec -> its class). The
#: backends sit below the registry and build other separators through these, so no module
#: of the subpackage imports one above it.
_FACTORY: dict[str, Any] = {}


def registered(name: str) -> Any:
    """The registry's ``make_separator`` or ``backend_class`` (see :data:`_FACTORY`)."""
    return _FACTORY[name]


class _Factory(type):
    """``Separator(spec, ...)`` builds the backend the spec names; subclasses build themselves."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Separator:
            return registered("make_separator")(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class Separator(metaclass=_Factory):
    """Separate songs into stems: ``Separator(spec, ...).separate(song) -> Stems``.

    ``Separator("htdemucs", repo=...)`` is a :class:`~xmtag.separation._demucs.DemucsSeparator`,
    ``Separator("spleeter:2stems")`` a :class:`~xmtag.separation._spleeter.SpleeterSeparator`,
    ``Separator("spleeter:2stems+hpss")`` a :class:`~xmtag.separation._chain.ChainSeparator`,
    ``Separator()`` / ``Separator("auto")`` the best one available here (module notes).
    Keyword arguments go to the backend (``repo``, ``device``, ``cache``, ``progress``,
    ``residual``, and the backend's own).

    Every backend has :meth:`separate`, :attr:`model_name` (its spec), :attr:`sources`
    (stem names before a residual stem), :attr:`samplerate`, :attr:`signature` (what
    identifies its weights in cache keys), ``cache`` and ``progress``.

    Examples
    --------
    >>> import xmtag
    >>> sep = xmtag.Separator("hpss", progress=False, cache=False)
    >>> type(sep).__name__, isinstance(sep, xmtag.Separator)
    ('ChainSeparator', True)
    """

    model_name: str
    progress: bool
    residual: str | bool

    def separate(self, path_or_array: str | os.PathLike[str] | np.ndarray, sr: int | None = None) -> Stems:
        """Separate a song (a file, or an array with its ``sr``) into :class:`~xmtag.Stems`."""
        raise NotImplementedError

    @property
    def sources(self) -> list[str]:
        """The stem names the model produces (before any ``residual`` stem)."""
        raise NotImplementedError

    @property
    def samplerate(self) -> int:
        """The rate the stems come back at (Demucs' spelling; see :attr:`sr`)."""
        raise NotImplementedError

    @property
    def sr(self) -> int | None:
        """The rate the stems come back at, in Hz: xmtag's spelling of :attr:`samplerate`."""
        return self.samplerate

    @property
    def signature(self) -> dict[str, Any]:
        """What identifies the model's weights in cache keys."""
        raise NotImplementedError

    # -- helpers for the backends ------------------------------------------------------------------
    def _with_residual(self, stems: Stems) -> Stems:
        """Apply the residual policy (module notes) to a backend's stems."""
        return with_residual(stems, self.residual)


def with_residual(stems: Stems, policy: str | bool) -> Stems:
    """Add an explicit ``residual`` stem under ``policy`` (``"auto"``, ``True``, ``False``).

    Parameters
    ----------
    stems : Stems
        A separation with its ``mixture``.
    policy : {"auto", True, False}
        See the module notes.

    Returns
    -------
    Stems
        ``stems`` itself, or a copy with a last stem ``"residual"`` = mixture - sum of stems.

    Examples
    --------
    >>> import numpy as np
    >>> s = Stems({"a": np.ones((1, 4))}, sr=8000, mixture=np.full((1, 4), 1.5))
    >>> with_residual(s, "auto").names, float(with_residual(s, "auto")["residual"][0, 0])
    (['a', 'residual'], 0.5)
    >>> with_residual(s, False).names
    ['a']
    """
    if not stems.has_mixture or policy is False or RESIDUAL_NAME in stems.names:
        return stems
    if policy == "auto" and not stems.residual_db > RESIDUAL_FLOOR_DB:
        return stems
    arrays = {n: stems[n] for n in stems.names}
    arrays[RESIDUAL_NAME] = stems.residual.astype(np.float32)
    return Stems(arrays, sr=stems.sr, mixture=stems.mixture)


def check_residual(value: Any) -> str | bool:
    """The residual policy, checked: ``"auto"``, ``True`` or ``False``."""
    if value is True or value is False or value == "auto":
        return value
    raise XmtagError(f"Separator: residual must be 'auto', True or False, got {value!r}.")


def read_input(
    x: Any, sr: int | None, load: Callable[[Any], tuple[np.ndarray, int]]
) -> tuple[np.ndarray, int, str, Callable[[], np.ndarray] | None]:
    """``(samples, rate, label, reload)`` of a file or an array; ``reload`` re-reads a file."""
    if isinstance(x, (str, os.PathLike)):
        if sr is not None:
            raise AudioError(
                f"separate({str(x)!r}, sr={sr}): sr= is for arrays; a file's rate is read from it. "
                "Drop sr= (Stems come back at the model's rate)."
            )
        y, file_sr = load(x)
        return y, file_sr, str(x), lambda: load(x)[0]
    if sr is None:
        raise AudioError("separate(array): pass the array's sample rate, e.g. separate(y, sr=44100).")
    sr = positive_int(sr, f"separate(array, sr={sr!r}): sr (Hz)", error=AudioError)
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    y = check_waveform(x, "separate(array)")
    return y, int(sr), f"array {tuple(y.shape)} at {int(sr)} Hz", None


def number(value: Any, what: str) -> float:
    """A finite float, or an :class:`~xmtag.errors.XmtagError` naming the parameter."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise XmtagError(f"Separator: {what} must be a number, got {value!r}.") from None
    if not np.isfinite(out):
        raise XmtagError(f"Separator: {what} must be finite, got {value!r}.")
    return out


def check_device(device: Any) -> str:
    """The torch device to run on: ``"auto"`` (CUDA when available, else CPU; the default of every
    model in xmtag), or a device that exists here; else a clear error."""
    import torch

    from .._checks import resolve_device

    if device is None or device == "auto":
        return str(resolve_device("auto"))
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise XmtagError(
            f"Separator: unknown device {device!r} ({exc}); use 'auto', 'cpu' or 'cuda'."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise XmtagError(
            f"Separator: device {device!r} requested but CUDA is not available; use 'cpu' or 'auto'."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise XmtagError(
            f"Separator: device {device!r} requested but MPS is not available; use 'cpu' or 'auto'."
        )
    return str(device)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python's ``random`` (Demucs draws its shifts from it) and restore it afterwards."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)
