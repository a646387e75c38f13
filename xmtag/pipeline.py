"""From audio to an :class:`~xmtag.Explanation` in one call: :func:`explain`.

The pipeline resolves the source (a Demucs/Spleeter separation of a mix, a folder of stems, or
:class:`~xmtag.Stems`) and the tagger (a name for :func:`xmtag.load_tagger` or any object that
follows the tagger protocol), builds the players (stems; stems × frequency bands with
``bands=``), and attributes the tagger's outputs to them with the chosen method
(:mod:`xmtag.attribution`).

Which path a call takes
-----------------------
* **Exact and cheap** — ``method="exact"`` (or ``"banzhaf"``), and ``"auto"`` with at most
  :data:`~xmtag.attribution.AUTO_EXACT_MAX_PLAYERS` players: every coalition of the players is
  mixed and scored once (:func:`xmtag.coalitions.evaluate`). With ``segments=K`` and a
  patch-decomposable tagger (its clip output is the mean of per-patch outputs, like musicnn),
  the stem × segment values come from the same ``2**n`` passes: they are the exact values of
  the receptive-field (stem, segment) game (a patch's whole input window, its context
  included, belongs to its segment), which splits into independent per-segment games;
  ``segment_players="samples"`` solves the sample-player game instead, at up to ``2**(2n)``
  extra windows per segment boundary (see the *Concepts* page). These coalition values are cached.
* **Sampled** — ``permutation``, ``kernel`` and ``lime`` (and ``"auto"`` above the threshold)
  evaluate at most ``budget`` coalitions; ``loo`` evaluates ``n + 2``. With ``segments`` and a
  tagger that is not patch-decomposable, the players are the (stem, segment) pairs and each
  stem's ``values`` are the sum of its segments' values (with standard errors of that sum).

Long recordings
---------------
A DJ set or a concert does not fit in memory as stems (an hour of stereo 44.1-kHz float32 is
1.27 GB per stem). With ``stream=True`` (and by default for an audio file longer than
:data:`STREAM_SECONDS`) the file is separated block by block into float32 WAV stems in a
temporary folder (:func:`xmtag.separation.separate_blocks`), the coalitions are scored block by
block of patches (:func:`xmtag.coalitions.evaluate_blocks`), and the explanation's audio is a
:class:`~xmtag.separation.DiskStems` that the envelope, the listenable files and the report read
by block. Memory then holds one block, whatever the length; the values are those of the
whole-recording computation (same stems, same patches; see ``benchmarks/README.md``). This path
needs an exact method over stems, the silence baseline, a patch-wise tagger that declares its
``patch_context`` (musicnn), and no ``bands``; otherwise a long recording is explained in memory,
with a warning.

The explanation records the method actually used, the tagger rows spent (``expl.budget``) and
the rest of its provenance (:class:`~xmtag.explanation._provenance.Provenance`).

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

import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _checks, limits
from ._version import __version__
from .attribution import ENUMERATED_METHODS, EXACT_MAX_PLAYERS, METHODS
from .errors import AudioError, AudioFileNotFoundError, InvalidGameError, TaggerError, XmtagError
from .explanation import ENVELOPE_RATE, Explanation, Provenance, stems_digest, versions, waveform_envelope
from .taggers import TaggerSpec, tagger_spec

if TYPE_CHECKING:  # pragma: no cover
    from .separation import Separator, Stems

__all__ = ["explain", "BASELINES", "CACHE_NAMESPACE", "STREAM_SECONDS"]

logger = logging.getLogger(__name__)

#: What an absent stem becomes in a coalition's mix.
BASELINES = ("silence", "noise")
#: With ``stream=None``, recordings longer than this (seconds) are explained block by block, their
#: stems on disk (:func:`explain`, module notes).
STREAM_SECONDS = 360.0
#: Cache namespace of coalition values (tagger outputs per stem subset).
CACHE_NAMESPACE = "coalitions"
_CACHE_VERSION = 2


def _resolve_tagger(tagger: Any, device: Any) -> tuple[Any, TaggerSpec]:
    """The tagger (loaded when given by name) and its spec, validated here once for the whole call."""
    from .taggers import load_tagger

    if isinstance(tagger, (str, os.PathLike)):
        tagger = load_tagger(tagger) if device in (None, "auto") else load_tagger(tagger, device=device)
    return tagger, tagger_spec(tagger)


def _resolve_source(
    source: Any, separator: Any, progress: bool, cache: bool, streamed: bool = False
) -> tuple[Stems, dict[str, Any], dict[str, Any] | None]:
    from .separation import Stems

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
    sep = _separator(separator, progress, cache)
    info = {"name": getattr(sep, "model_name", type(sep).__name__), "repr": repr(sep)}
    if streamed:
        from .separation import separate_blocks

        logger.info("Separating %s block by block with %r (stems on disk)", p, sep)
        info["blocks"] = True
        return separate_blocks(sep, p, progress=progress), {"kind": "file", "path": str(p.resolve())}, info
    logger.info("Separating %s with %r", p, sep)
    stems = sep.separate(p)
    return stems, {"kind": "file", "path": str(p.resolve())}, info


def _separator(separator: Any, progress: bool, cache: bool) -> Any:
    from .separation import Separator

    if separator is None:
        return Separator(progress=progress, cache=cache)
    if isinstance(separator, str):
        return Separator(separator, progress=progress, cache=cache)
    if isinstance(separator, Separator) or hasattr(separator, "separate"):
        return separator
    raise XmtagError(
        "separator must be None, a separator model name or an xmtag.Separator, got "
        f"{type(separator).__name__}."
    )


def _units(stems: Stems, bands: Any, enumerated: bool = False) -> tuple[Stems, list[float] | None]:
    """The players' audio: the stems, or each stem split into frequency bands that sum to it
    (:func:`xmtag.separation.decompose.bands`; ``bands`` is a count of mel-spaced bands or inner edges
    in Hz)."""
    if bands is None:
        return stems, None
    from .separation import Stems as _Stems
    from .separation.decompose import bands as split
    from .separation.decompose import mel_edges

    if _checks._is_int(bands) and bands > limits.MAX_BANDS:  # before mel_edges builds the edges
        edges = [0.0] * (int(bands) - 1)
    else:
        try:
            edges = mel_edges(bands, stems.sr) if _checks._is_int(bands) else [float(x) for x in bands]
        except (TypeError, ValueError):
            raise XmtagError(
                f"bands must be a count of bands or a list of edges in Hz, got {bands!r}."
            ) from None
    n_bands = len(edges) + 1
    if n_bands > limits.MAX_BANDS:
        raise XmtagError(
            f"bands={n_bands if _checks._is_int(bands) else f'<{len(edges)} edges>'} splits every stem into "
            f"{n_bands:,} bands, more than {limits.MAX_BANDS}; pass fewer bands. "
            + limits.how_to_raise("MAX_BANDS")
        )
    players = len(stems) * n_bands
    if enumerated and players > EXACT_MAX_PLAYERS:  # before any stem is split
        raise InvalidGameError(
            f"{players} players ({len(stems)} stems x {n_bands} bands) is too many to enumerate "
            f"(2**{players} coalitions); use fewer bands, or method='permutation' or 'auto'."
        )
    out: dict[str, np.ndarray] = {}
    for name in stems.names:
        parts = split(stems[name], stems.sr, edges)
        for key in parts.names:
            out[f"{name}[{key}]" if len(stems) > 1 else key] = parts[key]
    return _Stems(out, sr=stems.sr), [round(float(e), 3) for e in edges]


def _cache_key(
    units: Stems,
    tagger: Any,
    spec: TaggerSpec,
    segments: int | None,
    baseline: str,
    segment_players: str = "receptive",
) -> str:
    from .cache import make_key

    return make_key(
        CACHE_NAMESPACE,
        _CACHE_VERSION,
        __version__,
        stems_digest(units),
        getattr(tagger, "name", None),
        spec.sr,
        spec.patch_length,
        list(spec.labels),
        segments,
        baseline,
        segment_players if segments else None,  # which (stem, segment) game was solved
    )


def _from_cache(hit: Any, baseline: str) -> Any:
    """Coalition values from a cache entry (``KeyError`` and friends for an entry lacking a field)."""
    from .coalitions import CoalitionValues

    arrays, meta = hit
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
        n_naive_rows=meta.get("n_naive_rows"),
        row_unit=meta.get("row_unit", "clip"),
        baseline=meta.get("baseline", baseline),
        reuse=meta.get("reuse", "off"),
        segment_shapley=arrays["segment_shapley"] if "segment_values" in arrays else None,
        segment_banzhaf=arrays["segment_banzhaf"] if "segment_values" in arrays else None,
        segment_method=meta["segment_method"] if "segment_values" in arrays else "",
    )


def _evaluate(
    units: Stems,
    tagger: Any,
    spec: TaggerSpec,
    segments: int | None,
    baseline: str,
    progress: bool,
    cache: bool,
    by_name: bool,
    segment_players: str = "receptive",
    streamed: bool = False,
):
    """Coalition values, from the cache when the same audio, tagger, segments, (stem, segment) game
    and baseline were seen (block by block with ``streamed``: the same values).

    Only taggers loaded by name are cached: xmtag cannot tell two versions of a user's model
    object apart, and a stale entry would be a silently wrong number.
    """
    from .cache import default_cache
    from .coalitions import evaluate

    store = default_cache(enabled=bool(cache) and by_name)
    key = _cache_key(units, tagger, spec, segments, baseline, segment_players)
    hit = store.get(CACHE_NAMESPACE, key)
    if hit is not None:
        try:
            cv = _from_cache(hit, baseline)
        except (KeyError, TypeError, ValueError) as exc:  # an entry without a field this xmtag reads
            logger.warning("Ignoring a cache entry of coalition values without %s; recomputing.", exc)
        else:
            logger.info("Coalition values found in the cache.")
            return cv, True
    if streamed:
        from .coalitions import evaluate_blocks

        cv = evaluate_blocks(units, tagger, segments=segments, spec=spec, progress=progress)
    else:
        cv = evaluate(
            units,
            tagger,
            segments=segments,
            progress=progress,
            baseline=baseline,
            spec=spec,
            segment_players=segment_players,
        )
    arrays = {"values": np.asarray(cv.values, dtype=np.float64)}
    for name in ("segment_values", "segment_weights", "segment_bounds", "segment_shapley", "segment_banzhaf"):
        if getattr(cv, name) is not None:
            arrays[name] = np.asarray(getattr(cv, name), dtype=np.float64)
    meta = {
        "names": list(cv.names),
        "labels": list(cv.labels),
        "n_tagger_rows": int(cv.n_tagger_rows),
        "sample_rate": int(cv.sample_rate),
        "duration": float(cv.duration),
        "n_naive_rows": None if cv.n_naive_rows is None else int(cv.n_naive_rows),
        "row_unit": cv.row_unit,
        "baseline": cv.baseline,
        "reuse": cv.reuse,
        "segment_method": cv.segment_method,
    }
    store.put(CACHE_NAMESPACE, key, arrays, meta)
    return cv, False


def _interval_info(a: Any) -> dict[str, Any] | None:
    """What ``value ± multiplier * stderr`` is for an attribution (``None`` without intervals)."""
    from .attribution.estimators import interval_info

    if a.stderr is None or not a.interval:
        return None
    return interval_info("kernel" if a.method == "kernel" else a.interval, a.dof)


def _sampled(
    units: Stems,
    tagger: Any,
    spec: TaggerSpec,
    segments: int | None,
    method: str,
    budget: int | None,
    seed: int,
    baseline: str,
    progress: bool,
) -> dict[str, Any]:
    """Explanation fields from a sampled (or non-decomposable exact) attribution."""
    from .attribution import attribute
    from .coalitions import value_function

    fn, players, bounds = value_function(units, tagger, segments=segments, baseline=baseline, spec=spec)
    n, k = len(units), bounds.shape[0]
    groups = None
    if segments is not None:
        groups = np.kron(np.eye(n), np.ones((1, k)))  # player i * K + s belongs to stem i
    a = attribute(fn, len(players), method=method, budget=budget, seed=seed, progress=progress, groups=groups)
    fields: dict[str, Any] = {
        "method": a.method,
        "budget": int(fn.n_rows),
        "interval_info": _interval_info(a),
        "base_values": a.base_value,
        "prediction": a.prediction,
        "rows_info": {
            "unit": "patch" if getattr(tagger, "patch_length", None) else "clip",
            "naive": getattr(fn, "n_naive_rows", None),
            "coalitions": int(a.budget),
        },
    }
    if segments is None:
        fields.update(values=a.values, stderr=a.stderr, coalition_values=a.coalition_values)
        if a.coalition_values is not None:
            from .attribution import shapley

            fields["interactions"] = shapley.interactions(a.coalition_values)
        return fields
    t = a.values.shape[-1]
    lengths = bounds[:, 1] - bounds[:, 0]
    fields.update(
        values=a.group_values,
        stderr=a.group_stderr,
        segment_values=a.values.reshape(n, k, t),
        segment_stderr=None if a.stderr is None else a.stderr.reshape(n, k, t),
        segment_weights=lengths / lengths.sum(),
        segment_bounds=bounds,
    )
    return fields


def _streams(
    source: Any,
    stream: bool | None,
    spec: TaggerSpec,
    method: str,
    bands: Any,
    baseline: str,
    segments: int | None,
    segment_players: str,
) -> bool:
    """Whether :func:`explain` takes the block-by-block path (module notes), with the reason
    when a long recording cannot."""
    from .separation import DiskStems

    if stream is not None and not isinstance(stream, (bool, np.bool_)):
        raise XmtagError(f"stream must be True, False or None, got {stream!r}.")
    if stream is False:
        return False
    disk = isinstance(source, DiskStems)
    why: list[str] = []
    if not disk and not (isinstance(source, (str, os.PathLike)) and Path(source).is_file()):
        why.append("the source is not one audio file (a folder or stems in memory are read whole)")
    if method not in (*ENUMERATED_METHODS, "auto"):
        why.append(f"method={method!r} samples coalitions (use 'exact', 'banzhaf' or 'auto')")
    if spec.patch_length is None or spec.patch_context is None:
        why.append(f"the tagger {spec.name} is not patch-wise with a declared patch_context")
    if bands is not None:
        why.append("bands= splits the stems in memory")
    if baseline != "silence":
        why.append(f"baseline={baseline!r} (only 'silence')")
    if segments and segment_players != "receptive":
        why.append(f"segment_players={segment_players!r} (only 'receptive')")
    if stream:
        if why:
            raise XmtagError("stream=True cannot be used here: " + "; ".join(why) + ".")
        return True
    is_file = isinstance(source, (str, os.PathLike)) and Path(source).is_file()
    if disk:
        duration: float | None = float(source.duration)
    elif is_file:
        from .audio import stream_audio

        duration = stream_audio(source).duration
    else:  # a folder or stems in memory: read whole, as before
        return False
    if duration is None or duration <= STREAM_SECONDS:
        return False
    if why:
        logger.warning(
            "%s is %.0f minutes long but is explained in memory, because %s.",
            source,
            duration / 60,
            "; ".join(why),
        )
        return False
    logger.info(
        "%.0f minutes: explaining block by block, stems on disk (stream=False to keep them in memory).",
        duration / 60,
    )
    return True


def explain(
    source: str | os.PathLike[str] | Stems,
    tagger: Any = "musicnn-msd",
    separator: str | Separator | None = None,
    segments: int | None = None,
    tags: Iterable[str] | None = None,
    top: int | None = None,
    cache: bool = True,
    *,
    method: str = "exact",
    budget: int | None = None,
    bands: int | Iterable[float] | None = None,
    seed: int = 0,
    baseline: str = "silence",
    device: Any = "auto",
    progress: bool = True,
    segment_players: str = "receptive",
    stream: bool | None = None,
) -> Explanation:
    """Explain a tagger's prediction for a song by its stems.

    By default every subset of stems is mixed and scored by the tagger once (``2**n`` mixes,
    batched; :func:`xmtag.coalitions.evaluate`), and the scores become exact Shapley values,
    pairwise interactions and, with ``segments``, time-resolved values. Other methods trade
    exactness for fewer tagger passes (module notes of :mod:`xmtag.pipeline`).

    Parameters
    ----------
    source : str, os.PathLike or Stems
        An audio file (separated first, see ``separator``), a folder of stems (``drums.wav``,
        ``bass.wav``, ...; :meth:`xmtag.Stems.from_folder`), or a :class:`xmtag.Stems`.
    tagger : str or tagger
        A name for :func:`xmtag.load_tagger` (``"musicnn-msd"``, ``"musicnn-mtt"``, ...) or any
        object following the tagger protocol.
    separator : str or Separator, optional
        For an audio file: a model name or a configured :class:`xmtag.Separator`.
    segments : int, optional
        Also attribute over time, in this many contiguous segments (of the tagger's patches for
        a patch-decomposable tagger, else of the samples).
    tags : iterable of str, optional
        Keep only these tags (in this order). Every tag is computed either way.
    top : int, optional
        Keep only the ``top`` tags (of ``tags``, if given) with the highest full-mix prediction.
    cache : bool
        Reuse and store exact coalition values (and separated stems) in the xmtag cache. Only
        taggers given by name are cached.
    method : str
        ``exact`` (default), ``banzhaf``, ``permutation``, ``kernel``, ``lime``, ``loo`` or
        ``auto`` (:mod:`xmtag.attribution`).
    budget : int, optional
        Most coalitions a sampled method may score (default
        :data:`~xmtag.attribution.DEFAULT_BUDGET`).
    bands : int or list of float, optional
        Split every stem into frequency bands (a count of mel-spaced bands, or inner edges in
        Hz) with :func:`xmtag.separation.decompose.bands`: players become stem × band; with one stem (a
        mix) and ``segments``, a time × frequency grid.
    seed : int
        Seed of the sampled methods.
    baseline : {"silence", "noise"}
        What an absent stem becomes (see :func:`xmtag.coalitions.evaluate`).
    device : str or torch.device
        Where a tagger given by name runs (``"auto"``: CUDA when available).
    progress : bool
        Show progress bars for separation and coalition passes.
    segment_players : {"receptive", "samples"}
        With ``segments`` and an enumerated method: which (stem, segment) game the time-resolved
        values are exact for. ``"receptive"`` (default): player ``(i, k)`` is stem ``i`` as heard
        by the patches of segment ``k`` -- the context a patch hears before its segment's start
        counts for the patch's segment; no extra tagger rows. ``"samples"``: player ``(i, k)``
        is stem ``i``'s samples in segment ``k``; for a tagger whose patches see context (musicnn)
        this costs up to ``2**(2n)`` extra windows per segment boundary. The same game when
        patches see no context. ``expl.provenance.extra["segment_method"]`` names the game.
    stream : bool, optional
        Explain block by block with the stems on disk (module notes, *Long recordings*):
        ``None`` (default) does so for an audio file longer than :data:`STREAM_SECONDS`, ``True``
        always (an error where the path does not apply), ``False`` never. The values are the
        same; ``expl.audio`` is then a :class:`~xmtag.separation.DiskStems` in a temporary folder
        that lives as long as the explanation.

    Returns
    -------
    Explanation
        With the audio attached; ``expl.method``, ``expl.budget`` and ``expl.provenance`` say
        what was done.

    Raises
    ------
    AudioFileNotFoundError
        If ``source`` does not exist.
    AudioError
        For a folder without audio, unreadable audio, ...
    ModelNotFoundError
        For a tagger or separator model that cannot be loaded offline.
    UnknownTagError
        For a name in ``tags`` that is not one of the tagger's labels.
    XmtagError
        For invalid arguments.

    Examples
    --------
    >>> expl = xmtag.explain("song/", "musicnn-msd", segments=8)  # doctest: +SKIP
    >>> expl.top_tags(3)  # doctest: +SKIP
    ['rock', 'pop', 'alternative']
    """
    from .attribution import resolve_method

    segments = _checks.positive_int(segments, "segments", allow_none=True)
    top = _checks.positive_int(top, "top", allow_none=True)
    budget = _checks.budget(budget)
    seed = _checks.non_negative_int(seed, "seed")
    baseline = _checks.choice(baseline, "baseline", BASELINES)
    _checks.choice(method, "method", METHODS)
    tags = [tags] if isinstance(tags, str) else (None if tags is None else list(tags))
    from .coalitions import segment_method

    segment_method(segment_players)  # an unknown name fails before the expensive part
    t_start = time.perf_counter()
    by_name = isinstance(tagger, (str, os.PathLike))
    tagger, spec = _resolve_tagger(tagger, device)
    if tags is not None:  # fail before the expensive part
        _checks.tag_indices(list(spec.labels), tags)
    streamed = _streams(source, stream, spec, method, bands, baseline, segments, segment_players)
    from .separation import DiskStems, Stems

    if isinstance(source, DiskStems):
        stems, source_info, separator_info = source, {"kind": "stems", "files": str(source.folder)}, None
    else:
        stems, source_info, separator_info = _resolve_source(source, separator, progress, cache, streamed)
    units, edges = _units(stems, bands, enumerated=method in ENUMERATED_METHODS)
    t_sep = time.perf_counter()
    n = len(units)
    # time-resolved values from per-patch games need patches that see a bounded context
    decomposable = segments is None or (spec.patch_length is not None and spec.patch_context is not None)
    players = n if decomposable else n * segments
    chosen = resolve_method(method, players)
    if streamed and chosen not in ENUMERATED_METHODS:  # "auto" over many stems: sampled, in memory
        logger.warning("%d players: method %r samples coalitions; reading the stems into memory.", n, chosen)
        streamed = False
        units = stems = Stems({k: stems[k] for k in stems.names}, sr=stems.sr)
    if chosen in ENUMERATED_METHODS and not decomposable and players > EXACT_MAX_PLAYERS:
        raise TaggerError(
            f"segments={segments} with a tagger that is not patch-decomposable makes {players} "
            "(stem, segment) players: too many to enumerate. Use method='permutation' (or 'auto') "
            "or fewer segments."
        )
    cached = False
    interval: dict[str, Any] | None = None
    fields: dict[str, Any]
    rows_info: dict[str, Any] = {}
    if chosen in ENUMERATED_METHODS and decomposable:
        if n > EXACT_MAX_PLAYERS:
            raise InvalidGameError(
                f"{n} players ({len(stems)} stems{' x bands' if edges else ''}) is too many to enumerate "
                f"(2**{n} coalitions); use method='permutation' or 'auto'."
            )
        if n > 12:
            logger.warning("%d players: %d coalition mixes will be scored.", n, 2**n)
        cv, cached = _evaluate(
            units, tagger, spec, segments, baseline, progress, cache, by_name, segment_players, streamed
        )
        if list(cv.names) != list(units.names):
            raise XmtagError(f"Internal error: coalition stems {cv.names} != {units.names}.")
        fields = {"coalition_values": cv.values, "n_rows": int(cv.n_tagger_rows)}
        rows_info = {"unit": cv.row_unit, "naive": cv.n_naive_rows, "reuse": cv.reuse}
        if segments:
            fields.update(
                segment_coalition_values=cv.segment_values,
                segment_weights=cv.segment_weights,
                segment_bounds=cv.segment_bounds,
                segment_attributions={"exact": cv.segment_shapley, "banzhaf": cv.segment_banzhaf},
            )
    else:
        fields = _sampled(units, tagger, spec, segments, chosen, budget, seed, baseline, progress)
        rows_info = fields.pop("rows_info")
        interval = fields.pop("interval_info")
    t_eval = time.perf_counter()
    if not segments:
        seg_method = None
    elif chosen in ENUMERATED_METHODS and decomposable:
        seg_method = cv.segment_method
    else:  # sampled over (stem, segment) players that own the segment's samples
        seg_method = f"{chosen} estimate (sample players)"
    rows = int(fields.pop("n_rows", fields.get("budget", 0)))
    provenance = Provenance(
        source=source_info,
        tagger={
            "name": spec.name,
            "sample_rate": spec.sr,
            "patch_length": spec.patch_length,
            "n_labels": len(spec.labels),
        },
        separator=separator_info,
        method=chosen,
        budget=rows,
        segments=segments,
        bands=edges,
        baseline=baseline,
        units=str(getattr(tagger, "units", "probability")),
        versions=versions(),
        extra={
            "audio": {
                "sample_rate": stems.sr,
                "n_channels": stems.n_channels,
                "n_samples": stems.n_samples,
                "duration": stems.duration,
                "sha256": stems_digest(units),
            },
            "stems": list(stems.names),
            "residual_db": stems.residual_db,
            "requested_method": method,
            "seed": seed if chosen not in (*ENUMERATED_METHODS, "loo") else None,
            "n_coalitions": 2**n if n <= 63 else None,
            "from_cache": cached,
            "tagger_rows": rows_info,
            "interval": interval,
            "segment_method": seg_method,
            "segment_players": segment_players if segments else None,
            "streamed": streamed,
            "seconds": {"source": round(t_sep - t_start, 3), "attribution": round(t_eval - t_sep, 3)},
            "envelope_rate": ENVELOPE_RATE,
        },
    )
    common = {"envelope": waveform_envelope(stems), "provenance": provenance, "audio": units}
    if "coalition_values" in fields and chosen in ENUMERATED_METHODS and decomposable:
        expl = Explanation.from_game(
            fields.pop("coalition_values"),
            units.names,
            list(spec.labels),
            method=chosen,
            budget=rows,
            **fields,
            **common,
        )
    else:
        fields.pop("budget", None)
        expl = Explanation(units.names, list(spec.labels), budget=rows, **fields, **common)
    if tags is not None or top is not None:
        expl = expl.select(tags, top)
    logger.info("%r in %.1f s", expl, time.perf_counter() - t_start)
    return expl
