"""How each stem moves one tag's prediction from silence to the full mix: :func:`waterfall`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..explanation import Explanation
# the corpus heatmap lives in xmtag.plots._corpus (public here as plots.corpus_heatmap)
from ._style import NEGATIVE, NEUTRAL, POSITIVE, _ci, _fmt, _target, fit_title, plain, units_label

__all__ = ["waterfall"]


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
        *(f"+ {plain(expl.stems[i])}" for i in order),
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
    ax.set_ylabel(units_label(expl))
    title = f"{plain(repr(expl.labels[j]))}: silence {base:.3f} → full mix {pred:.3f}"
    ax.set_title(fit_title(fig, title, 11), fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    lo = min(0.0, base, pred, *(base + np.cumsum(vals[order])))
    hi = max(0.0, base, pred, *(base + np.cumsum(vals[order])))
    ax.set_ylim(lo - 0.05 * (hi - lo or 1), hi + 0.12 * (hi - lo or 1))
    return fig
