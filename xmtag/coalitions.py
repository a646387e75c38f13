"""Evaluate a tagger on the mix of every subset of stems.

:func:`evaluate` turns stems and a tagger into the coalition values that
:mod:`xmtag.shapley` attributes: row ``m`` of ``CoalitionValues.values`` is the tagger's
clip output for the sum of the stems whose bits are set in ``m`` (stem ``i`` is bit ``i``;
mask 0 is digital silence, the last mask the sum of all stems).

How the work is bounded:

* each stem is downmixed to mono (channel mean) and resampled to the tagger's rate **once**;
* mixes are built lazily, ``batch_size`` at a time, and discarded after the tagger has seen
  them, so memory is ``n`` stems plus one batch of mixes, never ``2**n`` full-length mixes;
* each coalition is evaluated exactly once; the empty coalition (silence) is memoised per
  tagger object and length for the life of the process, so it is paid once across calls
  (:func:`clear_silence_cache` forgets it);
* a tqdm progress bar shows the passes (``progress=False`` hides it).

Mixes are sums of stems, added in stem order in float32, so a coalition's mix is the same
bit for bit whatever the batch size; the values are then batch-invariant whenever the tagger
processes rows independently. A residual (``Stems.mixture`` minus the sum of the stems) is
not a player: the grand coalition is the sum of the stems.

**Time-resolved values.** With ``segments=K`` and a patch-decomposable tagger
(``tagger.patch_length`` not ``None``; clip output = mean of per-patch outputs), the tagger's
``predict_patches`` is called once per coalition, the ``P`` whole patches are split into ``K``
contiguous groups as evenly as possible (segments are therefore always aligned to patch
boundaries; the trailing samples after the last whole patch are ignored by the tagger and
belong to no segment), and ``segment_values[m, k]`` is the mean output over group ``k``.
:func:`xmtag.shapley.segments` turns these into exact (stem, segment) Shapley values at no
extra tagger cost. Taggers that are not patch-decomposable raise a :class:`TaggerError`
for ``segments`` here; :func:`estimate_segments` estimates their (stem, segment) values by
permutation sampling, with standard errors.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .audio import check_waveform, resample, to_mono
from .errors import AudioError, InvalidGameError, TaggerError, XmtagError
from .mixes import export  # noqa: F401  (xmtag.coalitions.export: write every mix to files)
from .shapley import MAX_PLAYERS

__all__ = [
    "CoalitionValues",
    "SegmentEstimate",
    "evaluate",
    "value_function",
    "estimate_segments",
    "prepare_stems",
    "patch_segments",
    "clear_silence_cache",
]

logger = logging.getLogger(__name__)

# tagger -> {(n_samples, "clip" | "patches"): output for digital silence}
_SILENCE: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], np.ndarray]] = weakref.WeakKeyDictionary()


@dataclass
class CoalitionValues:
    """Tagger outputs for every coalition of stems.

    Attributes
    ----------
    names : list of str
        Stem names; stem ``i`` is bit ``i`` of a coalition mask.
    labels : list of str
        The tagger's tag names.
    values : numpy.ndarray
        float64 ``(2**n, n_tags)``: clip output of the tagger for each coalition mask.
    segment_values : numpy.ndarray or None
        float64 ``(2**n, K, n_tags)``: mean patch output within each segment, when
        ``segments`` was given.
    segment_weights : numpy.ndarray or None
        ``(K,)`` share of the clip's patches in each segment (sums to 1); ``values`` equals
        ``sum_k segment_weights[k] * segment_values[:, k]``.
    segment_bounds : numpy.ndarray or None
        ``(K, 2)`` start and end of each segment in seconds.
    n_tagger_rows : int
        Clips actually fed to the tagger (``2**n``, or ``2**n - 1`` when silence was memoised).
    sample_rate : int
        Rate of the mixes the tagger saw (the tagger's ``sample_rate``).
    duration : float
        Length of the stems in seconds.
    n_patches : int or None
        Whole patches per clip for patch-decomposable taggers, else ``None``.
    tagger_name : str
        The tagger's ``name`` (or its class name).
    """

    names: list[str]
    labels: list[str]
    values: np.ndarray
    segment_values: np.ndarray | None
    segment_weights: np.ndarray | None
    segment_bounds: np.ndarray | None
    n_tagger_rows: int
    sample_rate: int
    duration: float
    n_patches: int | None = None
    tagger_name: str = ""

    @property
    def n_players(self) -> int:
        """Number of stems."""
        return len(self.names)

    @property
    def base_values(self) -> np.ndarray:
        """``(n_tags,)`` output for silence (mask 0)."""
        return self.values[0]

    @property
    def prediction(self) -> np.ndarray:
        """``(n_tags,)`` output for the sum of all stems."""
        return self.values[-1]


@dataclass
class SegmentEstimate:
    """Sampled (stem, segment) Shapley values from :func:`estimate_segments`.

    Attributes
    ----------
    names, labels : list of str
        Stem and tag names.
    values : numpy.ndarray
        ``(n, K, n_tags)`` estimated values.
    std_errors : numpy.ndarray
        ``(n, K, n_tags)`` standard errors.
    segment_bounds : numpy.ndarray
        ``(K, 2)`` segment start and end in seconds.
    base_values, prediction : numpy.ndarray
        ``(n_tags,)`` outputs for silence and for the sum of all stems.
    n_tagger_rows : int
        Clips fed to the tagger.
    n_permutations : int
        Player orders sampled.
    """

    names: list[str]
    labels: list[str]
    values: np.ndarray
    std_errors: np.ndarray
    segment_bounds: np.ndarray
    base_values: np.ndarray
    prediction: np.ndarray
    n_tagger_rows: int
    n_permutations: int


# --------------------------------------------------------------------------------------------
# inputs


def _tagger_name(tagger: Any) -> str:
    return str(getattr(tagger, "name", None) or type(tagger).__name__)


def _check_tagger(tagger: Any, need_patches: bool) -> tuple[list[str], int, int | None]:
    from .taggers.base import tagger_spec  # the one place taggers are validated

    return tagger_spec(tagger, need_patches=need_patches)


def prepare_stems(
    stems: Any, target_sr: int, *, sr: int | None = None
) -> tuple[list[str], np.ndarray, int, int]:
    """Downmix and resample every stem once.

    Parameters
    ----------
    stems : xmtag.Stems or Mapping[str, numpy.ndarray]
        Anything with ``.names``, ``.sr`` and ``[name]`` (a :class:`xmtag.Stems`), or a mapping
        of name to ``(C, N)`` (or 1-D) waveforms with ``sr`` given.
    target_sr : int
        Rate to resample to.
    sr : int, optional
        Rate of the arrays of a plain mapping (must match ``stems.sr`` if both are given).

    Returns
    -------
    names : list of str
    tracks : numpy.ndarray
        float32 ``(n, N)`` mono stems at ``target_sr``.
    orig_sr : int
    orig_samples : int

    Raises
    ------
    XmtagError
        For no stems, a missing or mismatched ``sr``, or stems of different lengths.
    AudioError
        For an invalid waveform (NaN, wrong shape, ...), naming the stem.

    Examples
    --------
    >>> names, tracks, _, _ = prepare_stems({"a": np.ones(4), "b": np.zeros((2, 4))}, 16000, sr=16000)
    >>> names, tracks.shape
    (['a', 'b'], (2, 4))
    """
    if hasattr(stems, "names") and hasattr(stems, "sr") and hasattr(stems, "__getitem__"):
        names = [str(nm) for nm in stems.names]
        if sr is not None and int(sr) != int(stems.sr):
            raise XmtagError(f"sr={sr} was given but the stems are at {stems.sr} Hz; drop sr=.")
        orig_sr = int(stems.sr)
        getter: Callable[[str], Any] = stems.__getitem__
    elif isinstance(stems, Mapping):
        names = [str(nm) for nm in stems]
        if sr is None:
            raise XmtagError(
                "A plain mapping of stems needs its sample rate: pass sr=... (or use xmtag.Stems)."
            )
        orig_sr = int(sr)
        keys = list(stems)
        getter = dict(zip(names, (stems[k] for k in keys))).__getitem__
    else:
        raise XmtagError(
            f"stems must be an xmtag.Stems or a mapping of name -> (channels, samples) array, "
            f"got {type(stems).__name__}."
        )
    if not names:
        raise XmtagError("No stems given: coalitions need at least one stem.")
    if len(set(names)) != len(names):
        raise XmtagError(f"Stem names must be unique, got {names}.")
    if orig_sr <= 0:
        raise XmtagError(f"The stems' sample rate must be positive, got {orig_sr}.")
    lengths = {}
    mono = []
    for nm in names:
        y = check_waveform(getter(nm), name=f"stem {nm!r}")
        lengths[nm] = y.shape[1]
        mono.append(to_mono(y)[0])
    if len(set(lengths.values())) > 1:
        raise AudioError(
            f"All stems must have the same length; got {lengths} samples. Trim or pad them to one length."
        )
    orig_samples = next(iter(lengths.values()))
    tracks = np.stack([resample(y, orig_sr, target_sr) for y in mono]).astype(np.float32, copy=False)
    return names, np.ascontiguousarray(tracks), orig_sr, orig_samples


def patch_segments(n_patches: int, segments: int) -> list[tuple[int, int]]:
    """Split ``n_patches`` into ``segments`` contiguous groups as evenly as possible.

    Parameters
    ----------
    n_patches : int
        Patches of the clip.
    segments : int
        Groups wanted.

    Returns
    -------
    list of (start, stop)
        Patch index ranges; earlier groups get the extra patch when the split is uneven.

    Raises
    ------
    XmtagError
        If ``segments`` is not a positive int or exceeds ``n_patches``.

    Examples
    --------
    >>> patch_segments(7, 3)
    [(0, 3), (3, 5), (5, 7)]
    """
    if isinstance(segments, bool) or not isinstance(segments, (int, np.integer)) or segments < 1:
        raise XmtagError(f"segments must be a positive int (the number of time segments), got {segments!r}.")
    if segments > n_patches:
        raise XmtagError(
            f"segments={segments} but the clip has only {n_patches} whole tagger patch(es); segments "
            f"are aligned to patches, so ask for at most {n_patches}."
        )
    edges = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n_patches), int(segments))])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


# --------------------------------------------------------------------------------------------
# mixing and running the tagger


class _Mixer:
    """Builds mixes for batches of masks; player ``p`` adds ``tracks[stem[p], start[p]:stop[p]]``."""

    def __init__(self, tracks: np.ndarray, players: list[tuple[int, int, int]]) -> None:
        self.tracks = tracks
        self.players = players

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64)
        out = np.zeros((masks.size, self.tracks.shape[1]), dtype=np.float32)
        for p, (i, a, b) in enumerate(self.players):  # fixed order: bit-identical sums
            rows = np.flatnonzero((masks >> p) & 1)
            if rows.size:
                out[rows, a:b] += self.tracks[i, a:b]
        return out


class _TaggerGame:
    """``masks -> (B, n_tags)`` tagger clip outputs; counts the rows fed in ``n_rows``."""

    def __init__(self, tagger: Any, mixer: _Mixer, n_samples: int, n_tags: int) -> None:
        self.tagger = tagger
        self.mixer = mixer
        self.n_samples = n_samples
        self.n_tags = n_tags
        self.memo = _silence_memo(tagger)
        self.n_rows = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64).ravel()
        out = np.empty((masks.size, self.n_tags))
        key = (self.n_samples, "clip")
        cached = self.memo.get(key) if self.memo is not None else None
        run = masks != 0 if cached is not None else np.ones(masks.size, dtype=bool)
        if cached is not None:
            out[~run] = cached
        if run.any():
            sub = masks[run]
            res = _check_output(
                self.tagger.predict(self.mixer(sub)), (sub.size, self.n_tags), self.tagger, "predict", sub, []
            )
            self.n_rows += sub.size
            out[run] = res
            if self.memo is not None and (sub == 0).any():
                self.memo[key] = res[np.flatnonzero(sub == 0)[0]].copy()
        return out


def _check_output(out: Any, expected: tuple[int, ...], tagger: Any, what: str, masks: np.ndarray, names):
    from .taggers.base import output_array  # numpy, lists or torch tensors (detached)

    name = _tagger_name(tagger)
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


def _silence_memo(tagger: Any) -> dict[tuple[int, str], np.ndarray] | None:
    try:
        return _SILENCE.setdefault(tagger, {})
    except TypeError:  # not weak-referenceable or not hashable: no memo
        return None


def _n_patches(n_samples: int, patch_length: int) -> int:
    return max(n_samples // patch_length, 1)


def evaluate(
    stems: Any,
    tagger: Any,
    *,
    sr: int | None = None,
    segments: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> CoalitionValues:
    """Run a tagger on the mix of every subset of stems, each subset exactly once.

    Parameters
    ----------
    stems : xmtag.Stems or Mapping[str, numpy.ndarray]
        The stems (players), in order: stem ``i`` is bit ``i``. A mapping needs ``sr``.
    tagger : Tagger
        Any object with ``labels``, ``sample_rate``, ``patch_length``, ``predict`` and (for
        ``segments``) ``predict_patches``.
    sr : int, optional
        Sample rate of a plain mapping of arrays.
    segments : int, optional
        Split the clip's patches into this many contiguous segments and also return each
        segment's game (needs a patch-decomposable tagger).
    batch_size : int
        Most mixes passed to the tagger at once (bounds memory to ``batch_size`` mixes).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    CoalitionValues

    Raises
    ------
    InvalidGameError
        For more than :data:`xmtag.shapley.MAX_PLAYERS` stems (use the estimators) or a bad
        ``batch_size``.
    TaggerError
        For an object that is not a tagger, ``segments`` with a tagger that is not
        patch-decomposable, or a tagger returning the wrong shape or NaN (naming the mix).
    XmtagError
        For invalid stems or ``segments`` larger than the number of patches.

    Examples
    --------
    >>> class Loudness:  # a toy tagger: RMS level of the clip
    ...     labels, sample_rate, patch_length = ["loud"], 16000, None
    ...     def predict(self, batch):
    ...         return np.sqrt((batch.astype(np.float64) ** 2).mean(axis=1, keepdims=True))
    ...     def predict_patches(self, batch):
    ...         return self.predict(batch)[:, None, :]
    >>> t = np.arange(16000) / 16000
    >>> stems = {"low": np.sin(2 * np.pi * 110 * t), "high": 0.5 * np.sin(2 * np.pi * 880 * t)}
    >>> cv = evaluate(stems, Loudness(), sr=16000, progress=False)
    >>> cv.values.shape, cv.n_tagger_rows
    ((4, 1), 4)
    >>> from xmtag import shapley
    >>> shapley.exact(cv.values).round(3)  # the louder stem gets more credit
    array([[0.572],
           [0.219]])
    """
    batch = _batch_size(batch_size)
    labels, tsr, patch_length = _check_tagger(tagger, need_patches=segments is not None)
    names, tracks, orig_sr, orig_samples = prepare_stems(stems, tsr, sr=sr)
    n = len(names)
    if n > MAX_PLAYERS:
        raise InvalidGameError(
            f"{n} stems need {2**n:,} tagger passes; exact evaluation supports at most {MAX_PLAYERS} stems. "
            "Merge stems, or use xmtag.coalitions.value_function with xmtag.estimators."
        )
    n_samples = tracks.shape[1]
    n_tags = len(labels)
    tname = _tagger_name(tagger)

    groups = None
    n_patches = None if patch_length is None else _n_patches(n_samples, patch_length)
    if segments is not None:
        if patch_length is None:
            raise TaggerError(
                f"{tname} is not patch-decomposable (patch_length is None), so exact time-resolved "
                "values are not available from the 2**n stem mixes. Use "
                "xmtag.coalitions.estimate_segments(stems, tagger, segments) for sampled values "
                "with standard errors."
            )
        assert n_patches is not None
        groups = patch_segments(n_patches, segments)
        if n_samples % patch_length or n_samples < patch_length:
            logger.info(
                "Segments are aligned to the tagger's %d patches of %.3f s; the last %d samples are not "
                "seen by the tagger.",
                n_patches,
                patch_length / tsr,
                max(n_samples - n_patches * patch_length, 0),
            )

    mode = "clip" if groups is None else "patches"
    memo = _silence_memo(tagger)
    silence = memo.get((n_samples, mode)) if memo is not None else None
    masks = np.arange(2**n, dtype=np.int64)
    todo = masks[1:] if silence is not None else masks

    values = np.empty((2**n, n_tags))
    seg_values = None if groups is None else np.empty((2**n, len(groups), n_tags))

    def store(rows: np.ndarray, out: np.ndarray) -> None:
        if groups is None:
            values[rows] = out
        else:
            values[rows] = out.mean(axis=1)
            for k, (a, b) in enumerate(groups):
                seg_values[rows, k] = out[:, a:b].mean(axis=1)

    if silence is not None:
        store(np.array([0]), silence[np.newaxis])

    mixer = _Mixer(tracks, [(i, 0, n_samples) for i in range(n)])
    rows_fed = 0
    with tqdm(total=int(todo.size), desc="coalitions", unit="mix", disable=not progress) as bar:
        for start in range(0, todo.size, batch):
            chunk = todo[start : start + batch]
            mix = mixer(chunk)
            if groups is None:
                out = _check_output(
                    tagger.predict(mix), (chunk.size, n_tags), tagger, "predict", chunk, names
                )
            else:
                out = _check_output(
                    tagger.predict_patches(mix),
                    (chunk.size, n_patches, n_tags),
                    tagger,
                    "predict_patches",
                    chunk,
                    names,
                )
            del mix
            store(chunk, out)
            rows_fed += chunk.size
            bar.update(chunk.size)
            if chunk[0] == 0 and memo is not None:
                memo[(n_samples, mode)] = out[0].copy()

    bounds = weights = None
    if groups is not None:
        assert patch_length is not None and n_patches is not None
        weights = np.array([(b - a) / n_patches for a, b in groups])
        ends = np.array([min(b * patch_length, n_samples) for _, b in groups], dtype=np.float64)
        starts = np.array([a * patch_length for a, _ in groups], dtype=np.float64)
        bounds = np.stack([starts, ends], axis=1) / tsr
    return CoalitionValues(
        names=names,
        labels=labels,
        values=values,
        segment_values=seg_values,
        segment_weights=weights,
        segment_bounds=bounds,
        n_tagger_rows=rows_fed,
        sample_rate=tsr,
        duration=orig_samples / orig_sr,
        n_patches=n_patches,
        tagger_name=tname,
    )


def _batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidGameError(f"batch_size must be a positive int, got {batch_size!r}.")
    return int(batch_size)


def _sample_segments(n_samples: int, segments: int) -> list[tuple[int, int]]:
    if isinstance(segments, bool) or not isinstance(segments, (int, np.integer)) or segments < 1:
        raise XmtagError(f"segments must be a positive int (the number of time segments), got {segments!r}.")
    if segments > n_samples:
        raise XmtagError(f"segments={segments} is more than the {n_samples} samples of the clip.")
    edges = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n_samples), int(segments))])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def value_function(
    stems: Any,
    tagger: Any,
    *,
    sr: int | None = None,
    segments: int | None = None,
) -> tuple[_TaggerGame, list[str], np.ndarray]:
    """A value function ``masks -> tagger clip outputs`` for the sampling estimators.

    Parameters
    ----------
    stems, tagger, sr
        As for :func:`evaluate`.
    segments : int, optional
        Players become (stem, segment) pairs: player ``p = i * K + k`` is stem ``i`` within
        segment ``k``. Segments split the clip's patches evenly for a patch-decomposable tagger,
        else its samples.

    Returns
    -------
    fn : callable
        ``fn(masks (B,) int64) -> (B, n_tags)`` float64, calling ``tagger.predict`` once on the
        ``B`` mixes (batching is left to the estimator). Silence is memoised as in
        :func:`evaluate`; ``fn.n_rows`` counts the clips fed to the tagger.
    players : list of str
        Player names (``"drums"`` or ``"drums@k"``).
    bounds : numpy.ndarray
        ``(K, 2)`` segment bounds in seconds (``(1, 2)`` without segments).

    Examples
    --------
    >>> class Loudness:
    ...     labels, sample_rate, patch_length = ["loud"], 8000, None
    ...     def predict(self, batch):
    ...         return np.abs(batch).mean(axis=1, keepdims=True)
    >>> fn, players, bounds = value_function({"a": np.ones(800), "b": np.ones(800)}, Loudness(), sr=8000,
    ...                                      segments=2)
    >>> players, fn(np.array([0, 0b0011, 0b1111])).ravel().tolist()
    (['a@0', 'a@1', 'b@0', 'b@1'], [0.0, 1.0, 2.0])
    """
    labels, tsr, patch_length = _check_tagger(tagger, need_patches=False)
    names, tracks, _, _ = prepare_stems(stems, tsr, sr=sr)
    n_samples = tracks.shape[1]
    n_tags = len(labels)
    if segments is None:
        spans = [(0, n_samples)]
        players_idx = [(i, 0, n_samples) for i in range(len(names))]
        player_names = list(names)
    else:
        if patch_length is not None:
            n_patches = _n_patches(n_samples, patch_length)
            spans = [
                (a * patch_length, min(b * patch_length, n_samples))
                for a, b in patch_segments(n_patches, segments)
            ]
            spans[-1] = (spans[-1][0], n_samples)
        else:
            spans = _sample_segments(n_samples, segments)
        players_idx = [(i, a, b) for i in range(len(names)) for a, b in spans]
        player_names = [f"{nm}@{k}" for nm in names for k in range(len(spans))]
    if len(players_idx) > 63:
        raise InvalidGameError(
            f"{len(players_idx)} players (stems x segments) is above the 63 that int64 coalition masks "
            "hold; use fewer segments."
        )
    fn = _TaggerGame(tagger, _Mixer(tracks, players_idx), n_samples, n_tags)
    bounds = np.array(spans, dtype=np.float64) / tsr
    return fn, player_names, bounds


def estimate_segments(
    stems: Any,
    tagger: Any,
    segments: int,
    *,
    sr: int | None = None,
    n_permutations: int = 100,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = True,
) -> SegmentEstimate:
    """Time-resolved (stem, segment) Shapley values by antithetic permutation sampling.

    The fallback for taggers that are not patch-decomposable (for those, :func:`evaluate` with
    ``segments`` gives exact values from only ``2**n`` passes). Segments split the clip's
    samples evenly (or its patches, for a patch-decomposable tagger); the game's players are
    the ``n * segments`` (stem, segment) pairs. Costs at most
    ``n_permutations * (n * segments - 1) + 2`` tagger passes.

    Parameters
    ----------
    stems, tagger, sr
        As for :func:`evaluate`.
    segments : int
        Number of time segments.
    n_permutations, seed
        As for :func:`xmtag.estimators.permutation`.
    batch_size : int
        Most mixes per tagger call.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    SegmentEstimate
        ``values`` and ``std_errors`` shaped ``(n, segments, n_tags)``.

    Raises
    ------
    InvalidGameError
        For more than 63 (stem, segment) players or an invalid budget.
    TaggerError, XmtagError
        As for :func:`evaluate`.
    """
    from .estimators import permutation

    labels, _, _ = _check_tagger(tagger, need_patches=False)
    fn, players, bounds = value_function(stems, tagger, sr=sr, segments=segments)
    k = bounds.shape[0]
    n = len(players) // k
    est = permutation(
        fn, len(players), n_permutations=n_permutations, seed=seed, batch_size=batch_size, progress=progress
    )
    nt = len(labels)
    names = [p.rsplit("@", 1)[0] for p in players[::k]]
    return SegmentEstimate(
        names=names,
        labels=labels,
        values=est.values.reshape(n, k, nt),
        std_errors=est.std_errors.reshape(n, k, nt),
        segment_bounds=bounds,
        base_values=est.base_value,
        prediction=est.prediction,
        n_tagger_rows=fn.n_rows,
        n_permutations=n_permutations,
    )
