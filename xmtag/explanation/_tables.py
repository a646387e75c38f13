"""Tidy tables of an explanation and its :class:`shap.Explanation` view.

:meth:`Explanation.to_frame` and :meth:`Explanation.to_shap` call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import shap

    from ._explanation import Explanation

__all__ = ["to_frame", "to_shap"]


def to_frame(expl: Explanation, segments: bool = False) -> pd.DataFrame:
    """A tidy table with one row per (tag, stem) (and segment).

        Parameters
        ----------
        segments : bool
            One row per (tag, stem, segment) with the time-resolved values instead.

        Returns
        -------
        pandas.DataFrame
            Columns ``tag, stem, value, stderr`` (``NaN`` when exact), ``solo`` (prediction for
            the stem alone), ``without`` (prediction for the full mix without the stem; both
            ``NaN`` without coalition values), ``base_value`` (silence) and ``prediction``
            (full mix). With ``segments=True``: ``tag, stem, segment, start, end, value`` (in
            clip units: over stems and segments they sum to ``prediction - base_value``, and
            over segments to the stem's clip value), ``stderr``, ``local_value`` (the value
            within the segment, ``value / weight``) and ``segment_method`` (which (stem, segment)
            game they are values of: :attr:`Explanation.segment_method`).

        Raises
        ------
        XmtagError
            For ``segments=True`` on an explanation made without segments.

        Examples
        --------
        >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
        >>> to_frame(e)[["tag", "stem", "value"]].round(2).values.tolist()
        [['rock', 'drums', 0.7], ['rock', 'bass', 0.2]]
    """
    import pandas as pd

    n, t = expl.n_stems, expl.n_tags
    full = 2**n - 1
    if segments:
        if expl.segment_values is None:
            raise XmtagError("This explanation has no time-resolved values; run explain(..., segments=K).")
        k = expl.n_segments or 0
        tag_i, stem_i, seg_i = (
            a.ravel() for a in np.meshgrid(np.arange(t), np.arange(n), np.arange(k), indexing="ij")
        )
        w = expl.segment_weights[seg_i]
        vals = expl.segment_values[stem_i, seg_i, tag_i]
        err = (
            np.full(vals.shape, np.nan)
            if expl.segment_stderr is None
            else expl.segment_stderr[stem_i, seg_i, tag_i]
        )
        return pd.DataFrame(
            {
                "tag": np.asarray(expl.labels, dtype=object)[tag_i],
                "stem": np.asarray(expl.stems, dtype=object)[stem_i],
                "segment": seg_i,
                "start": expl.segment_bounds[seg_i, 0],
                "end": expl.segment_bounds[seg_i, 1],
                "value": vals,
                "stderr": err,
                "local_value": np.divide(vals, w, out=np.zeros_like(vals), where=w > 0),
                "segment_method": expl.segment_method,
            }
        )
    tag_i, stem_i = (a.ravel() for a in np.meshgrid(np.arange(t), np.arange(n), indexing="ij"))
    solo_masks = 1 << stem_i
    nan = np.full(tag_i.shape, np.nan)
    cv = expl.coalition_values
    return pd.DataFrame(
        {
            "tag": np.asarray(expl.labels, dtype=object)[tag_i],
            "stem": np.asarray(expl.stems, dtype=object)[stem_i],
            "value": expl.values[stem_i, tag_i],
            "stderr": nan if expl.stderr is None else expl.stderr[stem_i, tag_i],
            "solo": nan if cv is None else cv[solo_masks, tag_i],
            "without": nan if cv is None else cv[full & ~solo_masks, tag_i],
            "base_value": expl.base_values[tag_i],
            "prediction": expl.prediction[tag_i],
        }
    )


def to_shap(expl: Explanation, tag: str | int | None = None) -> shap.Explanation:
    """The attributions as a :class:`shap.Explanation`, for shap's plots.

        Parameters
        ----------
        tag : str or int, optional
            One tag: a single explanation (``values`` ``(n_stems,)``, scalar ``base_values``) for
            ``shap.plots.waterfall`` / ``shap.plots.bar``. Default: all tags, one row per tag
            (tags play the role of shap's samples), for ``shap.plots.bar``.

        Returns
        -------
        shap.Explanation
            ``feature_names`` are the stems; ``data`` is 1 for every stem (all present in the
            full mix); ``error_std`` holds :attr:`stderr` for sampled methods.

        Examples
        --------
        >>> from xmtag import Explanation
    >>> e = Explanation.from_game([[0.0], [1.0], [2.0], [4.0]], ["a", "b"], ["tag"])
        >>> sv = to_shap(e, "tag")
        >>> sv.values.tolist(), float(sv.base_values), sv.feature_names
        ([1.5, 2.5], 0.0, ['a', 'b'])
    """
    from ..errors import require

    shap = require("shap", "core", "to_shap()")
    if tag is not None:
        j = expl.tag_index(tag)
        return shap.Explanation(
            values=np.array(expl.values[:, j]),
            base_values=float(expl.base_values[j]),
            data=np.ones(expl.n_stems),
            feature_names=list(expl.stems),
            error_std=None if expl.stderr is None else np.array(expl.stderr[:, j]),
        )
    return shap.Explanation(
        values=np.array(expl.values.T),
        base_values=np.array(expl.base_values),
        data=np.ones((expl.n_tags, expl.n_stems)),
        feature_names=list(expl.stems),
        instance_names=list(expl.labels),
        error_std=None if expl.stderr is None else np.array(expl.stderr.T),
    )
