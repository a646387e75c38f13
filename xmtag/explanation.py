"""One call from audio to an explained tag prediction: :func:`explain` and :class:`Explanation`.

:func:`explain` separates a song into stems (or takes your stems), lets a tagger score the mix
of every subset of stems (:func:`xmtag.coalitions.evaluate`, ``2**n`` mixes, each evaluated
once) and turns those scores into exact Shapley values (:mod:`xmtag.shapley`). The result is an
:class:`Explanation`: one object that every plot (:mod:`xmtag.plots`), table and export reads.

The explanation file
--------------------
:meth:`Explanation.save` writes one file (suffix ``.xmtag`` by convention), a ZIP archive that
NumPy reads too (``numpy.load(path)`` lists its arrays):

``header.json``
    ``{"format": "xmtag.explanation", "format_version": 1, "stems": [...], "labels": [...],
    "arrays": [...], "metadata": {...}}``. A reader checks ``format`` and ``format_version``.
``<name>.npy``
    One ``.npy`` array per field (``values``, ``base_values``, ``prediction``,
    ``coalition_values``, ``interactions``, and where present ``segment_values``,
    ``segment_coalition_values``, ``segment_weights``, ``segment_bounds``, ``envelope``), in
    NumPy's own format, no pickles.

The file is written atomically (temporary file, then rename). The audio is not stored: an
explanation loaded from a file finds its stems again through ``metadata["source"]`` when that
folder still holds the same audio (checked by content hash), or takes them from
:meth:`Explanation.attach_audio`.

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
import dataclasses
import datetime as _dt
import difflib
import io
import json
import logging
import math
import os
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import atomic_path, check_input_file
from ._version import __version__
from .errors import (
    AudioError,
    AudioFileNotFoundError,
    ExplanationFileError,
    InvalidGameError,
    UnknownTagError,
    XmtagError,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import shap

    from .separation import Separator, Stems

__all__ = [
    "explain",
    "Explanation",
    "Listenable",
    "ExplanationFileError",
    "UnknownTagError",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DEFAULT_SHARE",
]

logger = logging.getLogger(__name__)

#: ``format`` field of an explanation file's header.
FORMAT_NAME = "xmtag.explanation"
#: Version of the explanation file layout this xmtag writes and reads.
FORMAT_VERSION = 1
#: Default share of a tag's prediction (above silence) that a listenable explanation keeps.
DEFAULT_SHARE = 0.9
#: Envelope frames per second stored for the waveform panel of timeline plots.
ENVELOPE_RATE = 100
#: Cache namespace of coalition values (tagger outputs per stem subset).
CACHE_NAMESPACE = "coalitions"
_CACHE_VERSION = 1
_EFFICIENCY_TOL = 1e-6

_ARRAY_FIELDS = (
    "values",
    "base_values",
    "prediction",
    "coalition_values",
    "interactions",
    "segment_values",
    "segment_coalition_values",
    "segment_weights",
    "segment_bounds",
    "envelope",
)


@dataclass(frozen=True)
class Listenable:
    """The smallest stem coalition that keeps a tag: what :meth:`Explanation.listen` wrote.

    Attributes
    ----------
    tag : str
        The tag.
    stems : tuple of str
        The stems of the coalition, in stem order.
    mask : int
        The coalition's bitmask.
    value : float
        The tagger's prediction for the mix of these stems.
    prediction : float
        The prediction for the full mix.
    base_value : float
        The prediction for silence.
    share : float
        The share of ``prediction - base_value`` the coalition was required to keep.
    path : pathlib.Path or None
        Where the audio was written (``None`` from :meth:`Explanation.smallest_coalition`).
    """

    tag: str
    stems: tuple[str, ...]
    mask: int
    value: float
    prediction: float
    base_value: float
    share: float
    path: Path | None = None

    @property
    def kept(self) -> float:
        """The share of the full mix's gain over silence this coalition keeps."""
        gain = self.prediction - self.base_value
        return float((self.value - self.base_value) / gain) if gain != 0 else float("nan")


def _unknown_tag(tag: object, labels: Sequence[str]) -> UnknownTagError:
    close = difflib.get_close_matches(str(tag), labels, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(labels[:12]) + (", ..." if len(labels) > 12 else "")
    return UnknownTagError(f"Unknown tag {tag!r}.{hint} The tagger's labels are: {shown}.")


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


def _json_safe(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and tuples into JSON types (recursively)."""
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # "inf", "-inf", "nan": JSON has no such numbers
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def _stems_digest(audio: Stems) -> str:
    from .cache import hash_array, make_key

    return make_key("stems", audio.sr, [(k, hash_array(audio[k])) for k in audio.names])


def _envelope(audio: Stems, rate: int = ENVELOPE_RATE) -> np.ndarray:
    """Min and max of the mono mixture per ``1/rate`` s frame, float32 ``(2, frames)``."""
    mono = audio.mixture.mean(axis=0, dtype=np.float32)
    hop = max(1, int(round(audio.sr / rate)))
    n = int(math.ceil(mono.shape[0] / hop))
    padded = np.zeros(n * hop, dtype=np.float32)
    padded[: mono.shape[0]] = mono
    frames = padded.reshape(n, hop)
    return np.stack([frames.min(axis=1), frames.max(axis=1)]).astype(np.float32)


class Explanation:
    """Exact Shapley attributions of a tagger's outputs to the stems of one song.

    Usually made by :func:`explain`; :meth:`from_game` builds one from coalition values.
    Arrays are float64 and read-only; tags are the last axis, stems the first.

    Parameters
    ----------
    stems : sequence of str
        Stem names; stem ``i`` is bit ``i`` of a coalition mask.
    labels : sequence of str
        Tag names.
    values : array_like
        ``(n_stems, n_tags)`` Shapley values.
    base_values : array_like
        ``(n_tags,)`` prediction for silence (the empty coalition).
    prediction : array_like
        ``(n_tags,)`` prediction for the full mix. ``base_values + values.sum(0) == prediction``
        must hold (to 1e-6), else :class:`~xmtag.errors.InvalidGameError`.
    coalition_values : array_like
        ``(2**n_stems, n_tags)`` tagger output for each coalition, indexed by bitmask.
    interactions : array_like
        ``(n_stems, n_stems, n_tags)`` pairwise Shapley interaction index; the diagonal holds the
        Shapley values (see :func:`xmtag.shapley.interactions`).
    segment_values : array_like, optional
        ``(n_stems, n_segments, n_tags)`` time-resolved Shapley values; they sum over segments to
        ``values``.
    segment_coalition_values : array_like, optional
        ``(2**n_stems, n_segments, n_tags)`` the tagger's mean output over each segment's patches.
    segment_weights : array_like, optional
        ``(n_segments,)`` each segment's share of the clip (sums to 1).
    segment_bounds : array_like, optional
        ``(n_segments, 2)`` start and end of each segment in seconds.
    envelope : array_like, optional
        ``(2, frames)`` min/max of the mono mixture per frame at ``metadata["envelope_rate"]``
        frames per second (the waveform drawn by :func:`xmtag.plots.timeline`).
    metadata : dict, optional
        JSON-compatible provenance: xmtag version, tagger, separator, durations, ...
    audio : Stems, optional
        The stems' audio (for :meth:`listen`, :meth:`solo` and reports); never saved.

    Attributes
    ----------
    stems, labels, values, base_values, prediction, coalition_values, interactions,
    segment_values, segment_coalition_values, segment_weights, segment_bounds, envelope, metadata

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
        coalition_values: Any,
        interactions: Any,
        *,
        segment_values: Any = None,
        segment_coalition_values: Any = None,
        segment_weights: Any = None,
        segment_bounds: Any = None,
        envelope: Any = None,
        metadata: Mapping[str, Any] | None = None,
        audio: Stems | None = None,
    ) -> None:
        self.stems: list[str] = [str(s) for s in stems]
        self.labels: list[str] = [str(x) for x in labels]
        n, t = len(self.stems), len(self.labels)
        if n == 0 or t == 0:
            raise InvalidGameError("Explanation: needs at least one stem and one tag.")
        for what, names in (("stem", self.stems), ("tag", self.labels)):
            if len(set(names)) != len(names):
                dup = sorted({x for x in names if names.count(x) > 1})
                raise InvalidGameError(f"Explanation: repeated {what} names {dup}.")
        self.values = _as_float_array(values, "values", (n, t))
        self.base_values = _as_float_array(base_values, "base_values", (t,))
        self.prediction = _as_float_array(prediction, "prediction", (t,))
        self.coalition_values = _as_float_array(coalition_values, "coalition_values", (2**n, t))
        self.interactions = _as_float_array(interactions, "interactions", (n, n, t))
        self.segment_values: np.ndarray | None = None
        self.segment_coalition_values: np.ndarray | None = None
        self.segment_weights: np.ndarray | None = None
        self.segment_bounds: np.ndarray | None = None
        if segment_values is not None:
            sv = np.asarray(segment_values)
            k = sv.shape[1] if sv.ndim == 3 else -1
            self.segment_values = _as_float_array(sv, "segment_values", (n, max(k, 0), t))
            if segment_weights is None or segment_bounds is None:
                raise InvalidGameError(
                    "Explanation: segment_values need segment_weights (K,) and segment_bounds (K, 2)."
                )
            self.segment_weights = _as_float_array(segment_weights, "segment_weights", (k,))
            self.segment_bounds = _as_float_array(segment_bounds, "segment_bounds", (k, 2))
            if segment_coalition_values is not None:
                self.segment_coalition_values = _as_float_array(
                    segment_coalition_values, "segment_coalition_values", (2**n, k, t)
                )
        self.envelope: np.ndarray | None = None
        if envelope is not None:
            env = np.array(envelope, dtype=np.float32)
            if env.ndim != 2 or env.shape[0] != 2:
                raise InvalidGameError(f"Explanation: envelope must be (2, frames), got {env.shape}.")
            env.flags.writeable = False
            self.envelope = env
        self.metadata: dict[str, Any] = dict(metadata or {})
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
        segment_coalition_values: Any = None,
        segment_weights: Any = None,
        segment_bounds: Any = None,
        envelope: Any = None,
        metadata: Mapping[str, Any] | None = None,
        audio: Stems | None = None,
    ) -> Explanation:
        """Compute an explanation from coalition values with :mod:`xmtag.shapley`.

        Parameters
        ----------
        coalition_values : array_like
            ``(2**n, n_tags)`` (or ``(2**n,)`` for one tag) indexed by bitmask.
        stems, labels : sequence of str
            Stem and tag names.
        segment_coalition_values : array_like, optional
            ``(2**n, K, n_tags)`` per-segment games; with ``segment_weights`` (K,) summing to 1
            they give ``segment_values`` through :func:`xmtag.shapley.segments`.
        segment_weights, segment_bounds, envelope, metadata, audio
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
        """
        from . import shapley

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
            seg_values = shapley.segments(g, segment_weights)
            if segment_bounds is None:
                raise InvalidGameError("segment_coalition_values need segment_bounds (K, 2) in seconds.")
            segment_coalition_values = g
        values = shapley.exact(v)  # exactly 0 for null players (e.g. a silent stem)
        inter = shapley.interactions(v)
        return cls(
            stems,
            labels,
            values=values,
            base_values=v[0],
            prediction=v[-1],
            coalition_values=v,
            interactions=inter,
            segment_values=seg_values,
            segment_coalition_values=segment_coalition_values,
            segment_weights=segment_weights,
            segment_bounds=segment_bounds,
            envelope=envelope,
            metadata=metadata,
            audio=audio,
        )

    def _check_efficiency(self) -> None:
        gap = np.abs(self.base_values + self.values.sum(axis=0) - self.prediction)
        scale = max(1.0, float(np.abs(self.coalition_values).max()))
        if (gap > _EFFICIENCY_TOL * scale).any():
            worst = int(np.argmax(gap))
            raise InvalidGameError(
                f"Explanation: base_values + values.sum(0) != prediction for tag "
                f"{self.labels[worst]!r} (off by {gap[worst]:.3g}); the values are not Shapley values "
                "of these coalition values. Build explanations with Explanation.from_game()."
            )

    # -- basic views ---------------------------------------------------------------------------
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
    def audio(self) -> Stems | None:
        """The stems' audio when attached (after :func:`explain`), else ``None``."""
        return self._audio

    def __repr__(self) -> str:
        tagger = self.metadata.get("tagger", {})
        name = tagger.get("name") if isinstance(tagger, Mapping) else tagger
        parts = [
            f"{self.n_stems} stem{'s' * (self.n_stems != 1)} x {self.n_tags} tag{'s' * (self.n_tags != 1)}"
        ]
        if name:
            parts.append(f"tagger={name!r}")
        if self.n_segments:
            parts.append(f"segments={self.n_segments}")
        return f"Explanation({', '.join(parts)})"

    def tag_index(self, tag: str | int) -> int:
        """Index of ``tag`` in :attr:`labels` (an int is checked and returned).

        Parameters
        ----------
        tag : str or int
            A label, or an index into :attr:`labels`.

        Returns
        -------
        int

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
        if isinstance(tag, (int, np.integer)) and not isinstance(tag, bool):
            if not -self.n_tags <= int(tag) < self.n_tags:
                raise UnknownTagError(f"Tag index {tag} is out of range for {self.n_tags} tags.")
            return int(tag) % self.n_tags
        try:
            return self.labels.index(str(tag))
        except ValueError:
            raise _unknown_tag(tag, self.labels) from None

    def stem_index(self, stem: str | int) -> int:
        """Index of ``stem`` in :attr:`stems` (an int is checked and returned).

        Parameters
        ----------
        stem : str or int
            A stem name, or an index into :attr:`stems`.

        Returns
        -------
        int

        Raises
        ------
        XmtagError
            For a name that is not a stem.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["drums", "bass"], ["tag"])
        >>> e.stem_index("bass")
        1
        """
        if isinstance(stem, (int, np.integer)) and not isinstance(stem, bool):
            if not -self.n_stems <= int(stem) < self.n_stems:
                raise XmtagError(f"Stem index {stem} is out of range for {self.n_stems} stems.")
            return int(stem) % self.n_stems
        try:
            return self.stems.index(str(stem))
        except ValueError:
            raise XmtagError(f"Unknown stem {stem!r}; the stems are {self.stems}.") from None

    def mask_of(self, stems: Iterable[str | int]) -> int:
        """The bitmask of a set of stems.

        Parameters
        ----------
        stems : iterable of str or int
            Stem names or indices.

        Returns
        -------
        int
            Bit ``i`` is set for stem ``i``.

        Raises
        ------
        XmtagError
            For a name that is not a stem.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"])
        >>> e.mask_of(["b"]), e.mask_of(["a", "b"])
        (2, 3)
        """
        if isinstance(stems, str):
            stems = [stems]
        mask = 0
        for s in stems:
            mask |= 1 << self.stem_index(s)
        return mask

    def stems_of(self, mask: int) -> tuple[str, ...]:
        """The stem names in coalition ``mask``, in stem order.

        Parameters
        ----------
        mask : int
            A coalition bitmask, ``0 <= mask < 2**n_stems``.

        Returns
        -------
        tuple of str

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["drums", "bass"], ["tag"])
        >>> e.stems_of(3), e.stems_of(0)
        (('drums', 'bass'), ())
        """
        return tuple(s for i, s in enumerate(self.stems) if (int(mask) >> i) & 1)

    def top_tags(self, k: int = 5) -> list[str]:
        """The ``k`` tags with the highest full-mix prediction, highest first.

        Parameters
        ----------
        k : int
            How many tags (at most all of them).

        Returns
        -------
        list of str

        Examples
        --------
        >>> e = Explanation.from_game([[0, 0, 0], [0.2, 0.9, 0.5]], ["a"], ["x", "y", "z"])
        >>> e.top_tags(2)
        ['y', 'z']
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise XmtagError(f"top_tags(k): k must be a positive integer, got {k!r}.")
        order = np.argsort(-self.prediction, kind="stable")[: int(k)]
        return [self.labels[i] for i in order]

    def select(self, tags: Iterable[str | int] | None = None, top: int | None = None) -> Explanation:
        """An explanation restricted to some tags (same stems, same audio).

        Parameters
        ----------
        tags : iterable of str, optional
            Tags to keep, in this order. Default: all.
        top : int, optional
            Then keep only the ``top`` of them with the highest full-mix prediction.

        Raises
        ------
        UnknownTagError
            For a tag that is not a label.

        Examples
        --------
        >>> e = Explanation.from_game([[0, 0, 0], [0.2, 0.9, 0.5]], ["a"], ["x", "y", "z"])
        >>> e.select(["z", "x"]).labels, e.select(top=1).labels
        (['z', 'x'], ['y'])
        """
        if isinstance(tags, str):
            tags = [tags]
        idx = list(range(self.n_tags)) if tags is None else [self.tag_index(t) for t in tags]
        if not idx:
            raise XmtagError("select(): no tags given; pass at least one tag name.")
        if len(set(idx)) != len(idx):
            raise XmtagError(f"select(): repeated tags in {list(tags or [])}.")
        if top is not None:
            if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
                raise XmtagError(f"top must be a positive integer, got {top!r}.")
            order = np.argsort(-self.prediction[idx], kind="stable")[: int(top)]
            idx = [idx[i] for i in order]
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
            segment_values=cut(self.segment_values),
            segment_coalition_values=cut(self.segment_coalition_values),
            segment_weights=self.segment_weights,
            segment_bounds=self.segment_bounds,
            envelope=self.envelope,
            metadata=self.metadata,
            audio=self._audio,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Explanation):
            return NotImplemented
        if self.stems != other.stems or self.labels != other.labels:
            return False
        if _json_safe(self.metadata) != _json_safe(other.metadata):
            return False
        for name in _ARRAY_FIELDS:
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
            Columns ``tag, stem, value`` (the Shapley value), ``solo`` (prediction for the stem
            alone), ``without`` (prediction for the full mix without the stem), ``base_value``
            (silence) and ``prediction`` (full mix). With ``segments=True``: ``tag, stem,
            segment, start, end, value`` (in clip units: they sum over segments to the clip
            value) and ``local_value`` (the value within the segment, ``value / weight``).

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
            sv = self.segment_values  # (n, K, T)
            tag_i, stem_i, seg_i = np.meshgrid(np.arange(t), np.arange(n), np.arange(k), indexing="ij")
            w = self.segment_weights[seg_i.ravel()]
            vals = sv[stem_i.ravel(), seg_i.ravel(), tag_i.ravel()]
            return pd.DataFrame(
                {
                    "tag": np.asarray(self.labels, dtype=object)[tag_i.ravel()],
                    "stem": np.asarray(self.stems, dtype=object)[stem_i.ravel()],
                    "segment": seg_i.ravel(),
                    "start": self.segment_bounds[seg_i.ravel(), 0],
                    "end": self.segment_bounds[seg_i.ravel(), 1],
                    "value": vals,
                    "local_value": np.divide(vals, w, out=np.zeros_like(vals), where=w > 0),
                }
            )
        tag_i, stem_i = np.meshgrid(np.arange(t), np.arange(n), indexing="ij")
        tag_i, stem_i = tag_i.ravel(), stem_i.ravel()
        solo_masks = 1 << stem_i
        return pd.DataFrame(
            {
                "tag": np.asarray(self.labels, dtype=object)[tag_i],
                "stem": np.asarray(self.stems, dtype=object)[stem_i],
                "value": self.values[stem_i, tag_i],
                "solo": self.coalition_values[solo_masks, tag_i],
                "without": self.coalition_values[full & ~solo_masks, tag_i],
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
            (tags play the role of shap's samples; index a row by name, ``sv["rock"]``), for
            ``shap.plots.bar`` (mean absolute value over tags).

        Returns
        -------
        shap.Explanation
            ``feature_names`` are the stems; ``data`` is 1 for every stem (all present in the
            full mix).

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
            )
        return shap.Explanation(
            values=np.array(self.values.T),
            base_values=np.array(self.base_values),
            data=np.ones((self.n_tags, self.n_stems)),
            feature_names=list(self.stems),
            instance_names=list(self.labels),
        )

    # -- save / load ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the explanation to one file, atomically (format in the module notes).

        Parameters
        ----------
        path : str or os.PathLike
            Destination (conventionally ``*.xmtag``); its folder must exist.

        Returns
        -------
        pathlib.Path
            The written path.

        Raises
        ------
        OutputError
            If the file cannot be written.

        Examples
        --------
        >>> import tempfile, os
        >>> e = Explanation.from_game([[0.0], [1.0], [2.0], [4.0]], ["a", "b"], ["tag"])
        >>> p = e.save(os.path.join(tempfile.mkdtemp(), "song.xmtag"))
        >>> Explanation.load(p) == e
        True
        """
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS if getattr(self, name) is not None}
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "xmtag_version": __version__,
            "stems": self.stems,
            "labels": self.labels,
            "arrays": sorted(arrays),
            "metadata": _json_safe(self.metadata),
        }
        path = Path(path)
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("header.json", json.dumps(header, indent=1, allow_nan=False))
            for name, arr in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                zf.writestr(f"{name}.npy", buf.getvalue())
        logger.info("Saved explanation to %s", path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], audio: Stems | None = None) -> Explanation:
        """Read an explanation written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file.
        audio : Stems, optional
            The stems' audio to attach (checked against the saved content hash).

        Returns
        -------
        Explanation

        Raises
        ------
        AudioFileNotFoundError
            If the file does not exist.
        ExplanationFileError
            If it is not an xmtag explanation, is damaged, or was written in another format
            version (the message says which xmtag to use).

        Examples
        --------
        >>> import os, tempfile
        >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
        >>> path = e.save(os.path.join(tempfile.mkdtemp(), "a.xmtag"))
        >>> Explanation.load(path).values.ravel().round(2).tolist()
        [0.7, 0.2]
        """
        p = check_input_file(path, "explanation file")
        try:
            with zipfile.ZipFile(p) as zf:
                try:
                    header = json.loads(zf.read("header.json"))
                except KeyError:
                    raise ExplanationFileError(
                        f"{str(p)!r} is a ZIP archive but not an xmtag explanation (no header.json)."
                    ) from None
                if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
                    raise ExplanationFileError(
                        f"{str(p)!r} is not an xmtag explanation (format {header.get('format')!r}, "
                        f"expected {FORMAT_NAME!r})."
                        if isinstance(header, dict)
                        else f"{str(p)!r} has a malformed header."
                    )
                version = header.get("format_version")
                if version != FORMAT_VERSION:
                    by = header.get("xmtag_version", "unknown")
                    if isinstance(version, int) and version > FORMAT_VERSION:
                        fix = f"Upgrade xmtag (this is {__version__}) to read it."
                    else:
                        fix = (
                            f"Read it with the xmtag version that wrote it ({by}), or recompute it "
                            "with xmtag.explain()."
                        )
                    raise ExplanationFileError(
                        f"{str(p)!r} is an explanation file of format version {version!r} (written by "
                        f"xmtag {by}); this xmtag reads version {FORMAT_VERSION}. {fix}"
                    )
                arrays = {}
                for name in header.get("arrays", []):
                    if name not in _ARRAY_FIELDS:
                        raise ExplanationFileError(f"{str(p)!r}: unknown array {name!r} in the header.")
                    with zf.open(f"{name}.npy") as fh:
                        arrays[name] = np.lib.format.read_array(io.BytesIO(fh.read()), allow_pickle=False)
        except zipfile.BadZipFile as exc:
            raise ExplanationFileError(
                f"{str(p)!r} is not an xmtag explanation file (not a ZIP archive: {exc}). Files written "
                "by Explanation.save() or `xmtag explain` are."
            ) from exc
        except (KeyError, ValueError, OSError, EOFError) as exc:
            if isinstance(exc, XmtagError):
                raise
            raise ExplanationFileError(
                f"{str(p)!r} is damaged or truncated ({exc}). Recompute it with xmtag.explain()."
            ) from exc
        try:
            expl = cls(header["stems"], header["labels"], metadata=header.get("metadata"), **arrays)
        except (TypeError, KeyError) as exc:
            raise ExplanationFileError(f"{str(p)!r}: missing field {exc} in the explanation file.") from exc
        except InvalidGameError as exc:
            raise ExplanationFileError(f"{str(p)!r} holds inconsistent values: {exc}") from exc
        if audio is not None:
            expl.attach_audio(audio)
        return expl

    # -- audio: listenable explanations --------------------------------------------------------
    def attach_audio(self, audio: Stems, check: bool = True) -> Explanation:
        """Attach the stems' audio (for :meth:`listen`, :meth:`solo`, reports); returns ``self``.

        Parameters
        ----------
        audio : Stems
            The stems, with the same names in the same order.
        check : bool
            Compare the audio's content hash with the one recorded at explanation time.

        Returns
        -------
        Explanation
            ``self``.

        Raises
        ------
        XmtagError
            If the stem names differ, or (with ``check``) the audio is not the audio this
            explanation was computed from (content hash in ``metadata["audio"]["sha256"]``).

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
        want = (self.metadata.get("audio") or {}).get("sha256") if check else None
        if want and _stems_digest(audio) != want:
            raise XmtagError(
                "This audio is not the audio the explanation was computed from (content hash differs)."
            )
        self._audio = audio
        return self

    def _require_audio(self, what: str) -> Stems:
        if self._audio is not None:
            return self._audio
        source = self.metadata.get("source") or {}
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

        A coalition ``S`` keeps the tag when ``v(S) - v(∅) >= share * (v(N) - v(∅))``: it keeps at
        least ``share`` of what the full mix adds to the tag over silence (for a tagger that
        outputs 0 on silence, ``share`` of the full-mix prediction). Among the non-empty
        coalitions of the smallest size that keep the tag, the one with the highest prediction
        wins. Read from :attr:`coalition_values`.

        Parameters
        ----------
        tag : str or int
            The tag.
        share : float
            In ``(0, 1]``; default :data:`DEFAULT_SHARE`.

        Returns
        -------
        Listenable
            With ``path=None``.

        Raises
        ------
        UnknownTagError
            For an unknown tag.
        XmtagError
            For a share outside ``(0, 1]``, or a tag the full mix does not raise above silence.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"])
        >>> e.smallest_coalition("rock", share=0.8).stems
        ('guitar',)
        """
        j = self.tag_index(tag)
        share = float(share)
        if not 0.0 < share <= 1.0:
            raise XmtagError(f"share must be in (0, 1], got {share!r}.")
        v = self.coalition_values[:, j]
        base, full = float(v[0]), float(v[-1])
        gain = full - base
        if not gain > 0:
            raise XmtagError(
                f"The full mix does not raise {self.labels[j]!r} above silence ({full:.4g} <= {base:.4g}); "
                "no coalition of stems carries it."
            )
        masks = np.arange(1, v.shape[0])
        sizes = np.array([bin(int(m)).count("1") for m in masks])
        ok = v[masks] - base >= share * gain - 1e-12 * max(1.0, abs(full))
        size = int(sizes[ok].min())
        cand = masks[ok & (sizes == size)]
        best = int(cand[np.argmax(v[cand])])  # argmax: first (lowest mask) on ties
        return Listenable(
            tag=self.labels[j],
            stems=self.stems_of(best),
            mask=best,
            value=float(v[best]),
            prediction=full,
            base_value=base,
            share=share,
        )

    def listen(
        self, tag: str | int, path: str | os.PathLike[str], share: float = DEFAULT_SHARE
    ) -> Listenable:
        """Write the mix of the smallest stem coalition that keeps the tag (a listenable explanation).

        See :meth:`smallest_coalition` for the rule. The audio is the sum of the chosen stems at
        the stems' sample rate; the format follows the extension (:func:`xmtag.save_audio`).

        Parameters
        ----------
        tag : str or int
            The tag.
        path : str or os.PathLike
            The audio file to write (``.wav``, ``.flac``, ``.ogg``, ...); its folder must exist.
        share : float
            In ``(0, 1]``: the share of the tag's gain over silence to keep.

        Returns
        -------
        Listenable
            The coalition, with ``path`` set.

        Raises
        ------
        XmtagError
            As :meth:`smallest_coalition`, or when no audio is attached.
        OutputError
            If the file cannot be written.

        Examples
        --------
        >>> import numpy as np
        >>> from xmtag import Stems
        >>> s = Stems({"drums": np.full(800, 0.1), "guitar": np.full(800, 0.2)}, sr=8000)
        >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"], audio=s)
        >>> import os, tempfile
        >>> pick = e.listen("rock", os.path.join(tempfile.mkdtemp(), "rock.wav"), share=0.8)
        >>> pick.stems, pick.path.suffix
        (('guitar',), '.wav')
        """
        from .audio import save_audio

        pick = self.smallest_coalition(tag, share)
        audio = self._require_audio("listen()")
        y = np.zeros((audio.n_channels, audio.n_samples), dtype=np.float32)
        for s in pick.stems:
            y += audio[s]
        written = save_audio(path, y, audio.sr)
        logger.info("listen(%r): %s -> %s", pick.tag, "+".join(pick.stems), written)
        return dataclasses.replace(pick, path=written)

    def solo(self, stem: str | int, path: str | os.PathLike[str]) -> Path:
        """Write one stem's audio to ``path`` (format from the extension) and return the path.

        Parameters
        ----------
        stem : str or int
            The stem.
        path : str or os.PathLike
            The audio file to write; its folder must exist.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        XmtagError
            For an unknown stem or when no audio is attached.

        Examples
        --------
        >>> import numpy as np
        >>> from xmtag import Stems
        >>> s = Stems({"drums": np.full(800, 0.1), "guitar": np.full(800, 0.2)}, sr=8000)
        >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"], audio=s)
        >>> import os, tempfile
        >>> e.solo("drums", os.path.join(tempfile.mkdtemp(), "drums.flac")).name
        'drums.flac'
        """
        from .audio import save_audio

        i = self.stem_index(stem)
        audio = self._require_audio("solo()")
        return save_audio(path, audio[self.stems[i]], audio.sr)

    def mix(self, stems: Iterable[str | int] | None = None) -> tuple[np.ndarray, int]:
        """The audio of a coalition (default: the full mix of the stems) and its sample rate.

        Parameters
        ----------
        stems : iterable of str or int, optional
            The coalition. Default: every stem.

        Returns
        -------
        y : numpy.ndarray
            float32 ``(channels, samples)``, the sum of the chosen stems (silence for none).
        sr : int

        Raises
        ------
        XmtagError
            For an unknown stem or when no audio is attached.

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


# -- explain() ---------------------------------------------------------------------------------
def _resolve_tagger(tagger: Any, device: Any = "auto") -> Any:
    from .taggers import load_tagger
    from .taggers.base import check_tagger

    if isinstance(tagger, (str, os.PathLike)):
        return load_tagger(tagger, **({} if device in (None, "auto") else {"device": device}))
    return check_tagger(tagger)


def _resolve_source(
    source: Any, separator: Any, progress: bool, cache: bool
) -> tuple[Stems, dict[str, Any], dict[str, Any] | None]:
    from .separation import Separator, Stems

    if isinstance(source, Stems):
        if separator is not None:
            logger.warning("separator=%r is ignored: the source is already separated stems.", separator)
        return source, {"kind": "stems"}, None
    if isinstance(source, Mapping):
        raise AudioError(
            "explain() got a plain mapping of arrays; wrap it as xmtag.Stems(mapping, sr=...) so that "
            "the sample rate travels with it."
        )
    if not isinstance(source, (str, os.PathLike)):
        raise XmtagError(
            f"explain(): source must be an audio file path, a folder of stems or an xmtag.Stems; "
            f"got {type(source).__name__}."
        )
    p = Path(source)
    if not p.exists():
        raise AudioFileNotFoundError(
            f"Source {str(p)!r} does not exist. Give an audio file, a folder of stems or an xmtag.Stems."
        )
    if p.is_dir():
        if separator is not None:
            logger.warning("separator=%r is ignored: %s is a folder of stems.", separator, p)
        return Stems.from_folder(p), {"kind": "folder", "path": str(p.resolve())}, None
    if separator is None:
        sep = Separator(progress=progress, cache=cache)
    elif isinstance(separator, str):
        sep = Separator(separator, progress=progress, cache=cache)
    elif isinstance(separator, Separator) or hasattr(separator, "separate"):
        sep = separator
    else:
        raise XmtagError(
            "separator must be None, a Demucs model name or an xmtag.Separator, got "
            f"{type(separator).__name__}."
        )
    logger.info("Separating %s with %r", p, sep)
    stems = sep.separate(p)
    info = {"name": getattr(sep, "model_name", type(sep).__name__), "repr": repr(sep)}
    return stems, {"kind": "file", "path": str(p.resolve())}, info


def _evaluate(stems: Stems, tagger: Any, segments: int | None, progress: bool, cache: bool, by_name: bool):
    """Coalition values, from the cache when the same audio, tagger and segments were seen.

    Only taggers loaded by name are cached: xmtag cannot tell two versions of a user's model
    object apart, and a stale entry would be a silently wrong number.
    """
    from .cache import default_cache, make_key
    from .coalitions import CoalitionValues, evaluate
    from .taggers.base import tagger_name

    name = getattr(tagger, "name", None)
    store = default_cache(enabled=bool(cache) and by_name)
    key = make_key(
        "coalitions",
        _CACHE_VERSION,
        __version__,
        _stems_digest(stems),
        name,
        int(tagger.sample_rate),
        getattr(tagger, "patch_length", None),
        list(tagger.labels),
        segments,
    )
    hit = store.get(CACHE_NAMESPACE, key)
    if hit is not None:
        arrays, meta = hit
        logger.info("Coalition values of %s found in the cache.", tagger_name(tagger))
        return CoalitionValues(
            names=list(meta["names"]),
            labels=list(meta["labels"]),
            values=arrays["values"],
            segment_values=arrays.get("segment_values"),
            segment_weights=arrays.get("segment_weights"),
            segment_bounds=arrays.get("segment_bounds"),
            n_tagger_rows=int(meta["n_tagger_rows"]),
            sample_rate=int(meta["sample_rate"]),
            duration=float(meta["duration"]),
        ), True
    cv = evaluate(stems, tagger, segments=segments, progress=progress)
    arrays = {"values": np.asarray(cv.values, dtype=np.float64)}
    for name in ("segment_values", "segment_weights", "segment_bounds"):
        if getattr(cv, name) is not None:
            arrays[name] = np.asarray(getattr(cv, name), dtype=np.float64)
    meta = {
        "names": list(cv.names),
        "labels": list(cv.labels),
        "n_tagger_rows": int(cv.n_tagger_rows),
        "sample_rate": int(cv.sample_rate),
        "duration": float(cv.duration),
    }
    store.put(CACHE_NAMESPACE, key, arrays, meta)
    return cv, False


def explain(
    source: str | os.PathLike[str] | Stems,
    tagger: Any = "musicnn-msd",
    separator: str | Separator | None = None,
    segments: int | None = None,
    tags: Iterable[str] | None = None,
    top: int | None = None,
    cache: bool = True,
    *,
    device: Any = "auto",
    progress: bool = True,
) -> Explanation:
    """Explain a tagger's prediction for a song by its stems, with exact Shapley values.

    Every subset of stems is mixed and scored by the tagger once (``2**n`` mixes, batched;
    :func:`xmtag.coalitions.evaluate`), and the scores become Shapley values, pairwise
    interactions and, with ``segments``, time-resolved values (:mod:`xmtag.shapley`).

    Parameters
    ----------
    source : str, os.PathLike or Stems
        An audio file (separated with Demucs through :class:`xmtag.Separator`), a folder of
        stems (``drums.wav``, ``bass.wav``, ...; :meth:`xmtag.Stems.from_folder`), or a
        :class:`xmtag.Stems`.
    tagger : str or tagger
        A name for :func:`xmtag.load_tagger` (``"musicnn-msd"``, ``"musicnn-mtt"``, ...) or any
        object following the tagger protocol.
    separator : str or Separator, optional
        For an audio file: a Demucs model name or a configured :class:`xmtag.Separator`
        (default ``Separator()``, htdemucs).
    segments : int, optional
        Also compute time-resolved values over this many contiguous groups of the tagger's
        patches (needs a patch-decomposable tagger; at most the number of patches). No extra
        tagger passes.
    tags : iterable of str, optional
        Keep only these tags (in this order). Every tag is computed either way: the coalition
        passes are shared.
    top : int, optional
        Keep only the ``top`` tags (of ``tags``, if given) with the highest full-mix prediction.
    cache : bool
        Reuse and store coalition values (and Demucs stems) in the xmtag cache, keyed by the
        audio content, the tagger and ``segments``. Only taggers given by name are cached (a
        tagger object of your own is always evaluated).
    device : str or torch.device
        Where a tagger given by name runs: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``,
        ``"cuda"``, ...
    progress : bool
        Show progress bars for separation and coalition passes.

    Returns
    -------
    Explanation
        With the audio attached.

    Raises
    ------
    AudioFileNotFoundError
        If ``source`` does not exist.
    AudioError
        For a folder without audio, unreadable audio, ...
    ModelNotFoundError
        For an unknown tagger or separator model that cannot be loaded offline.
    UnknownTagError
        For a name in ``tags`` that is not one of the tagger's labels.
    XmtagError
        For ``segments`` larger than the number of patches, a tagger that cannot be segmented,
        and other invalid arguments.

    Examples
    --------
    >>> expl = xmtag.explain("song/", "musicnn-msd", segments=8)  # doctest: +SKIP
    >>> expl.top_tags(3)  # doctest: +SKIP
    ['rock', 'pop', 'alternative']
    """
    if segments is not None and (
        isinstance(segments, bool) or not isinstance(segments, (int, np.integer)) or segments < 1
    ):
        raise XmtagError(f"segments must be a positive integer or None, got {segments!r}.")
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1):
        raise XmtagError(f"top must be a positive integer or None, got {top!r}.")
    tags = [tags] if isinstance(tags, str) else (None if tags is None else list(tags))
    t_start = time.perf_counter()
    by_name = isinstance(tagger, (str, os.PathLike))
    tagger = _resolve_tagger(tagger, device)
    if tags is not None:  # fail before the expensive part
        missing = [t for t in tags if t not in tagger.labels]
        if missing:
            raise _unknown_tag(missing[0], list(tagger.labels))
    stems, source_info, separator_info = _resolve_source(source, separator, progress, cache)
    t_sep = time.perf_counter()
    if len(stems) > 12:
        logger.warning("%d stems: %d coalition mixes will be scored.", len(stems), 2 ** len(stems))
    cv, cached = _evaluate(stems, tagger, segments, progress, cache, by_name)
    t_eval = time.perf_counter()
    from .taggers.base import tagger_name

    metadata = {
        "xmtag_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tagger": {
            "name": tagger_name(tagger),
            "sample_rate": int(tagger.sample_rate),
            "patch_length": getattr(tagger, "patch_length", None),
            "n_labels": len(tagger.labels),
        },
        "separator": separator_info,
        "source": source_info,
        "audio": {
            "sample_rate": stems.sr,
            "n_channels": stems.n_channels,
            "n_samples": stems.n_samples,
            "duration": stems.duration,
            "sha256": _stems_digest(stems),
        },
        "residual_db": stems.residual_db,
        "segments": None if segments is None else int(segments),
        "n_coalitions": 2 ** len(stems),
        "n_tagger_rows": int(cv.n_tagger_rows),
        "from_cache": cached,
        "seconds": {"source": round(t_sep - t_start, 3), "coalitions": round(t_eval - t_sep, 3)},
        "envelope_rate": ENVELOPE_RATE,
    }
    if list(cv.names) != list(stems.names):
        raise XmtagError(f"Internal error: coalition stems {cv.names} != {stems.names}.")
    expl = Explanation.from_game(
        cv.values,
        stems.names,
        list(cv.labels),
        segment_coalition_values=cv.segment_values if segments else None,
        segment_weights=cv.segment_weights if segments else None,
        segment_bounds=cv.segment_bounds if segments else None,
        envelope=_envelope(stems),
        metadata=metadata,
        audio=stems,
    )
    if tags is not None or top is not None:
        expl = expl.select(tags, top)
    logger.info("%r in %.1f s", expl, time.perf_counter() - t_start)
    return expl


# -- the bundled demo song -----------------------------------------------------------------------
