"""Chained separation: a separator followed by decompositions of its stems.

``xmtag.Separator("spleeter:2stems+hpss")`` separates vocals from accompaniment with
Spleeter, then splits the accompaniment into harmonic and percussive parts
(:func:`xmtag.separation.decompose.hpss`): stems ``vocals``, ``harmonic``, ``percussive``. The spec
grammar is ``BASE+STEP+STEP...`` where ``BASE`` is any separator spec (``htdemucs``,
``spleeter:2stems``, ...) or is left out (``"hpss"``: decompose the mix itself), and a
``STEP`` is

- ``hpss``                         harmonic / percussive (:func:`~xmtag.separation.decompose.hpss`),
- ``bands:N`` or ``bands:F1,F2,..`` frequency bands, N mel-spaced or edges in Hz
  (:func:`~xmtag.separation.decompose.bands`; a single integer up to 32 is a count, ``bands:500`` one
  edge at 500 Hz),
- ``nmf:K``                        K NMF components (:func:`~xmtag.separation.decompose.nmf`, seeded by
  ``seed``),

optionally followed by ``@STEM``, the stem it splits. Without ``@STEM`` a step splits
``accompaniment`` if there is one, else ``other`` (Demucs' catch-all stem), else the only
stem. The parts replace their stem in place. A step with the default target keeps the
decomposition's names (``spleeter:2stems+hpss``: ``vocals``, ``harmonic``, ``percussive``); a
step with an explicit ``@STEM``, or whose names would clash with another stem, names its parts
``STEM-PART`` (``htdemucs+hpss@vocals``: ``drums``, ``bass``, ``other``, ``vocals-harmonic``,
``vocals-percussive``).

**Sums.** A decomposition's parts sum to its stem to float precision, so the chain's stems
sum to the base separator's; the chain then applies the residual policy of
:mod:`xmtag.separation._base` to the result: when the base model's stems do not add up to the
mix (Demucs), a ``residual`` stem makes them. The base caches its stems; the chain caches its
own result keyed by the base's stems and the steps.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio import load_audio
from ..cache import Cache, default_cache, hash_array, make_key
from ..errors import XmtagError
from ._base import CACHE_NAMESPACE, RESIDUAL_NAME, Separator, check_residual, read_input, registered
from ._stems import Stems

__all__ = ["ChainSeparator", "Step", "parse_step", "is_decomposition"]

logger = logging.getLogger(__name__)

_CODE_VERSION = 1
_STEP = re.compile(r"^(?P<name>hpss|bands|nmf)(?::(?P<args>[^@]*))?(?:@(?P<target>.+))?$")
_DEFAULT_TARGETS = ("accompaniment", "other")
#: ``bands:N`` with one integer N up to this is a number of bands; above, an edge in Hz.
_MAX_BAND_COUNT = 32


@dataclass(frozen=True)
class Step:
    """One decomposition of a chain: ``name`` with ``args``, applied to stem ``target``."""

    name: str
    args: tuple[float, ...] = ()
    target: str | None = None

    @property
    def spec(self) -> str:
        """The step written back as a spec (``"bands:250,2000@other"``)."""
        args = ",".join(f"{a:g}" for a in self.args)
        return self.name + (f":{args}" if args else "") + (f"@{self.target}" if self.target else "")

    def apply(self, y: np.ndarray, sr: int, seed: int) -> Stems:
        """Decompose ``y``."""
        from . import decompose

        if self.name == "hpss":
            return decompose.hpss(y, sr)
        if self.name == "nmf":
            return decompose.nmf(y, sr, int(self.args[0]), seed=seed)
        count = len(self.args) == 1 and self.args[0] % 1 == 0 and 2 <= self.args[0] <= _MAX_BAND_COUNT
        return decompose.bands(y, sr, int(self.args[0]) if count else list(self.args))


def is_decomposition(spec: str) -> bool:
    """Whether ``spec`` is a decomposition step (``"hpss"``, ``"bands:4"``, ``"nmf:3@other"``).

    >>> is_decomposition("hpss"), is_decomposition("bands:200,2000"), is_decomposition("htdemucs")
    (True, True, False)
    """
    return _STEP.match(spec.strip()) is not None


def parse_step(spec: str) -> Step:
    """Parse one step of a chain spec.

    Parameters
    ----------
    spec : str
        ``hpss``, ``bands:N``, ``bands:F1,F2,...``, ``nmf:K``, each optionally ``@STEM``.

    Returns
    -------
    Step

    Raises
    ------
    XmtagError
        For a spec that is not a decomposition, or bad arguments.

    Examples
    --------
    >>> parse_step("bands:250,2000@other")
    Step(name='bands', args=(250.0, 2000.0), target='other')
    >>> parse_step("nmf:3").spec
    'nmf:3'
    """
    m = _STEP.match(spec.strip())
    if m is None:
        raise XmtagError(
            f"{spec!r} is not a decomposition step; use hpss, bands:N, bands:F1,F2,... or nmf:K, "
            "optionally followed by @STEM (e.g. 'spleeter:2stems+hpss@accompaniment')."
        )
    name, raw, target = m["name"], (m["args"] or "").strip(), m["target"]
    try:
        args = tuple(float(a) for a in raw.split(",")) if raw else ()
    except ValueError:
        raise XmtagError(f"{spec!r}: the arguments of {name} must be numbers, got {raw!r}.") from None
    if name == "hpss" and args:
        raise XmtagError(f"{spec!r}: hpss takes no arguments (use xmtag.decompose.hpss for its options).")
    if name == "nmf" and (len(args) != 1 or args[0] < 1 or args[0] % 1):
        raise XmtagError(f"{spec!r}: write nmf:K with K a positive integer, e.g. nmf:3.")
    if name == "bands" and not args:
        raise XmtagError(f"{spec!r}: write bands:N (N mel-spaced bands) or bands:F1,F2,... (edges in Hz).")
    return Step(name, args, target.strip() if target else None)


class ChainSeparator(Separator):
    """A separator followed by decompositions of its stems (module notes for the spec).

    Parameters
    ----------
    model : str
        The chain spec, e.g. ``"spleeter:2stems+hpss"``, ``"htdemucs+bands:3@other"``,
        ``"hpss"`` (the mix alone).
    repo, device
        Passed to the base separator.
    seed : int
        Seed of ``nmf`` steps (and of Demucs' shifts).
    residual : {"auto", True, False}
        Residual stem policy applied to the chain's result.
    cache, progress : bool
        As for every separator (the base separator gets the same).
    **options
        Further options of the base separator (``shifts=`` for Demucs, ...).

    Examples
    --------
    >>> import numpy as np, xmtag
    >>> y = np.random.default_rng(0).standard_normal((2, 8000)).astype(np.float32)
    >>> stems = xmtag.Separator("bands:1000+hpss@1000-4000Hz", cache=False).separate(y, sr=8000)
    >>> stems.names
    ['0-1000Hz', '1000-4000Hz-harmonic', '1000-4000Hz-percussive']
    >>> bool(np.abs(sum(stems.values()) - y).max() < 1e-5)
    True
    """

    def __init__(
        self,
        model: str,
        repo: str | os.PathLike[str] | None = None,
        device: str = "auto",
        *,
        seed: int = 0,
        residual: str | bool = "auto",
        cache: bool = True,
        progress: bool = True,
        **options: Any,
    ) -> None:
        from .._checks import non_negative_int

        backend_class, make_separator = registered("backend_class"), registered("make_separator")

        if not isinstance(model, str) or not model.strip():
            raise XmtagError(f"Separator: a chain spec must be a non-empty string, got {model!r}.")
        parts = [p.strip() for p in model.split("+")]
        if any(not p for p in parts):
            raise XmtagError(
                f"Separator({model!r}): empty part in the chain; write e.g. 'spleeter:2stems+hpss'."
            )
        self.seed = non_negative_int(seed, "Separator: seed")
        self.residual = check_residual(residual)
        self.progress = bool(progress)
        self.cache: Cache = default_cache(enabled=bool(cache))
        base_spec = None if is_decomposition(parts[0]) else parts[0]
        self.steps = [parse_step(p) for p in (parts if base_spec is None else parts[1:])]
        if base_spec is not None and not self.steps:
            raise XmtagError(f"Separator({model!r}) has no decomposition step.")
        if base_spec is None and (repo is not None or options):
            raise XmtagError(
                f"Separator({model!r}) decomposes the mix itself: repo= and model options need a "
                "separator first, e.g. 'htdemucs+hpss'."
            )
        self.base: Separator | None = None
        if base_spec is not None:
            if "seed" in _init_parameters(backend_class(base_spec, repo)):
                options.setdefault("seed", self.seed)
            self.base = make_separator(
                base_spec, repo=repo, device=device, residual=False, cache=cache, progress=progress, **options
            )
        self.model_name = "+".join(
            [*([self.base.model_name] if self.base else []), *(s.spec for s in self.steps)]
        )

    def __repr__(self) -> str:
        base = f", base={self.base!r}" if self.base is not None else ""
        return f"Separator({self.model_name!r}{base})"

    @property
    def samplerate(self) -> int | None:  # type: ignore[override]
        """The base separator's rate, or ``None`` (the input's rate) for a decomposition alone."""
        return self.base.samplerate if self.base is not None else None

    @property
    def block_frames(self) -> int | None:
        """The base separator's independent chunk (see :func:`~xmtag.separation.separate_blocks`)."""
        return getattr(self.base, "block_frames", None) if self.base is not None else None

    @property
    def sources(self) -> list[str]:
        """The chain's stem names (loads the base model; band names need its rate)."""
        names = list(self.base.sources) if self.base is not None else ["mix"]
        sr = self.samplerate or 44100
        for step in self.steps:
            target = self._target(step, names)
            probe = step.apply(np.zeros((1, 4096), np.float32), sr, self.seed).names
            names = _replace(names, target, probe, step.target is not None)
        return names

    @property
    def signature(self) -> dict[str, Any]:
        """The base's signature and the steps."""
        return {
            "chain": [s.spec for s in self.steps],
            "base": self.base.signature if self.base is not None else None,
            "seed": self.seed,
        }

    def _target(self, step: Step, names: list[str]) -> str:
        if step.target is not None:
            if step.target not in names:
                raise XmtagError(
                    f"Separator({self.model_name!r}): no stem {step.target!r} to split with {step.name} "
                    f"(the stems are {names})."
                )
            return step.target
        for t in _DEFAULT_TARGETS:
            if t in names:
                return t
        if len(names) == 1:
            return names[0]
        raise XmtagError(
            f"Separator({self.model_name!r}): say which stem {step.name} splits, e.g. "
            f"'{step.name}@{names[-1]}' (the stems are {names})."
        )

    def separate(self, path_or_array: str | os.PathLike[str] | np.ndarray, sr: int | None = None) -> Stems:
        """Separate with the base separator, then decompose (module notes).

        Parameters
        ----------
        path_or_array : str, os.PathLike or numpy.ndarray
            An audio file or a waveform.
        sr : int, optional
            Sample rate of an array.

        Returns
        -------
        Stems
            The chain's stems (and ``residual`` under the residual policy), with the
            mixture of the base separation (or the input).
        """
        if self.base is not None:
            stems = self.base.separate(path_or_array, sr)
        else:
            y, rate, _, _ = read_input(path_or_array, sr, lambda p: load_audio(p))
            stems = Stems({"mix": y}, sr=rate, mixture=y)
        digest = make_key(*(hash_array(stems[n]) for n in stems.names), stems.names, stems.sr)
        key = make_key(
            "xmtag.separation._chain", _CODE_VERSION, digest, [s.spec for s in self.steps], self.seed
        )
        hit = self.cache.get(CACHE_NAMESPACE, key)
        mix = stems.mixture
        if hit is not None:
            arrays, meta = hit
            logger.info("Decomposed stems from the cache (%s).", key[:12])
            return self._with_residual(
                Stems({n: arrays[f"stem/{n}"] for n in meta["names"]}, sr=stems.sr, mixture=mix)
            )
        arrays = {n: stems[n] for n in stems.names}
        for step in self.steps:
            names = list(arrays)
            target = self._target(step, names)
            parts = step.apply(arrays[target], stems.sr, self.seed)
            new_names = _replace(names, target, parts.names, step.target is not None)
            renamed = dict(
                zip(parts.names, new_names[names.index(target) : names.index(target) + len(parts)])
            )
            arrays = {
                **{n: arrays[n] for n in names[: names.index(target)]},
                **{renamed[p]: parts[p] for p in parts.names},
                **{n: arrays[n] for n in names[names.index(target) + 1 :]},
            }
        out = Stems(arrays, sr=stems.sr, mixture=mix)
        self.cache.put(
            CACHE_NAMESPACE,
            key,
            {f"stem/{n}": a for n, a in out.items()},
            meta={"names": out.names, "sr": out.sr, "model": self.model_name},
        )
        return self._with_residual(out)


def _replace(names: list[str], target: str, parts: list[str], explicit: bool) -> list[str]:
    """``names`` with ``target`` replaced by ``parts``, prefixed ``target-`` when asked or on a clash."""
    others = [n for n in names if n != target]
    if explicit or any(p in others or p == RESIDUAL_NAME for p in parts):
        parts = [f"{target}-{p}" for p in parts]
    i = names.index(target)
    return [*names[:i], *parts, *names[i + 1 :]]


def _init_parameters(cls: type) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)
