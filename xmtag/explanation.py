"""The :class:`Explanation`: one object that every method returns and every plot, table and export reads.

:func:`xmtag.explain` (in :mod:`xmtag.pipeline`) makes one from a song; every attribution method
(exact Shapley values, Banzhaf values, permutation sampling, KernelSHAP, LIME, leave-one-out)
returns the same type, so the same plots (:mod:`xmtag.plots`), tables, files
(:mod:`xmtag.fileformat`), reports and metrics work on all of them. Sampled methods carry
standard errors in :attr:`Explanation.stderr`; an explanation made without the value of every
coalition has ``coalition_values = None``, and the features that need them (interactions, the
smallest coalition that keeps a tag, the report's mixing desk) say so with
:class:`~xmtag.errors.CoalitionsUnavailableError`.

Related modules: :mod:`xmtag.fileformat` (``save``/``load``), :mod:`xmtag.listening` (audio of
coalitions), :mod:`xmtag.provenance` (where it came from), :mod:`xmtag.export` (everything
``xmtag explain`` writes).

Examples
--------
A toy tagger whose only tag is the RMS loudness of the mix, two stems:

>>> import numpy as np, xmtag
>>> from xmtag.taggers import FunctionTagger
>>> rms = lambda b: np.sqrt((b**2).mean(1, keepdims=True))
>>> loud = FunctionTagger(rms, ["loud"], sample_rate=8000, name="loudness")
>>> t = np.arange(8000) / 8000
>>> a, b = 0.5 * np.sin(2 * np.pi * 220 * t), 0.1 * np.sin(2 * np.pi * 330 * t)
>>> stems = xmtag.Stems({"a": a, "b": b}, sr=8000)
>>> expl = xmtag.explain(stems, loud, cache=False, progress=False)
>>> expl
Explanation(2 stems x 1 tag, tagger='loudness')
>>> expl.values.round(3)
array([[0.322],
       [0.039]])
>>> bool(np.allclose(expl.base_values + expl.values.sum(0), expl.prediction))
True
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _checks
from .errors import (
    CoalitionsUnavailableError,
    ExplanationFileError,
    InvalidGameError,
    UnknownTagError,
    XmtagError,
)
from .listening import DEFAULT_SHARE, ENVELOPE_RATE, Listenable, _envelope, stems_digest
from .provenance import Provenance, json_safe

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import shap

    from .separation import Stems

__all__ = [
    "Explanation",
    "Listenable",
    "ExplanationFileError",
    "UnknownTagError",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DEFAULT_SHARE",
    "METHODS",
    "EFFICIENT_METHODS",
]

#: Attribution methods an explanation can hold.
METHODS = ("exact", "banzhaf", "permutation", "kernel", "lime", "loo")
#: Methods whose values add up to ``prediction - base_values`` (checked on construction).
EFFICIENT_METHODS = ("exact", "permutation", "kernel")
_EFFICIENCY_TOL = 1e-6

# kept for callers of the first wave (the file format lives in xmtag.fileformat)
FORMAT_NAME = "xmtag.explanation"
FORMAT_VERSION = 2
_json_safe = json_safe
_stems_digest = stems_digest
_ = (ENVELOPE_RATE, _envelope)

#: Array fields, in file order (``None`` when absent).
ARRAY_FIELDS = (
    "values",
    "base_values",
    "prediction",
    "stderr",
    "coalition_values",
    "interactions",
    "segment_values",
    "segment_stderr",
    "segment_coalition_values",
    "segment_weights",
    "segment_bounds",
    "envelope",
)
_ARRAY_FIELDS = ARRAY_FIELDS


def _as_float_array(x: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    try:
        a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidGameError(f"Explanation: {name} must be a numeric array ({exc}).") from exc
    if shape is not None and a.shape != shape:
        raise InvalidGameError(f"Explanation: {name} must have shape {shape}, got {a.shape}.")
    if not np.isfinite(a).all():
        raise InvalidGameError(f"Explanation: {name} contains NaN or infinite values.")
    a.flags.writeable = False
    return a


def _optional(x: Any, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    return None if x is None else _as_float_array(x, name, shape)


def _names(names: Sequence[str], what: str) -> list[str]:
    if isinstance(names, (str, bytes)):
        raise InvalidGameError(
            f"Explanation: {what} names must be a list of strings, got the string {names!r}."
        )
    out = [str(s) for s in names]
    if len(set(out)) != len(out):
        dup = sorted({x for x in out if out.count(x) > 1})
        raise InvalidGameError(f"Explanation: repeated {what} names {dup}.")
    return out


class Explanation:
    """Attributions of a tagger's outputs to the stems (players) of one song.

    Usually made by :func:`xmtag.explain`; :meth:`from_game` builds one from coalition values,
    :meth:`from_scores` from a table of scores. Arrays are float64 and read-only; tags are the
    last axis, stems (players) the first.

    Parameters
    ----------
    stems : sequence of str
        Player names (stems, or stem × band units); player ``i`` is bit ``i`` of a coalition mask.
    labels : sequence of str
        Tag names.
    values : array_like
        ``(n_stems, n_tags)`` attributions.
    base_values : array_like
        ``(n_tags,)`` prediction for the empty coalition (silence).
    prediction : array_like
        ``(n_tags,)`` prediction for the full mix. For the efficient methods
        (:data:`EFFICIENT_METHODS`) ``base_values + values.sum(0) == prediction`` must hold (to
        1e-6), else :class:`~xmtag.errors.InvalidGameError`.
    coalition_values : array_like, optional
        ``(2**n_stems, n_tags)`` tagger output for each coalition, indexed by bitmask; ``None``
        when not every coalition was evaluated (sampled methods).
    interactions : array_like, optional
        ``(n_stems, n_stems, n_tags)`` pairwise Shapley interaction index; the diagonal holds the
        Shapley values (see :func:`xmtag.shapley.interactions`).
    stderr : array_like, optional
        ``(n_stems, n_tags)`` standard error of each value, for sampled methods (``None`` when
        exact or unknown).
    method : str
        One of :data:`METHODS`.
    budget : int, optional
        Tagger rows actually spent.
    segment_values : array_like, optional
        ``(n_stems, n_segments, n_tags)`` time-resolved values; they sum over segments to
        ``values``.
    segment_stderr : array_like, optional
        Standard errors of ``segment_values`` (sampled methods).
    segment_coalition_values : array_like, optional
        ``(2**n_stems, n_segments, n_tags)`` the tagger's mean output over each segment's patches.
    segment_weights : array_like, optional
        ``(n_segments,)`` each segment's share of the clip (sums to 1).
    segment_bounds : array_like, optional
        ``(n_segments, 2)`` start and end of each segment in seconds.
    envelope : array_like, optional
        ``(2, frames)`` min/max of the mono mixture per frame at ``provenance.extra["envelope_rate"]``
        frames per second (the waveform drawn by :func:`xmtag.plots.timeline`).
    provenance : Provenance or dict, optional
        Where the explanation came from (:class:`xmtag.provenance.Provenance`).
    metadata : dict, optional
        The first wave's free-form provenance dictionary; read into :attr:`provenance`.
    audio : Stems, optional
        The stems' audio (for :meth:`listen`, :meth:`solo` and reports); never saved.

    Examples
    --------
    A two-stem game: silence scores 0, ``a`` alone 1, ``b`` alone 2, both 4.

    >>> e = Explanation.from_game([[0.0], [1.0], [2.0], [4.0]], ["a", "b"], ["tag"])
    >>> e.values.ravel().tolist(), e.base_values.tolist(), e.prediction.tolist()
    ([1.5, 2.5], [0.0], [4.0])
    >>> e.to_frame()[["tag", "stem", "value"]]
      tag stem  value
    0  tag    a    1.5
    1  tag    b    2.5
    """

    def __init__(
        self,
        stems: Sequence[str],
        labels: Sequence[str],
        values: Any,
        base_values: Any,
        prediction: Any,
        coalition_values: Any = None,
        interactions: Any = None,
        *,
        stderr: Any = None,
        method: str | None = None,
        budget: int | None = None,
        segment_values: Any = None,
        segment_stderr: Any = None,
        segment_coalition_values: Any = None,
        segment_weights: Any = None,
        segment_bounds: Any = None,
        envelope: Any = None,
        provenance: Provenance | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        audio: Stems | None = None,
    ) -> None:
        self.stems: list[str] = _names(stems, "stem")
        self.labels: list[str] = _names(labels, "tag")
        n, t = len(self.stems), len(self.labels)
        if n == 0 or t == 0:
            raise InvalidGameError("Explanation: needs at least one stem and one tag.")
        prov = (
            provenance if isinstance(provenance, Provenance) else Provenance.from_dict(provenance or metadata)
        )
        if method is None:
            method = prov.method
        self.method: str = _checks.choice(method, "Explanation: method", METHODS)
        if budget is None:
            budget = prov.budget
        self.budget: int | None = _checks.non_negative_int(budget, "Explanation: budget", allow_none=True)
        self.provenance: Provenance = prov.replace(method=self.method, budget=self.budget)
        self.values = _as_float_array(values, "values", (n, t))
        self.base_values = _as_float_array(base_values, "base_values", (t,))
        self.prediction = _as_float_array(prediction, "prediction", (t,))
        self.stderr = _optional(stderr, "stderr", (n, t))
        self.coalition_values = _optional(coalition_values, "coalition_values", (2**n, t))
        self.interactions = _optional(interactions, "interactions", (n, n, t))
        self.segment_values: np.ndarray | None = None
        self.segment_stderr: np.ndarray | None = None
        self.segment_coalition_values: np.ndarray | None = None
        self.segment_weights: np.ndarray | None = None
        self.segment_bounds: np.ndarray | None = None
        if segment_values is not None:
            sv = np.asarray(segment_values)
            k = int(sv.shape[1]) if sv.ndim == 3 else 0
            self.segment_values = _as_float_array(sv, "segment_values", (n, max(k, 1), t))
            if segment_weights is None or segment_bounds is None:
                raise InvalidGameError(
                    "Explanation: segment_values need segment_weights (K,) and segment_bounds (K, 2)."
                )
            self.segment_weights = _as_float_array(segment_weights, "segment_weights", (k,))
            self.segment_bounds = _as_float_array(segment_bounds, "segment_bounds", (k, 2))
            self.segment_stderr = _optional(segment_stderr, "segment_stderr", (n, k, t))
            self.segment_coalition_values = _optional(
                segment_coalition_values, "segment_coalition_values", (2**n, k, t)
            )
        self.envelope: np.ndarray | None = None
        if envelope is not None:
            env = np.array(envelope, dtype=np.float32)
            if env.ndim != 2 or env.shape[0] != 2 or not np.isfinite(env).all():
                raise InvalidGameError(f"Explanation: envelope must be finite (2, frames), got {env.shape}.")
            env.flags.writeable = False
            self.envelope = env
        if self.coalition_values is not None:
            for what, got, want in (
                ("base_values", self.base_values, self.coalition_values[0]),
                ("prediction", self.prediction, self.coalition_values[-1]),
            ):
                if not np.allclose(got, want, rtol=0, atol=1e-9 * max(1.0, float(np.abs(want).max()))):
                    raise InvalidGameError(
                        f"Explanation: {what} differs from its entry in coalition_values (silence is "
                        "mask 0, the full mix the last row)."
                    )
        self._audio: Stems | None = None
        self._check_efficiency()
        if audio is not None:
            self.attach_audio(audio, check=False)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_game(
        cls,
        coalition_values: Any,
        stems: Sequence[str],
        labels: Sequence[str],
        *,
        method: str = "exact",
        segment_coalition_values: Any = None,
        segment_weights: Any = None,
        segment_bounds: Any = None,
        envelope: Any = None,
        provenance: Provenance | Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        audio: Stems | None = None,
        budget: int | None = None,
    ) -> Explanation:
        """Compute an explanation from the value of every coalition with :mod:`xmtag.shapley`.

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
            they give ``segment_values`` through :func:`xmtag.shapley.segments`.
        segment_weights, segment_bounds, envelope, provenance, metadata, audio, budget
            As for :class:`Explanation`.

        Returns
        -------
        Explanation

        Raises
        ------
        InvalidGameError
            If the values do not match the names or are not a valid game.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"])
        >>> e.interactions[0, 1].tolist()  # together they add 1 beyond 1 + 2
        [1.0]
        >>> Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"], method="banzhaf").values.ravel()
        array([1.5, 2.5])
        """
        from . import shapley

        method = _checks.choice(method, "from_game(method)", ("exact", "banzhaf"))
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
            if method == "exact":
                seg_values = shapley.segments(g, segment_weights)
            else:  # Banzhaf is linear in the game too: the same decomposition holds
                w = np.asarray(segment_weights, dtype=np.float64)
                seg_values = shapley.banzhaf(g) * w[np.newaxis, :, np.newaxis]
            segment_coalition_values = g
        values = shapley.exact(v) if method == "exact" else shapley.banzhaf(v)
        return cls(
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

    @classmethod
    def from_scores(cls, table: Any, **kwargs: Any) -> Explanation:
        """An explanation from a table of scores, one row per coalition.

        See :func:`xmtag.scores.from_scores` for the table's layout and the keywords.
        """
        from .scores import from_scores

        return from_scores(table, **kwargs)

    def _check_efficiency(self) -> None:
        if self.method not in EFFICIENT_METHODS:
            return
        gap = np.abs(self.base_values + self.values.sum(axis=0) - self.prediction)
        ref = self.coalition_values if self.coalition_values is not None else self.prediction
        scale = max(1.0, float(np.abs(ref).max()), float(np.abs(self.base_values).max()))
        if (gap > _EFFICIENCY_TOL * scale).any():
            worst = int(np.argmax(gap))
            raise InvalidGameError(
                f"Explanation: base_values + values.sum(0) != prediction for tag "
                f"{self.labels[worst]!r} (off by {gap[worst]:.3g}); these are not {self.method} values "
                "of these predictions. Build explanations with Explanation.from_game() or xmtag.explain()."
            )

    # -- basic views ---------------------------------------------------------------------------
    @property
    def stem_names(self) -> list[str]:
        """The player (stem) names: the same list as :attr:`stems`."""
        return self.stems

    @property
    def n_stems(self) -> int:
        """Number of stems (players)."""
        return len(self.stems)

    @property
    def n_tags(self) -> int:
        """Number of tags."""
        return len(self.labels)

    @property
    def n_segments(self) -> int | None:
        """Number of time segments, or ``None`` without time-resolved values."""
        return None if self.segment_values is None else int(self.segment_values.shape[1])

    @property
    def has_coalitions(self) -> bool:
        """Whether the value of every coalition is known (:attr:`coalition_values` is set)."""
        return self.coalition_values is not None

    @property
    def units(self) -> str:
        """Units of the tagger's outputs (``"probability"``, ``"logit"``, ...)."""
        return self.provenance.units

    @property
    def metadata(self) -> dict[str, Any]:
        """The provenance as the first wave's flat dictionary (read-only view; see :attr:`provenance`)."""
        return self.provenance.as_metadata()

    @property
    def audio(self) -> Stems | None:
        """The stems' audio when attached (after :func:`explain`), else ``None``."""
        return self._audio

    def require_coalitions(self, what: str) -> np.ndarray:
        """:attr:`coalition_values`, or a :class:`~xmtag.errors.CoalitionsUnavailableError` for ``what``."""
        if self.coalition_values is None:
            raise CoalitionsUnavailableError(
                f"{what} needs the tagger's output for every coalition of stems, which this "
                f"{self.method} explanation does not have (it evaluated {self.budget or 'some'} mixes, "
                f"not all {2**self.n_stems}). Use explain(..., method='exact')."
            )
        return self.coalition_values

    def __repr__(self) -> str:
        name = self.provenance.tagger_name
        parts = [
            f"{self.n_stems} stem{'s' * (self.n_stems != 1)} x {self.n_tags} tag{'s' * (self.n_tags != 1)}"
        ]
        if name:
            parts.append(f"tagger={name!r}")
        if self.n_segments:
            parts.append(f"segments={self.n_segments}")
        if self.method != "exact":
            parts.append(f"method={self.method!r}")
            if self.budget is not None:
                parts.append(f"budget={self.budget}")
        return f"Explanation({', '.join(parts)})"

    def _repr_html_(self) -> str:
        from .report import repr_html

        return repr_html(self)

    def show(self, path: str | os.PathLike[str] | None = None, *, open: bool = True) -> Path:
        """Write the interactive report page and open it in the browser (:func:`xmtag.report.show`)."""
        from .report import show

        return show(self, path, open=open)

    # -- selection -----------------------------------------------------------------------------
    def tag_index(self, tag: str | int) -> int:
        """Index of ``tag`` in :attr:`labels` (an int is checked and returned).

        Raises
        ------
        UnknownTagError
            For a name that is not a label (the message suggests close ones).

        Examples
        --------
        >>> e = Explanation.from_game([[0, 0], [0.3, 0.1]], ["a"], ["rock", "jazz"])
        >>> e.tag_index("jazz"), e.tag_index(0)
        (1, 0)
        """
        return _checks.tag_indices(self.labels, [tag])[0]

    def stem_index(self, stem: str | int) -> int:
        """Index of ``stem`` in :attr:`stems` (an int is checked and returned).

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["drums", "bass"], ["tag"])
        >>> e.stem_index("bass")
        1
        """
        if _checks._is_int(stem):
            if not -self.n_stems <= int(stem) < self.n_stems:
                raise XmtagError(f"Stem index {stem} is out of range for {self.n_stems} stems.")
            return int(stem) % self.n_stems
        try:
            return self.stems.index(str(stem))
        except ValueError:
            raise XmtagError(f"Unknown stem {stem!r}; the stems are {self.stems}.") from None

    def mask_of(self, stems: Iterable[str | int]) -> int:
        """The bitmask of a set of stems (bit ``i`` for stem ``i``).

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"])
        >>> e.mask_of(["b"]), e.mask_of(["a", "b"])
        (2, 3)
        """
        if isinstance(stems, (str, int, np.integer)):
            stems = [stems]
        mask = 0
        for s in stems:
            mask |= 1 << self.stem_index(s)
        return mask

    def stems_of(self, mask: int) -> tuple[str, ...]:
        """The stem names in coalition ``mask``, in stem order.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["drums", "bass"], ["tag"])
        >>> e.stems_of(3), e.stems_of(0)
        (('drums', 'bass'), ())
        """
        return tuple(s for i, s in enumerate(self.stems) if (int(mask) >> i) & 1)

    def top_tags(self, k: int = 5) -> list[str]:
        """The ``k`` tags with the highest full-mix prediction, highest first.

        Examples
        --------
        >>> e = Explanation.from_game([[0, 0, 0], [0.2, 0.9, 0.5]], ["a"], ["x", "y", "z"])
        >>> e.top_tags(2)
        ['y', 'z']
        """
        k = _checks.positive_int(k, "top_tags(k): k")
        return [self.labels[i] for i in _checks.tag_indices(self.labels, None, k, self.prediction)]

    def select(self, tags: Iterable[str | int] | None = None, top: int | None = None) -> Explanation:
        """An explanation restricted to some tags (same stems, same audio).

        Parameters
        ----------
        tags : iterable of str, optional
            Tags to keep, in this order. Default: all.
        top : int, optional
            Then keep only the ``top`` of them with the highest full-mix prediction.

        Examples
        --------
        >>> e = Explanation.from_game([[0, 0, 0], [0.2, 0.9, 0.5]], ["a"], ["x", "y", "z"])
        >>> e.select(["z", "x"]).labels, e.select(top=1).labels
        (['z', 'x'], ['y'])
        """
        idx = _checks.tag_indices(self.labels, tags, top, self.prediction, who="select()")
        sel = np.asarray(idx)

        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[..., sel]

        return Explanation(
            self.stems,
            [self.labels[i] for i in idx],
            values=cut(self.values),
            base_values=cut(self.base_values),
            prediction=cut(self.prediction),
            coalition_values=cut(self.coalition_values),
            interactions=cut(self.interactions),
            stderr=cut(self.stderr),
            segment_values=cut(self.segment_values),
            segment_stderr=cut(self.segment_stderr),
            segment_coalition_values=cut(self.segment_coalition_values),
            segment_weights=self.segment_weights,
            segment_bounds=self.segment_bounds,
            envelope=self.envelope,
            provenance=self.provenance,
            audio=self._audio,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Explanation):
            return NotImplemented
        if self.stems != other.stems or self.labels != other.labels:
            return False
        if self.provenance.to_dict() != other.provenance.to_dict():
            return False
        for name in ARRAY_FIELDS:
            a, b = getattr(self, name), getattr(other, name)
            if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    # -- tables and exports --------------------------------------------------------------------
    def to_frame(self, segments: bool = False) -> pd.DataFrame:
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
            clip units: they sum over segments to the clip value), ``stderr`` and
            ``local_value`` (the value within the segment, ``value / weight``).

        Raises
        ------
        XmtagError
            For ``segments=True`` on an explanation made without segments.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
        >>> e.to_frame()[["tag", "stem", "value"]].round(2).values.tolist()
        [['rock', 'drums', 0.7], ['rock', 'bass', 0.2]]
        """
        import pandas as pd

        n, t = self.n_stems, self.n_tags
        full = 2**n - 1
        if segments:
            if self.segment_values is None:
                raise XmtagError(
                    "This explanation has no time-resolved values; run explain(..., segments=K)."
                )
            k = self.n_segments or 0
            tag_i, stem_i, seg_i = (
                a.ravel() for a in np.meshgrid(np.arange(t), np.arange(n), np.arange(k), indexing="ij")
            )
            w = self.segment_weights[seg_i]
            vals = self.segment_values[stem_i, seg_i, tag_i]
            err = (
                np.full(vals.shape, np.nan)
                if self.segment_stderr is None
                else self.segment_stderr[stem_i, seg_i, tag_i]
            )
            return pd.DataFrame(
                {
                    "tag": np.asarray(self.labels, dtype=object)[tag_i],
                    "stem": np.asarray(self.stems, dtype=object)[stem_i],
                    "segment": seg_i,
                    "start": self.segment_bounds[seg_i, 0],
                    "end": self.segment_bounds[seg_i, 1],
                    "value": vals,
                    "stderr": err,
                    "local_value": np.divide(vals, w, out=np.zeros_like(vals), where=w > 0),
                }
            )
        tag_i, stem_i = (a.ravel() for a in np.meshgrid(np.arange(t), np.arange(n), indexing="ij"))
        solo_masks = 1 << stem_i
        nan = np.full(tag_i.shape, np.nan)
        cv = self.coalition_values
        return pd.DataFrame(
            {
                "tag": np.asarray(self.labels, dtype=object)[tag_i],
                "stem": np.asarray(self.stems, dtype=object)[stem_i],
                "value": self.values[stem_i, tag_i],
                "stderr": nan if self.stderr is None else self.stderr[stem_i, tag_i],
                "solo": nan if cv is None else cv[solo_masks, tag_i],
                "without": nan if cv is None else cv[full & ~solo_masks, tag_i],
                "base_value": self.base_values[tag_i],
                "prediction": self.prediction[tag_i],
            }
        )

    def to_shap(self, tag: str | int | None = None) -> shap.Explanation:
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
        >>> e = Explanation.from_game([[0.0], [1.0], [2.0], [4.0]], ["a", "b"], ["tag"])
        >>> sv = e.to_shap("tag")
        >>> sv.values.tolist(), float(sv.base_values), sv.feature_names
        ([1.5, 2.5], 0.0, ['a', 'b'])
        """
        from .errors import require

        shap = require("shap", "core", "to_shap()")
        if tag is not None:
            j = self.tag_index(tag)
            return shap.Explanation(
                values=np.array(self.values[:, j]),
                base_values=float(self.base_values[j]),
                data=np.ones(self.n_stems),
                feature_names=list(self.stems),
                error_std=None if self.stderr is None else np.array(self.stderr[:, j]),
            )
        return shap.Explanation(
            values=np.array(self.values.T),
            base_values=np.array(self.base_values),
            data=np.ones((self.n_tags, self.n_stems)),
            feature_names=list(self.stems),
            instance_names=list(self.labels),
            error_std=None if self.stderr is None else np.array(self.stderr.T),
        )

    # -- save / load (xmtag.fileformat) --------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the explanation to one file, atomically (:func:`xmtag.fileformat.save`).

        Examples
        --------
        >>> import tempfile, os
        >>> e = Explanation.from_game([[0.0], [1.0], [2.0], [4.0]], ["a", "b"], ["tag"])
        >>> p = e.save(os.path.join(tempfile.mkdtemp(), "song.xmtag"))
        >>> Explanation.load(p) == e
        True
        """
        from .fileformat import save

        return save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], audio: Stems | None = None) -> Explanation:
        """Read an explanation written by :meth:`save` (:func:`xmtag.fileformat.load`).

        Raises
        ------
        AudioFileNotFoundError
            If the file does not exist.
        ExplanationFileError
            If it is not an xmtag explanation, is damaged, truncated or tampered with, or was
            written in a newer format version.
        """
        from .fileformat import load

        return load(path, audio=audio, cls=cls)

    # -- audio (xmtag.listening) ---------------------------------------------------------------
    def attach_audio(self, audio: Stems, check: bool = True) -> Explanation:
        """Attach the stems' audio (for :meth:`listen`, :meth:`solo`, reports); returns ``self``.

        With ``check``, the audio's content hash must match the one recorded at explanation time.

        Examples
        --------
        >>> import numpy as np
        >>> from xmtag import Stems
        >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"])
        >>> s = Stems({"drums": np.zeros(800), "guitar": np.zeros(800)}, sr=8000)
        >>> e.attach_audio(s).audio is s
        True
        """
        from .separation import Stems

        if not isinstance(audio, Stems):
            raise XmtagError(f"attach_audio() expects an xmtag.Stems, got {type(audio).__name__}.")
        if list(audio.names) != self.stems:
            raise XmtagError(
                f"The audio's stems {audio.names} are not this explanation's stems {self.stems}."
            )
        want = (self.provenance.extra.get("audio") or {}).get("sha256") if check else None
        if want and stems_digest(audio) != want:
            raise XmtagError(
                "This audio is not the audio the explanation was computed from (content hash differs)."
            )
        self._audio = audio
        return self

    def _require_audio(self, what: str) -> Stems:
        if self._audio is not None:
            return self._audio
        source = self.provenance.source or {}
        folder = source.get("path") if source.get("kind") == "folder" else None
        if folder and Path(folder).is_dir():
            from .separation import Stems

            with contextlib.suppress(XmtagError):
                return self.attach_audio(Stems.from_folder(folder, names=self.stems))._audio  # type: ignore[return-value]
        raise XmtagError(
            f"{what} needs the stems' audio, which is not stored in explanation files. Attach it with "
            "expl.attach_audio(stems) or Explanation.load(path, audio=stems)."
        )

    def smallest_coalition(self, tag: str | int, share: float = DEFAULT_SHARE) -> Listenable:
        """The smallest set of stems whose mix keeps ``share`` of the tag (no tagger pass).

        See :func:`xmtag.listening.smallest_coalition` for the rule.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"])
        >>> e.smallest_coalition("rock", share=0.8).stems
        ('guitar',)
        """
        from .listening import smallest_coalition

        return smallest_coalition(self, tag, share)

    def listen(
        self, tag: str | int, path: str | os.PathLike[str], share: float = DEFAULT_SHARE
    ) -> Listenable:
        """Write the mix of the smallest stem coalition that keeps the tag (:func:`~xmtag.listening.listen`)."""
        from .listening import listen

        return listen(self, tag, path, share)

    def solo(self, stem: str | int, path: str | os.PathLike[str]) -> Path:
        """Write one stem's audio to ``path`` (format from the extension) and return the path."""
        from .audio import save_audio

        i = self.stem_index(stem)
        audio = self._require_audio("solo()")
        return save_audio(path, audio[self.stems[i]], audio.sr)

    def mix(self, stems: Iterable[str | int] | None = None) -> tuple[np.ndarray, int]:
        """The audio of a coalition (default: the full mix of the stems) and its sample rate.

        Examples
        --------
        >>> import numpy as np
        >>> from xmtag import Stems
        >>> s = Stems({"drums": np.full(800, 0.1), "guitar": np.full(800, 0.2)}, sr=8000)
        >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"], audio=s)
        >>> y, sr = e.mix(["guitar"])
        >>> y.shape, sr, float(y.max())
        ((1, 800), 8000, 0.2)
        """
        audio = self._require_audio("mix()")
        mask = 2**self.n_stems - 1 if stems is None else self.mask_of(stems)
        y = np.zeros((audio.n_channels, audio.n_samples), dtype=np.float32)
        for s in self.stems_of(mask):
            y += audio[s]
        return y, audio.sr


def __getattr__(name: str) -> Any:  # explain() lives in xmtag.pipeline; keep the old import path
    if name == "explain":
        from .pipeline import explain

        return explain
    raise AttributeError(f"module 'xmtag.explanation' has no attribute {name!r}")
