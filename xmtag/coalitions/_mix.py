"""Mixing coalitions: what an absent stem becomes, mixes of stems, checks of tagger outputs.

Part of :mod:`xmtag.coalitions` (import the public names from there).

**Baselines.** ``baseline="silence"`` (the default) mixes only the present stems, so an absent
stem is digital silence and the empty coalition is an all-zero clip. ``baseline="noise"``
(:class:`NoiseFloor` with its defaults) adds one fixed noise floor to **every** mix, so the
empty coalition is that noise and an absent stem becomes "the noise floor". The noise is pink
(power spectral density proportional to 1/f above 20 Hz, flat below, no DC), scaled to -60 dBFS
RMS, generated at the tagger's sample rate for the clip's length from
``numpy.random.default_rng(seed)`` (seed 0): the same noise in every coalition and in every run.
Musicnn scores ``rock`` about 0.20 on digital silence; a floor is the other common choice of
what "absent" means (the SoundLIME robustness study found the fill of removed regions changes
explanations), and :func:`xmtag.coalitions.evaluate` records which was used.

**Mixes** are sums in float32: the noise floor first (if any), then the present stems in stem
order, so a coalition's mix is the same bit for bit however it is batched, and adding a stem
that is digitally silent over some samples leaves those samples bit-identical (``x + 0 == x``),
which is what makes the patch-level reuse of :mod:`xmtag.coalitions._reuse` exact.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import choice, finite_float, non_negative_int, positive_int
from ..errors import InvalidGameError, TaggerError, XmtagError
from ..taggers import tagger_name

__all__ = ["NoiseFloor", "BASELINES", "resolve_baseline", "baseline_name", "clear_silence_cache"]

#: The names ``baseline=`` accepts (or pass a :class:`NoiseFloor`).
BASELINES = ("silence", "noise")

# tagger -> {key: output for digital silence}; keys: (n_samples, "clip" | "patches") for whole
# clips, ("window", kind, width) for single patch inputs (see xmtag.coalitions._reuse)
_SILENCE: weakref.WeakKeyDictionary[Any, dict[tuple, np.ndarray]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class NoiseFloor:
    """A seeded noise floor added to every coalition's mix (``baseline="noise"``).

    Parameters
    ----------
    level_db : float
        RMS level in dBFS (default -60: ``rms = 10 ** (level_db / 20) = 0.001``); at most 0.
    color : {"pink", "white"}
        Pink: power spectral density proportional to ``1 / f`` above 20 Hz, flat below, no DC.
        White: flat (Gaussian samples).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same noise.

    Examples
    --------
    >>> floor = NoiseFloor()
    >>> str(floor)
    'noise(pink, -60 dBFS RMS, seed 0)'
    >>> y = floor.signal(16000, 16000)
    >>> y.dtype, round(float(np.sqrt(np.mean(y.astype(np.float64) ** 2))), 6)
    (dtype('float32'), 0.001)
    >>> bool(np.array_equal(y, NoiseFloor(seed=0).signal(16000, 16000)))
    True
    """

    level_db: float = -60.0
    color: str = "pink"
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "level_db", finite_float(self.level_db, "NoiseFloor level_db", high=0.0))
        object.__setattr__(self, "color", choice(self.color, "NoiseFloor color", ("pink", "white")))
        object.__setattr__(self, "seed", non_negative_int(self.seed, "NoiseFloor seed"))

    def __str__(self) -> str:
        return f"noise({self.color}, {self.level_db:g} dBFS RMS, seed {self.seed})"

    def signal(self, n_samples: int, sr: int | None = None, *, sample_rate: int | None = None) -> np.ndarray:
        """The noise floor, float32 ``(n_samples,)`` at ``sr``, RMS ``10 ** (level_db / 20)``.

        Parameters
        ----------
        n_samples : int
            Length of the clip.
        sr : int
            Rate of the clip (sets the 20 Hz corner of pink noise); ``sample_rate=`` is accepted too.

        Returns
        -------
        numpy.ndarray
        """
        n = positive_int(n_samples, "n_samples")
        sr = positive_int(sr if sr is not None else sample_rate, "sr")
        white = np.random.default_rng(self.seed).standard_normal(n)
        if self.color == "pink" and n > 1:
            spec = np.fft.rfft(white)
            f = np.fft.rfftfreq(n, d=1.0 / sr)
            gain = 1.0 / np.sqrt(np.maximum(f, 20.0))
            gain[0] = 0.0
            y = np.fft.irfft(spec * gain, n=n)
        else:
            y = white - white.mean() if n > 1 else white
        rms = float(np.sqrt(np.mean(y**2)))
        if rms == 0.0:  # pragma: no cover - a one-sample clip of an exact zero draw
            return np.zeros(n, np.float32)
        return (y * (10.0 ** (self.level_db / 20.0) / rms)).astype(np.float32)


def resolve_baseline(baseline: Any) -> NoiseFloor | None:
    """``None`` for ``"silence"``, the :class:`NoiseFloor` for ``"noise"`` or a given floor.

    Raises
    ------
    XmtagError
        For anything else, listing the choices.

    Examples
    --------
    >>> resolve_baseline("silence") is None, resolve_baseline("noise")
    (True, NoiseFloor(level_db=-60.0, color='pink', seed=0))
    """
    if isinstance(baseline, NoiseFloor):
        return baseline
    if isinstance(baseline, str) and baseline in BASELINES:
        return None if baseline == "silence" else NoiseFloor()
    raise XmtagError(
        f"baseline must be 'silence' (absent stems are digital silence), 'noise' (a seeded -60 dBFS "
        f"pink noise floor in every mix) or an xmtag.coalitions.NoiseFloor; got {baseline!r}."
    )


def baseline_name(floor: NoiseFloor | None) -> str:
    """``"silence"`` or the floor's description (recorded in results and provenance).

    Examples
    --------
    >>> baseline_name(None), baseline_name(NoiseFloor(level_db=-50, color="white", seed=3))
    ('silence', 'noise(white, -50 dBFS RMS, seed 3)')
    """
    return "silence" if floor is None else str(floor)


def floor_signal(floor: NoiseFloor | None, n_samples: int, sr: int) -> np.ndarray | None:
    """The floor's samples for a clip, or ``None`` for silence."""
    return None if floor is None else floor.signal(n_samples, sr)


class Mixer:
    """Mixes for batches of masks; player ``p`` adds ``tracks[stem[p], start[p]:stop[p]]``.

    ``floor`` (float32 ``(N,)`` or ``None``) is the baseline present in every mix.
    """

    def __init__(
        self, tracks: np.ndarray, players: list[tuple[int, int, int]], floor: np.ndarray | None = None
    ) -> None:
        self.tracks = tracks
        self.players = players
        self.floor = floor

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64)
        out = np.zeros((masks.size, self.tracks.shape[1]), dtype=np.float32)
        if self.floor is not None:
            out[:] = self.floor
        for p, (i, a, b) in enumerate(self.players):  # fixed order: bit-identical sums
            rows = np.flatnonzero((masks >> p) & 1)
            if rows.size:
                out[rows, a:b] += self.tracks[i, a:b]
        return out


def check_output(out: Any, expected: tuple[int, ...], tagger: Any, what: str, masks: np.ndarray, names):
    """A tagger's output as float64 of shape ``expected``, else a :class:`TaggerError` naming the mix."""
    from ..taggers.base import output_array  # numpy, lists or torch tensors (detached); one check for all

    name = tagger_name(tagger)
    arr = output_array(out, f"{name}.{what}")
    if arr.shape != expected:
        raise TaggerError(
            f"{name}.{what} returned shape {arr.shape} for a batch of {expected[0]} clip(s); expected "
            f"{expected} ({'batch, patches, tags' if len(expected) == 3 else 'batch, tags'}, with "
            f"{expected[-1]} = len(labels)). Fix the tagger's output shape."
        )
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr).reshape(arr.shape[0], -1).all(axis=1)
    if not finite.all():
        m = int(masks[np.flatnonzero(~finite)[0]])
        stems = [names[i] for i in range(len(names)) if (m >> i) & 1] if names else []
        what_mix = f"the mix of {stems}" if stems else "digital silence" if m == 0 else f"mask {m}"
        raise TaggerError(
            f"{name}.{what} returned NaN or infinite values for {int((~finite).sum())} clip(s), first for "
            f"coalition mask {m} ({what_mix}). Check the tagger on that input."
        )
    return arr


def clear_silence_cache() -> None:
    """Forget the memoised outputs for silence (e.g. after changing a tagger's weights in place).

    Examples
    --------
    >>> clear_silence_cache()
    """
    _SILENCE.clear()


def silence_memo(tagger: Any) -> dict[tuple, np.ndarray] | None:
    try:
        return _SILENCE.setdefault(tagger, {})
    except TypeError:  # not weak-referenceable or not hashable: no memo
        return None


def n_patches(n_samples: int, patch_length: int) -> int:
    return max(n_samples // patch_length, 1)


def batch_size(batch_size: Any) -> int:
    return positive_int(batch_size, "batch_size", error=InvalidGameError)


def sample_segments(n_samples: int, segments: int) -> list[tuple[int, int]]:
    segments = positive_int(segments, "segments (the number of time segments)")
    if segments > n_samples:
        raise XmtagError(f"segments={segments} is more than the {n_samples} samples of the clip.")
    edges = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n_samples), int(segments))])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]
