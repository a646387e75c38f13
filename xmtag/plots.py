"""Plots of an :class:`~xmtag.Explanation` (matplotlib).

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show()``;
show it in a notebook by leaving it as the cell's value, or save it with
``fig.savefig("rock.png")``. Functions that draw one panel take ``ax=`` to draw into an
existing axes (the figure returned is then that axes' figure). Each stem keeps its colour
across all plots (:func:`stem_colors`); attributions are in the tagger's output units (for
musicnn, tag probability).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from xmtag import Explanation, plots
>>> e = Explanation.from_game([[0.0], [0.2], [0.5], [0.9]], ["drums", "guitar"], ["rock"])
>>> fig = plots.bar(e, "rock")
>>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
['drums', 'guitar']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import _checks
from .errors import CoalitionsUnavailableError, XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .explanation import Explanation

__all__ = [
    "bar",
    "heatmap",
    "waterfall",
    "timeline",
    "interactions",
    "corpus_heatmap",
    "stem_colors",
    "POSITIVE",
    "NEGATIVE",
]

#: Bar colours for positive and negative contributions (shap's red and blue).
POSITIVE = "#ff0051"
NEGATIVE = "#008bfb"
NEUTRAL = "#9a9a9a"
DIVERGING = "RdBu_r"
UNITS = "tagger output"


def _figure(figsize: tuple[float, float]) -> Figure:
    # a Figure not registered with pyplot: no global state, nothing to close, never shown by accident
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _target(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = _figure(figsize)
        return fig, fig.add_subplot()
    return ax.get_figure(), ax


def stem_colors(stems: Sequence[str]) -> dict[str, str]:
    """One colour per stem (matplotlib's ``tab10`` cycle, in stem order).

    Parameters
    ----------
    stems : sequence of str
        Stem names, in stem order.

    Returns
    -------
    dict of str to str
        Hex colours; the same stem order gives the same colours in every plot.

    Examples
    --------
    >>> stem_colors(["drums", "bass"])
    {'drums': '#1f77b4', 'bass': '#ff7f0e'}
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab10"] if len(stems) <= 10 else colormaps["tab20"]
    return {s: to_hex(cmap(i % cmap.N)) for i, s in enumerate(stems)}


_VALUE_NAMES = {
    "exact": "Shapley value",
    "permutation": "Shapley value",
    "kernel": "Shapley value",
    "banzhaf": "Banzhaf value",
    "lime": "LIME coefficient",
    "loo": "leave-one-out effect",
}


def _units(expl: Explanation) -> str:
    units = expl.provenance.units
    if units == "probability":
        return "tag probability"
    return units or UNITS


def _value_name(expl: Explanation) -> str:
    name = _VALUE_NAMES.get(expl.method, "attribution")
    if expl.stderr is not None:
        name += f", {expl.method} estimate ± 95 % CI"
    return name


def _ci(expl: Explanation, j: int) -> np.ndarray | None:
    """Half-widths of the 95 % normal intervals of tag ``j``'s values, when sampled."""
    return None if expl.stderr is None else 1.959964 * expl.stderr[:, j]


def _fmt(x: float) -> str:
    return f"{x:+.3f}" if abs(x) < 10 else f"{x:+.3g}"


def _tags_for(expl: Explanation, tags: Iterable[str] | None, top: int | None, default_max: int) -> list[int]:
    if tags is None and top is None and expl.n_tags > default_max:
        top = default_max
    return _checks.tag_indices(expl.labels, tags, top, expl.prediction, who="plot")


def bar(expl: Explanation, tag: str | int, *, ax: Axes | None = None, sort: bool = True) -> Figure:
    """Horizontal bars: each stem's Shapley value for one tag.

    Parameters
    ----------
    expl : Explanation
    tag : str or int
        The tag.
    ax : matplotlib.axes.Axes, optional
        Draw here instead of a new figure.
    sort : bool
        Largest value on top (default); ``False`` keeps stem order.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    UnknownTagError
        For a tag that is not a label.

    Examples
    --------
    >>> from xmtag import Explanation, plots
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> fig = plots.bar(e, tag="rock")
    >>> len(fig.axes[0].patches)  # one bar per stem
    2
    """
    j = expl.tag_index(tag)
    vals = expl.values[:, j]
    order = np.argsort(vals, kind="stable") if sort else np.arange(expl.n_stems)[::-1]
    fig, ax = _target(ax, (6.4, 1.2 + 0.45 * expl.n_stems))
    y = np.arange(len(order))
    v = vals[order]
    ci = _ci(expl, j)
    err = None if ci is None else ci[order]
    ax.barh(
        y,
        v,
        color=[POSITIVE if x >= 0 else NEGATIVE for x in v],
        height=0.65,
        xerr=err,
        error_kw={"ecolor": "0.2", "elinewidth": 1.0, "capsize": 3},
    )
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_yticks(y, [expl.stems[i] for i in order])
    span = float(np.abs(v).max()) or 1.0
    for yi, x in zip(y, v):
        ax.text(
            x + (0.02 * span if x >= 0 else -0.02 * span),
            yi,
            _fmt(float(x)),
            va="center",
            ha="left" if x >= 0 else "right",
            fontsize=9,
        )
    e = np.zeros_like(v) if err is None else err
    lo, hi = min(0.0, float((v - e).min())), max(0.0, float((v + e).max()))
    pad = 0.25 * (hi - lo or 1.0)
    ax.set_xlim(lo - (pad if lo < 0 else 0.05 * pad), hi + (pad if hi > 0 else 0.05 * pad))
    ax.set_xlabel(f"{_value_name(expl)} ({_units(expl)})")
    ax.set_title(
        f"Why {expl.labels[j]!r}? full mix {expl.prediction[j]:.3f}, silence {expl.base_values[j]:.3f}",
        fontsize=11,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def heatmap(
    expl: Explanation,
    tags: Iterable[str] | None = None,
    *,
    top: int | None = None,
    ax: Axes | None = None,
    annotate: bool = True,
) -> Figure:
    """Tags x stems matrix of Shapley values, diverging colours centred at 0, values annotated.

    Parameters
    ----------
    expl : Explanation
    tags : iterable of str, optional
        Rows to show, in order. Default: all tags, or the 20 with the highest full-mix
        prediction when there are more.
    top : int, optional
        Keep the ``top`` tags (of ``tags``) with the highest prediction.
    ax : matplotlib.axes.Axes, optional
    annotate : bool
        Write each value in its cell.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    UnknownTagError
        For a name in ``tags`` that is not a label.

    Examples
    --------
    >>> from xmtag import Explanation, plots
    >>> game = [[0, 0], [0.6, 0.1], [0.1, 0.5], [0.9, 0.7]]  # (2**2 coalitions, 2 tags)
    >>> e = Explanation.from_game(game, ["drums", "bass"], ["rock", "jazz"])
    >>> fig = plots.heatmap(e)
    >>> [t.get_text().split(" ")[0] for t in fig.axes[0].get_yticklabels()]
    ['rock', 'jazz']
    """
    from matplotlib.colors import TwoSlopeNorm

    idx = _tags_for(expl, tags, top, default_max=20)
    m = expl.values[:, idx].T  # (tags, stems)
    fig, ax = _target(ax, (1.6 + 1.05 * expl.n_stems + 1.2, 1.4 + 0.38 * len(idx)))
    vmax = float(np.abs(m).max()) or 1.0
    im = ax.imshow(m, cmap=DIVERGING, norm=TwoSlopeNorm(0.0, -vmax, vmax), aspect="auto")
    ax.set_xticks(np.arange(expl.n_stems), expl.stems, rotation=30, ha="right")
    ax.set_yticks(
        np.arange(len(idx)), [f"{expl.labels[j]} ({expl.prediction[j]:.2f})" for j in idx], fontsize=9
    )
    if annotate:
        for r in range(m.shape[0]):
            for c in range(m.shape[1]):
                x = float(m[r, c])
                ax.text(
                    c,
                    r,
                    _fmt(x),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if abs(x) > 0.6 * vmax else "black",
                )
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label(f"{_VALUE_NAMES.get(expl.method, 'attribution')} ({_units(expl)})")
    ax.set_title("Contribution of each stem to each tag\n(tag, full-mix prediction)", fontsize=11)
    return fig


def waterfall(expl: Explanation, tag: str | int, *, ax: Axes | None = None, sort: bool = True) -> Figure:
    """From silence, add each stem's Shapley value, and arrive at the full mix's prediction.

    Parameters
    ----------
    expl : Explanation
    tag : str or int
    ax : matplotlib.axes.Axes, optional
    sort : bool
        Stems by decreasing absolute value (default) or in stem order.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    UnknownTagError
        For a tag that is not a label.

    Examples
    --------
    >>> from xmtag import Explanation, plots
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> fig = plots.waterfall(e, tag="rock")
    """
    j = expl.tag_index(tag)
    vals = expl.values[:, j]
    order = np.argsort(-np.abs(vals), kind="stable") if sort else np.arange(expl.n_stems)
    base, pred = float(expl.base_values[j]), float(expl.prediction[j])
    gap = pred - base - float(vals.sum())  # 0 for the efficient methods
    rest = abs(gap) > 1e-9 * max(1.0, abs(pred))
    names = [
        "silence",
        *(f"+ {expl.stems[i]}" for i in order),
        *(["not attributed"] if rest else []),
        "full mix",
    ]
    fig, ax = _target(ax, (1.6 + 1.0 * (len(names)), 4.2))
    x = np.arange(len(names))
    ci = _ci(expl, j)
    ax.bar(x[0], base, color=NEUTRAL, width=0.6)
    ax.text(x[0], base, f"{base:.3f}", ha="center", va="bottom", fontsize=9)
    level = base
    for k, i in enumerate(order, start=1):
        v = float(vals[i])
        ax.bar(x[k], v, bottom=level, color=POSITIVE if v >= 0 else NEGATIVE, width=0.6)
        if ci is not None:  # whisker at the top of the step: the 95 % interval of this value
            ax.errorbar(x[k], level + v, yerr=float(ci[i]), color="0.2", lw=1.0, capsize=3)
        ax.text(x[k], max(level, level + v), _fmt(v), ha="center", va="bottom", fontsize=9)
        ax.plot([x[k - 1] - 0.3, x[k] + 0.3], [level, level], color="0.5", lw=0.7, ls=":")
        level += v
    if rest:  # Banzhaf, LIME and leave-one-out values need not add up to the prediction
        k = len(order) + 1
        ax.bar(x[k], gap, bottom=level, color="white", edgecolor=NEUTRAL, hatch="//", width=0.6)
        ax.text(x[k], max(level, level + gap), _fmt(gap), ha="center", va="bottom", fontsize=9)
        ax.plot([x[k - 1] - 0.3, x[k] + 0.3], [level, level], color="0.5", lw=0.7, ls=":")
        level += gap
    ax.plot([x[-2] - 0.3, x[-1] + 0.3], [level, level], color="0.5", lw=0.7, ls=":")
    ax.bar(x[-1], pred, color=NEUTRAL, width=0.6, edgecolor="0.2")
    ax.text(x[-1], pred, f"{pred:.3f}", ha="center", va="bottom", fontsize=9)
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel(_units(expl))
    ax.set_title(f"{expl.labels[j]!r}: silence {base:.3f} → full mix {pred:.3f}", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    lo = min(0.0, base, pred, *(base + np.cumsum(vals[order])))
    hi = max(0.0, base, pred, *(base + np.cumsum(vals[order])))
    ax.set_ylim(lo - 0.05 * (hi - lo or 1), hi + 0.12 * (hi - lo or 1))
    return fig


def timeline(
    expl: Explanation,
    tag: str | int,
    *,
    ax: Axes | None = None,
    waveform: bool = True,
    local: bool = True,
) -> Figure:
    """Each stem's attribution over time, stacked per segment, above the mix's waveform.

    Needs an explanation made with ``segments`` (``xmtag.explain(..., segments=K)``).

    Parameters
    ----------
    expl : Explanation
    tag : str or int
    ax : matplotlib.axes.Axes, optional
        Draw only the attribution panel into this axes (no waveform).
    waveform : bool
        Add a waveform panel (from the stored envelope, or the attached audio) below.
    local : bool
        Plot each segment's own Shapley values (``value / weight``: how much the stem moves
        the tag while that segment plays; default). ``False`` plots the clip-level shares,
        which sum over segments to :attr:`~xmtag.Explanation.values`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    XmtagError
        If the explanation has no time-resolved values.

    Examples
    --------
    >>> import xmtag
    >>> from xmtag import plots
    >>> expl = xmtag.explain(xmtag.load_demo(), "musicnn-msd", segments=4)  # doctest: +SKIP
    >>> plots.timeline(expl, tag="rock").savefig("rock-time.png")  # doctest: +SKIP
    """
    if expl.segment_values is None:
        raise XmtagError(
            "timeline() needs time-resolved values: run xmtag.explain(..., segments=K) "
            "(or `xmtag explain --segments K`)."
        )
    j = expl.tag_index(tag)
    sv = expl.segment_values[:, :, j]  # (n, K)
    w = expl.segment_weights
    bounds = expl.segment_bounds
    if local:
        sv = np.divide(sv, w[np.newaxis], out=np.zeros_like(sv), where=w[np.newaxis] > 0)
    env, env_rate = _waveform(expl)
    show_wave = waveform and ax is None and env is not None
    if ax is None:
        fig = _figure((9.0, 5.2 if show_wave else 3.8))
        if show_wave:
            ax, wax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        else:
            ax, wax = fig.add_subplot(), None
    else:
        fig, wax = ax.get_figure(), None
    colors = stem_colors(expl.stems)
    starts, widths = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    pos = np.zeros(sv.shape[1])
    neg = np.zeros(sv.shape[1])
    for i, stem in enumerate(expl.stems):
        v = sv[i]
        bottom = np.where(v >= 0, pos, neg)
        ax.bar(
            starts,
            v,
            width=widths,
            bottom=bottom,
            align="edge",
            color=colors[stem],
            edgecolor="white",
            linewidth=0.6,
            label=stem,
        )
        pos = pos + np.maximum(v, 0)
        neg = neg + np.minimum(v, 0)
    total = sv.sum(axis=0)
    ax.step(
        np.append(starts, bounds[-1, 1]),
        np.append(total, total[-1]),
        where="post",
        color="black",
        lw=1.2,
        label="sum",
    )
    ax.axhline(0.0, color="0.3", lw=0.8)
    what = "within segment" if local else "share of clip value"
    ax.set_ylabel(f"Shapley value, {what}\n({_units(expl)})")
    ax.set_title(f"{expl.labels[j]!r} over time: which stem drives it when", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    if wax is not None:
        t = np.arange(env.shape[1]) / env_rate
        wax.fill_between(t, env[0], env[1], color="0.35", lw=0)
        for b in bounds[:, 0]:
            wax.axvline(b, color="0.75", lw=0.6)
        wax.set_ylabel("mix")
        wax.set_xlabel("time (s)")
        wax.set_yticks([])
        wax.spines[["top", "right", "left"]].set_visible(False)
        wax.set_xlim(0.0, max(float(t[-1]) if t.size else 0.0, float(bounds[-1, 1])))
    else:
        ax.set_xlabel("time (s)")
    return fig


def _waveform(expl: Explanation) -> tuple[np.ndarray | None, float]:
    if expl.envelope is not None:
        return expl.envelope, float(expl.provenance.extra.get("envelope_rate", 100))
    audio = expl.audio
    if audio is None:
        return None, 0.0
    from .listening import ENVELOPE_RATE, _envelope

    return _envelope(audio), float(ENVELOPE_RATE)


def interactions(
    expl: Explanation, tag: str | int, *, ax: Axes | None = None, annotate: bool = True
) -> Figure:
    """Pairwise Shapley interaction index of the stems for one tag (stems x stems).

    Off the diagonal, positive (red) means the two stems together raise the tag more than
    their separate contributions (synergy), negative (blue) that they are partly redundant.
    The diagonal, which holds each stem's Shapley value, is left blank.

    Parameters
    ----------
    expl : Explanation
    tag : str or int
    ax : matplotlib.axes.Axes, optional
    annotate : bool
        Write each value in its cell.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    UnknownTagError
        For a tag that is not a label.

    Examples
    --------
    >>> from xmtag import Explanation, plots
    >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["drums", "bass"], ["rock"])
    >>> fig = plots.interactions(e, tag="rock")
    """
    from matplotlib.colors import TwoSlopeNorm

    j = expl.tag_index(tag)
    if expl.interactions is None:
        raise CoalitionsUnavailableError(
            f"Interactions need the value of every coalition; this {expl.method} explanation has none. "
            "Use explain(..., method='exact')."
        )
    m = np.array(expl.interactions[:, :, j])
    n = expl.n_stems
    np.fill_diagonal(m, np.nan)
    fig, ax = _target(ax, (2.0 + 0.9 * n, 1.6 + 0.8 * n))
    off = m[~np.isnan(m)]
    vmax = float(np.abs(off).max()) if off.size and np.abs(off).max() > 0 else 1.0
    im = ax.imshow(np.ma.masked_invalid(m), cmap=DIVERGING, norm=TwoSlopeNorm(0.0, -vmax, vmax))
    ax.set_xticks(np.arange(n), expl.stems, rotation=30, ha="right")
    ax.set_yticks(np.arange(n), expl.stems)
    if annotate:
        for r in range(n):
            for c in range(n):
                if r == c:
                    continue
                x = float(m[r, c])
                ax.text(
                    c,
                    r,
                    _fmt(x),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if abs(x) > 0.6 * vmax else "black",
                )
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label(f"interaction ({_units(expl)})")
    ax.set_title(f"{expl.labels[j]!r}: stem interactions\n(red: synergy, blue: redundancy)", fontsize=11)
    return fig


# the corpus heatmap lives in xmtag._plots_corpus (public here as plots.corpus_heatmap)
from ._plots_corpus import corpus_heatmap  # noqa: E402
