"""The L-MAC clip metrics (AI, AD, AG, FF, Fid-In) and the table of every metric.

Part of :mod:`xmtag.metrics` (which re-exports everything here and documents the definitions
and their sources).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import tag_indices
from ..errors import XmtagError
from ._curves import Scorer, _auc, _complexity, _prefix_masks, _scorer, _tag, _View, ranking, topk_vs_random

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AD",
    "AG",
    "AI",
    "FF",
    "METRICS",
    "average_drop",
    "average_gain",
    "average_increase",
    "faithfulness",
    "faithfulness_on_spectra",
    "fid_in",
    "input_fidelity",
]

logger = logging.getLogger(__name__)

#: The metric columns of :func:`faithfulness`, in order.
METRICS = (
    "AI",
    "AD",
    "AG",
    "FF",
    "fid_in",
    "deletion_auc",
    "insertion_auc",
    "complexity",
    "complexity_normalized",
    "topk",
    "randomk",
)


def _to_probability(x: np.ndarray | float, units: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if units == "probability":
        return x
    if units == "logit":
        from scipy.special import expit  # no overflow warning for large logits

        return expit(x)
    return np.full_like(x, np.nan)


def _clip_row(scorer: Scorer, t: int, k: int, n_random: int | None, seed: int) -> dict[str, Any]:
    """Every metric of one explanation x tag, with the clip-level AI/AD/AG/FF/fid_in terms."""
    view = scorer.view
    n = len(view.stems)
    full = 2**n - 1
    kept = int(sum(1 << i for i in range(n) if view.values[i, t] > 0))
    order = ranking(_Values(view), t)
    prefixes = _prefix_masks(order)
    rows = scorer(np.concatenate([[full, kept, full ^ kept], prefixes, full ^ prefixes]))
    p, o, removed = rows[0, t], rows[1, t], rows[2, t]
    ins, dele = rows[3 : 4 + n, t], rows[4 + n :, t]
    pp, op = _to_probability(p, view.units), _to_probability(o, view.units)
    drop = 100.0 * max(pp - op, 0.0) / pp if pp > 0 else (0.0 if np.isfinite(pp) else np.nan)
    gain = 100.0 * max(op - pp, 0.0) / (1.0 - pp) if pp < 1 else (0.0 if np.isfinite(pp) else np.nan)
    topk = topk_vs_random(_Values(view), t, min(k, n), n_random=n_random, seed=seed, tagger=scorer)
    return {
        "tag": view.labels[t],
        "p": float(p),
        "kept": "+".join(view.stems[i] for i in range(n) if (kept >> i) & 1),
        "o": float(o),
        "AI": 100.0 * float(o > p),
        "AD": float(drop),
        "AG": float(gain),
        "FF": float(p - removed),
        # L-MAC's Fid-In for the class being explained: is tag t the top tag on the kept stems?
        # (For the predicted tag: does the kept mix keep the prediction.)
        "fid_in": float(np.argmax(rows[1]) == t),
        "deletion_auc": _auc(dele),
        "insertion_auc": _auc(ins),
        "complexity": _complexity(view.values[:, t]),
        "complexity_normalized": _complexity(view.values[:, t], normalized=True),
        "topk": topk.top,
        "randomk": topk.random,
    }


class _Values:
    """A :class:`_View` seen as an explanation (so the public functions accept it)."""

    def __init__(self, view: _View) -> None:
        self.stems, self.labels, self.values = view.stems, view.labels, view.values
        self.coalition_values, self.units = view.coalitions, view.units


def _explanations(expl_or_list: Any) -> list[Any]:
    if hasattr(expl_or_list, "values") and hasattr(expl_or_list, "stems"):
        return [expl_or_list]
    if isinstance(expl_or_list, (str, bytes)) or not isinstance(expl_or_list, Iterable):
        raise XmtagError(
            f"faithfulness() needs an Explanation or a list of them, got {type(expl_or_list).__name__}."
        )
    out = list(expl_or_list)
    if not out:
        raise XmtagError("faithfulness(): the list of explanations is empty.")
    return out


def _one_scorer_each(expl_or_list: Any, tagger: Any) -> list[Any]:
    out = _explanations(expl_or_list)
    if isinstance(tagger, Scorer) and (len(out) > 1 or out[0] is not tagger._expl):
        raise XmtagError("A Scorer belongs to one explanation; pass the tagger itself for a list of them.")
    return out


def _clip_mean(
    expl_or_list: Any, tag: str | int | None, column: str, tagger: Any, units: str | None
) -> float:
    values = []
    for e in _one_scorer_each(expl_or_list, tagger):
        scorer = _scorer(e, tagger, units=units)
        t = int(np.argmax(scorer([2**scorer.n_stems - 1])[0])) if tag is None else _tag(scorer.view, tag)
        values.append(_clip_row(scorer, t, 1, None, 0)[column])
    return float(np.mean(values))


def average_increase(
    expl_or_list: Any, tag: str | int | None = None, *, tagger: Any = None, units: str | None = None
) -> float:
    """AI (L-MAC): ``100 *`` the share of clips whose score on the kept stems exceeds the full mix's.

    ``o = f(kept)`` with ``kept`` the stems of positive attribution, ``p = f(all)``; AI is
    ``100 * mean(o > p)`` over the explanations (Paissan et al. 2024). ``tag=None`` explains
    each clip's top-scoring tag (the predicted class, as in L-MAC).

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([[0.0], [0.6], [-0.1], [0.5]], ["a", "b"], ["t"])
    >>> AI(e, "t"), AD(e, "t"), round(AG(e, "t"), 6), FF(e, "t"), fid_in(e, "t")
    (100.0, 0.0, 20.0, 0.6, 1.0)
    """
    return _clip_mean(expl_or_list, tag, "AI", tagger, units)


def average_drop(
    expl_or_list: Any, tag: str | int | None = None, *, tagger: Any = None, units: str | None = None
) -> float:
    """AD (L-MAC, after Grad-CAM++): ``100 *`` mean of ``max(p - o, 0) / p`` over clips; lower = better.

    On probabilities (logits through the sigmoid first); 0 for a clip with ``p = 0``.
    """
    return _clip_mean(expl_or_list, tag, "AD", tagger, units)


def average_gain(
    expl_or_list: Any, tag: str | int | None = None, *, tagger: Any = None, units: str | None = None
) -> float:
    """AG (L-MAC): ``100 *`` mean of ``max(o - p, 0) / (1 - p)`` over clips; higher = better.

    On probabilities (logits through the sigmoid first); 0 for a clip with ``p = 1``.
    """
    return _clip_mean(expl_or_list, tag, "AG", tagger, units)


def faithfulness_on_spectra(
    expl_or_list: Any, tag: str | int | None = None, *, tagger: Any = None, units: str | None = None
) -> float:
    """FF (L-MAC's *faithfulness on spectra*): mean of ``p - f(all minus kept)`` over clips.

    How much the score falls when the stems the explanation credits are removed; higher = better.
    """
    return _clip_mean(expl_or_list, tag, "FF", tagger, units)


def input_fidelity(
    expl_or_list: Any, tag: str | int | None = None, *, tagger: Any = None, units: str | None = None
) -> float:
    """Fid-In (L-MAC): share of clips whose top tag on the kept stems is the tag being explained.

    L-MAC (Paissan et al. 2024) explains the predicted class ``c`` and counts a clip when the
    masked input is still classified as ``c``. Here the class explained is ``tag`` (default:
    each clip's top tag, where this is exactly L-MAC's definition): a clip counts when ``tag``
    is the top tag, over the explanation's tags, of the mix of the stems kept for ``tag``. An
    explanation of a tag that is not the prediction scores 1 only if the stems it keeps make
    that tag the top one. The result is in [0, 1].
    """
    return _clip_mean(expl_or_list, tag, "fid_in", tagger, units)


AI = average_increase
AD = average_drop
AG = average_gain
FF = faithfulness_on_spectra
fid_in = input_fidelity


def faithfulness(
    expl_or_list: Any,
    tags: Iterable[str | int] | str | int | None = None,
    *,
    top: int | None = None,
    k: int = 1,
    tagger: Any = None,
    units: str | None = None,
    n_random: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Every faithfulness metric, one row per explanation x tag.

    The per-row AI, AD, AG, FF and fid_in columns are the clip terms of the L-MAC metrics
    (``100 * [o > p]``, ``100 * max(p - o, 0) / p``, ...): their mean over rows *is* the
    corpus metric, and :func:`summarize` gives it with bootstrap confidence intervals.

    Parameters
    ----------
    expl_or_list : Explanation or iterable of Explanation
        Explanations of any method (exact or sampled).
    tags : tag or list of tags, optional
        Tags to score (names or indices); default all tags of each explanation.
    top : int, optional
        Then keep each explanation's ``top`` tags by prediction (``top=1``: the predicted
        tag, as L-MAC evaluates).
    k : int
        Stems kept for the ``topk`` / ``randomk`` columns (:func:`topk_vs_random`).
    tagger : tagger or str, optional
        For explanations without coalition values (:class:`Scorer`).
    units : str, optional
        Override the explanations' units (``"probability"``, ``"logit"``, ...).
    n_random, seed
        As for :func:`topk_vs_random`.

    Returns
    -------
    pandas.DataFrame
        Columns ``explanation`` (position in the list), ``source``, ``method``, ``tag``, ``p``,
        ``kept`` (``"a+b"``), ``o``, the :data:`METRICS` and ``tagger_rows`` (tagger rows this
        explanation cost, 0 from coalition values).

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([[0.0, 0.1], [0.6, 0.2], [0.1, 0.3], [0.8, 0.3]], ["a", "b"], ["t", "u"])
    >>> faithfulness(e)[["tag", "kept", "AI", "FF", "deletion_auc", "insertion_auc"]].round(3)
      tag kept   AI   FF  deletion_auc  insertion_auc
    0   t  a+b  0.0  0.8          0.25           0.50
    1   u  a+b  0.0  0.2          0.20           0.25
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for i, e in enumerate(_one_scorer_each(expl_or_list, tagger)):
        scorer = _scorer(e, tagger, units=units)
        prediction = scorer([2**scorer.n_stems - 1])[0]
        idx = tag_indices(scorer.view.labels, tags, top, prediction, who="faithfulness(tags=...)")
        mine = []
        for t in idx:
            row = {"explanation": i, "source": _source(e), "method": str(getattr(e, "method", "exact"))}
            row.update(_clip_row(scorer, t, k, n_random, seed))
            mine.append(row)
        for row in mine:
            row["tagger_rows"] = scorer.n_tagger_rows
        rows.extend(mine)
        if scorer.n_tagger_rows:
            logger.info("faithfulness: explanation %d cost %d tagger rows", i, scorer.n_tagger_rows)
    columns = ["explanation", "source", "method", "tag", "p", "kept", "o", *METRICS, "tagger_rows"]
    return pd.DataFrame(rows, columns=columns)


def _source(expl: Any) -> str:
    prov = getattr(expl, "provenance", None)
    src = getattr(prov, "source", None)
    if src is None:
        meta = getattr(expl, "metadata", None) or {}
        src = meta.get("source") if isinstance(meta, dict) else None
    if isinstance(src, dict):
        src = src.get("path") or src.get("name") or src.get("kind")
    return "" if src is None else str(src)
