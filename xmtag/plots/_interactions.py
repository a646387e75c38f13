"""Pairwise Shapley interactions of the stems for one tag: :func:`interactions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import CoalitionsUnavailableError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..explanation import Explanation
# the corpus heatmap lives in xmtag.plots._corpus (public here as plots.corpus_heatmap)
from ._style import DIVERGING, _target, annotate_cells, fit_title, plain, units_label

__all__ = ["interactions"]


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
    ax.set_xticks(np.arange(n), [plain(s) for s in expl.stems], rotation=30, ha="right")
    ax.set_yticks(np.arange(n), [plain(s) for s in expl.stems])
    if annotate:
        annotate_cells(ax, m, vmax)  # the diagonal is NaN: left blank
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label(f"interaction ({units_label(expl)})")
    title = f"{plain(repr(expl.labels[j]))}: stem interactions\n(red: synergy, blue: redundancy)"
    ax.set_title(fit_title(fig, title, 11), fontsize=11)
    return fig
