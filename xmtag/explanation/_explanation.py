"""The :class:`Explanation`: one object that every method returns and every plot, table and export reads.

:func:`xmtag.explain` (in :mod:`xmtag.pipeline`) makes one from a song; every attribution method
(exact Shapley values, Banzhaf values, permutation sampling, KernelSHAP, LIME, leave-one-out)
returns the same type, so the same plots (:mod:`xmtag.plots`), tables, files
(:mod:`xmtag.explanation._format`), reports and metrics work on all of them. Sampled methods carry
standard errors in :attr:`Explanation.stderr`; an explanation made without the value of every
coalition has ``coalition_values = None``, and the features that need them (interactions, the
smallest coalition that keeps a tag, the report's mixing desk) say so with
:class:`~xmtag.errors.CoalitionsUnavailableError`.

Related modules: :mod:`xmtag.explanation._format` (``save``/``load``),
:mod:`xmtag.explanation._listening` (audio of
coalitions), :mod:`xmtag.explanation._provenance` (where it came from), :mod:`xmtag.export` (everything
``xmtag explain`` writes).

"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _checks
from ..attribution import EFFICIENT_METHODS, EXPLANATION_METHODS
from ..errors import (
    CoalitionsUnavailableError,
    ExplanationFileError,
    InvalidGameError,
    UnknownTagError,
    XmtagError,
)
from ._fields import ARRAY_FIELDS, _as_float_array, _names, _optional, register_class
from ._format import FORMAT_NAME, FORMAT_VERSION
from ._listening import DEFAULT_SHARE, Listenable
from ._provenance import Provenance

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import shap

    from ..separation import Stems

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

#: Attribution methods an explanation can hold (:mod:`xmtag.attribution`'s registry).
METHODS = EXPLANATION_METHODS
_EFFICIENCY_TOL = 1e-6


@register_class
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
        Shapley values (see :func:`xmtag.attribution.shapley.interactions`).
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
        Where the explanation came from (:class:`xmtag.explanation._provenance.Provenance`).
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
        cls, coalition_values: Any, stems: Sequence[str], labels: Sequence[str], **kwargs: Any
    ) -> Explanation:
        """Exact Shapley (or Banzhaf) values from every coalition (:func:`xmtag.explanation.from_game`).

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 1.0, 2.0, 4.0], ["a", "b"], ["tag"])
        >>> e.values.ravel().tolist(), e.interactions[0, 1].tolist()
        ([1.5, 2.5], [1.0])
        """
        from ._game import from_game

        return from_game(coalition_values, stems, labels, **kwargs)

    @classmethod
    def from_scores(cls, table: Any, **kwargs: Any) -> Explanation:
        """An explanation from a table of scores, one row per coalition.

        See :func:`xmtag.explanation._scores.from_scores` for the table's layout and the keywords.
        """
        from ._scores import from_scores

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
    def segment_method(self) -> str:
        """Which (stem, segment) game the time-resolved values are values of ("" without segments).

        ``"exact (receptive-field players)"``: player ``(i, k)`` is stem ``i`` as heard by the
        patches of segment ``k`` (a patch's whole input window, the context before it included,
        belongs to its segment); ``"exact (sample players)"``: stem ``i``'s samples in segment
        ``k``; ``"<method> estimate (sample players)"`` for sampled values. Read from the
        provenance (:func:`xmtag.explain` records it); an explanation built from per-segment games
        without that record (:meth:`from_game`) holds the receptive-field game's values.

        Examples
        --------
        >>> from xmtag import Explanation
        >>> Explanation(["a"], ["t"], [[1.0]], [0.0], [1.0]).segment_method
        ''
        """
        if self.segment_values is None:
            return ""
        recorded = self.provenance.extra.get("segment_method")
        if recorded:
            return str(recorded)
        if self.segment_coalition_values is not None and self.method in ("exact", "banzhaf"):
            return "exact (receptive-field players)"
        return ""

    @property
    def interval(self) -> dict[str, Any] | None:
        """What ``values ± multiplier * stderr`` is, or ``None`` without standard errors.

        ``{"kind", "dof", "level", "multiplier", "label"}``: ``kind`` ``"t"`` is a Student-t
        95 % interval over enough independent samples; ``"approx."`` is labelled so in plots,
        tables and reports (too few samples, KernelSHAP, or standard errors of unknown origin,
        read as ± 1.96; see :mod:`xmtag.attribution`).

        Examples
        --------
        >>> from xmtag import Explanation
        >>> e = Explanation(["a"], ["t"], [[1.0]], [0.0], [1.0], stderr=[[0.1]], method="permutation")
        >>> e.interval["kind"], round(e.interval["multiplier"], 2)
        ('approx.', 1.96)
        """
        if self.stderr is None and self.segment_stderr is None:
            return None
        info = self.provenance.extra.get("interval")
        if isinstance(info, Mapping) and {"kind", "multiplier", "label"} <= set(info):
            return dict(info)
        from ..attribution.estimators import interval_info

        return interval_info("normal", None)

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
        from ..report import repr_html

        return repr_html(self)

    def show(self, path: str | os.PathLike[str] | None = None, *, open: bool = True, **kwargs: Any) -> Path:
        """Write the interactive report page and open it in the browser (:func:`xmtag.report.show`;
        ``kwargs`` go to :func:`xmtag.report.write_html`, e.g. ``tags=``)."""
        from ..report import show

        return show(self, path, open=open, **kwargs)

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

        See :func:`xmtag.explanation._tables.to_frame`.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
        >>> e.to_frame()[["tag", "stem", "value"]].round(2).values.tolist()
        [['rock', 'drums', 0.7], ['rock', 'bass', 0.2]]
        """
        from ._tables import to_frame

        return to_frame(self, segments)

    def to_shap(self, tag: str | int | None = None) -> shap.Explanation:
        """The attributions as a :class:`shap.Explanation`, for shap's plots.

        See :func:`xmtag.explanation._tables.to_shap`.
        """
        from ._tables import to_shap

        return to_shap(self, tag)

    # -- save / load (xmtag.explanation._format) --------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the explanation to one file, atomically (:func:`xmtag.explanation._format.save`).

        Examples
        --------
        >>> import tempfile, os
        >>> e = Explanation.from_game([[0.0], [1.0], [2.0], [4.0]], ["a", "b"], ["tag"])
        >>> p = e.save(os.path.join(tempfile.mkdtemp(), "song.xmtag"))
        >>> Explanation.load(p) == e
        True
        """
        from ._format import save

        return save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], audio: Stems | None = None) -> Explanation:
        """Read an explanation written by :meth:`save` (:func:`xmtag.explanation._format.load`).

        Raises
        ------
        AudioFileNotFoundError
            If the file does not exist.
        ExplanationFileError
            If it is not an xmtag explanation, is damaged, truncated or tampered with, or was
            written in a newer format version.
        """
        from ._format import load

        return load(path, audio=audio, cls=cls)

    # -- audio (xmtag.explanation._listening) ---------------------------------------------------------------
    def attach_audio(self, audio: Stems, check: bool = True) -> Explanation:
        """Attach the stems' audio (:func:`xmtag.explanation._listening.attach_audio`); returns ``self``."""
        from ._listening import attach_audio

        return attach_audio(self, audio, check)

    def _require_audio(self, what: str) -> Stems:
        from ._listening import require_audio

        return require_audio(self, what)

    def smallest_coalition(self, tag: str | int, share: float = DEFAULT_SHARE) -> Listenable:
        """The smallest set of stems whose mix keeps ``share`` of the tag (no tagger pass).

        See :func:`xmtag.explanation._listening.smallest_coalition` for the rule.

        Examples
        --------
        >>> e = Explanation.from_game([0.0, 0.1, 0.9, 1.0], ["drums", "guitar"], ["rock"])
        >>> e.smallest_coalition("rock", share=0.8).stems
        ('guitar',)
        """
        from ._listening import smallest_coalition

        return smallest_coalition(self, tag, share)

    def listen(
        self, tag: str | int, path: str | os.PathLike[str], share: float = DEFAULT_SHARE
    ) -> Listenable:
        """Write the smallest coalition's mix that keeps the tag.

        See :func:`~xmtag.explanation._listening.listen`.
        """
        from ._listening import listen

        return listen(self, tag, path, share)

    def solo(self, stem: str | int, path: str | os.PathLike[str]) -> Path:
        """Write one stem's audio to ``path`` (format from the extension) and return the path."""
        from ..audio import save_blocks

        i = self.stem_index(stem)
        audio = self._require_audio("solo()")
        return save_blocks(path, audio.mix_blocks([self.stems[i]]), audio.sr, audio.n_channels)

    def mix(self, stems: Iterable[str | int] | None = None) -> tuple[np.ndarray, int]:
        """A coalition's audio (default: the full mix) and its rate.

        See :func:`xmtag.explanation._listening.mix`.
        """
        from ._listening import mix

        return mix(self, stems)
