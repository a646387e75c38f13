"""``plots.corpus_heatmap``: group means of a corpus with their bootstrap intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import XmtagError
from ._style import DIVERGING, _target, annotate_cells, fit_title, label_width, plain

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["corpus_heatmap"]


def corpus_heatmap(
    corpus: Any,
    by: str = "genre",
    tag: str = "own",
    *,
    ci: float = 0.95,
    n_boot: int = 1000,
    cluster: str | None = "auto",
    ax: Axes | None = None,
) -> Figure:
    """Groups x stems: mean attribution over a corpus, cells whose interval contains 0 hatched.

    A cell with too few tracks (songs) for an interval (``interval == "too few"`` in
    :meth:`xmtag.corpus.Corpus.summarize`) is cross-hatched and its count shown (``n=1``): it is
    never drawn as if it were certain.

    Parameters
    ----------
    corpus : xmtag.corpus.Corpus
    by : str
        Label column to group tracks by.
    tag : str
        A tag, or ``"own"``: each group's own tag (genre ``rock`` → tag ``rock``).
    ci, n_boot, cluster
        As for :meth:`xmtag.corpus.Corpus.summarize`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    tags = "own" if tag == "own" else [tag]
    summary = corpus.summarize(by=by, tags=tags, ci=ci, n_boot=n_boot, cluster=cluster)
    if summary.empty:
        raise XmtagError(f"corpus_heatmap(): no group of {by!r} has a tag of its own name; pass tag=.")
    groups = list(dict.fromkeys(summary[by]))
    stems = list(dict.fromkeys(summary["stem"]))
    m = np.full((len(groups), len(stems)), np.nan)
    z = np.zeros_like(m, dtype=bool)
    few = np.zeros_like(m, dtype=bool)
    count = np.zeros_like(m, dtype=int)
    for r in summary.itertuples(index=False):
        i, j = groups.index(getattr(r, by)), stems.index(r.stem)
        m[i, j], z[i, j] = r.mean, r.zero_in_ci
        few[i, j], count[i, j] = r.interval == "too few", r.n
    # tall enough for the colour bar's label, wide enough for the group names
    width = 1.4 + label_width(plain(str(g)) for g in groups) + 1.0 * len(stems)
    fig, ax = _target(ax, (width, max(3.2, 1.4 + 0.45 * len(groups))))
    vmax = float(np.nanmax(np.abs(m))) or 1.0
    im = ax.imshow(m, cmap=DIVERGING, norm=TwoSlopeNorm(0.0, -vmax, vmax), aspect="auto")
    annotate_cells(
        ax, m, vmax, lambda i, j: f"{m[i, j]:+.2f}" + (f"\nn={count[i, j]}" if few[i, j] else ""), muted=z
    )
    for i, j in zip(*np.nonzero(z & np.isfinite(m))):
        hatch = "xx" if few[i, j] else "///"
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch=hatch, edgecolor="0.6", lw=0))
    ax.set_xticks(range(len(stems)), [plain(s) for s in stems], rotation=30, ha="right")
    ax.set_yticks(range(len(groups)), [plain(g) for g in groups])
    fig.colorbar(im, ax=ax, shrink=0.8).set_label(f"mean Shapley value ({int(ci * 100)} % CI)")
    what = "its own tag" if tag == "own" else repr(tag)
    note = "hatched: interval contains 0"
    if few.any():
        note += "; crossed: too few tracks for an interval"
    title = f"Mean attribution to {plain(what)} by {plain(by)}\n({note})"
    ax.set_title(fit_title(fig, title, 10), fontsize=10)
    return fig
