"""Sanity checks of an explainer: model randomisation (Adebayo et al. 2018) and stability.

:func:`randomization_check` re-explains the same stems under progressively randomised tagger
weights. An explanation that depends on what the model learned must change when the weights
are destroyed: its rank correlation with the original attribution should fall towards 0. An
explainer whose output survives randomisation explains the input, not the model (the failure
Adebayo et al. found for several saliency methods). :func:`randomized_taggers` yields the
randomised copies; the original tagger is never modified (each copy owns its weights).

Weights are re-drawn per tensor from a normal distribution with the tensor's own mean and
standard deviation (a stand-in for each layer's initialiser that keeps activations in range),
seeded by ``seed`` and the layer's name, so step ``j`` of a cascade randomises exactly the
layers of step ``j - 1`` the same way plus one more.

Taggers supported: any tagger exposing its network as a ``torch.nn.Module`` in
``tagger.module`` (:class:`xmtag.taggers.TorchTagger`, musicnn), and the musicnn port whose
converted checkpoint arrays are rebuilt into a fresh network.

:func:`stability` compares explanations of one song made under different conditions
(separator seeds or shifts, segment alignments, baselines) with one of them.

Both are re-exported by :mod:`xmtag.metrics`.

References
----------
Adebayo, Gilmer, Muelly, Goodfellow, Hardt & Kim (2018), *Sanity checks for saliency maps*,
NeurIPS.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import tag_indices
from ..errors import InvalidGameError, TaggerError, XmtagError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ATTRIBUTIONS", "randomization_check", "randomized_taggers", "stability", "tagger_layers"]

_SKIP_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def _loo(v: np.ndarray) -> np.ndarray:
    n = v.shape[0].bit_length() - 1
    full = 2**n - 1
    return np.stack([v[full] - v[full ^ (1 << i)] for i in range(n)])


def _solo(v: np.ndarray) -> np.ndarray:
    n = v.shape[0].bit_length() - 1
    return np.stack([v[1 << i] - v[0] for i in range(n)])


def _shapley(v: np.ndarray) -> np.ndarray:
    from ..attribution.shapley import exact

    return exact(v)


def _banzhaf(v: np.ndarray) -> np.ndarray:
    from ..attribution.shapley import banzhaf

    return banzhaf(v)


#: Attributions computable from coalition values alone, for :func:`randomization_check`:
#: exact Shapley, Banzhaf, leave-one-out (``f(all) - f(all minus i)``) and each stem alone
#: (``f({i}) - f(silence)``).
ATTRIBUTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exact": _shapley,
    "banzhaf": _banzhaf,
    "loo": _loo,
    "solo": _solo,
}


# ------------------------------------------------------------------------------ randomisation
def _module(tagger: Any) -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return None
    m = getattr(tagger, "module", None)
    return m if isinstance(m, torch.nn.Module) else None


def tagger_layers(tagger: Any) -> list[str]:
    """Names of a tagger's weight layers, input to output, as :func:`randomized_taggers` sees them.

    Raises
    ------
    TaggerError
        For a tagger that exposes no torch module.
    """
    module = _module(tagger)
    if module is not None:
        return [
            name
            for name, m in module.named_modules()
            if any(True for _ in m.parameters(recurse=False)) or _own_buffers(m)
        ]
    raise TaggerError(
        f"{type(tagger).__name__} exposes no torch.nn.Module (as tagger.module), so its weights cannot "
        "be randomised; the randomisation check supports TorchTagger and the musicnn taggers."
    )


def _own_buffers(m: Any) -> list[tuple[str, Any]]:
    return [
        (n, b)
        for n, b in m.named_buffers(recurse=False)
        if b.is_floating_point() and not n.endswith(_SKIP_BUFFERS)
    ]


def _redraw(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a64 = np.asarray(a, dtype=np.float64)
    std = float(a64.std())
    scale = std if std > 0 else max(abs(float(a64.mean())), 0.05)
    return rng.normal(float(a64.mean()), scale, size=a64.shape).astype(np.asarray(a).dtype)


def _rng(seed: int, layer: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(layer.encode())])


def _randomized(tagger: Any, chosen: Sequence[str], seed: int) -> Any:
    """A copy of ``tagger`` whose ``chosen`` layers are re-drawn; the original is not touched."""
    import torch

    label = f"{getattr(tagger, 'name', type(tagger).__name__)}~randomized[{'+'.join(chosen)}]"
    new = copy.deepcopy(tagger)
    modules = dict(_module(new).named_modules())
    with torch.no_grad():
        for layer in chosen:
            rng = _rng(seed, layer)
            m = modules[layer]
            tensors = [p for _, p in m.named_parameters(recurse=False)] + [b for _, b in _own_buffers(m)]
            for p in tensors:
                drawn = _redraw(p.detach().cpu().numpy(), rng)
                p.copy_(torch.from_numpy(drawn).to(device=p.device, dtype=p.dtype))
    try:
        new.name = label  # distinct cache identity: never confused with the trained tagger
        if hasattr(new, "checkpoint_hash"):
            new.checkpoint_hash = f"randomized-{seed}-{'+'.join(chosen)}"
    except AttributeError:  # pragma: no cover - read-only names
        pass
    return new


def randomized_taggers(
    tagger: Any, *, layers: str | Sequence[str] = "cascade", seed: int = 0
) -> Iterator[tuple[list[str], Any]]:
    """Copies of ``tagger`` with progressively randomised weights.

    Parameters
    ----------
    tagger : tagger
        A tagger exposing ``tagger.module`` (a ``torch.nn.Module``) or the musicnn port.
    layers : "cascade", "independent" or list of str
        ``"cascade"``: from the output layer down, each step randomising one more layer
        (Adebayo et al.'s cascading randomisation); ``"independent"``: one layer at a time, the
        others trained; a list of layer names (see :func:`tagger_layers`): a cascade over those,
        in that order.
    seed : int
        Seed of the new weights.

    Yields
    ------
    (randomised layers, tagger copy)
        The copy owns its weights; ``tagger`` is unchanged.

    Raises
    ------
    TaggerError
        For a tagger without torch weights, or an unknown layer name.
    """
    names = tagger_layers(tagger)
    if isinstance(layers, str):
        if layers not in ("cascade", "independent"):
            raise XmtagError(
                f"layers must be 'cascade', 'independent' or a list of layer names; got {layers!r}."
            )
        order = names[::-1]
        steps = [order[: j + 1] for j in range(len(order))] if layers == "cascade" else [[x] for x in order]
    else:
        chosen = [str(x) for x in layers]
        unknown = [x for x in chosen if x not in names]
        if unknown or not chosen:
            raise TaggerError(f"Unknown layer(s) {unknown or chosen}; the tagger's layers are {names}.")
        steps = [chosen[: j + 1] for j in range(len(chosen))]
    for step in steps:
        yield list(step), _randomized(tagger, step, seed)


def _attribute(method: str | Callable[[np.ndarray], np.ndarray], v: np.ndarray) -> np.ndarray:
    fn = ATTRIBUTIONS.get(method) if isinstance(method, str) else method
    if fn is None or not callable(fn):
        raise XmtagError(
            f"method must be one of {sorted(ATTRIBUTIONS)} or a function of the coalition values; "
            f"got {method!r}."
        )
    out = np.asarray(fn(v), dtype=np.float64)
    n = v.shape[0].bit_length() - 1
    if out.shape != (n, *v.shape[1:]):
        raise InvalidGameError(f"the attribution returned shape {out.shape}, expected {(n, *v.shape[1:])}.")
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _top_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.argmax(a, axis=0) == np.argmax(b, axis=0)))


def randomization_check(
    stems: Any,
    tagger: Any,
    *,
    layers: str | Sequence[str] = "cascade",
    method: Any = "exact",
    tags: Iterable[str | int] | None = None,
    top: int | None = 5,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Model-randomisation sanity check (Adebayo et al. 2018) of a stem attribution.

    Explains ``stems`` with the trained tagger, then with each copy from
    :func:`randomized_taggers`, and compares. A faithful method's rank correlation with the
    original falls as more layers are randomised. Each step costs ``2**n`` tagger rows (the
    coalition values); the trained tagger is not modified.

    Parameters
    ----------
    stems : Stems
        The stems to explain.
    tagger : tagger
        A tagger with torch weights (see :func:`randomized_taggers`).
    layers : "cascade", "independent" or list of str
        Which layers each step randomises (see :func:`randomized_taggers`).
    method : str, callable, list or dict
        ``"exact"`` (Shapley), ``"banzhaf"``, ``"loo"``, ``"solo"`` (:data:`ATTRIBUTIONS`) or a
        function ``coalition values (2**n, T) -> (n, T)``; a list (or a dict name -> method) of
        several, which share each step's coalition values.
    tags : list of str, optional
        Tags compared (default: the trained tagger's ``top`` tags on the full mix).
    top : int, optional
        How many top tags when ``tags`` is not given (default 5; ``None``: all).
    seed : int
        Seed of the random weights.
    progress : bool
        Show tqdm progress bars of the coalition evaluations.

    Returns
    -------
    pandas.DataFrame
        One row per step and method (step 0 is the trained model): ``step``, ``randomized``
        (layers, ``"+"``-joined), ``layer`` (the one added at this step), ``method``,
        ``spearman`` (rank correlation of all stem x tag values with the original's; NaN when
        the randomised attribution is constant, e.g. a saturated random network that gives
        every stem 0),
        ``top_stem_agreement`` (share of tags whose top stem is unchanged),
        ``mean_abs_change`` (of the values),
        ``prediction_change`` (largest change of the full mix's scores; 0 would mean the
        randomisation did not reach the outputs) and ``tagger_rows``.
    """
    import pandas as pd

    from ..coalitions import evaluate

    methods = _method_table(method)
    cv = evaluate(stems, tagger, progress=progress)
    idx = tag_indices(list(cv.labels), tags, None if tags is not None else top, cv.values[-1])
    base = {name: _attribute(fn, cv.values)[:, idx] for name, fn in methods.items()}
    rows = [
        {
            "step": 0,
            "randomized": "",
            "layer": "",
            "method": name,
            "spearman": 1.0,
            "top_stem_agreement": 1.0,
            "mean_abs_change": 0.0,
            "prediction_change": 0.0,
            "tagger_rows": int(cv.n_tagger_rows),
        }
        for name in methods
    ]
    for j, (chosen, rnd) in enumerate(randomized_taggers(tagger, layers=layers, seed=seed), start=1):
        cvr = evaluate(stems, rnd, progress=progress)  # one set of coalitions serves every method
        for name, fn in methods.items():
            vals = _attribute(fn, cvr.values)[:, idx]
            rows.append(
                {
                    "step": j,
                    "randomized": "+".join(chosen),
                    "layer": chosen[-1],
                    "method": name,
                    "spearman": _spearman(base[name], vals),
                    "top_stem_agreement": _top_agreement(base[name], vals),
                    "mean_abs_change": float(np.abs(vals - base[name]).mean()),
                    "prediction_change": float(np.abs(cvr.values[-1] - cv.values[-1]).max()),
                    "tagger_rows": int(cvr.n_tagger_rows),
                }
            )
    return pd.DataFrame(rows)


def _method_table(method: Any) -> dict[str, Any]:
    if isinstance(method, str) or callable(method):
        method = [method]
    if isinstance(method, Mapping):
        return dict(method)
    out = {}
    for i, m in enumerate(method):
        out[m if isinstance(m, str) else getattr(m, "__name__", f"method{i}")] = m
    if not out:
        raise XmtagError("randomization_check(method=...): give at least one method.")
    return out


# ---------------------------------------------------------------------------------- stability
def stability(
    explanations: Sequence[Any] | Mapping[str, Any],
    *,
    reference: int | str = 0,
    tags: Iterable[str | int] | None = None,
) -> pd.DataFrame:
    """How much an attribution moves across conditions that should not matter much.

    Give explanations of the same song made under different separator seeds or shifts,
    segment alignments or baselines (``explain(..., baseline="noise")``); each is compared
    with the ``reference`` one, stems matched by name.

    Parameters
    ----------
    explanations : list or dict of Explanation
        At least two; a dict names the conditions.
    reference : int or str
        Position (list) or key (dict) of the reference explanation.
    tags : list of str, optional
        Tags compared (default: the tags all explanations share).

    Returns
    -------
    pandas.DataFrame
        One row per other explanation: ``condition``, ``spearman`` (all stem x tag values),
        ``kendall`` (mean over tags of Kendall's tau across stems), ``top_stem_agreement``,
        ``mean_abs_diff`` and ``relative_change`` (``||b - a|| / ||a||``).

    Raises
    ------
    XmtagError
        For fewer than two explanations, an unknown reference, or different stems.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> a = Explanation.from_game([[0.0], [0.6], [0.2], [0.8]], ["x", "y"], ["t"])
    >>> b = Explanation.from_game([[0.0], [0.5], [0.3], [0.8]], ["x", "y"], ["t"])
    >>> stability({"silence": a, "noise": b}, reference="silence")[["condition", "top_stem_agreement"]]
      condition  top_stem_agreement
    0     noise                 1.0
    """
    import pandas as pd
    from scipy.stats import kendalltau

    named = dict(explanations) if isinstance(explanations, Mapping) else dict(enumerate(explanations))
    if len(named) < 2:
        raise XmtagError("stability() needs at least two explanations of the same song.")
    if reference not in named:
        raise XmtagError(f"reference {reference!r} is not one of {list(named)}.")
    ref = named[reference]
    common = [t for t in ref.labels if all(t in e.labels for e in named.values())]
    idx = tag_indices(common, tags, who="stability(tags=...)")
    chosen = [common[i] for i in idx]

    def matrix(e: Any) -> np.ndarray:
        if sorted(e.stems) != sorted(ref.stems):
            raise XmtagError(
                f"stability(): stems {list(e.stems)} differ from the reference's {list(ref.stems)}."
            )
        vals = np.asarray(e.values, dtype=np.float64)
        rows = [list(e.stems).index(s) for s in ref.stems]
        cols = [list(e.labels).index(t) for t in chosen]
        return vals[np.ix_(rows, cols)]

    a = matrix(ref)
    out = []
    for name, e in named.items():
        if name == reference:
            continue
        b = matrix(e)
        taus = [kendalltau(a[:, j], b[:, j]).statistic for j in range(a.shape[1])]
        norm = float(np.linalg.norm(a))
        out.append(
            {
                "condition": name,
                "spearman": _spearman(a, b),
                "kendall": float(np.nanmean(taus)) if np.isfinite(taus).any() else float("nan"),
                "top_stem_agreement": _top_agreement(a, b),
                "mean_abs_diff": float(np.abs(b - a).mean()),
                "relative_change": float(np.linalg.norm(b - a) / norm) if norm > 0 else float("nan"),
            }
        )
    return pd.DataFrame(out)
