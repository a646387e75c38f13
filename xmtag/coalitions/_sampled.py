"""Value functions for the sampling estimators, and sampled (stem, segment) values.

Part of :mod:`xmtag.coalitions` (import the public names from there).
:func:`value_function` gives ``masks -> clip outputs`` for :mod:`xmtag.attribution.estimators`; with a
patch-wise tagger it shares every distinct patch input across calls (the reuse of
:mod:`xmtag.coalitions._reuse`, exact), so revisited coalitions and coalitions that agree on a
patch cost no new rows. :func:`estimate_segments` samples (stem, segment) Shapley values for
taggers that are not patch-decomposable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..attribution import MAX_SAMPLED_PLAYERS
from ..errors import InvalidGameError
from ..taggers import TaggerSpec, tagger_spec
from ._evaluate import patch_segments, prepare_stems, resolve_spec
from ._mix import (
    Mixer,
    NoiseFloor,
    check_output,
    floor_signal,
    n_patches,
    resolve_baseline,
    sample_segments,
    silence_memo,
)
from ._reuse import PatchReuse

__all__ = ["SegmentEstimate", "value_function", "estimate_segments"]


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
        Rows the tagger computed (patches for a patch-wise tagger, else clips).
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


class _TaggerGame:
    """``masks -> (B, n_tags)`` tagger clip outputs, each mask a whole clip.

    ``n_rows`` counts the rows computed (``row`` per clip: ``P`` for a patch-wise tagger),
    ``n_naive_rows`` the rows the requested masks cost as whole clips.
    """

    reuse = "off"

    def __init__(self, tagger: Any, mixer: Mixer, n_samples: int, n_tags: int, row: int = 1) -> None:
        self.tagger = tagger
        self.mixer = mixer
        self.n_samples = n_samples
        self.n_tags = n_tags
        self.row = row
        self.memo = silence_memo(tagger) if mixer.floor is None else None
        self.n_rows = 0
        self.n_naive_rows = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64).ravel()
        self.n_naive_rows += masks.size * self.row
        out = np.empty((masks.size, self.n_tags))
        key = (self.n_samples, "clip")
        cached = self.memo.get(key) if self.memo is not None else None
        run = masks != 0 if cached is not None else np.ones(masks.size, dtype=bool)
        if cached is not None:
            out[~run] = cached
        if run.any():
            sub = masks[run]
            res = check_output(
                self.tagger.predict(self.mixer(sub)), (sub.size, self.n_tags), self.tagger, "predict", sub, []
            )
            self.n_rows += sub.size * self.row
            out[run] = res
            if self.memo is not None and (sub == 0).any():
                self.memo[key] = res[np.flatnonzero(sub == 0)[0]].copy()
        return out


class _ReuseGame:
    """``masks -> (B, n_tags)`` clip outputs from shared patch inputs (:class:`PatchReuse`).

    The first call evaluates the grand coalition as a whole clip (and, for a tagger that does
    not declare ``patch_context``, checks that its patches are independent; if not, every later
    call falls back to whole clips).
    """

    def __init__(self, engine: PatchReuse, mixer: Mixer, n_tags: int) -> None:
        self.engine = engine
        self.mixer = mixer
        self.n_tags = n_tags
        self.fallback: _TaggerGame | None = None
        self.seeded = False
        self.n_naive_rows = 0
        self.reuse = engine.mode

    @property
    def n_rows(self) -> int:
        return self.engine.n_rows + (self.fallback.n_rows if self.fallback is not None else 0)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64).ravel()
        eng = self.engine
        if not self.seeded:
            self.seeded = True
            _, ok = eng.seed_full_clip(self.mixer)
            if not ok:
                self.reuse = "off"
                self.fallback = _TaggerGame(eng.tagger, self.mixer, eng.n_samples, self.n_tags, eng.P)
        if self.fallback is not None:
            before = self.fallback.n_naive_rows
            out = self.fallback(masks)
            self.n_naive_rows += self.fallback.n_naive_rows - before
            return out
        self.n_naive_rows += masks.size * eng.P
        keys = [(p, int(m)) for m in masks for p in range(eng.P)]
        uids = eng.uids(keys).reshape(masks.size, eng.P)
        return eng.patch_outputs(uids).mean(axis=1)


def value_function(
    stems: Any,
    tagger: Any,
    *,
    sr: int | None = None,
    segments: int | None = None,
    baseline: str | NoiseFloor = "silence",
    reuse: bool = True,
    batch_size: int = 16,
    spec: TaggerSpec | None = None,
) -> tuple[Any, list[str], np.ndarray]:
    """A value function ``masks -> tagger clip outputs`` for the sampling estimators.

    Parameters
    ----------
    stems, tagger, sr
        As for :func:`evaluate`.
    segments : int, optional
        Players become (stem, segment) pairs: player ``p = i * K + k`` is stem ``i`` within
        segment ``k``. Segments split the clip's patches evenly for a patch-decomposable tagger,
        else its samples.
    baseline : {"silence", "noise"} or NoiseFloor
        What an absent player becomes, as for :func:`evaluate`; the floor is in every mix.
    reuse : bool
        Patch-wise taggers: share each distinct patch input across all calls (exact; see
        :func:`evaluate`). ``False``: every mask is a whole clip for ``tagger.predict``.
    batch_size : int
        With reuse, most clips' worth of patches per tagger call.

    Returns
    -------
    fn : callable
        ``fn(masks (B,) int64) -> (B, n_tags)`` float64 clip outputs. Without reuse it calls
        ``tagger.predict`` once on the ``B`` mixes (batching is left to the estimator). Silence
        is memoised as in :func:`evaluate`. ``fn.n_rows`` counts the rows the tagger computed
        (patches for a patch-wise tagger, else clips), ``fn.n_naive_rows`` what the masks asked
        so far cost as whole clips, ``fn.reuse`` how patches are fed.
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
    from ._mix import batch_size as check_batch_size

    batch = check_batch_size(batch_size)
    floor_spec = resolve_baseline(baseline)
    spec = resolve_spec(tagger, spec, need_patches=False)
    labels, tsr, patch_length = spec.labels, spec.sr, spec.patch_length
    names, tracks, _, _ = prepare_stems(stems, tsr, sr=sr)
    n_samples = tracks.shape[1]
    n_tags = len(labels)
    if segments is None:
        spans = [(0, n_samples)]
        players_idx = [(i, 0, n_samples) for i in range(len(names))]
        player_names = list(names)
    else:
        if patch_length is not None:
            p_count = n_patches(n_samples, patch_length)
            spans = [
                (a * patch_length, min(b * patch_length, n_samples))
                for a, b in patch_segments(p_count, segments)
            ]
            spans[-1] = (spans[-1][0], n_samples)
        else:
            spans = sample_segments(n_samples, segments)
        players_idx = [(i, a, b) for i in range(len(names)) for a, b in spans]
        player_names = [f"{nm}@{k}" for nm in names for k in range(len(spans))]
    if len(players_idx) > MAX_SAMPLED_PLAYERS:
        raise InvalidGameError(
            f"{len(players_idx)} players (stems x segments) is above the 63 that int64 coalition masks "
            "hold; use fewer segments."
        )
    mixer = Mixer(tracks, players_idx, floor_signal(floor_spec, n_samples, tsr))
    fn: Any = None
    if reuse and patch_length is not None and callable(getattr(tagger, "predict_patches", None)):
        if spec.patch_context is not None:
            p_count = n_patches(n_samples, patch_length)
            engine = PatchReuse(
                tagger, tracks, players_idx, patch_length, p_count, mixer.floor, player_names, batch * p_count
            )
            if engine.mode != "lead":  # lead patches: only worth it for a full evaluation
                fn = _ReuseGame(engine, mixer, n_tags)
    if fn is None:
        row = 1 if patch_length is None else n_patches(n_samples, patch_length)
        fn = _TaggerGame(tagger, mixer, n_samples, n_tags, row)
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
    baseline: str | NoiseFloor = "silence",
    reuse: bool = True,
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
        As for :func:`xmtag.attribution.estimators.permutation`.
    batch_size : int
        Most mixes per tagger call.
    progress : bool
        Show a tqdm progress bar.
    baseline, reuse
        As for :func:`value_function`.

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
    from ..attribution.estimators import permutation
    labels = tagger_spec(tagger).labels
    fn, players, bounds = value_function(
        stems, tagger, sr=sr, segments=segments, baseline=baseline, reuse=reuse, batch_size=batch_size
    )
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
