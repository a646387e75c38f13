"""Attributions of every stem to many tags at once: :func:`heatmap`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..explanation import Explanation
# the corpus heatmap lives in xmtag.plots._corpus (public here as plots.corpus_heatmap)
from ._style import (
    _VALUE_NAMES,
    DIVERGING,
    _tags_for,
    _target,
    annotate_cells,
    fit_title,
    label_width,
    plain,
    units_label,
)

__all__ = ["heatmap"]


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
    ylabels = [f"{plain(expl.labels[j])} ({expl.prediction[j]:.2f})" for j in idx]
    width = 0.8 + label_width(ylabels) + 1.05 * expl.n_stems + 1.4  # long tag names widen the figure
    fig, ax = _target(ax, (width, max(2.8, 1.4 + 0.38 * len(idx))))
    vmax = float(np.abs(m).max()) or 1.0
    im = ax.imshow(m, cmap=DIVERGING, norm=TwoSlopeNorm(0.0, -vmax, vmax), aspect="auto")
    ax.set_xticks(np.arange(expl.n_stems), [plain(s) for s in expl.stems], rotation=30, ha="right")
    ax.set_yticks(np.arange(len(idx)), ylabels, fontsize=9)
    if annotate:
        annotate_cells(ax, m, vmax)
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label(f"{_VALUE_NAMES.get(expl.method, 'attribution')} ({units_label(expl)})")
    ax.set_title(
        fit_title(fig, "Contribution of each stem to each tag\n(tag, full-mix prediction)", 11), fontsize=11
    )
    return fig
