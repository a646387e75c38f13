"""The explainers the faithfulness and confound benchmarks compare, all on one coalition table.

Every method of one clip reads the same table of tagger outputs for all ``2**n`` stem
coalitions (``xmtag.explain(...).coalition_values``): the sampled methods query it through a
value function and are charged the distinct coalitions they asked for, exactly what they would
cost in tagger passes on their own (the tagger is deterministic, so a looked-up row is the row
a tagger call would return). That is also cheaper: one set of ``2**n`` passes per clip serves
every method.

Methods (``METHODS``; ``budget`` = distinct tagger rows):

* ``exact`` -- exact Shapley values (:func:`xmtag.shapley.exact`), ``2**n`` rows;
* ``banzhaf`` -- Banzhaf values, ``2**n`` rows;
* ``permutation@B`` / ``kernel@B`` -- antithetic permutation sampling and KernelSHAP through
  :func:`xmtag.attribution.attribute` with a budget of ``B`` rows, ``B = 2**n`` (the exact
  methods' cost) and ``B = 2**(n-1)`` (half); below their minimum (KernelSHAP: ``2n + 2``
  coalitions; permutation sampling: the coalitions of 4 orders) they get the smallest budget
  that runs, and the rows actually spent are what is reported;
* ``lime`` -- audioLIME's LIME with its defaults (1,000 perturbations; audioLIME runs the
  tagger on every perturbation, so it pays 1,000 passes although at most ``2**n`` differ);
* ``lime@B`` -- the same LIME with ``B`` perturbations (equal budget);
* ``loo`` -- leave-one-out occlusion, ``f(N) - f(N minus i)``, ``n + 2`` rows;
* ``solo`` -- each stem alone, ``f({i}) - f(silence)``, ``n + 1`` rows;
* ``random`` -- a random ranking (standard normal values, seeded per clip), no rows.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

AUDIOLIME_SAMPLES = 1000  # audioLIME's LimeAudioExplainer.explain_instance(num_samples=1000)


def methods(n: int) -> list[tuple[str, str, int | None]]:
    """``(label, method, budget)`` of every compared method for ``n`` stems.

    Labels do not depend on ``n`` (``"permutation@2^n"``), so clips with different numbers of
    stems aggregate.

    >>> [m[0] for m in methods(5)][:4]
    ['exact', 'banzhaf', 'permutation@2^n', 'permutation@2^(n-1)']
    >>> [m[2] for m in methods(5)][2:4]
    [32, 16]
    """
    full, half = 2**n, 2 ** (n - 1)
    out: list[tuple[str, str, int | None]] = [("exact", "exact", None), ("banzhaf", "banzhaf", None)]
    for kind in ("permutation", "kernel"):
        out += [(f"{kind}@2^n", kind, full), (f"{kind}@2^(n-1)", kind, half)]
    out += [
        ("lime", "lime", AUDIOLIME_SAMPLES),
        ("lime@2^n", "lime", full),
        ("lime@2^(n-1)", "lime", half),
    ]
    out += [("loo", "loo", None), ("solo", "solo", None), ("random", "random", None)]
    return out


def family(label: str) -> str:
    """The method family of a label (``"permutation@2^n"`` -> ``"permutation"``).

    >>> family("kernel@2^n"), family("exact")
    ('kernel', 'exact')
    """
    return label.split("@")[0]


def run(
    table: np.ndarray, label: str, method: str, budget: int | None, seed: int
) -> tuple[np.ndarray, int, int]:
    """Values ``(n, T)`` of one method on a coalition table ``(2**n, T)``.

    Returns ``(values, distinct tagger rows, tagger passes)``; passes differ from distinct rows
    only for LIME, which (as audioLIME does) runs the tagger on every perturbation.

    >>> t = np.array([[0.0], [1.0], [2.0], [3.0]])  # additive: a = 1, b = 2
    >>> run(t, "loo", "loo", None, 0)[0].ravel().tolist(), run(t, "solo", "solo", None, 0)[1]
    ([1.0, 2.0], 3)
    """
    from xmtag.attribution import attribute

    n = table.shape[0].bit_length() - 1
    if method == "random":
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, table.shape[1])), 0, 0
    if method == "solo":
        return table[[1 << i for i in range(n)]] - table[0], n + 1, n + 1
    from xmtag.errors import InvalidGameError

    if method == "kernel" and budget is not None:
        budget = max(budget, 2 * n + 4)  # KernelSHAP's minimum; distinct rows stay <= 2**n
    while True:
        try:
            a = attribute(lambda m: table[m], n, method=method, budget=budget, seed=seed)
            break
        except InvalidGameError:  # below permutation sampling's minimum (4 orders): the least above
            if budget is None or budget >= 2**n or method != "permutation":
                raise
            budget += 1
    passes = budget if method == "lime" and budget is not None else a.budget
    return np.asarray(a.values, dtype=np.float64), int(a.budget), int(passes)


def as_explanation(stems: list[str], labels: list[str], values: np.ndarray, table: np.ndarray, method: str):
    """A method's values with the clip's true coalition table, as :mod:`xmtag.metrics` reads it."""
    return SimpleNamespace(
        stems=list(stems), labels=list(labels), values=values, coalition_values=table, method=method
    )
