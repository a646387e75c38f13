"""Time-resolved attributions of one tag: :func:`timeline` (segments, with the waveform under them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..explanation import Explanation
# the corpus heatmap lives in xmtag.plots._corpus (public here as plots.corpus_heatmap)
from ._style import _figure, plain, stem_colors, units_label

__all__ = ['timeline']


def timeline(
    expl: Explanation,
    tag: str | int,
    *,
    ax: Axes | None = None,
    waveform: bool = True,
    local: bool = True,
) -> Figure:
    """Each stem's attribution over time, stacked per segment, above the mix's waveform.

    Needs an explanation made with ``segments`` (``xmtag.explain(..., segments=K)``).

    Parameters
    ----------
    expl : Explanation
    tag : str or int
    ax : matplotlib.axes.Axes, optional
        Draw only the attribution panel into this axes (no waveform).
    waveform : bool
        Add a waveform panel (from the stored envelope, or the attached audio) below.
    local : bool
        Plot each segment's own Shapley values (``value / weight``: how much the stem moves
        the tag while that segment plays; default). ``False`` plots the clip-level shares,
        which sum over segments to :attr:`~xmtag.Explanation.values`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    XmtagError
        If the explanation has no time-resolved values.

    Examples
    --------
    >>> import xmtag
    >>> from xmtag import plots
    >>> expl = xmtag.explain(xmtag.load_demo(), "musicnn-msd", segments=4)  # doctest: +SKIP
    >>> plots.timeline(expl, tag="rock").savefig("rock-time.png")  # doctest: +SKIP
    """
    if expl.segment_values is None:
        raise XmtagError(
            "timeline() needs time-resolved values: run xmtag.explain(..., segments=K) "
            "(or `xmtag explain --segments K`)."
        )
    j = expl.tag_index(tag)
    sv = expl.segment_values[:, :, j]  # (n, K)
    w = expl.segment_weights
    bounds = expl.segment_bounds
    if local:
        sv = np.divide(sv, w[np.newaxis], out=np.zeros_like(sv), where=w[np.newaxis] > 0)
    env, env_rate = _waveform(expl)
    show_wave = waveform and ax is None and env is not None
    if ax is None:
        fig = _figure((9.0, 5.2 if show_wave else 3.8))
        if show_wave:
            ax, wax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        else:
            ax, wax = fig.add_subplot(), None
    else:
        fig, wax = ax.get_figure(), None
    colors = stem_colors(expl.stems)
    starts, widths = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    pos = np.zeros(sv.shape[1])
    neg = np.zeros(sv.shape[1])
    for i, stem in enumerate(expl.stems):
        v = sv[i]
        bottom = np.where(v >= 0, pos, neg)
        ax.bar(
            starts,
            v,
            width=widths,
            bottom=bottom,
            align="edge",
            color=colors[stem],
            edgecolor="white",
            linewidth=0.6,
            label=plain(stem),
        )
        pos = pos + np.maximum(v, 0)
        neg = neg + np.minimum(v, 0)
    total = sv.sum(axis=0)
    ax.step(
        np.append(starts, bounds[-1, 1]),
        np.append(total, total[-1]),
        where="post",
        color="black",
        lw=1.2,
        label="sum",
    )
    ax.axhline(0.0, color="0.3", lw=0.8)
    what = "within segment" if local else "share of clip value"
    ax.set_ylabel(f"Shapley value, {what}\n({units_label(expl)})")
    ax.set_title(f"{plain(repr(expl.labels[j]))} over time: which stem drives it when", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    if wax is not None:
        t = np.arange(env.shape[1]) / env_rate
        wax.fill_between(t, env[0], env[1], color="0.35", lw=0)
        for b in bounds[:, 0]:
            wax.axvline(b, color="0.75", lw=0.6)
        wax.set_ylabel("mix")
        wax.set_xlabel("time (s)")
        wax.set_yticks([])
        wax.spines[["top", "right", "left"]].set_visible(False)
        wax.set_xlim(0.0, max(float(t[-1]) if t.size else 0.0, float(bounds[-1, 1])))
    else:
        ax.set_xlabel("time (s)")
    return fig


def _waveform(expl: Explanation) -> tuple[np.ndarray | None, float]:
    if expl.envelope is not None:
        return expl.envelope, float(expl.provenance.extra.get("envelope_rate", 100))
    audio = expl.audio
    if audio is None:
        return None, 0.0
    from ..explanation import ENVELOPE_RATE, waveform_envelope

    return waveform_envelope(audio), float(ENVELOPE_RATE)
