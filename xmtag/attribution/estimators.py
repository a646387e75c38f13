"""Sampling estimators of Shapley values for games too large to enumerate.

Both estimators take a *value function* ``fn(masks) -> outputs``: ``masks`` is a 1-D int64
array of coalition bitmasks (player ``i`` is in mask ``m`` iff ``(m >> i) & 1``) and the
result is an array ``(len(masks), ...)``, one row per mask (e.g. a tagger's clip output for
the mix of those stems; see :func:`xmtag.coalitions.value_function`). The function is called
on batches of at most ``batch_size`` distinct masks, and each distinct coalition is
evaluated once per estimate (results are memoised), so ``Estimate.n_evaluations`` is the
number of model passes actually paid for.

* :func:`permutation` -- Monte-Carlo permutation sampling with antithetic pairs (each random
  order is paired with its reverse), with a standard error per value.
* :func:`kernel` -- KernelSHAP through ``shap.KernelExplainer`` (optionally repeated with
  independent seeds to get standard errors).

Both are seeded and deterministic: the same ``seed`` gives bit-identical results, and the
global NumPy random state is left untouched. Masks are int64, so games have at most
:data:`MAX_SAMPLED_PLAYERS` players.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._checks import positive_int
from ..errors import InvalidGameError, require
from ._methods import MAX_SAMPLED_PLAYERS, T_INTERVAL_MIN_PAIRS

__all__ = [
    "Estimate",
    "permutation",
    "kernel",
    "kernel_from_values",
    "MAX_SAMPLED_PLAYERS",
    "ValueFunction",
    "antithetic_orders",
    "interval_multiplier",
    "interval_info",
]

logger = logging.getLogger(__name__)

#: Most players an estimator accepts (coalitions are int64 bitmasks).

ValueFunction = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Estimate:
    """A sampled estimate of Shapley values.

    Attributes
    ----------
    values : numpy.ndarray
        ``(n, ...)`` estimated Shapley values. Both estimators are efficient:
        ``values.sum(0) == prediction - base_value`` (to rounding).
    std_errors : numpy.ndarray or None
        ``(n, ...)`` standard error of each value (``None`` for a single KernelSHAP run).
        The 95 % interval is ``values ± t * std_errors`` with ``t`` the Student-t quantile of
        ``dof`` degrees of freedom (:meth:`interval`), not 1.96: with few samples 1.96 covers
        far less than 95 %.
    base_value : numpy.ndarray
        ``(...)`` value of the empty coalition.
    prediction : numpy.ndarray
        ``(...)`` value of the grand coalition.
    n_evaluations : int
        Distinct coalitions passed to the value function.
    n_samples : int
        Permutations (``permutation``) or coalition samples per run times runs (``kernel``).
    method : str
        ``"permutation"`` or ``"kernel"``.
    group_values, group_std_errors : numpy.ndarray or None
        ``(g, ...)`` sums of the values over each group of players and their standard errors
        (computed from the same samples, so correlations between players are accounted for),
        when ``groups`` was given.
    dof : int or None
        Degrees of freedom of ``std_errors``: independent samples minus one (antithetic pairs
        for ``permutation``, runs for ``kernel``); ``None`` without standard errors.
    complete : bool
        ``True`` when the samples covered every antithetic pair of orders, so ``values`` are
        exact and ``std_errors`` are 0.
    """

    values: np.ndarray
    std_errors: np.ndarray | None
    base_value: np.ndarray
    prediction: np.ndarray
    n_evaluations: int
    n_samples: int
    method: str
    group_values: np.ndarray | None = None
    group_std_errors: np.ndarray | None = None
    dof: int | None = None
    complete: bool = False

    @property
    def interval_kind(self) -> str:
        """``"t"`` (a 95 % Student-t interval: permutation, at least :data:`T_INTERVAL_MIN_PAIRS`
        pairs), ``"approx."`` (fewer pairs, or KernelSHAP) or ``""`` (exact, or no errors)."""
        if self.std_errors is None or self.complete or self.dof is None:
            return ""
        if self.method == "permutation" and self.dof + 1 >= T_INTERVAL_MIN_PAIRS:
            return "t"
        return "approx."

    @property
    def interval_info(self) -> dict | None:
        """:func:`interval_info` of this estimate, ``None`` when it has no interval."""
        kind = self.interval_kind
        if not kind:
            return None
        return interval_info("kernel" if self.method == "kernel" else kind, self.dof)

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Student-t confidence interval ``(low, high)`` of each value.

        ``values ± t(level, dof) * std_errors`` (:func:`interval_multiplier`); at 2 antithetic
        pairs (1 degree of freedom) ``t = 12.7``, at 10 pairs 2.26, at 100 pairs 1.98.

        Parameters
        ----------
        level : float
            Coverage in (0, 1), default 0.95.

        Returns
        -------
        low, high : numpy.ndarray
            Shaped like ``values``.

        Raises
        ------
        InvalidGameError
            If the estimate has no standard errors or ``level`` is not in (0, 1).

        Examples
        --------
        >>> est = Estimate(
        ...     np.array([1.0]), np.array([0.5]), np.array(0.0), np.array(1.0), 10, 5, "permutation"
        ... )
        >>> [round(float(x[0]), 2) for x in est.interval(0.95)]  # no dof given: the normal quantile
        [0.02, 1.98]
        >>> est = Estimate(
        ...     np.array([1.0]), np.array([0.5]), np.array(0.0), np.array(1.0), 10, 10, "permutation", dof=4
        ... )
        >>> [round(float(x[0]), 2) for x in est.interval(0.95)]  # 5 pairs: t(4) = 2.78
        [-0.39, 2.39]
        """
        if self.std_errors is None:
            raise InvalidGameError(
                f"This {self.method} estimate has no standard errors; use estimators.permutation, "
                "or estimators.kernel with n_repeats >= 2."
            )
        if not 0.0 < level < 1.0:
            raise InvalidGameError(f"level must be in (0, 1), got {level}.")
        z = interval_multiplier(self.dof, level)
        return self.values - z * self.std_errors, self.values + z * self.std_errors


def interval_multiplier(dof: int | None, level: float = 0.95) -> float:
    """Standard errors per half-width of a ``level`` interval: Student-t with ``dof`` degrees of freedom.

    ``None`` (degrees of freedom unknown, e.g. an explanation saved by an older xmtag) gives the
    normal quantile, which is only an approximation.

    Examples
    --------
    >>> [round(interval_multiplier(dof), 2) for dof in (1, 9, None)]
    [12.71, 2.26, 1.96]
    """
    if not 0.0 < level < 1.0:
        raise InvalidGameError(f"level must be in (0, 1), got {level}.")
    if dof is None:
        from statistics import NormalDist

        return float(NormalDist().inv_cdf(0.5 + level / 2.0))
    if int(dof) < 1:
        raise InvalidGameError(f"An interval needs at least 1 degree of freedom (2 samples), got {dof}.")
    from scipy.stats import t as student_t

    return float(student_t.ppf(0.5 + level / 2.0, int(dof)))


def interval_info(kind: str, dof: int | None, level: float = 0.95) -> dict:
    """What ``value ± multiplier * stderr`` is, for an explanation's provenance and labels.

    Parameters
    ----------
    kind : {"t", "approx.", "kernel", "normal"}
        ``"t"``: Student-t over enough independent antithetic pairs; ``"approx."``: the same
        with too few pairs to guarantee the coverage; ``"kernel"``: the spread of seeded
        KernelSHAP runs (always approximate); ``"normal"``: 1.96 standard errors of unknown
        origin (approximate).
    dof : int or None
        Degrees of freedom (``None`` for ``"normal"``).

    Returns
    -------
    dict
        ``{"kind", "dof", "level", "multiplier", "label"}``; ``kind`` is ``"t"`` or
        ``"approx."``.

    Examples
    --------
    >>> interval_info("t", 199)["label"]
    '95 % t-interval (199 df)'
    >>> interval_info("approx.", 4)["label"]
    'approx. 95 % interval (t, 4 df: too few samples to guarantee the coverage)'
    """
    pct = f"{100 * level:g} %"
    if kind == "t":
        label = f"{pct} t-interval ({dof} df)"
    elif kind == "approx.":
        label = f"approx. {pct} interval (t, {dof} df: too few samples to guarantee the coverage)"
    elif kind == "kernel":
        label = (
            f"approx. {pct} interval (spread of {dof + 1 if dof else '?'} KernelSHAP runs, t with {dof} df)"
        )
    else:
        label = f"approx. {pct} interval (normal quantile, standard errors of unknown origin)"
        dof = None
    return {
        "kind": "t" if kind == "t" else "approx.",
        "dof": dof,
        "level": level,
        "multiplier": interval_multiplier(dof, level),
        "label": label,
    }


def antithetic_orders(n: int, n_orders: int, seed: int) -> tuple[np.ndarray, bool]:
    """``(orders, complete)``: ``n_orders`` orders of ``n`` players in antithetic pairs, no pair twice.

    Row ``k`` and row ``k + n_orders // 2`` are an order and its reverse. Pairs are drawn
    without replacement (the first distinct pairs of one seeded stream, so a run with more
    orders extends a run with fewer): two identical pairs would give a standard error of 0 that
    says nothing. When ``n_orders // 2`` reaches the ``n! / 2`` pairs there are, every pair is
    taken once (fewer orders than asked) and ``complete`` is ``True``: their mean is the exact
    Shapley value.

    Examples
    --------
    >>> orders, complete = antithetic_orders(3, 100, seed=0)
    >>> orders.shape, complete
    ((6, 3), True)
    """
    half = n_orders // 2
    total = math.factorial(n) // 2 if n <= 12 else None
    if n < 2:
        return np.zeros((2 * half, n), dtype=np.int64), True
    if total is not None and half >= total:
        base = np.array([p for p in itertools.permutations(range(n)) if p < p[::-1]], dtype=np.int64)
        return np.concatenate([base, base[:, ::-1]]), True
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    seen: set[bytes] = set()
    while len(chosen) < half:
        for row in rng.random((half - len(chosen), n)).argsort(axis=1):
            fwd, rev = row.tobytes(), row[::-1].tobytes()
            key = min(fwd, rev)
            if key not in seen:
                seen.add(key)
                chosen.append(row)
    base = np.array(chosen, dtype=np.int64).reshape(half, n)
    return np.concatenate([base, base[:, ::-1]]), False


class _OverBudget(Exception):
    """Raised by a :class:`_MemoGame` with a ``limit`` before it would evaluate past it."""


class _MemoGame:
    """Evaluates a value function on batches of distinct masks, once per mask.

    With ``limit``, a call that needs more distinct masks than the limit leaves raises
    :class:`_OverBudget` before evaluating any of them: the limit is a hard cap.
    """

    def __init__(
        self, fn: ValueFunction, n: int, batch_size: int, progress: bool, desc: str, limit: int | None = None
    ) -> None:
        if not callable(fn):
            raise InvalidGameError(
                f"The value function must be callable (masks -> outputs), got {type(fn).__name__}."
            )
        self.fn = fn
        self.n = n
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.progress = progress
        self.desc = desc
        self.keys = np.empty(0, dtype=np.int64)  # sorted known masks
        self.rows = np.empty((0, 0))
        self.out_shape: tuple[int, ...] | None = None
        self.limit = limit

    @property
    def n_evaluations(self) -> int:
        return int(self.keys.size)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64).ravel()
        uniq = np.unique(masks)
        new = np.setdiff1d(uniq, self.keys, assume_unique=True)
        if self.limit is not None and self.keys.size + new.size > self.limit:
            raise _OverBudget(f"{new.size} new coalitions would pass the budget of {self.limit}")
        if new.size:
            from tqdm.auto import tqdm  # imported on first use: keeps `import xmtag.explanation` light

            chunks = []
            with tqdm(
                total=int(new.size), desc=self.desc, unit="coalition", disable=not self.progress
            ) as bar:
                for start in range(0, new.size, self.batch_size):
                    batch = new[start : start + self.batch_size]
                    chunks.append(self._run(batch))
                    bar.update(batch.size)
            block = np.concatenate(chunks, axis=0)
            keys = np.concatenate([self.keys, new])
            rows = block if self.rows.size == 0 else np.concatenate([self.rows, block], axis=0)
            order = np.argsort(keys, kind="stable")
            self.keys, self.rows = keys[order], rows[order]
        return self.rows[np.searchsorted(self.keys, masks)]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        out = np.asarray(self.fn(batch.copy()))
        if out.dtype.kind not in "fiub" or out.ndim < 1 or out.shape[0] != batch.size:
            raise InvalidGameError(
                f"The value function returned {type(out).__name__} of shape {out.shape} and dtype "
                f"{out.dtype} for {batch.size} masks; it must return a real array shaped "
                f"({batch.size}, ...), one row per mask."
            )
        if self.out_shape is None:
            self.out_shape = out.shape[1:]
        elif out.shape[1:] != self.out_shape:
            raise InvalidGameError(
                f"The value function returned rows of shape {out.shape[1:]} after rows of shape "
                f"{self.out_shape}; every call must return the same output shape."
            )
        out = out.astype(np.float64).reshape(batch.size, -1)
        bad = ~np.isfinite(out).all(axis=1)
        if bad.any():
            raise InvalidGameError(
                f"The value function returned NaN or infinite values for {int(bad.sum())} coalition(s), "
                f"first mask {int(batch[bad][0])}; check the model on that input."
            )
        return out


def _positive_int(x: object, name: str) -> int:
    return positive_int(x, name, error=InvalidGameError)


def _check_groups(groups: object, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = np.asarray(groups, dtype=np.float64)
    if g.ndim != 2 or g.shape[1] != n or not np.isin(g, (0.0, 1.0)).all():
        raise InvalidGameError(f"groups must be a 0/1 matrix (n_groups, {n}), got shape {g.shape}.")
    return g


def _check_n(n: object) -> int:
    n = _positive_int(n, "n (the number of players)")
    if n > MAX_SAMPLED_PLAYERS:
        raise InvalidGameError(
            f"{n} players is above the supported maximum of {MAX_SAMPLED_PLAYERS} "
            "(coalitions are int64 bitmasks); group players together."
        )
    return n


def permutation(
    fn: ValueFunction,
    n: int,
    *,
    n_permutations: int = 200,
    antithetic: bool = True,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
    groups: np.ndarray | None = None,
) -> Estimate:
    """Shapley values by permutation sampling, with antithetic pairs and standard errors.

    Each sampled order of the players walks from the empty to the grand coalition, adding one
    player at a time; a player's marginal contribution along the walk is an unbiased sample of
    its Shapley value, and every walk is exactly efficient. With ``antithetic=True`` each order
    is paired with its reverse and the pair's mean is one sample, which cancels much of the
    variance for near-additive games. Standard errors are the sample standard deviation of
    the (pair) samples over ``sqrt`` of their number, with ``dof`` = samples - 1 degrees of
    freedom for the Student-t interval (:meth:`Estimate.interval`).

    Parameters
    ----------
    fn : callable
        Value function ``masks (B,) int64 -> (B, ...)``.
    n : int
        Number of players, ``1 <= n <=`` :data:`MAX_SAMPLED_PLAYERS`.
    n_permutations : int
        Orders to sample (even, at least 4 with ``antithetic``; at least 2 without). A run costs
        at most ``n_permutations * (n - 1) + 2`` evaluations, fewer when orders share prefixes.
        Antithetic pairs are drawn without replacement (:func:`antithetic_orders`); asking for
        at least all ``n! / 2`` pairs takes each once and gives the exact values (``complete``).
    antithetic : bool
        Pair each order with its reverse.
    seed : int
        Seed of the random orders.
    batch_size : int
        Most masks per call of ``fn``.
    progress : bool
        Show a tqdm progress bar.
    groups : array_like, optional
        ``(g, n)`` 0/1 matrix: also estimate the sum of the values within each group (e.g. the
        segments of one stem) with its standard error.

    Returns
    -------
    Estimate

    Raises
    ------
    InvalidGameError
        For an invalid ``n`` or budget, or a value function returning the wrong shape or NaN.

    Examples
    --------
    >>> weights = np.array([1.0, 2.0, 3.0])
    >>> def fn(masks):  # an additive game: every estimate is exact
    ...     return ((masks[:, None] >> np.arange(3)) & 1) @ weights
    >>> est = permutation(fn, 3, n_permutations=10, seed=0)
    >>> est.values, est.std_errors
    (array([1., 2., 3.]), array([0., 0., 0.]))
    """
    n = _check_n(n)
    gmat = _check_groups(groups, n)
    n_perm = _positive_int(n_permutations, "n_permutations")
    if antithetic and (n_perm % 2 or n_perm < 4):
        raise InvalidGameError(
            f"n_permutations must be even and at least 4 with antithetic=True (pairs of an order and "
            f"its reverse), got {n_perm}."
        )
    if not antithetic and n_perm < 2:
        raise InvalidGameError(f"n_permutations must be at least 2 to estimate errors, got {n_perm}.")
    complete = False
    if antithetic:
        perms, complete = antithetic_orders(n, n_perm, seed)
        n_perm = perms.shape[0]
    else:
        perms = np.random.default_rng(seed).random((n_perm, n)).argsort(axis=1)

    game = _MemoGame(fn, n, batch_size, progress, "permutations")
    steps = np.cumsum(np.left_shift(np.int64(1), perms.astype(np.int64)), axis=1)
    prefixes = np.concatenate([np.zeros((n_perm, 1), dtype=np.int64), steps], axis=1)  # (P, n+1)
    vals = game(prefixes.ravel()).reshape(n_perm, n + 1, -1)
    diffs = np.diff(vals, axis=1)  # marginal contribution of perms[p, j]
    contrib = np.take_along_axis(diffs, np.argsort(perms, axis=1)[:, :, np.newaxis], axis=1)
    samples = 0.5 * (contrib[: n_perm // 2] + contrib[n_perm // 2 :]) if antithetic else contrib
    m = samples.shape[0]
    values = samples.mean(axis=0)
    spread = 0.0 if complete else 1.0  # every pair taken: the mean is the Shapley value itself
    std_errors = spread * samples.std(axis=0, ddof=1) / np.sqrt(m)
    out_shape = game.out_shape or ()
    gv = gs = None
    if gmat is not None:
        gsamples = np.einsum("gn,mnr->mgr", gmat, samples)
        gv = gsamples.mean(axis=0).reshape((gmat.shape[0], *out_shape))
        gs = (spread * gsamples.std(axis=0, ddof=1) / np.sqrt(m)).reshape((gmat.shape[0], *out_shape))
    logger.debug("permutation: %d orders, %d evaluations", n_perm, game.n_evaluations)
    full = (1 << n) - 1
    return Estimate(
        values=values.reshape((n, *out_shape)),
        std_errors=std_errors.reshape((n, *out_shape)),
        base_value=game(np.array([0]))[0].reshape(out_shape),
        prediction=game(np.array([full]))[0].reshape(out_shape),
        n_evaluations=game.n_evaluations,
        n_samples=n_perm,
        method="permutation",
        group_values=gv,
        group_std_errors=gs,
        dof=m - 1,
        complete=complete,
    )


def kernel(
    fn: ValueFunction,
    n: int,
    *,
    n_samples: int | None = None,
    n_repeats: int = 1,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
    groups: np.ndarray | None = None,
) -> Estimate:
    """Shapley values by KernelSHAP (``shap.KernelExplainer``).

    Players are binary features: the explained instance has every player present (all
    ones) and the single background row has every player absent (all zeros), so shap's
    masked inputs map one to one onto coalitions. No L1 feature selection is applied
    (``l1_reg=False``), so this is plain KernelSHAP. When ``n_samples >= 2**n - 2`` shap
    enumerates every coalition and the result is exact.

    Parameters
    ----------
    fn : callable
        Value function ``masks (B,) int64 -> (B, ...)``.
    n : int
        Number of players, ``1 <= n <=`` :data:`MAX_SAMPLED_PLAYERS`.
    n_samples : int, optional
        Coalitions sampled per run; default shap's ``2 * n + 2048``.
    n_repeats : int
        Independent runs (seeds derived from ``seed``). Their mean is returned; with
        ``n_repeats >= 2`` ``std_errors`` is their standard deviation over ``sqrt(n_repeats)``.
        Coalitions shared between runs are evaluated once.
    seed : int
        Seed. shap draws from NumPy's global random state; it is seeded for the call and
        restored afterwards.
    batch_size : int
        Most masks per call of ``fn``.
    progress : bool
        Show a tqdm progress bar.
    groups : array_like, optional
        As for :func:`permutation` (standard errors of group sums need ``n_repeats >= 2``).

    Returns
    -------
    Estimate

    Raises
    ------
    InvalidGameError
        For an invalid ``n`` or budget, or a value function returning the wrong shape or NaN.

    Examples
    --------
    >>> weights = np.array([1.0, 2.0, 3.0])
    >>> def fn(masks):
    ...     return ((masks[:, None] >> np.arange(3)) & 1) @ weights
    >>> kernel(fn, 3).values.round(12)
    array([1., 2., 3.])
    """
    n = _check_n(n)
    gmat = _check_groups(groups, n)
    reps = _positive_int(n_repeats, "n_repeats")
    if n_samples is not None:
        n_samples = _positive_int(n_samples, "n_samples")
    with warnings.catch_warnings():  # shap's import warns about matplotlib colormap APIs
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        shap = require("shap", "core", "KernelSHAP")
    game = _MemoGame(fn, n, batch_size, progress, "KernelSHAP")
    powers = np.left_shift(np.int64(1), np.arange(n, dtype=np.int64))

    def model(x: np.ndarray) -> np.ndarray:
        masks = (np.asarray(x) > 0.5).astype(np.int64) @ powers
        return game(masks)

    seeds = np.random.SeedSequence(seed).generate_state(reps)
    runs = []
    state = np.random.get_state()  # noqa: NPY002 (shap draws from the global state)
    try:
        for r in range(reps):
            np.random.seed(int(seeds[r]))  # noqa: NPY002
            explainer = shap.KernelExplainer(model, np.zeros((1, n)))
            kwargs = {"l1_reg": False, "silent": True}
            if n_samples is not None:
                kwargs["nsamples"] = n_samples
            phi = np.asarray(explainer.shap_values(np.ones(n), **kwargs), dtype=np.float64)
            runs.append(phi.reshape(n, -1))
    finally:
        np.random.set_state(state)  # noqa: NPY002
    runs_arr = np.stack(runs)  # (reps, n, R)
    out_shape = game.out_shape or ()
    values = runs_arr.mean(axis=0)
    std_errors = runs_arr.std(axis=0, ddof=1) / np.sqrt(reps) if reps >= 2 else None
    gv = gs = None
    if gmat is not None:
        gruns = np.einsum("gn,rnk->rgk", gmat, runs_arr)
        gv = gruns.mean(axis=0).reshape((gmat.shape[0], *out_shape))
        if reps >= 2:
            gs = (gruns.std(axis=0, ddof=1) / np.sqrt(reps)).reshape((gmat.shape[0], *out_shape))
    full = (1 << n) - 1
    per_run = n_samples if n_samples is not None else 2 * n + 2048
    return Estimate(
        values=values.reshape((n, *out_shape)),
        std_errors=None if std_errors is None else std_errors.reshape((n, *out_shape)),
        base_value=game(np.array([0]))[0].reshape(out_shape),
        prediction=game(np.array([full]))[0].reshape(out_shape),
        n_evaluations=game.n_evaluations,
        n_samples=min(per_run, 2**n - 2 if n <= 30 else per_run) * reps,
        method="kernel",
        group_values=gv,
        group_std_errors=gs,
        dof=reps - 1 if reps >= 2 else None,
    )


def kernel_from_values(masks: np.ndarray, values: np.ndarray, n: int) -> Estimate:
    """KernelSHAP on a fixed set of already-evaluated coalitions (e.g. a table of external scores).

    The Shapley-kernel weighted least-squares fit of KernelSHAP (Lundberg & Lee, 2017) with the
    efficiency constraint imposed exactly, on the coalitions given instead of sampled ones: each
    coalition ``S`` (``0 < |S| < n``) gets the weight ``(n - 1) / (C(n, |S|) |S| (n - |S|))``.
    With every coalition present the result is the exact Shapley value. The fit is deterministic,
    so ``std_errors`` is ``None``.

    Parameters
    ----------
    masks : array_like
        ``(m,)`` distinct coalition bitmasks; must include ``0`` and ``2**n - 1``.
    values : array_like
        ``(m, ...)`` the game's value for each mask.
    n : int
        Number of players.

    Returns
    -------
    Estimate
        ``method="kernel"``, ``n_evaluations = m``.

    Raises
    ------
    InvalidGameError
        Without the empty or grand coalition, for repeated masks, or when the coalitions given do
        not determine the values (the least-squares problem is rank deficient).

    Examples
    --------
    >>> v = np.array([0.0, 1.0, 2.0, 4.0])  # all four coalitions of two players: exact
    >>> kernel_from_values(np.arange(4), v, 2).values.round(12).tolist()
    [1.5, 2.5]
    """
    from math import comb

    n = _check_n(n)
    masks = np.asarray(masks, dtype=np.int64).ravel()
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape[:1] != masks.shape:
        raise InvalidGameError(f"values has {vals.shape[0] if vals.ndim else 0} rows for {masks.size} masks.")
    if np.unique(masks).size != masks.size:
        raise InvalidGameError("kernel_from_values: masks must be distinct.")
    full = (1 << n) - 1
    if not (masks == 0).any() or not (masks == full).any():
        raise InvalidGameError(
            "KernelSHAP needs the empty and the grand coalition (silence and the full mix)."
        )
    out_shape = vals.shape[1:]
    y = vals.reshape(masks.size, -1)
    v0, v_full = y[np.flatnonzero(masks == 0)[0]], y[np.flatnonzero(masks == full)[0]]
    inner = (masks != 0) & (masks != full)
    z = ((masks[inner, None] >> np.arange(n)) & 1).astype(np.float64)
    if n == 1:
        phi = (v_full - v0)[np.newaxis]
    else:
        size = z.sum(axis=1).astype(int)
        w = np.array([(n - 1) / (comb(n, s) * s * (n - s)) for s in size])
        delta = v_full - v0
        x = z[:, :-1] - z[:, -1:]  # phi_n = delta - sum(phi_<n) substituted
        rhs = y[inner] - v0 - z[:, -1:] * delta
        sw = np.sqrt(w)[:, None]
        sol, _, rank, _ = np.linalg.lstsq(x * sw, rhs * sw, rcond=None)
        if rank < n - 1:
            raise InvalidGameError(
                f"the {int(inner.sum())} coalitions besides silence and the full mix do not determine "
                f"{n} values (rank {rank} < {n - 1}); add more coalitions, e.g. every single-stem mix."
            )
        phi = np.concatenate([sol, delta[np.newaxis] - sol.sum(axis=0, keepdims=True)], axis=0)
    return Estimate(
        values=phi.reshape((n, *out_shape)),
        std_errors=None,
        base_value=v0.reshape(out_shape),
        prediction=v_full.reshape(out_shape),
        n_evaluations=int(masks.size),
        n_samples=int(masks.size),
        method="kernel",
    )
