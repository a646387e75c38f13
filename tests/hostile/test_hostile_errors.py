"""Hostile inputs that used to end in a traceback: each now gives a clear ``XmtagError`` (or works).

Each case sets up the real condition (a real tag name, a real file, a real interrupt) and
checks the message names the input and what to do.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import xmtag
from xmtag.errors import XmtagError  # noqa: F401


# ------------------------------------------------------------------ plots: text we did not write
@pytest.mark.parametrize("plot", ["bar", "heatmap", "waterfall", "interactions"])
def test_dollar_names_are_not_mathtext(plot):
    """A tag `$_$` and a stem `b$x`: drawn verbatim, not parsed as (broken) mathtext."""
    from xmtag import plots

    expl = xmtag.Explanation.from_game(
        np.arange(8.0).reshape(8, 1) * [1, 2], ["$_$ a", "b$x", "c"], ["$_$", "r$^"]
    )
    fig = getattr(plots, plot)(expl) if plot == "heatmap" else getattr(plots, plot)(expl, "$_$")
    fig.savefig(io.BytesIO(), format="png")  # draws every text: raised ValueError before
    texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
    assert any(r"\$_\$" in t for t in texts)
