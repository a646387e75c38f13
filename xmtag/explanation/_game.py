"""An :class:`~xmtag.Explanation` from the values of every coalition: :func:`from_game` (Shapley, Banzhaf)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _checks
from ..attribution import ENUMERATED_METHODS
from ..errors import InvalidGameError
from ._fields import explanation_class

if TYPE_CHECKING:  # pragma: no cover
    from ..separation import Stems

    Explanation = explanation_class()
    from ._provenance import Provenance

__all__ = ["from_game"]


def from_game(
    coalition_values: Any,
    stems: Sequence[str],
    labels: Sequence[str],
    *,
    method: str = "exact",
    segment_coalition_values: Any = None,
    segment_weights: Any = None,
    segment_bounds: Any = None,
    segment_attributions: Mapping[str, Any] | None = None,
    envelope: Any = None,
    provenance: Provenance | Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    audio: Stems | None = None,
    budget: int | None = None,
) -> Explanation:
    """Compute an explanation from the value of every coalition with :mod:`xmtag.attribution.shapley`.

    Parameters
    ----------
    coalition_values : array_like
        ``(2**n, n_tags)`` (or ``(2**n,)`` for one tag) indexed by bitmask.
    stems, labels : sequence of str
        Stem and tag names.
    method : {"exact", "banzhaf"}
        Shapley values (default) or Banzhaf values.
    segment_coalition_values : array_like, optional
        ``(2**n, K, n_tags)`` per-segment games; with ``segment_weights`` (K,) summing to 1
        they give ``segment_values`` through :func:`xmtag.attribution.shapley.segments`.
    segment_attributions : mapping, optional
        ``{"exact": (n, K, n_tags), "banzhaf": (n, K, n_tags)}``: the (stem, segment) values when
        they are not the per-segment games' values (a tagger whose patches see context;
        :meth:`xmtag.coalitions.CoalitionValues.segment_attribution`). Without it the values come
        from ``segment_coalition_values`` by :func:`xmtag.attribution.shapley.segments`, which is
        exact for the (stem, segment) game when each segment's output depends on its own samples
        only (patches without context, or per-segment scores).
    segment_weights, segment_bounds, envelope, provenance, metadata, audio, budget
        As for :class:`~xmtag.Explanation`.

    Returns
    -------
    Explanation

    Raises
    ------
    InvalidGameError
        If the values do not match the names or are not a valid game.

    Examples
    --------
    >>> e = from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"])
    >>> e.interactions[0, 1].tolist()  # together they add 1 beyond 1 + 2
    [1.0]
    >>> from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"], method="banzhaf").values.ravel()
    array([1.5, 2.5])
    """
    from ..attribution import shapley

    Explanation = explanation_class()

    method = _checks.choice(method, "from_game(method)", ENUMERATED_METHODS)
    v = shapley.check_game(coalition_values, name="coalition_values")
    if v.ndim == 1:
        v = v[:, np.newaxis]
    n = shapley.n_players(v)
    if n != len(stems):
        raise InvalidGameError(
            f"coalition_values has 2**{n} rows but {len(stems)} stem names were given ({list(stems)})."
        )
    if v.ndim != 2 or v.shape[1] != len(labels):
        raise InvalidGameError(
            f"coalition_values must be (2**n, n_tags) = (2**{n}, {len(labels)}), got {v.shape}."
        )
    seg_values = None
    if segment_coalition_values is not None:
        g = shapley.check_game(segment_coalition_values, name="segment_coalition_values")
        if g.ndim == 2:
            g = g[..., np.newaxis]
        if g.shape[0] != v.shape[0] or g.ndim != 3 or g.shape[2] != v.shape[1]:
            raise InvalidGameError(
                f"segment_coalition_values must be (2**n, K, n_tags) with 2**n = {v.shape[0]} and "
                f"n_tags = {v.shape[1]}; got {g.shape}."
            )
        if segment_weights is None:
            raise InvalidGameError("segment_coalition_values need segment_weights (K,) summing to 1.")
        if segment_bounds is None:
            raise InvalidGameError("segment_coalition_values need segment_bounds (K, 2) in seconds.")
        if segment_attributions is not None and segment_attributions.get(method) is not None:
            seg_values = np.asarray(segment_attributions[method], dtype=np.float64)
        elif method == "exact":
            seg_values = shapley.segments(g, segment_weights)
        else:  # Banzhaf is linear in the game too: the same decomposition holds
            w = np.asarray(segment_weights, dtype=np.float64)
            seg_values = shapley.banzhaf(g) * w[np.newaxis, :, np.newaxis]
        segment_coalition_values = g
    values = shapley.exact(v) if method == "exact" else shapley.banzhaf(v)
    return Explanation(
        stems,
        labels,
        values=values,
        base_values=v[0],
        prediction=v[-1],
        coalition_values=v,
        interactions=shapley.interactions(v),
        method=method,
        budget=budget,
        segment_values=seg_values,
        segment_coalition_values=segment_coalition_values,
        segment_weights=segment_weights,
        segment_bounds=segment_bounds,
        envelope=envelope,
        provenance=provenance,
        metadata=metadata,
        audio=audio,
    )
