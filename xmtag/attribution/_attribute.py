"""Run one attribution method on a game: :func:`attribute` and its result, :class:`Attribution`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _checks
from ..errors import InvalidGameError, XmtagError
from ._methods import (
    DEFAULT_BUDGET,
    ENUMERATED_METHODS,
    EXACT_MAX_PLAYERS,
    MAX_PERMUTATIONS,
    resolve_method,
)
from .estimators import MAX_SAMPLED_PLAYERS, ValueFunction, _MemoGame, _OverBudget, antithetic_orders

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["Attribution", "attribute"]


_KERNEL_REPEATS = 8


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
    dof : int or None
        Degrees of freedom of ``stderr`` (independent samples - 1): the 95 % interval is
        ``values ± t(0.975, dof) * stderr`` (:func:`xmtag.attribution.estimators.interval_multiplier`).
    interval : str
        What that interval is: ``"t"`` (Student-t over at least
        :data:`~xmtag.attribution._methods.T_INTERVAL_MIN_PAIRS` independent antithetic pairs of
        orders: a 95 % interval), ``"approx."`` (fewer pairs, whose skewed samples can undercover;
        or KernelSHAP, the spread of seeded runs that share coalitions, biased at small budgets)
        or ``""`` (no standard errors, or exact values).
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
    dof: int | None = None
    interval: str = ""


def _groups(groups: np.ndarray | None, a: np.ndarray) -> np.ndarray | None:
    return None if groups is None else np.tensordot(np.asarray(groups, dtype=np.float64), a, axes=(1, 0))


def _distinct_coalitions(n: int, n_perm: int, seed: int) -> int:
    """Distinct coalitions :func:`xmtag.attribution.estimators.permutation` visits with these arguments."""
    perms, _ = antithetic_orders(n, n_perm, seed)  # the same orders as the estimator's
    steps = np.cumsum(np.left_shift(np.int64(1), perms.astype(np.int64)), axis=1)
    return int(np.unique(np.concatenate([[0], steps.ravel()])).size)


def _permutations_for_budget(n: int, budget: int, seed: int) -> int:
    """The most antithetic orders (even, >= 4, <= :data:`MAX_PERMUTATIONS`) whose distinct
    coalitions fit in ``budget``: orders share prefixes, so small games fit many."""
    lo, hi = 4, MAX_PERMUTATIONS
    if _distinct_coalitions(n, hi, seed) <= budget:
        return hi
    if _distinct_coalitions(n, lo, seed) > budget:
        need = _distinct_coalitions(n, lo, seed)
        raise InvalidGameError(
            f"method='permutation' needs a budget of at least {need} coalitions for {n} players with "
            f"seed={seed} (two antithetic pairs of orders, the fewest that give a standard error); "
            f"got {budget}. A budget of {4 * (n - 1) + 2} always suffices"
            + (f", and {2**n} gives exact values (method='exact')." if n <= 16 else ".")
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
        return dataclasses.replace(
            est, std_errors=np.zeros_like(est.values), group_std_errors=gz, complete=True
        )
    if budget < 2 * n + 4:
        raise InvalidGameError(
            f"method='kernel' needs a budget of at least 2n + 4 = {2 * n + 4} coalitions for {n} players "
            "(shap's smallest sample of 2n + 2, plus the empty and the full coalition)."
        )
    # A hard cap: a run that would evaluate past the budget is refused before any of its rows
    # are computed (the memo raises), and the runs that fitted are kept.
    memo = _MemoGame(game, n, batch_size, progress, "KernelSHAP", limit=budget)
    per_run = max(2 * n + 2, min(budget - 2, budget // _KERNEL_REPEATS))
    seeds = np.random.SeedSequence(seed).generate_state(_KERNEL_REPEATS)
    runs: list[Estimate] = []
    for r in range(_KERNEL_REPEATS):
        try:
            runs.append(
                kernel(memo, n, n_samples=per_run, seed=int(seeds[r]), batch_size=batch_size, groups=groups)
            )
        except _OverBudget:
            if not runs:  # pragma: no cover - the first run fits by the arithmetic above
                msg = f"method='kernel': budget {budget} is too small for {n} players."
                raise InvalidGameError(msg) from None
            break
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
        dof=m - 1 if m >= 2 else None,
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
    budget = _checks.budget(budget, error=InvalidGameError)
    seed = _checks.non_negative_int(seed, "seed")
    full = (1 << n) - 1 if n < 63 else None
    if method in ENUMERATED_METHODS:
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
        if budget < 3:
            raise InvalidGameError(
                f"method='lime' needs a budget of at least 3 coalitions (two samples and the empty one); "
                f"got {budget}."
            )
        # audioLIME's samples include the full mix; the empty coalition (the base value) is the one
        # row beyond them, so budget - 1 samples keep the whole run within the budget.
        memo = _MemoGame(game, n, batch_size, progress, "LIME", limit=budget)
        res = lime(memo, n, n_samples=budget - 1, seed=seed, batch_size=batch_size)
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
        dof=None if est.complete else est.dof,
        interval=_interval_kind(est),
    )


def _interval_kind(est: Any) -> str:
    """``"t"``, ``"approx."`` or ``""``: what the estimate's 95 % interval is (see :class:`Attribution`)."""
    return est.interval_kind
