"""Evaluate a tagger on the mix of every coalition of stems: :func:`evaluate` and :class:`CoalitionValues`."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._checks import positive_int
from ..attribution import EXACT_MAX_PLAYERS as MAX_PLAYERS
from ..audio import check_waveform, resample, to_mono
from ..errors import AudioError, InvalidGameError, TaggerError, XmtagError
from ..taggers import TaggerSpec, tagger_spec
from . import _mix
from ._mix import Mixer, NoiseFloor, resolve_baseline
from ._reuse import PatchReuse

__all__ = [
    "CoalitionValues",
    "evaluate",
    "prepare_stems",
    "patch_segments",
    "SEGMENT_PLAYERS",
    "segment_method",
]

#: The (stem, segment) games whose exact values ``evaluate(..., segments=K)`` returns, by name:
#: ``"receptive"`` (default) -- player ``(i, k)`` is stem ``i`` as heard by the patches of segment
#: ``k`` (each patch's whole input window, its declared ``patch_context`` included, belongs to the
#: patch's segment); ``"samples"`` -- player ``(i, k)`` is stem ``i``'s samples in segment ``k``.
SEGMENT_PLAYERS: dict[str, str] = {
    "receptive": "exact (receptive-field players)",
    "samples": "exact (sample players)",
}


def segment_method(segment_players: str) -> str:
    """The label of the time-resolved values of a (stem, segment) game (``SEGMENT_PLAYERS``).

    Raises
    ------
    XmtagError
        For another name.

    Examples
    --------
    >>> segment_method("receptive")
    'exact (receptive-field players)'
    """
    if segment_players not in SEGMENT_PLAYERS:
        raise XmtagError(
            f"segment_players must be one of {sorted(SEGMENT_PLAYERS)}, got {segment_players!r}."
        )
    return SEGMENT_PLAYERS[segment_players]


logger = logging.getLogger(__name__)


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
        Rows the tagger actually computed: patches for a patch-wise tagger (a clip of ``P``
        patches is ``P`` rows), clips otherwise. Silence memoised from an earlier call costs 0.
    sample_rate : int
        Rate of the mixes the tagger saw (the tagger's ``sample_rate``).
    duration : float
        Length of the stems in seconds.
    n_patches : int or None
        Whole patches per clip for patch-decomposable taggers, else ``None``.
    tagger_name : str
        The tagger's ``name`` (or its class name).
    n_naive_rows : int or None
        Rows that evaluating every coalition as a whole clip costs: ``2**n * P`` for a
        patch-wise tagger, ``2**n`` otherwise (compare with ``n_tagger_rows``).
    row_unit : str
        ``"patch"`` or ``"clip"``: what one row of ``n_tagger_rows`` is.
    baseline : str
        What an absent stem became: ``"silence"`` or the noise floor's description.
    reuse : str
        How patches were fed: ``"off"`` (whole clips), ``"windows"``, ``"patches"`` or ``"lead"``
        (see :mod:`xmtag.coalitions._reuse`).
    segment_shapley, segment_banzhaf : numpy.ndarray or None
        float64 ``(n, K, n_tags)``: exact Shapley (Banzhaf) values of a **(stem, segment)
        game**, when ``segments`` was given; ``segment_method`` says which. Receptive-field
        players (default): player ``(i, k)`` is stem ``i`` as heard by the patches of segment
        ``k`` (a patch's whole input window, its ``patch_context`` included, belongs to its
        segment); that game is the sum of the per-segment games, so these equal
        ``shapley.segments(segment_values, segment_weights)``. Sample players
        (``segment_players="samples"``): player ``(i, k)`` is stem ``i``'s samples in segment
        ``k``; for a tagger whose patches see context each patch at a segment start is solved
        over the players in its receptive field (equal to brute force of the
        ``2**(n*K)``-coalition game). Read them with :meth:`segment_attribution`.
    segment_method : str
        Which game they are exact values of: ``"exact (receptive-field players)"`` or
        ``"exact (sample players)"`` (:data:`SEGMENT_PLAYERS`); ``""`` without segments.
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
    n_naive_rows: int | None = None
    row_unit: str = "clip"
    baseline: str = "silence"
    reuse: str = "off"
    segment_shapley: np.ndarray | None = None
    segment_banzhaf: np.ndarray | None = None
    segment_method: str = ""

    def segment_attribution(self, method: str = "exact") -> np.ndarray:
        """``(n, K, n_tags)`` values of the (stem, segment) game: ``"exact"`` (Shapley) or ``"banzhaf"``.

        Values computed by :func:`evaluate` are exact for the game named by ``segment_method``
        (receptive-field or sample players). A ``CoalitionValues`` built by hand without them falls
        back to the per-segment games (:func:`xmtag.attribution.shapley.segments`), which are the
        receptive-field game's values (and the sample-player game's only when a segment's output
        depends on that segment's samples alone).

        Raises
        ------
        XmtagError
            Without segments, or for another method.
        """
        from ..attribution import shapley

        if method not in ("exact", "banzhaf"):
            raise XmtagError(f"segment_attribution(method) must be 'exact' or 'banzhaf', got {method!r}.")
        stored = self.segment_shapley if method == "exact" else self.segment_banzhaf
        if stored is not None:
            return stored
        if self.segment_values is None or self.segment_weights is None:
            raise XmtagError("These coalition values have no segments: evaluate(..., segments=K) first.")
        if method == "exact":
            return shapley.segments(self.segment_values, self.segment_weights)
        w = np.asarray(self.segment_weights, dtype=np.float64)
        return shapley.banzhaf(self.segment_values) * w[np.newaxis, :, np.newaxis]

    @property
    def sr(self) -> int:
        """The tagger's sample rate (same as ``sample_rate``)."""
        return self.sample_rate

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


# --------------------------------------------------------------------------------------------
# inputs


def resolve_spec(tagger: Any, spec: TaggerSpec | None, need_patches: bool) -> TaggerSpec:
    """The tagger's :class:`~xmtag.taggers.TaggerSpec`: the caller's (validated once per call by
    :func:`xmtag.explain`) or a fresh one; ``predict_patches`` is checked when segments need it."""
    if spec is None or (need_patches and not callable(getattr(tagger, "predict_patches", None))):
        return tagger_spec(tagger, need_patches=need_patches)
    return spec


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
    lengths = {nm: check_waveform(getter(nm), name=f"stem {nm!r}").shape[1] for nm in names}
    if len(set(lengths.values())) > 1:
        raise AudioError(
            f"All stems must have the same length; got {lengths} samples. Trim or pad them to one length."
        )
    orig_samples = next(iter(lengths.values()))
    tracks = None
    for i, nm in enumerate(names):  # one stem's mono mix at the source rate at a time (long recordings)
        y = np.asarray(resample(to_mono(np.asarray(getter(nm), dtype=np.float32))[0], orig_sr, target_sr))
        if tracks is None:
            tracks = np.empty((len(names), y.shape[0]), np.float32)
        tracks[i] = y
    assert tracks is not None
    return names, tracks, orig_sr, orig_samples


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
    segments = positive_int(segments, "segments (the number of time segments)")
    if segments > n_patches:
        raise XmtagError(
            f"segments={segments} but the clip has only {n_patches} whole tagger patch(es); segments "
            f"are aligned to patches, so ask for at most {n_patches}."
        )
    edges = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n_patches), int(segments))])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def evaluate(
    stems: Any,
    tagger: Any,
    *,
    sr: int | None = None,
    segments: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
    baseline: str | NoiseFloor = "silence",
    reuse: bool = True,
    spec: TaggerSpec | None = None,
    segment_players: str = "receptive",
) -> CoalitionValues:
    """Run a tagger on the mix of every subset of stems, each distinct input exactly once.

    Parameters
    ----------
    stems : xmtag.Stems or Mapping[str, numpy.ndarray]
        The stems (players), in order: stem ``i`` is bit ``i``. A mapping needs ``sr``.
    tagger : Tagger
        Any object with ``labels``, ``sample_rate``, ``patch_length``, ``predict`` and (for
        ``segments``) ``predict_patches``. Optional: ``patch_context`` (samples before a patch
        that reach its output; ``None``: the whole clip) and ``predict_windows`` (see
        :mod:`xmtag.coalitions._reuse`).
    sr : int, optional
        Sample rate of a plain mapping of arrays.
    segments : int, optional
        Split the clip's patches into this many contiguous segments and also return each
        segment's game (needs a patch-decomposable tagger).
    batch_size : int
        Most clips' worth of audio passed to the tagger at once (``batch_size`` mixes, or
        ``batch_size * P`` single patches with reuse).
    progress : bool
        Show a tqdm progress bar.
    baseline : {"silence", "noise"} or NoiseFloor
        What an absent stem becomes: digital silence (default) or a seeded noise floor added to
        every mix (``"noise"``: pink, -60 dBFS RMS, seed 0; pass a :class:`NoiseFloor` for
        another level, colour or seed).
    reuse : bool
        Patch-wise taggers: evaluate each distinct (patch, active stems) input once (exact).
        ``False`` evaluates every coalition as a whole clip.
    segment_players : {"receptive", "samples"}
        Which (stem, segment) game the time-resolved values are exact for (see
        :data:`SEGMENT_PLAYERS`). ``"receptive"`` (default): player ``(i, k)`` is stem ``i`` as
        heard by the patches of segment ``k``, each patch's whole input window (its
        ``patch_context`` samples before it included) belonging to the patch's segment; the game
        is the sum of the per-segment games, solved at no extra tagger cost. ``"samples"``:
        player ``(i, k)`` is stem ``i``'s samples in segment ``k``; for a tagger with
        ``patch_context > 0`` each patch at a segment start is solved over up to ``2n`` players
        (up to ``2**(2n)`` extra windows per segment boundary). Without context both are the
        same game.

    spec : TaggerSpec, optional
        The tagger's validated spec when the caller already has it (:func:`xmtag.explain` passes
        it, so a tagger is validated once per call).

    Returns
    -------
    CoalitionValues

    Raises
    ------
    InvalidGameError
        For more than :data:`xmtag.attribution.shapley.MAX_PLAYERS` stems (use the estimators) or a bad
        ``batch_size``.
    TaggerError
        For an object that is not a tagger, ``segments`` with a tagger that is not
        patch-decomposable, or a tagger returning the wrong shape or NaN (naming the mix).
    XmtagError
        For invalid stems, ``segments`` larger than the number of patches or an unknown
        ``baseline``.

    Warns
    -----
    ReuseWarning
        When a tagger that does not declare ``patch_context`` turns out to have patches that
        are not independent; every coalition is then evaluated as a whole clip.

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
    >>> noisy = evaluate(stems, Loudness(), sr=16000, progress=False, baseline="noise")
    >>> noisy.baseline, round(float(noisy.base_values[0]), 4)  # the empty coalition: the floor
    ('noise(pink, -60 dBFS RMS, seed 0)', 0.001)
    """
    batch = _mix.batch_size(batch_size)
    floor_spec = resolve_baseline(baseline)
    segment_method(segment_players)  # validates the name
    if not isinstance(reuse, (bool, np.bool_)):
        raise XmtagError(f"reuse must be True or False, got {reuse!r}.")
    spec = resolve_spec(tagger, spec, need_patches=segments is not None)
    labels, tsr, patch_length = spec.labels, spec.sr, spec.patch_length
    names, tracks, orig_sr, orig_samples = prepare_stems(stems, tsr, sr=sr)
    n = len(names)
    if n > MAX_PLAYERS:
        raise InvalidGameError(
            f"{n} stems need {2**n:,} tagger passes; exact evaluation supports at most {MAX_PLAYERS} stems. "
            "Merge stems, or use xmtag.coalitions.value_function with xmtag.attribution.estimators."
        )
    n_samples = tracks.shape[1]
    n_tags = len(labels)
    tname = spec.name

    groups = None
    n_patches = None if patch_length is None else _mix.n_patches(n_samples, patch_length)
    if segments is not None:
        if patch_length is None:
            raise TaggerError(
                f"{tname} is not patch-decomposable (patch_length is None), so exact time-resolved "
                "values are not available from the 2**n stem mixes. Use "
                "xmtag.coalitions.estimate_segments(stems, tagger, segments) for sampled values "
                "with standard errors."
            )
        assert n_patches is not None
        if spec.patch_context is None:
            raise TaggerError(
                f"{tname} declares patch_context = None (a patch may depend on the whole clip), so a "
                "segment's output is not a game of that segment's samples and exact time-resolved "
                "values would need every (stem, segment) coalition. Use "
                "xmtag.coalitions.estimate_segments(stems, tagger, segments) (or xmtag.explain, which "
                "then enumerates or samples the (stem, segment) players)."
            )
        groups = patch_segments(n_patches, segments)
        sizes = sorted({b - a for a, b in groups}, reverse=True)
        if len(sizes) > 1:  # whole patches do not divide evenly: say what the segments are
            counts = [sum(1 for a, b in groups if b - a == k) for k in sizes]
            logger.warning(
                "segments=%d over %d patches of %.3g s: %s (segments are whole tagger patches; "
                "ask for a divisor of %d for equal segments).",
                segments,
                n_patches,
                patch_length / tsr,
                " and ".join(f"{c} of {k * patch_length / tsr:.3g} s" for c, k in zip(counts, sizes)),
                n_patches,
            )
        if n_samples % patch_length or n_samples < patch_length:
            logger.info(
                "Segments are aligned to the tagger's %d patches of %.3f s; the last %d samples are not "
                "seen by the tagger.",
                n_patches,
                patch_length / tsr,
                max(n_samples - n_patches * patch_length, 0),
            )
    floor = _mix.floor_signal(floor_spec, n_samples, tsr)
    mixer = Mixer(tracks, [(i, 0, n_samples) for i in range(n)], floor)
    row = n_patches or 1  # rows per whole clip
    values = np.empty((2**n, n_tags))
    seg_values = None if groups is None else np.empty((2**n, len(groups), n_tags))

    def store(rows: np.ndarray, out: np.ndarray) -> None:
        """``out``: (B, n_tags) clip outputs, or (B, P, n_tags) patch outputs."""
        if out.ndim == 2:
            values[rows] = out
            return
        values[rows] = out.mean(axis=1)
        if groups is not None:
            for k, (a, b) in enumerate(groups):
                seg_values[rows, k] = out[:, a:b].mean(axis=1)

    engine = None
    if reuse and n_patches is not None and callable(getattr(tagger, "predict_patches", None)):
        if spec.patch_context is not None:
            engine = PatchReuse(
                tagger, tracks, mixer.players, patch_length, n_patches, floor, names, batch * row
            )
            if engine.mode == "lead" and engine.upper_bound_rows() >= 2**n * row:
                engine = None  # lead patches would cost more than whole clips
    rows_fed = 0
    todo = np.arange(2**n, dtype=np.int64)
    if engine is not None:
        full, ok = engine.seed_full_clip(mixer)
        store(todo[-1:], full[None])
        if not ok:  # the guard check failed: whole clips for the others
            if groups is not None:
                raise TaggerError(
                    f"{tname}: its patches are not independent (see the ReuseWarning), so its "
                    "time-resolved values cannot be computed from per-segment games. Declare "
                    "tagger.patch_context (samples before a patch that reach its output) for exact "
                    "(stem, segment) values, or use xmtag.coalitions.estimate_segments."
                )
            rows_fed, engine, todo = engine.n_rows, None, todo[:-1]
    if engine is not None:
        _evaluate_reused(engine, n, store, progress)
        rows_fed, mode = engine.n_rows, engine.mode
    else:
        rows_fed += _evaluate_clips(
            tagger,
            mixer,
            todo,
            store,
            groups,
            n_patches,
            n_tags,
            names,
            batch,
            progress,
            memo_ok=floor is None,
        )
        mode = "off"

    bounds = weights = seg_shapley = seg_banzhaf = None
    if groups is not None:
        assert patch_length is not None and n_patches is not None and seg_values is not None
        seg = segment_summary(seg_values, groups, patch_length, n_patches, n_samples, tsr)
        weights, bounds = seg["segment_weights"], seg["segment_bounds"]
        if segment_players == "samples" and spec.patch_context and len(groups) > 1:
            # sample players: patches at a segment start hear the previous segment's players
            seg_shapley, seg_banzhaf, extra_rows = _segment_game(
                tagger, tracks, groups, patch_length, n_patches, floor, names, batch * row, engine, progress
            )
            rows_fed += extra_rows
        else:  # receptive-field players (or no context): the game is the sum of the per-segment
            # games (a patch's whole window belongs to its segment), so their values are exact
            seg_shapley, seg_banzhaf = seg["segment_shapley"], seg["segment_banzhaf"]
    return CoalitionValues(
        names=names,
        labels=labels,
        values=values,
        segment_values=seg_values,
        segment_weights=weights,
        segment_bounds=bounds,
        n_tagger_rows=int(rows_fed),
        sample_rate=tsr,
        duration=orig_samples / orig_sr,
        n_patches=n_patches,
        tagger_name=tname,
        n_naive_rows=2**n * row,
        row_unit="clip" if n_patches is None else "patch",
        baseline=_mix.baseline_name(floor_spec),
        reuse=mode,
        segment_shapley=seg_shapley,
        segment_banzhaf=seg_banzhaf,
        segment_method="" if groups is None else SEGMENT_PLAYERS[segment_players],
    )


def segment_summary(
    seg_values: np.ndarray,
    groups: list[tuple[int, int]],
    patch_length: int,
    n_patches: int,
    n_samples: int,
    sr: int,
) -> dict[str, np.ndarray]:
    """Weights, bounds (s) and exact receptive-field Shapley and Banzhaf values of segment games.

    ``seg_values`` is ``(2**n, K, n_tags)``: each segment's mean patch output per coalition; the
    (stem, segment) game of receptive-field players is the sum of the per-segment games, so its
    values are each segment's game values weighted by the segment's share of the patches.
    """
    from ..attribution import shapley

    weights = np.array([(b - a) / n_patches for a, b in groups])
    ends = np.array([min(b * patch_length, n_samples) for _, b in groups], dtype=np.float64)
    starts = np.array([a * patch_length for a, _ in groups], dtype=np.float64)
    return {
        "segment_values": seg_values,
        "segment_weights": weights,
        "segment_bounds": np.stack([starts, ends], axis=1) / sr,
        "segment_shapley": shapley.segments(seg_values, weights),
        "segment_banzhaf": shapley.banzhaf(seg_values) * weights[np.newaxis, :, np.newaxis],
    }


def _segment_game(
    tagger: Any,
    tracks: np.ndarray,
    groups: list[tuple[int, int]],
    patch_length: int,
    n_patches: int,
    floor: np.ndarray | None,
    names: list[str],
    max_rows: int,
    engine: PatchReuse | None,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact Shapley and Banzhaf values of the (stem, segment) game for a tagger with context.

    Player ``i * K + k`` is stem ``i``'s samples in segment ``k``. The clip output is the mean of
    the patch outputs, and patch ``p``'s output is a game of the players with samples in its
    receptive field only (every other player is a null player of it), so by linearity the
    values are ``(1 / P) * sum_p`` of each patch game's values over those players: brute force
    of the ``2**(n*K)`` game at ``sum_p 2**|players of p|`` windows. Windows already evaluated by
    ``engine`` (same receptive fields) are shared. Returns the two ``(n, K, n_tags)`` arrays and
    the tagger rows spent here.
    """
    from ..attribution import shapley

    n, k_count = tracks.shape[0], len(groups)
    players = [(i, a * patch_length, b * patch_length) for i in range(n) for a, b in groups]
    player_names = [f"{nm}@segment{k}" for nm in names for k in range(k_count)]
    seg = PatchReuse(tagger, tracks, players, patch_length, n_patches, floor, player_names, max_rows)
    if engine is not None and engine.width == seg.width and engine.mode == seg.mode:
        seg.by_digest, seg.outputs = engine.by_digest, engine.outputs  # same windows, same rows
    plan: list[tuple[list[int], int, int]] = []
    keys: list[tuple[int, int]] = []
    for p in range(n_patches):
        bits = [j for j in range(len(players)) if seg.rel[p] >> j & 1]
        if len(bits) > MAX_PLAYERS:
            raise InvalidGameError(
                f"Patch {p} sees {len(bits)} (stem, segment) players (its receptive field spans "
                f"segments); exact time-resolved values support at most {MAX_PLAYERS} per patch. Use "
                "fewer stems or xmtag.coalitions.estimate_segments."
            )
        local = np.arange(2 ** len(bits), dtype=np.int64)
        subs = np.zeros(local.size, np.int64)
        for t, j in enumerate(bits):
            subs |= ((local >> t) & 1) << j
        plan.append((bits, len(keys), subs.size))
        keys.extend((p, int(m)) for m in subs)
    before = seg.n_rows
    outputs = seg.patch_outputs(seg.uids(keys, progress=progress))
    n_tags = outputs.shape[-1]
    phi = np.zeros((len(players), n_tags))
    ban = np.zeros((len(players), n_tags))
    for bits, start, size in plan:
        if bits:
            game = outputs[start : start + size]
            phi[bits] += shapley.exact(game)
            ban[bits] += shapley.banzhaf(game)
    phi /= n_patches
    ban /= n_patches
    shape = (n, k_count, n_tags)
    return phi.reshape(shape), ban.reshape(shape), seg.n_rows - before


def _evaluate_reused(engine: PatchReuse, n: int, store: Callable, progress: bool) -> None:
    """Every coalition's patch outputs from the distinct windows (the full clip is already stored)."""
    n_patches = engine.P
    keys: list[tuple[int, int]] = []
    subs_of: list[np.ndarray] = []
    for p in range(n_patches):
        bits = [j for j in range(n) if engine.rel[p] >> j & 1]
        k = np.arange(2 ** len(bits), dtype=np.int64)
        subs = np.zeros(k.size, np.int64)
        for t, j in enumerate(bits):
            subs |= ((k >> t) & 1) << j
        subs_of.append(subs)
        keys.extend((p, int(m)) for m in subs)
    uids = engine.uids(keys, progress=progress)
    idx = np.empty((2**n, n_patches), np.int64)
    masks = np.arange(2**n, dtype=np.int64)
    start = 0
    for p, subs in enumerate(subs_of):
        table = np.zeros(int(subs.max()) + 1, np.int64)
        table[subs] = uids[start : start + subs.size]
        idx[:, p] = table[masks & engine.rel[p]]
        start += subs.size
    step = max(1, (1 << 22) // max(1, n_patches * engine.n_tags))  # bounded (chunk, P, n_tags) blocks
    for a in range(0, 2**n - 1, step):
        rows = masks[a : min(a + step, 2**n - 1)]
        store(rows, engine.patch_outputs(idx[rows]))


def _evaluate_clips(
    tagger: Any,
    mixer: Mixer,
    todo: np.ndarray,
    store: Callable,
    groups: list[tuple[int, int]] | None,
    n_patches: int | None,
    n_tags: int,
    names: list[str],
    batch: int,
    progress: bool,
    memo_ok: bool,
) -> int:
    """Every coalition in ``todo`` as a whole clip; returns the rows spent."""
    n_samples = mixer.tracks.shape[1]
    mode = "clip" if groups is None else "patches"
    memo = _mix.silence_memo(tagger) if memo_ok else None
    silence = memo.get((n_samples, mode)) if memo is not None else None
    if silence is not None and todo.size and todo[0] == 0:
        store(np.array([0]), silence[np.newaxis])
        todo = todo[1:]
    row = n_patches or 1
    rows_fed = 0
    with tqdm(total=int(todo.size), desc="coalitions", unit="mix", disable=not progress) as bar:
        for start in range(0, todo.size, batch):
            chunk = todo[start : start + batch]
            mix = mixer(chunk)
            if groups is None:
                out = _mix.check_output(
                    tagger.predict(mix), (chunk.size, n_tags), tagger, "predict", chunk, names
                )
            else:
                out = _mix.check_output(
                    tagger.predict_patches(mix),
                    (chunk.size, n_patches, n_tags),
                    tagger,
                    "predict_patches",
                    chunk,
                    names,
                )
            del mix
            store(chunk, out)
            rows_fed += chunk.size * row
            bar.update(chunk.size)
            if chunk[0] == 0 and memo is not None:
                memo[(n_samples, mode)] = out[0].copy()
    return rows_fed
