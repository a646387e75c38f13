"""Image comparison of a few plots against committed baselines, with a tolerance (pytest-mpl) (#27).

The layout tests (``test_plot_layout.py``) check that text stays inside a figure; these catch
what they cannot: a colour bar moved onto the title, cells drawn in the wrong colours, a bar
missing. Each figure is compared with ``tests/plots/baseline/<test name>.png`` by pytest-mpl
(RMS difference of the pixels, at most :data:`TOLERANCE` on a 0-255 scale), at 2 and 8 stems with
a 40-character tag name, rendered at a low resolution to keep the baselines small.

The comparison runs in the default ``pytest`` (the root ``conftest.py`` turns pytest-mpl's
``--mpl`` on); without pytest-mpl (the ``[test]`` extra) these tests are skipped. After an
intended change of a plot, regenerate the baselines and look at them before committing::

    pytest tests/plots/test_plot_images.py --mpl-generate-path=tests/plots/baseline
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

pytest.importorskip("pytest_mpl", reason="image comparisons need pytest-mpl (the [test] extra)")

from xmtag import Explanation, plots

matplotlib.use("Agg")

LONG = "progressive psychedelic post-rock ballad"  # 40 characters
assert len(LONG) == 40
#: RMS pixel difference allowed (0-255): small font-rendering differences pass, a moved or
#: missing element does not.
TOLERANCE = 5
#: Low resolution: the baselines stay small (about 15 kB each).
SAVE = {"dpi": 40}

# style "default": what a user gets (pytest-mpl would otherwise draw in its "classic" style)
compare = pytest.mark.mpl_image_compare(
    baseline_dir="baseline", tolerance=TOLERANCE, savefig_kwargs=SAVE, style="default"
)


def _explanation(n: int) -> Explanation:
    """A deterministic explanation of ``n`` stems, 3 segments, a 40-character tag and ``rock``."""
    rng = np.random.default_rng(n)
    seg = rng.random((2**n, 3, 2))
    seg[0] = 0.05
    return Explanation.from_game(
        seg.mean(1),
        [f"stem {i}" for i in range(n)],
        [LONG, "rock"],
        segment_coalition_values=seg,
        segment_weights=np.full(3, 1 / 3),
        segment_bounds=np.array([[0.0, 10.0], [10.0, 20.0], [20.0, 30.0]]),
    )


@pytest.mark.parametrize("n", [2, 8])
@compare
def test_bar(n):
    return plots.bar(_explanation(n), LONG)


@pytest.mark.parametrize("n", [2, 8])
@compare
def test_heatmap(n):
    return plots.heatmap(_explanation(n))


@pytest.mark.parametrize("n", [2, 8])
@compare
def test_interactions(n):
    return plots.interactions(_explanation(n), LONG)


@pytest.mark.parametrize("n", [2, 8])
@compare
def test_timeline(n):
    return plots.timeline(_explanation(n), LONG)


@pytest.mark.parametrize("n", [2, 8])
@compare
def test_corpus_heatmap(n):
    import pandas as pd

    import xmtag

    rng = np.random.default_rng(n)
    rows = [
        {
            "track": f"{genre}{t}",
            "tag": genre,
            "stem": f"stem {s}",
            "genre": genre,
            "value": shift * (s == 0) + 0.01 * rng.normal(),
        }
        for genre, shift in (("rock", 0.45), (LONG, -0.3))
        for s in range(n)
        for t in range(6)
    ]

    class Corpus:  # corpus_heatmap needs only .summarize
        def summarize(self, **kw):
            return xmtag.corpus.summarize(pd.DataFrame(rows), **kw)

    return plots.corpus_heatmap(Corpus(), by="genre", tag="own", n_boot=50)


def test_the_comparison_is_on(request):
    """These tests compare images in the default run, not only under ``pytest --mpl``."""
    config = request.config
    assert config.getoption("--mpl") or config.getoption("--mpl-generate-path")
