"""Deletion and insertion curves, complexity and top-k checks of one stem explanation.

Part of :mod:`xmtag.metrics` (which re-exports everything here and documents the definitions
and their sources). :class:`Scorer` provides the scores ``f(S)`` of stem coalitions: from an
explanation's coalition values when it has them, otherwise by counted tagger calls.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np

from .._checks import positive_int, tag_indices
from ..errors import CoalitionsUnavailableError, InvalidGameError, TaggerError, XmtagError

__all__ = [
    "Scorer",
    "TopK",
    "complexity",
    "complexity_normalized",
    "deletion",
    "deletion_auc",
    "insertion",
    "insertion_auc",
    "ranking",
    "topk_vs_random",
]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------- inputs
@dataclass
class _View:
    stems: list[str]
    labels: list[str]
    values: np.ndarray  # (n, T)
    coalitions: np.ndarray | None  # (2**n, T)
    units: str


def _units(expl: Any, units: str | None) -> str:
    if units is not None:
        return str(units)
    found = getattr(expl, "units", None)
    if found is None:
        prov = getattr(expl, "provenance", None)
        found = getattr(prov, "units", None)
    if found is None:
        meta = getattr(expl, "metadata", None) or {}
        found = meta.get("units") if isinstance(meta, dict) else None
    return str(found or "probability")


def _view(expl: Any, units: str | None = None) -> _View:
    missing = [a for a in ("stems", "labels", "values") if not hasattr(expl, a)]
    if missing:
        raise XmtagError(
            f"metrics need an xmtag.Explanation (or an object with stems, labels and values); "
            f"got {type(expl).__name__}, which lacks {', '.join(missing)}."
        )
    stems, labels = [str(s) for s in expl.stems], [str(t) for t in expl.labels]
    values = np.asarray(expl.values, dtype=np.float64)
    if values.shape != (len(stems), len(labels)):
        raise InvalidGameError(
            f"values must be (n_stems, n_tags) = ({len(stems)}, {len(labels)}), got {values.shape}."
        )
    cv = getattr(expl, "coalition_values", None)
    if getattr(expl, "has_coalitions", True) is False:
        cv = None
    if cv is not None:
        cv = np.asarray(cv, dtype=np.float64)
        if cv.shape != (2 ** len(stems), len(labels)):
            raise InvalidGameError(
                f"coalition_values must be (2**n_stems, n_tags) = ({2 ** len(stems)}, {len(labels)}), "
                f"got {cv.shape}."
            )
    return _View(stems, labels, values, cv, _units(expl, units))


def _tag(view: _View, tag: str | int) -> int:
    return tag_indices(view.labels, [tag], who="tag")[0]


class Scorer:
    """Scores ``f(S)`` of stem coalitions for one explanation, counting tagger rows.

    From the explanation's coalition values when it has them (no tagger call); otherwise the
    mix of the stems in ``S`` is fed to ``tagger`` (each coalition at most once; the rows are
    counted in :attr:`n_tagger_rows`). Pass one ``Scorer`` as ``tagger=`` to several metric
    functions to share its calls.

    Parameters
    ----------
    expl : Explanation
        The explanation whose coalitions are scored.
    tagger : tagger or str, optional
        Needed when ``expl`` has no coalition values: the tagger that was explained (an object
        or a name for :func:`xmtag.load_tagger`). Its labels must include the explanation's.
    audio : Stems, optional
        The stems' audio; default ``expl.audio`` (attached by :func:`xmtag.explain`).

    Attributes
    ----------
    n_tagger_rows : int
        Clips fed to the tagger so far (0 when the coalition values were used).

    Raises
    ------
    CoalitionsUnavailableError
        When a coalition is needed, the explanation has no coalition values and no tagger (or
        no audio) was given.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([[0.0], [1.0], [2.0], [4.0]], ["a", "b"], ["tag"])
    >>> s = Scorer(e)
    >>> s([0, 3]).ravel().tolist(), s.n_tagger_rows
    ([0.0, 4.0], 0)
    """

    def __init__(self, expl: Any, tagger: Any = None, *, audio: Any = None, units: str | None = None) -> None:
        self.view = _view(expl, units)
        self._expl = expl
        self._tagger = tagger
        self._audio = audio
        self._fn: Any = None
        self._columns: list[int] | None = None
        self._memo: dict[int, np.ndarray] = {}
        self.n_tagger_rows = 0

    @property
    def n_stems(self) -> int:
        """Number of stems."""
        return len(self.view.stems)

    def _value_function(self) -> Any:
        if self._fn is not None:
            return self._fn
        name = type(self._expl).__name__
        if self._tagger is None:
            raise CoalitionsUnavailableError(
                f"This {name} ({getattr(self._expl, 'method', 'sampled')}) has no coalition values, so "
                "scoring stem subsets needs tagger calls: pass tagger= (the tagger that was explained)."
            )
        audio = self._audio if self._audio is not None else getattr(self._expl, "audio", None)
        if audio is None:
            raise CoalitionsUnavailableError(
                f"This {name} has no coalition values and no audio attached; pass audio=stems (or "
                "expl.attach_audio(stems)) with tagger= so that stem subsets can be scored."
            )
        from ..coalitions import value_function

        tagger = self._tagger
        if isinstance(tagger, str):
            from ..taggers import load_tagger

            tagger = load_tagger(tagger)
        labels = [str(x) for x in tagger.labels]
        missing = [t for t in self.view.labels if t not in labels]
        if missing:
            raise TaggerError(
                f"The tagger passed to the metrics has no tag(s) {missing[:5]}; pass the tagger that "
                "produced the explanation."
            )
        if list(getattr(audio, "names", self.view.stems)) != self.view.stems:
            raise XmtagError(
                f"audio has stems {list(audio.names)}, the explanation {self.view.stems}; pass the "
                "stems that were explained, in the same order."
            )
        kwargs = {}
        baseline = _baseline(self._expl)
        if baseline not in (None, "silence"):
            if "baseline" not in inspect.signature(value_function).parameters:
                raise XmtagError(
                    f"The explanation was computed with baseline={baseline!r}, which this xmtag's "
                    "coalition evaluation cannot reproduce for tagger calls."
                )
            kwargs["baseline"] = baseline
        self._fn = value_function(audio, tagger, **kwargs)[0]
        self._columns = [labels.index(t) for t in self.view.labels]
        return self._fn

    def __call__(self, masks: Iterable[int] | np.ndarray) -> np.ndarray:
        """Scores ``(len(masks), n_tags)`` of the coalitions given as bitmasks."""
        masks = np.asarray(list(masks) if not isinstance(masks, np.ndarray) else masks, dtype=np.int64)
        if masks.size and (masks.min() < 0 or masks.max() >= 2**self.n_stems):
            raise InvalidGameError(f"coalition masks must be in 0..{2**self.n_stems - 1}, got {masks}.")
        if self.view.coalitions is not None:
            return self.view.coalitions[masks]
        todo = sorted({int(m) for m in masks.ravel()} - set(self._memo))
        if todo:
            fn = self._value_function()
            out = np.asarray(fn(np.array(todo, dtype=np.int64)), dtype=np.float64)
            self.n_tagger_rows += len(todo)
            logger.info("metrics: %d tagger rows for %d coalitions", len(todo), len(todo))
            for m, row in zip(todo, out):
                self._memo[m] = row[self._columns]
        if masks.size == 0:
            return np.zeros((0, len(self.view.labels)))
        return np.stack([self._memo[int(m)] for m in masks.ravel()])


def _baseline(expl: Any) -> str | None:
    prov = getattr(expl, "provenance", None)
    b = getattr(prov, "baseline", None)
    if b is None:
        meta = getattr(expl, "metadata", None) or {}
        b = meta.get("baseline") if isinstance(meta, dict) else None
    return None if b is None else str(b.get("kind", b) if isinstance(b, dict) else b)


def _scorer(expl: Any, tagger: Any, audio: Any = None, units: str | None = None) -> Scorer:
    if isinstance(tagger, Scorer):
        return tagger
    return Scorer(expl, tagger, audio=audio, units=units)


# -------------------------------------------------------------------------------- per explanation
def ranking(expl: Any, tag: str | int) -> np.ndarray:
    """Stem indices ranked by attribution for ``tag``, largest first; ties by stem order.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> e = SimpleNamespace(stems=["a", "b", "c"], labels=["t"], values=np.array([[0.1], [0.3], [0.1]]))
    >>> ranking(e, "t").tolist()
    [1, 0, 2]
    """
    view = _view(expl)
    return np.argsort(-view.values[:, _tag(view, tag)], kind="stable")


def _prefix_masks(order: np.ndarray) -> np.ndarray:
    bits = np.left_shift(np.int64(1), order.astype(np.int64))
    return np.concatenate([[0], np.cumsum(bits)]).astype(np.int64)  # top-0 .. top-n


def deletion(expl: Any, tag: str | int, *, tagger: Any = None, audio: Any = None) -> np.ndarray:
    """Deletion curve: the tag's score after removing the top-``k`` stems, ``k = 0..n``.

    ``out[k] = f(all stems minus the k stems ranked highest)``; ``out[0]`` is the full mix's
    score ``p`` and ``out[n]`` silence's. A faithful ranking makes it fall fast (RISE,
    Petsiuk et al. 2018, with stems as the deleted features).

    Parameters
    ----------
    expl : Explanation
        Any method's explanation.
    tag : str or int
        The tag (name or index).
    tagger : tagger, str or Scorer, optional
        For explanations without coalition values (see :class:`Scorer`).
    audio : Stems, optional
        The stems, when not attached to ``expl``.

    Returns
    -------
    numpy.ndarray
        ``(n + 1,)`` float64.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([[0.0], [0.2], [0.5], [0.7]], ["a", "b"], ["t"])  # additive
    >>> deletion(e, "t").round(3).tolist(), insertion(e, "t").round(3).tolist()
    ([0.7, 0.2, 0.0], [0.0, 0.5, 0.7])
    """
    scorer = _scorer(expl, tagger, audio)
    t = _tag(scorer.view, tag)
    full = 2**scorer.n_stems - 1
    return scorer(full ^ _prefix_masks(ranking(expl, t)))[:, t]


def insertion(expl: Any, tag: str | int, *, tagger: Any = None, audio: Any = None) -> np.ndarray:
    """Insertion curve: the tag's score keeping only the top-``k`` stems, ``k = 0..n``.

    ``out[k] = f(the k stems ranked highest)``; ``out[0]`` is silence, ``out[n]`` the full
    mix. A faithful ranking makes it rise fast (RISE). Parameters as for :func:`deletion`.

    Returns
    -------
    numpy.ndarray
        ``(n + 1,)`` float64.
    """
    scorer = _scorer(expl, tagger, audio)
    t = _tag(scorer.view, tag)
    return scorer(_prefix_masks(ranking(expl, t)))[:, t]


def _auc(curve: np.ndarray) -> float:
    n = len(curve) - 1
    return float(np.sum((curve[1:] + curve[:-1]) / 2.0) / n)


def deletion_auc(expl: Any, tag: str | int, *, tagger: Any = None, audio: Any = None) -> float:
    """Area under :func:`deletion` over ``k/n`` in [0, 1] (trapezoid rule); lower = more faithful.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([[0.0], [0.0], [0.0], [1.0]], ["a", "b"], ["t"])  # a AND b
    >>> deletion_auc(e, "t"), insertion_auc(e, "t")
    (0.25, 0.25)
    """
    return _auc(deletion(expl, tag, tagger=tagger, audio=audio))


def insertion_auc(expl: Any, tag: str | int, *, tagger: Any = None, audio: Any = None) -> float:
    """Area under :func:`insertion` over ``k/n`` in [0, 1] (trapezoid rule); higher = more faithful."""
    return _auc(insertion(expl, tag, tagger=tagger, audio=audio))


def complexity(expl: Any, tag: str | int) -> float:
    r"""Bhatt et al.'s complexity: the entropy (in nats) of the attribution's magnitudes.

    .. math:: \mathrm{complexity} = -\sum_i P_i \log P_i,
              \qquad P_i = \frac{|\phi_i|}{\sum_j |\phi_j|}

    (Bhatt, Weller & Moura 2020, the complexity measure of audioLIME-style evaluations, as
    published: comparable with their numbers): 0 when one stem carries everything, ``log n``
    when all ``n`` stems share it equally. NaN when every value is 0; 0 for a single stem.
    :func:`complexity_normalized` divides it by ``log n`` (in [0, 1], comparable across stem
    counts, but not with the papers).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> e = SimpleNamespace(stems=["a", "b"], labels=["t", "u"], values=np.array([[1.0, 0.5], [0.0, -0.5]]))
    >>> complexity(e, "t"), round(complexity(e, "u"), 6)  # log 2 = 0.693147
    (0.0, 0.693147)
    """
    view = _view(expl)
    return _complexity(view.values[:, _tag(view, tag)])


def complexity_normalized(expl: Any, tag: str | int) -> float:
    """:func:`complexity` divided by ``log n``: in [0, 1] (0: one stem carries all; 1: all equal).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> e = SimpleNamespace(stems=["a", "b"], labels=["t", "u"], values=np.array([[1.0, 0.5], [0.0, -0.5]]))
    >>> complexity_normalized(e, "t"), complexity_normalized(e, "u")
    (0.0, 1.0)
    """
    view = _view(expl)
    return _complexity(view.values[:, _tag(view, tag)], normalized=True)


def _complexity(v: np.ndarray, normalized: bool = False) -> float:
    a = np.abs(v)
    total = a.sum()
    if len(a) == 1:
        return 0.0
    if total == 0:
        return float("nan")
    p = a[a > 0] / total
    entropy = float(-(p * np.log(p)).sum())
    return entropy / math.log(len(a)) if normalized else entropy


class TopK(NamedTuple):
    """Result of :func:`topk_vs_random`."""

    top: float
    """Score of the mix of the top-``k`` stems."""
    random: float
    """Mean score over random ``k``-stem subsets."""
    n_subsets: int
    """Subsets averaged (all ``C(n, k)`` when coalition values are available)."""


def topk_vs_random(
    expl: Any,
    tag: str | int,
    k: int = 1,
    *,
    n_random: int | None = None,
    seed: int = 0,
    tagger: Any = None,
    audio: Any = None,
) -> TopK:
    """The score keeping the top-``k`` stems against keeping ``k`` random stems.

    The audioLIME / Mishra et al. check that an explanation's top components carry more of
    the prediction than random ones. With coalition values the "random" score is the exact
    mean over all ``C(n, k)`` subsets (the expectation); otherwise (or with ``n_random``)
    ``n_random`` distinct subsets are drawn (default ``min(C(n, k), 10)``) and scored by
    tagger calls.

    Parameters
    ----------
    expl, tag, tagger, audio
        As for :func:`deletion`.
    k : int
        Stems kept, ``1 <= k <= n``.
    n_random : int, optional
        Random subsets to draw; default all of them when coalition values are available.
    seed : int
        Seed of the random subsets.

    Returns
    -------
    TopK

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([[0.0], [0.6], [0.2], [0.8]], ["a", "b"], ["t"])
    >>> topk_vs_random(e, "t", 1)
    TopK(top=0.6, random=0.4, n_subsets=2)
    """
    scorer = _scorer(expl, tagger, audio)
    n = scorer.n_stems
    t = _tag(scorer.view, tag)
    k = positive_int(k, "k")
    if k > n:
        raise XmtagError(f"k={k} is more than the explanation's {n} stems.")
    top = float(scorer(_prefix_masks(ranking(expl, t))[k : k + 1])[0, t])
    total = math.comb(n, k)
    if n_random is None and scorer.view.coalitions is not None:
        masks = np.array([sum(1 << i for i in c) for c in combinations(range(n), k)], dtype=np.int64)
    else:
        want = min(total, positive_int(n_random, "n_random") if n_random is not None else 10)
        rng = np.random.default_rng(seed)
        chosen: set[int] = set()
        while len(chosen) < want:
            chosen.add(int(sum(1 << int(i) for i in rng.choice(n, size=k, replace=False))))
        masks = np.array(sorted(chosen), dtype=np.int64)
    return TopK(top, float(scorer(masks)[:, t].mean()), len(masks))
