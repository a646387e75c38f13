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


@pytest.mark.parametrize("n_stems", [2, 5, 8])
def test_corpus_heatmap_fits_and_its_numbers_are_readable(n_stems):
    """The colour-bar label was cut ("95 % C...") and black "+0.47" sat on dark red (#27)."""
    import pandas as pd
    from matplotlib.colors import to_rgb

    import xmtag

    rng = np.random.default_rng(n_stems)
    rows = []
    for genre, shift in (("rock", 0.45), (LONG, -0.3)):
        for s in range(n_stems):
            for t in range(6):
                rows.append(
                    {
                        "track": f"{genre}{t}",
                        "tag": genre,
                        "stem": f"stem {s}",
                        "genre": genre,
                        "value": shift * (s == 0) + 0.01 * rng.normal(),
                    }
                )

    class Stub:  # corpus_heatmap needs only .summarize
        def summarize(self, **kw):
            return xmtag.corpus.summarize(pd.DataFrame(rows), **kw)

    fig = plots.corpus_heatmap(Stub(), by="genre", tag="own", n_boot=50)
    assert _overhang(fig) < 0.02
    ax = fig.axes[0]
    image = ax.images[0]
    for text in ax.texts:
        x, y = (round(v) for v in text.get_position())
        cell = np.array(image.cmap(image.norm(image.get_array()[y, x]))[:3])
        luminance = float(cell @ [0.2126, 0.7152, 0.0722])
        ink = float(np.array(to_rgb(text.get_color())) @ [0.2126, 0.7152, 0.0722])
        assert abs(luminance - ink) > 0.35, (text.get_text(), luminance, ink)
