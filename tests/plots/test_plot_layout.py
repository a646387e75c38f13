"""Every plot keeps its text inside the figure at 2, 5 and 8 stems with 40-character tag names (#27).

A title wider than a small figure was cut at both sides and ran into the colour bar. The check
renders each figure and compares the box of everything drawn (titles, labels, tick labels,
colour bars) with the figure's.
"""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pytest

from xmtag import Explanation, plots

matplotlib.use("Agg")

LONG = "progressive psychedelic post-rock ballad"  # 40 characters
assert len(LONG) == 40


def _explanation(n: int) -> Explanation:
    rng = np.random.default_rng(n)
    values = rng.random((2**n, 2))
    values[0] = 0.0
    return Explanation.from_game(values, [f"stem {i}" for i in range(n)], [LONG, "rock"])


def _overhang(fig) -> float:
    """How far (inches) what is drawn reaches past the figure's edges; 0 when it all fits."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    drawn = fig.get_tightbbox(canvas.get_renderer())  # every drawn artist, in inches
    page = fig.bbox_inches
    return max(0.0, page.x0 - drawn.x0, drawn.x1 - page.x1, page.y0 - drawn.y0, drawn.y1 - page.y1)


@pytest.mark.parametrize(
    ("kind", "n"), list(itertools.product(["bar", "waterfall", "heatmap", "interactions"], [2, 5, 8]))
)
def test_text_stays_inside_the_figure(kind, n):
    e = _explanation(n)
    fig = {
        "bar": lambda: plots.bar(e, LONG),
        "waterfall": lambda: plots.waterfall(e, LONG),
        "heatmap": lambda: plots.heatmap(e),
        "interactions": lambda: plots.interactions(e, LONG),
    }[kind]()
    assert _overhang(fig) < 0.02, f"{kind} at {n} stems draws {_overhang(fig):.2f} in past the figure"
