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

from ._bar import bar
from ._corpus import corpus_heatmap
from ._heatmap import heatmap
from ._interactions import interactions
from ._style import DIVERGING, NEGATIVE, NEUTRAL, POSITIVE, UNITS, stem_colors, units_label
from ._timeline import timeline
from ._waterfall import waterfall

__all__ = [
    "bar",
    "heatmap",
    "waterfall",
    "timeline",
    "interactions",
    "corpus_heatmap",
    "stem_colors",
    "units_label",
    "POSITIVE",
    "NEGATIVE",
    "NEUTRAL",
    "DIVERGING",
    "UNITS",
]
