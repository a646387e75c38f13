"""Every attribution method over one game, with one result type: :func:`attribute`.

A *game* is a value function ``fn(masks) -> (len(masks), n_outputs)`` over coalition bitmasks
of ``n`` players (see :mod:`xmtag.estimators`). :func:`attribute` runs one method on it and
returns an :class:`Attribution`, which :func:`xmtag.explain` turns into an
:class:`~xmtag.Explanation`:

=============== ======================================================== ==================
method          what it computes                                          tagger rows
=============== ======================================================== ==================
``exact``       Shapley values from all ``2**n`` coalitions               ``2**n``
``banzhaf``     Banzhaf values from all ``2**n`` coalitions (not          ``2**n``
                efficient: they need not add up to the prediction)
``permutation`` antithetic permutation sampling, standard errors          <= ``budget``
``kernel``      KernelSHAP (``shap.KernelExplainer``), up to 8 seeded     <= ``budget``
                runs sharing one memo, for standard errors; exact when
                the budget covers every coalition
``lime``        audioLIME's LIME (:func:`xmtag.baselines.lime`):          <= ``budget``
                ridge coefficients, not Shapley values
``loo``         leave-one-out occlusion: ``f(N) - f(N \\ {i})``           ``n + 2``
``auto``        ``exact`` up to :data:`AUTO_EXACT_MAX_PLAYERS` players,
                else ``permutation``
=============== ======================================================== ==================

"Tagger rows" counts distinct coalitions passed to the value function (each is evaluated
once). All methods are seeded and deterministic.

Standard errors: permutation sampling is unbiased, so ``values ± 3 * stderr`` covers the exact
values (tested at >= 95 % of entries). KernelSHAP's standard errors are the spread of its seeded
runs; with budgets far below ``2**n`` its estimates also carry a small-sample bias that the
spread does not include (on the demo song at 31 of 32 coalitions, 3-sigma intervals cover
75-93 % of the exact values), so prefer permutation sampling when intervals matter.

Examples
--------
>>> import numpy as np
>>> w = np.array([1.0, 2.0, 3.0])
>>> game = lambda masks: (((masks[:, None] >> np.arange(3)) & 1) @ w)[:, None]
>>> a = attribute(game, 3, method="permutation", budget=40, seed=0)
>>> a.method, a.values.ravel().round(6).tolist(), a.budget <= 40
('permutation', [1.0, 2.0, 3.0], True)
>>> attribute(game, 3, method="loo").values.ravel().tolist()
[1.0, 2.0, 3.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _checks
from .errors import InvalidGameError, XmtagError
from .estimators import MAX_SAMPLED_PLAYERS, ValueFunction, _MemoGame

if TYPE_CHECKING:  # pragma: no cover
    from .explanation import Explanation
    from .provenance import Provenance
    from .separation import Stems

__all__ = [
    "Attribution",
    "attribute",
    "from_game",
    "resolve_method",
    "METHODS",
    "AUTO_EXACT_MAX_PLAYERS",
    "EXACT_MAX_PLAYERS",
    "DEFAULT_BUDGET",
]

#: Methods :func:`attribute` accepts.
METHODS = ("exact", "banzhaf", "permutation", "kernel", "lime", "loo", "auto")
#: ``method="auto"`` enumerates every coalition up to this many players (256 coalitions), and
#: samples permutations above it.
AUTO_EXACT_MAX_PLAYERS = 8
#: ``exact`` and ``banzhaf`` refuse games larger than this (2**16 coalitions).
EXACT_MAX_PLAYERS = 16
#: Default tagger-row budget of the sampled methods (``permutation``, ``kernel``, ``lime``).
DEFAULT_BUDGET = 1000
_KERNEL_REPEATS = 8
#: Most orders the permutation method samples, however large the budget.
MAX_PERMUTATIONS = 4000


@dataclass(frozen=True)
class Attribution:
    """What :func:`attribute` computed.

    Attributes
    ----------
    method : str
        The method used (``auto`` resolved).
    values : numpy.ndarray
        ``(n, ...)`` per-player attributions.
    stderr : numpy.ndarray or None
        ``(n, ...)`` standard errors (sampled methods), else ``None``.
    base_value, prediction : numpy.ndarray
        ``(...)`` the game's value for the empty and the full coalition.
    coalition_values : numpy.ndarray or None
        ``(2**n, ...)`` every coalition's value (``exact``, ``banzhaf``), else ``None``.
    budget : int
        Distinct coalitions evaluated.
    group_values, group_stderr : numpy.ndarray or None
        ``(g, ...)`` sums of the values over each group of players and their standard errors.
    """

    method: str
    values: np.ndarray
    stderr: np.ndarray | None
    base_value: np.ndarray
    prediction: np.ndarray
    coalition_values: np.ndarray | None
    budget: int
    group_values: np.ndarray | None = None
    group_stderr: np.ndarray | None = None


def resolve_method(method: str, n_players: int) -> str:
    """The method ``method`` names for a game of ``n_players`` (``auto`` resolved).

    Examples
    --------
    >>> resolve_method("auto", 5), resolve_method("auto", 24), resolve_method("kernel", 5)
    ('exact', 'permutation', 'kernel')
    """
    method = _checks.choice(method, "method", METHODS)
    if method == "auto":
        return "exact" if n_players <= AUTO_EXACT_MAX_PLAYERS else "permutation"
    return method


def _groups(groups: np.ndarray | None, a: np.ndarray) -> np.ndarray | None:
    return None if groups is None else np.tensordot(np.asarray(groups, dtype=np.float64), a, axes=(1, 0))


def _distinct_coalitions(n: int, n_perm: int, seed: int) -> int:
    """Distinct coalitions :func:`xmtag.estimators.permutation` visits with these arguments."""
    rng = np.random.default_rng(seed)  # the same draws as the estimator's
    base = rng.random((n_perm // 2, n)).argsort(axis=1)
    perms = np.concatenate([base, base[:, ::-1]])
    steps = np.cumsum(np.left_shift(np.int64(1), perms.astype(np.int64)), axis=1)
    return int(np.unique(np.concatenate([[0], steps.ravel()])).size)


def _permutations_for_budget(n: int, budget: int, seed: int) -> int:
    """The most antithetic orders (even, >= 4, <= :data:`MAX_PERMUTATIONS`) whose distinct
    coalitions fit in ``budget``: orders share prefixes, so small games fit many."""
    lo, hi = 4, MAX_PERMUTATIONS
    if _distinct_coalitions(n, hi, seed) <= budget:
        return hi
    if _distinct_coalitions(n, lo, seed) > budget:
        raise InvalidGameError(
            f"method='permutation' needs a budget of at least {_distinct_coalitions(n, lo, seed)} coalitions "
            f"for {n} players (two antithetic pairs of orders); got {budget}."
        )
    while hi - lo > 2:  # the first k draws do not depend on how many are drawn: monotone in n_perm
        mid = (lo + hi) // 4 * 2
        lo, hi = (mid, hi) if _distinct_coalitions(n, mid, seed) <= budget else (lo, mid)
    return lo


def _kernel_within_budget(
    game: ValueFunction, n: int, budget: int, seed: int, batch_size: int, progress: bool, groups: Any
) -> Any:
    """KernelSHAP in seeded runs that share one memo, as many runs (up to 8) as fit ``budget``
    distinct coalitions; standard errors from the spread of the runs (none for a single run).

    When the budget covers every coalition shap enumerates them and the result is exact.
    """
    from .estimators import Estimate, kernel

    if n <= 30 and budget >= 2**n:  # every coalition fits: shap enumerates them, the result is exact
        est = kernel(
            game, n, n_samples=2**n, seed=seed, batch_size=batch_size, progress=progress, groups=groups
        )
        gz = None if est.group_values is None else np.zeros_like(est.group_values)
        return dataclasses.replace(est, std_errors=np.zeros_like(est.values), group_std_errors=gz)
    if budget < 2 * n + 2:
        raise InvalidGameError(
            f"method='kernel' needs a budget of at least 2n + 2 = {2 * n + 2} coalitions for {n} players "
            "(shap's smallest sample)."
        )
    memo = _MemoGame(game, n, batch_size, progress, "KernelSHAP")
    per_run = max(2 * n + 2, budget // _KERNEL_REPEATS)
    seeds = np.random.SeedSequence(seed).generate_state(_KERNEL_REPEATS)
    runs: list[Estimate] = []
    new = 0  # coalitions the last run added: runs share the memo, so later runs add fewer
    for r in range(_KERNEL_REPEATS):
        if runs and memo.n_evaluations + new > budget:  # the next run would likely exceed the budget
            break
        before = memo.n_evaluations
        runs.append(
            kernel(memo, n, n_samples=per_run, seed=int(seeds[r]), batch_size=batch_size, groups=groups)
        )
        new = memo.n_evaluations - before
    vals = np.stack([e.values for e in runs])
    m = len(runs)
    stderr = vals.std(axis=0, ddof=1) / np.sqrt(m) if m >= 2 else None
    gv = gs = None
    if groups is not None:
        g = np.stack([e.group_values for e in runs])
        gv, gs = g.mean(axis=0), (g.std(axis=0, ddof=1) / np.sqrt(m) if m >= 2 else None)
    return Estimate(
        values=vals.mean(axis=0),
        std_errors=stderr,
        base_value=runs[0].base_value,
        prediction=runs[0].prediction,
        n_evaluations=memo.n_evaluations,
        n_samples=per_run * m,
        method="kernel",
        group_values=gv,
        group_std_errors=gs,
    )


def attribute(
    game: ValueFunction,
    n: int,
    *,
    method: str = "exact",
    budget: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
    groups: np.ndarray | None = None,
) -> Attribution:
    """Attribute a game's value to its ``n`` players with one method.

    Parameters
    ----------
    game : callable
        ``masks (B,) int64 -> (B, ...)`` values.
    n : int
        Number of players.
    method : str
        One of :data:`METHODS` (table in the module notes).
    budget : int, optional
        Most distinct coalitions a sampled method may evaluate (default :data:`DEFAULT_BUDGET`);
        ignored by ``exact``, ``banzhaf`` and ``loo``.
    seed : int
        Seed of the sampled methods.
    batch_size : int
        Most coalitions per call of ``game``.
    progress : bool
        Show a tqdm progress bar.
    groups : array_like, optional
        ``(g, n)`` 0/1 matrix: also return each group's summed value (and standard error).

    Returns
    -------
    Attribution

    Raises
    ------
    InvalidGameError
        For too many players for the method, a budget too small for it, or a game returning
        the wrong shape or NaN.
    """
    from . import shapley
    from .baselines import lime
    from .estimators import permutation

    n = _checks.positive_int(n, "n (the number of players)", error=InvalidGameError)
    method = resolve_method(method, n)
    budget = _checks.positive_int(budget, "budget", allow_none=True, error=InvalidGameError)
    seed = _checks.non_negative_int(seed, "seed")
    full = (1 << n) - 1 if n < 63 else None
    if method in ("exact", "banzhaf"):
        if n > EXACT_MAX_PLAYERS:
            raise InvalidGameError(
                f"method={method!r} enumerates all 2**{n} coalitions; above {EXACT_MAX_PLAYERS} players use "
                "method='permutation', 'kernel' or 'auto'."
            )
        memo = _MemoGame(game, n, batch_size, progress, "coalitions")
        v = memo(np.arange(2**n, dtype=np.int64))
        values = shapley.exact(v) if method == "exact" else shapley.banzhaf(v)
        return Attribution(method, values, None, v[0], v[-1], v, memo.n_evaluations, _groups(groups, values))
    if n > MAX_SAMPLED_PLAYERS:
        raise InvalidGameError(f"{n} players is above the {MAX_SAMPLED_PLAYERS} the sampled methods support.")
    if method == "loo":
        memo = _MemoGame(game, n, batch_size, progress, "leave-one-out")
        masks = np.array([0, full, *[full ^ (1 << i) for i in range(n)]], dtype=np.int64)
        v = memo(masks)
        values = v[1] - v[2:]
        return Attribution(
            method, values, None, v[0], v[1], None, memo.n_evaluations, _groups(groups, values)
        )
    budget = DEFAULT_BUDGET if budget is None else budget
    if method == "permutation":
        if n == 1:
            return attribute(game, 1, method="exact", batch_size=batch_size, groups=groups)
        n_perm = _permutations_for_budget(n, budget, seed)
        est = permutation(
            game, n, n_permutations=n_perm, seed=seed, batch_size=batch_size, progress=progress, groups=groups
        )
    elif method == "kernel":
        est = _kernel_within_budget(game, n, budget, seed, batch_size, progress, groups)
    elif method == "lime":
        memo = _MemoGame(game, n, batch_size, progress, "LIME")
        res = lime(memo, n, n_samples=max(2, budget), seed=seed, batch_size=batch_size)
        ends = memo(np.array([0, full], dtype=np.int64))
        return Attribution(
            method,
            res.coefficients,
            None,
            ends[0],
            ends[1],
            None,
            memo.n_evaluations,
            _groups(groups, res.coefficients),
        )
    else:  # pragma: no cover - resolve_method() checked the name
        raise XmtagError(f"Unknown method {method!r}.")
    return Attribution(
        method=method,
        values=est.values,
        stderr=est.std_errors,
        base_value=est.base_value,
        prediction=est.prediction,
        coalition_values=None,
        budget=est.n_evaluations,
        group_values=est.group_values,
        group_stderr=est.group_std_errors,
    )


def from_game(
    coalition_values: Any,
    stems: Sequence[str],
    labels: Sequence[str],
    *,
    method: str = "exact",
    segment_coalition_values: Any = None,
    segment_weights: Any = None,
    segment_bounds: Any = None,
    envelope: Any = None,
    provenance: Provenance | Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    audio: Stems | None = None,
    budget: int | None = None,
) -> Explanation:
    """Compute an explanation from the value of every coalition with :mod:`xmtag.shapley`.

    Parameters
    ----------
    coalition_values : array_like
        ``(2**n, n_tags)`` (or ``(2**n,)`` for one tag) indexed by bitmask.
    stems, labels : sequence of str
        Stem and tag names.
    method : {"exact", "banzhaf"}
        Shapley values (default) or Banzhaf values.
    segment_coalition_values : array_like, optional
        ``(2**n, K, n_tags)`` per-segment games; with ``segment_weights`` (K,) summing to 1
        they give ``segment_values`` through :func:`xmtag.shapley.segments`.
    segment_weights, segment_bounds, envelope, provenance, metadata, audio, budget
        As for :class:`~xmtag.Explanation`.

    Returns
    -------
    Explanation

    Raises
    ------
    InvalidGameError
        If the values do not match the names or are not a valid game.

    Examples
    --------
    >>> e = from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"])
    >>> e.interactions[0, 1].tolist()  # together they add 1 beyond 1 + 2
    [1.0]
    >>> from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"], method="banzhaf").values.ravel()
    array([1.5, 2.5])
    """
    from . import shapley
    from .explanation import Explanation

    method = _checks.choice(method, "from_game(method)", ("exact", "banzhaf"))
    v = shapley.check_game(coalition_values, name="coalition_values")
    if v.ndim == 1:
        v = v[:, np.newaxis]
    n = shapley.n_players(v)
    if n != len(stems):
        raise InvalidGameError(
            f"coalition_values has 2**{n} rows but {len(stems)} stem names were given ({list(stems)})."
        )
    if v.ndim != 2 or v.shape[1] != len(labels):
        raise InvalidGameError(
            f"coalition_values must be (2**n, n_tags) = (2**{n}, {len(labels)}), got {v.shape}."
        )
    seg_values = None
    if segment_coalition_values is not None:
        g = shapley.check_game(segment_coalition_values, name="segment_coalition_values")
        if g.ndim == 2:
            g = g[..., np.newaxis]
        if g.shape[0] != v.shape[0] or g.ndim != 3 or g.shape[2] != v.shape[1]:
            raise InvalidGameError(
                f"segment_coalition_values must be (2**n, K, n_tags) with 2**n = {v.shape[0]} and "
                f"n_tags = {v.shape[1]}; got {g.shape}."
            )
        if segment_weights is None:
            raise InvalidGameError("segment_coalition_values need segment_weights (K,) summing to 1.")
        if segment_bounds is None:
            raise InvalidGameError("segment_coalition_values need segment_bounds (K, 2) in seconds.")
        if method == "exact":
            seg_values = shapley.segments(g, segment_weights)
        else:  # Banzhaf is linear in the game too: the same decomposition holds
            w = np.asarray(segment_weights, dtype=np.float64)
            seg_values = shapley.banzhaf(g) * w[np.newaxis, :, np.newaxis]
        segment_coalition_values = g
    values = shapley.exact(v) if method == "exact" else shapley.banzhaf(v)
    return Explanation(
        stems,
        labels,
        values=values,
        base_values=v[0],
        prediction=v[-1],
        coalition_values=v,
        interactions=shapley.interactions(v),
        method=method,
        budget=budget,
        segment_values=seg_values,
        segment_coalition_values=segment_coalition_values,
        segment_weights=segment_weights,
        segment_bounds=segment_bounds,
        envelope=envelope,
        provenance=provenance,
        metadata=metadata,
        audio=audio,
    )
