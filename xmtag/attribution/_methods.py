"""Methods: moved from :mod:`xmtag.attribution`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _checks

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ['resolve_method', 'METHODS', 'AUTO_EXACT_MAX_PLAYERS', 'EXACT_MAX_PLAYERS', 'DEFAULT_BUDGET']


#: Methods :func:`attribute` accepts.
METHODS = ("exact", "banzhaf", "permutation", "kernel", "lime", "loo", "auto")


#: ``method="auto"`` enumerates every coalition up to this many players (256 coalitions), and
#: samples permutations above it.
AUTO_EXACT_MAX_PLAYERS = 8


#: ``exact`` and ``banzhaf`` refuse games larger than this (2**16 coalitions).
EXACT_MAX_PLAYERS = 16


#: Default tagger-row budget of the sampled methods (``permutation``, ``kernel``, ``lime``).
DEFAULT_BUDGET = 1000


#: Most orders the permutation method samples, however large the budget.
MAX_PERMUTATIONS = 4000


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
