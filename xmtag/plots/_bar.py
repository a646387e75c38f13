"""One tag's attributions per stem, with their intervals: :func:`bar`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..explanation import Explanation
# the corpus heatmap lives in xmtag.plots._corpus (public here as plots.corpus_heatmap)
from ._style import NEGATIVE, POSITIVE, _ci, _fmt, _target, _value_name, plain, units_label

__all__ = ['bar']


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
    ax.set_yticks(y, [plain(expl.stems[i]) for i in order])
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
    ax.set_xlabel(f"{_value_name(expl)} ({units_label(expl)})")
    ax.set_title(
        f"Why {plain(repr(expl.labels[j]))}? full mix {expl.prediction[j]:.3f}, "
        f"silence {expl.base_values[j]:.3f}",
        fontsize=11,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return fig
