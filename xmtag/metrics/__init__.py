"""Faithfulness metrics: is an explanation true to the model?

An attribution ranks the stems of a clip for a tag. A *faithful* ranking is one whose top
stems really carry the tagger's score: removing them should make the score drop fast, keeping
only them should keep it. For stem explanations these checks are nearly free, because the
tagger's score ``f(S)`` of the mix of every stem subset ``S`` is already known (the coalition
values of an exact explanation). Explanations without them (sampled methods) are scored by
tagger calls instead (``tagger=``); the rows spent are counted (:attr:`Scorer.n_tagger_rows`,
the ``tagger_rows`` column of :func:`faithfulness`).

Notation: ``p = f(all stems)`` is the tag's score on the full mix; stems are ranked by their
attribution for the tag, largest first, ties broken by stem order (:func:`ranking`);
``kept`` is the set of stems with positive attribution and ``o = f(kept)``.

Metrics (each a function here; :func:`faithfulness` computes all of them as a table):

* :func:`deletion` -- ``f(all minus the top-k)`` for ``k = 0..n``; lower is more faithful.
  RISE (Petsiuk et al. 2018), with stems as the deleted features.
* :func:`insertion` -- ``f(top-k)`` for ``k = 0..n``; higher is more faithful. RISE.
* :func:`deletion_auc`, :func:`insertion_auc` -- trapezoid area under the curves over
  ``k/n`` in [0, 1]. RISE.
* :func:`average_increase` (AI) -- ``100 *`` share of clips with ``o > p``. L-MAC
  (Paissan et al. 2024).
* :func:`average_drop` (AD) -- ``100 *`` mean ``max(p - o, 0) / p``; lower is better. L-MAC,
  after Grad-CAM++ (Chattopadhay et al. 2018).
* :func:`average_gain` (AG) -- ``100 *`` mean ``max(o - p, 0) / (1 - p)``; higher is better.
  L-MAC.
* :func:`faithfulness_on_spectra` (FF) -- ``p - f(all minus kept)``; higher is better. L-MAC.
* :func:`input_fidelity` (fid_in) -- share of clips whose top tag on ``kept`` is the tag being
  explained (for the predicted tag: the kept stems keep the prediction). L-MAC.
* :func:`complexity` -- entropy (nats) of ``|values| / sum |values|``, as Bhatt, Weller & Moura
  2020 define it (the complexity measure used with audioLIME explanations); lower is a more
  compact explanation. :func:`complexity_normalized` divides it by ``log n`` (in [0, 1]).
* :func:`topk_vs_random` -- ``f(top-k)`` against the mean ``f`` of random ``k``-subsets.
  audioLIME (Haunschmid et al. 2020) and Mishra, Sturm & Dixon 2017.

``AI``, ``AD``, ``AG``, ``FF`` and ``fid_in`` are the short names of the L-MAC papers
(aliases of the long ones). AI, AD and AG are defined on probabilities: logit outputs
(``units="logit"``) are mapped through the sigmoid first, other units give NaN. The curves,
FF and top-k scores are in the explanation's own units.

Sanity checks of the explainer rather than of one explanation live in
:mod:`xmtag.metrics._sanity` (:func:`randomization_check`, Adebayo et al. 2018, and
:func:`stability`); :func:`summarize` (bootstrap confidence intervals), :func:`cluster_bootstrap`
(intervals over clusters of dependent rows, e.g. the clips of one song) and :func:`wilson`
(binomial intervals) in :mod:`xmtag.metrics._stats`. All are importable from here.

Every function accepts an :class:`~xmtag.Explanation` of any method, or any object with
``stems``, ``labels`` and ``values`` (``(n, T)``) and, when available, ``coalition_values``
(``(2**n, T)`` by bitmask), ``prediction``, ``units`` and ``audio``.

References
----------
Petsiuk, Das & Saenko (2018), *RISE: Randomized input sampling for explanation of black-box
models*, BMVC. Paissan, Della Libera, Ravanelli & Subakan (2024), *Listenable maps for audio
classifiers* (L-MAC), ICML. Chattopadhay et al. (2018), *Grad-CAM++*, WACV. Bhatt, Weller &
Moura (2020), *Evaluating and aggregating feature-based model explanations*, IJCAI.
Haunschmid, Manilow & Widmer (2020), *audioLIME*, arXiv:2008.00582. Mishra, Sturm & Dixon
(2017), *Local interpretable model-agnostic explanations for music content analysis*, ISMIR.
Adebayo et al. (2018), *Sanity checks for saliency maps*, NeurIPS.
"""

from __future__ import annotations

from ..errors import CoalitionsUnavailableError
from ._clip import (
    AD,
    AG,
    AI,
    FF,
    METRICS,
    average_drop,
    average_gain,
    average_increase,
    faithfulness,
    faithfulness_on_spectra,
    fid_in,
    input_fidelity,
)
from ._curves import (
    Scorer,
    TopK,
    complexity,
    complexity_normalized,
    deletion,
    deletion_auc,
    insertion,
    insertion_auc,
    ranking,
    topk_vs_random,
)
from ._sanity import ATTRIBUTIONS, randomization_check, randomized_taggers, stability, tagger_layers
from ._stats import bootstrap_columns, bootstrap_mean, cluster_bootstrap, summarize, t_columns, wilson

__all__ = [
    "ATTRIBUTIONS",
    "METRICS",
    "CoalitionsUnavailableError",
    "bootstrap_mean",
    "bootstrap_columns",
    "cluster_bootstrap",
    "tagger_layers",
    "AD",
    "AG",
    "AI",
    "FF",
    "Scorer",
    "TopK",
    "average_drop",
    "average_gain",
    "average_increase",
    "complexity",
    "complexity_normalized",
    "deletion",
    "deletion_auc",
    "faithfulness",
    "faithfulness_on_spectra",
    "fid_in",
    "input_fidelity",
    "insertion",
    "insertion_auc",
    "randomization_check",
    "randomized_taggers",
    "ranking",
    "stability",
    "summarize",
    "t_columns",
    "topk_vs_random",
    "wilson",
]
