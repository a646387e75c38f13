"""What every plot shares: stem colours, value names and units, figure and axes set-up."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import _checks

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..explanation import Explanation
# the corpus heatmap lives in xmtag.plots._corpus (public here as plots.corpus_heatmap)

__all__ = ["stem_colors", "POSITIVE", "NEGATIVE"]


#: Bar colours for positive and negative contributions (shap's red and blue).
POSITIVE = "#ff0051"


NEGATIVE = "#008bfb"


NEUTRAL = "#9a9a9a"


DIVERGING = "RdBu_r"


UNITS = "tagger output"


def plain(text: object) -> str:
    """``text`` (a tag, stem or group name: text we did not write) as matplotlib shows it
    verbatim: a ``$`` is escaped, so ``$_$`` is never parsed as mathtext (and cannot crash)."""
    return str(text).replace("$", r"\$")


def _figure(figsize: tuple[float, float]) -> Figure:
    # a Figure not registered with pyplot: no global state, nothing to close, never shown by accident
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _target(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = _figure(figsize)
        return fig, fig.add_subplot()
    return ax.get_figure(), ax


def fit_title(fig: Figure, text: str, fontsize: float) -> str:
    """``text`` wrapped to the figure's width (about 0.55 em per character), line by line.

    Small figures (2 stems) with long tag names (40 characters) otherwise get a title wider than
    the figure, cut at both sides and running into the colour bar.
    """
    import textwrap

    width = max(16, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def label_width(labels: Iterable[str]) -> float:
    """Inches the longest of these 9-pt tick labels needs (about 0.07 in per character)."""
    return 0.07 * max((len(str(t)) for t in labels), default=0)


def annotate_cells(
    ax: Axes,
    m: np.ndarray,
    vmax: float,
    text: Callable[[int, int], str] | None = None,
    muted: np.ndarray | None = None,
) -> None:
    """Write each finite cell's value into a diverging colour map's image, readable on every cell:
    white on the dark ends (``|x| > 0.6 vmax``), else black, or grey where ``muted``."""
    for r, c in zip(*np.nonzero(np.isfinite(m))):
        x = float(m[r, c])
        dark = "0.35" if muted is not None and muted[r, c] else "black"
        ax.text(
            c,
            r,
            text(r, c) if text is not None else _fmt(x),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if abs(x) > 0.6 * vmax else dark,
        )


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


def units_label(expl: Explanation) -> str:
    """How a plot labels the explanation's values: ``tag probability``, the tagger's units, else
    ``tagger output``."""
    units = expl.provenance.units
    if units == "probability":
        return "tag probability"
    return units or UNITS


def _value_name(expl: Explanation) -> str:
    name = _VALUE_NAMES.get(expl.method, "attribution")
    if expl.stderr is not None:
        info = expl.interval or {}
        approx = "approx. " if info.get("kind") != "t" else ""
        name += f", {expl.method} estimate ± {approx}95 % CI"
    return name


def _ci(expl: Explanation, j: int) -> np.ndarray | None:
    """Half-widths of the 95 % intervals of tag ``j``'s values, when sampled (Student-t multiplier,
    :attr:`xmtag.Explanation.interval`)."""
    if expl.stderr is None:
        return None
    info = expl.interval or {}
    return float(info.get("multiplier", 1.959964)) * expl.stderr[:, j]


def _fmt(x: float) -> str:
    return f"{x:+.3f}" if abs(x) < 10 else f"{x:+.3g}"


def _tags_for(expl: Explanation, tags: Iterable[str] | None, top: int | None, default_max: int) -> list[int]:
    if tags is None and top is None and expl.n_tags > default_max:
        top = default_max
    return _checks.tag_indices(expl.labels, tags, top, expl.prediction, who="plot")
