"""The method registry: every method's name, which ones enumerate or sample, and the limits, in one place.

Everything that lists methods or checks a player limit (:func:`xmtag.explain`, the
:class:`~xmtag.Explanation`, score tables, the CLI, the corpus, :mod:`xmtag.attribution.shapley`
and the estimators) reads it from here.
"""

from __future__ import annotations

from .. import _checks

__all__ = [
    "resolve_method",
    "METHODS",
    "EXPLANATION_METHODS",
    "ENUMERATED_METHODS",
    "EFFICIENT_METHODS",
    "SCORE_TABLE_METHODS",
    "AUTO_EXACT_MAX_PLAYERS",
    "EXACT_MAX_PLAYERS",
    "MAX_SAMPLED_PLAYERS",
    "DEFAULT_BUDGET",
    "MAX_PERMUTATIONS",
]

#: Methods :func:`~xmtag.attribution.attribute` and :func:`xmtag.explain` accept.
METHODS = ("exact", "banzhaf", "permutation", "kernel", "lime", "loo", "auto")
#: Methods an :class:`~xmtag.Explanation` can hold (``auto`` resolved).
EXPLANATION_METHODS = ("exact", "banzhaf", "permutation", "kernel", "lime", "loo")
#: Methods that enumerate every coalition (``2**n`` tagger rows).
ENUMERATED_METHODS = ("exact", "banzhaf")
#: Methods whose values add up to ``prediction - base_values`` (checked on construction).
EFFICIENT_METHODS = ("exact", "permutation", "kernel")
#: Methods :func:`~xmtag.Explanation.from_scores` runs on a table of coalition scores.
SCORE_TABLE_METHODS = ("exact", "kernel", "permutation")

#: ``method="auto"`` enumerates every coalition up to this many players (256 coalitions), and
#: samples permutations above it.
AUTO_EXACT_MAX_PLAYERS = 8
#: ``exact`` and ``banzhaf`` refuse games larger than this (2**16 coalitions).
EXACT_MAX_PLAYERS = 16
#: Most players of a sampled game: coalitions are int64 bitmasks.
MAX_SAMPLED_PLAYERS = 63
#: Default tagger-row budget of the sampled methods (``permutation``, ``kernel``, ``lime``).
DEFAULT_BUDGET = 1000
#: Most orders the permutation method samples, however large the budget.
MAX_PERMUTATIONS = 4000
#: Fewest antithetic pairs for which a permutation estimate's Student-t interval is called a
#: 95 % interval; below it the interval is labelled "approx.". Measured (tests/attribution/
#: test_coverage.py): on weighted-majority games, whose rare pivots make the pair samples very
#: skewed, t-intervals cover 82 % at 10 pairs, 88 % at 30-50 and 94 % at 100 (10 players).
T_INTERVAL_MIN_PAIRS = 100


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
