r"""Every attribution method over one game, with one result type: :func:`attribute`.

A *game* is a value function ``fn(masks) -> (len(masks), n_outputs)`` over coalition bitmasks
of ``n`` players (see :mod:`xmtag.attribution.estimators`). :func:`attribute` runs one method on it and
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
``lime``        audioLIME's LIME (:func:`xmtag.attribution.baselines.lime`):          <= ``budget``
                ridge coefficients, not Shapley values
``loo``         leave-one-out occlusion: ``f(N) - f(N \ {i})``           ``n + 2``
``auto``        ``exact`` up to :data:`AUTO_EXACT_MAX_PLAYERS` players,
                else ``permutation``
=============== ======================================================== ==================

"Tagger rows" counts distinct coalitions passed to the value function (each is evaluated
once). All methods are seeded and deterministic.

Standard errors and intervals: permutation sampling draws antithetic pairs of orders without
replacement (all ``n! / 2`` pairs once, and exact values, when the budget allows), and its 95 %
interval is ``values ± t(0.975, pairs - 1) * stderr`` (``Attribution.dof``), not ± 1.96: with
2 pairs 1.96 covers about 65 %. Pair samples of games with rare pivotal players are very skewed,
so even the t-interval undercovers with few pairs (82 % at 10 pairs on a 10-player weighted
majority game, 94 % at 100): below :data:`T_INTERVAL_MIN_PAIRS` pairs it is labelled
``"approx."`` (``Attribution.interval``). KernelSHAP's standard errors are the spread of its
seeded runs; with budgets far below ``2**n`` its estimates also carry a small-sample bias that
the spread does not include (on the demo song at 31 of 32 coalitions, 3-sigma intervals cover
75-93 % of the exact values), so its intervals are always ``"approx."``; prefer permutation
sampling when intervals matter.

Examples
--------
>>> import numpy as np
>>> w = np.array([1.0, 2.0, 3.0])
>>> game = lambda masks: (((masks[:, None] >> np.arange(3)) & 1) @ w)[:, None]
>>> from xmtag.attribution import attribute
>>> a = attribute(game, 3, method="permutation", budget=40, seed=0)
>>> a.method, a.values.ravel().round(6).tolist(), a.budget <= 40
('permutation', [1.0, 2.0, 3.0], True)
>>> attribute(game, 3, method="loo").values.ravel().tolist()
[1.0, 2.0, 3.0]
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._methods import (
    AUTO_EXACT_MAX_PLAYERS,
    DEFAULT_BUDGET,
    EFFICIENT_METHODS,
    ENUMERATED_METHODS,
    EXACT_MAX_PLAYERS,
    EXPLANATION_METHODS,
    MAX_PERMUTATIONS,
    MAX_SAMPLED_PLAYERS,
    METHODS,
    SCORE_TABLE_METHODS,
    T_INTERVAL_MIN_PAIRS,
    resolve_method,
)

if TYPE_CHECKING:  # pragma: no cover
    from . import baselines, estimators, shapley
    from ._attribute import Attribution, attribute


def __getattr__(name: str) -> Any:
    """The methods themselves load on first use: the registry above is all that
    :class:`~xmtag.Explanation` and the CLI need, and it imports in a millisecond."""
    if name in ("attribute", "Attribution"):
        from . import _attribute

        return getattr(_attribute, name)
    if name in ("shapley", "estimators", "baselines"):
        # not `from . import name`: its hasattr() check would call this function again
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Attribution",
    "attribute",
    "resolve_method",
    "METHODS",
    "AUTO_EXACT_MAX_PLAYERS",
    "EXACT_MAX_PLAYERS",
    "DEFAULT_BUDGET",
    "MAX_PERMUTATIONS",
    "T_INTERVAL_MIN_PAIRS",
    "MAX_SAMPLED_PLAYERS",
    "EXPLANATION_METHODS",
    "ENUMERATED_METHODS",
    "EFFICIENT_METHODS",
    "SCORE_TABLE_METHODS",
    "shapley",
    "estimators",
    "baselines",
]
