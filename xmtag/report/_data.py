"""What the interactive report shows, as plain data: :func:`page_data` turns an Explanation into the
JSON-compatible dict that the page's script (``xmtag/report/templates/report.js``) reads.

:func:`desk`, :func:`table` and :func:`size_text` give the template what it shows before the
script runs (names, first values, the static table, the page's stated size).

Large arrays travel as little-endian float32 in base64 (:func:`pack`): about 5.3 characters a
number instead of 8-10 as JSON text, exact to float32. The page draws everything from this data
(SVG and canvas); nothing here renders pixels.

Examples
--------
>>> from xmtag import Explanation
>>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
>>> d = page_data(e, shown=["rock"], audio=False)
>>> d["stems"], d["labels"], d["shown"], d["coalitions"]["shape"]
(['drums', 'bass'], ['rock'], [0], [4, 1])
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from ..explanation import Explanation

logger = logging.getLogger(__name__)

#: The page's stated size budget (MB) for a 30-s, 5-stem song with its stems' audio embedded.
SIZE_BUDGET_MB = 8.0
#: Each stem's audio embedded in the page is cut to this many seconds (10 minutes: about 9 MB of
#: MP3 per stem, 12 MB in base64); the timeline and the scores still cover the whole recording.
DEFAULT_AUDIO_SECONDS = 600.0
#: At most this many waveform frames are embedded (min/max pooled from the explanation's envelope).
MAX_ENVELOPE_FRAMES = 4000
#: Two-sided normal quantile: the multiplier of standard errors of unknown origin (labelled approx.).
Z95 = 1.959964
#: What each (stem, segment) game's player is, in words (the report's "time-resolved values" row).
_SEGMENT_GAMES = {
    "exact (receptive-field players)": "player (stem, segment) is the stem as heard by the segment's "
    "patches; the context a patch hears before its segment's start counts for the patch's segment",
    "exact (sample players)": "player (stem, segment) is the stem's samples within the segment",
}


def _ci_multiplier(expl: Any) -> float:
    """Standard errors per half-width of the explanation's 95 % interval (Student-t, see
    :attr:`xmtag.Explanation.interval`; 1.96 when it is unknown)."""
    info = getattr(expl, "interval", None)
    return float(info["multiplier"]) if isinstance(info, dict) else Z95


def interval_label(expl: Any) -> str:
    """What the ± of a sampled explanation is ("" without standard errors)."""
    info = getattr(expl, "interval", None)
    return str(info["label"]) if isinstance(info, dict) else ""


def pack(a: Any) -> dict[str, Any]:
    """An array as ``{"shape": [...], "b64": <little-endian float32 bytes in base64>}``.

    Parameters
    ----------
    a : array_like

    Returns
    -------
    dict

    Examples
    --------
    >>> pack([[1.0, 2.0]])["shape"], len(pack([[1.0, 2.0]])["b64"])
    ([1, 2], 12)
    """
    arr = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
    return {"shape": list(arr.shape), "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


def unpack(d: Mapping[str, Any]) -> np.ndarray:
    """Inverse of :func:`pack` (for tests and debugging).

    Examples
    --------
    >>> unpack(pack([[1.5, -2.0]])).tolist()
    [[1.5, -2.0]]
    """
    flat = np.frombuffer(base64.b64decode(d["b64"]), dtype="<f4")
    return flat.reshape(d["shape"]).astype(np.float64)


def _number(x: Any, default: float | None = None, *, positive: bool = False) -> float | None:
    """A finite number from provenance (any type: a tampered or hand-written file), else ``default``."""
    if isinstance(x, bool):
        return default
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        return default
    if not np.isfinite(v) or v < 0 or (positive and v == 0):
        return default
    return v


def _meta(expl: Explanation) -> dict[str, Any]:
    """``expl.metadata`` with the fields the report reads checked: the dictionaries are
    dictionaries (``"audio": "44.1 kHz"`` becomes ``{}``) and numbers are finite (a duration of
    ``"inf"`` is dropped), so provenance extras of the wrong type never crash the report."""
    md = dict(expl.metadata)
    for key in ("tagger", "source", "audio", "separator"):
        md[key] = dict(md[key]) if isinstance(md.get(key), Mapping) else ({} if key != "separator" else None)
    md["audio"]["duration"] = _number(md["audio"].get("duration"))
    md["envelope_rate"] = _number(md.get("envelope_rate"), positive=True)
    res = md.get("residual_db")
    md["residual_db"] = None if isinstance(res, bool) or not isinstance(res, (int, float)) else res
    n_coal = md.get("n_coalitions")
    if not isinstance(n_coal, int) or isinstance(n_coal, bool):
        md.pop("n_coalitions", None)
    return md


def _fmt_seconds(s: Any) -> str:
    try:
        return f"{float(s):.1f} s"
    except (TypeError, ValueError):
        return "?"


#: What each method's numbers are: (short name for labels, a phrase for the page's note).
VALUE_KINDS = {
    "exact": ("Shapley value", "exact Shapley value"),
    "permutation": ("Shapley value", "Shapley value (a permutation-sampling estimate)"),
    "kernel": ("Shapley value", "Shapley value (a KernelSHAP estimate)"),
    "banzhaf": ("Banzhaf value", "exact Banzhaf value (these need not add up to the prediction)"),
    "lime": ("LIME weight", "LIME weight (audioLIME's ridge coefficients, not Shapley values)"),
    "loo": ("leave-one-out effect", "leave-one-out effect (full mix minus the mix without the stem)"),
}


def value_kind(method: str) -> tuple[str, str]:
    """``(short name, phrase)`` describing the values of ``method``.

    Examples
    --------
    >>> value_kind("loo")[0], value_kind("something-new")[0]
    ('leave-one-out effect', 'attribution')
    """
    return VALUE_KINDS.get(method, ("attribution", f"attribution ({method})"))


def method_of(expl: Explanation) -> str:
    """The attribution method (``"exact"`` for explanations made before methods existed)."""
    return str(getattr(expl, "method", None) or "exact")


def meta_rows(expl: Explanation) -> list[tuple[str, str]]:
    """``(label, text)`` rows describing where an explanation came from."""
    md = _meta(expl)
    tagger = md.get("tagger") or {}
    source = md.get("source") or {}
    audio = md.get("audio") or {}
    sep = md.get("separator")
    method = method_of(expl)
    budget = getattr(expl, "budget", None)
    n_coal = md.get("n_coalitions", 2**expl.n_stems)
    if expl.coalition_values is not None:
        scored = f"all {2**expl.n_stems} coalitions"
    else:
        scored = "not every coalition (sampled)"
    how = f"{method}" + ("" if budget is None else f", {budget} tagger rows")
    rows = [
        ("source", str(source.get("path") or source.get("kind") or "?")),
        ("stems", ", ".join(expl.stems)),
        ("tagger", f"{tagger.get('name', '?')} ({tagger.get('n_labels', expl.n_tags)} tags)"),
        ("separator", str((sep or {}).get("repr") or (sep or {}).get("name") or "none (stems given)")),
        ("duration", _fmt_seconds(audio.get("duration"))),
        ("method", how),
        ("coalitions scored", scored if expl.coalition_values is None else f"{n_coal} ({scored})"),
        ("time segments", str(md.get("segments") or expl.n_segments or "none")),
    ]
    seg_method = getattr(expl, "segment_method", "")
    if seg_method:
        rows.append(
            ("time-resolved values", f"{seg_method}: {_SEGMENT_GAMES.get(seg_method, '')}".rstrip(": "))
        )
    res = md.get("residual_db")
    if res is not None and str(res) not in ("-inf", "None"):
        rows.append(("separation residual", f"{float(res):.1f} dB relative to the mix (not a player)"))
    rows.append(("created", f"{md.get('created', '?')} with xmtag {md.get('xmtag_version', '?')}"))
    return rows


def _units(expl: Explanation) -> str:
    units = getattr(expl, "units", None)
    if units:
        return str(units)
    return str((_meta(expl)["tagger"]).get("units") or "probability")


def _envelope(expl: Explanation) -> tuple[np.ndarray, float] | None:
    """``(2, frames)`` min/max and frames per second, pooled to at most MAX_ENVELOPE_FRAMES."""
    env = expl.envelope
    rate = float(_meta(expl)["envelope_rate"] or 100)
    if env is None:
        audio = expl.audio
        if audio is None:
            return None
        from ..explanation import waveform_envelope as compute

        env, rate = compute(audio), 100.0
    env = np.asarray(env, dtype=np.float32)
    frames = env.shape[1]
    if frames > MAX_ENVELOPE_FRAMES:
        pool = int(np.ceil(frames / MAX_ENVELOPE_FRAMES))
        n = frames // pool
        lo = env[0, : n * pool].reshape(n, pool).min(axis=1)
        hi = env[1, : n * pool].reshape(n, pool).max(axis=1)
        env, rate = np.stack([lo, hi]), rate / pool
    return env, rate


def _duration(expl: Explanation, env: tuple[np.ndarray, float] | None) -> float:
    audio = expl.audio
    if audio is not None:
        return float(audio.duration)
    d = _meta(expl)["audio"]["duration"]
    if d is not None:
        return float(d)
    if expl.segment_bounds is not None and len(expl.segment_bounds):
        return float(expl.segment_bounds[-1, 1])
    if env is not None:
        return env[0].shape[0] / env[1]
    return 0.0


def _listenables(expl: Explanation, shown: Sequence[int], share: float) -> dict[str, Any]:
    """Per shown tag: the smallest coalition keeping ``share`` of it (needs every coalition)."""
    out: dict[str, Any] = {}
    if expl.coalition_values is None:
        return out
    for j in shown:
        try:
            pick = expl.smallest_coalition(j, share)
        except XmtagError:
            continue
        out[str(j)] = {"mask": int(pick.mask), "value": float(pick.value), "kept": float(pick.kept)}
    return out


def _encoded_rate(cache: Mapping | None, default: int, samples: int | None = None) -> int:
    """The sample rate of the encoded stem audio (the encoder may have resampled it)."""
    import io

    import soundfile as sf

    data = (cache or {}).get(audio_key(1, samples))
    if data is None:
        return default
    try:
        return int(sf.info(io.BytesIO(data)).samplerate)
    except RuntimeError:  # pragma: no cover - libsndfile without an MP3 decoder
        return default


def audio_cap(expl: Explanation, max_audio_seconds: float | None = DEFAULT_AUDIO_SECONDS) -> float | None:
    """The seconds of each stem's audio a report embeds when it cuts them, else ``None``.

    Parameters
    ----------
    expl : Explanation
    max_audio_seconds : float or None
        The cap (default :data:`DEFAULT_AUDIO_SECONDS`); ``None``: no cap.

    Returns
    -------
    float or None
        ``max_audio_seconds`` when the attached audio is longer (the page embeds its first
        ``max_audio_seconds``), ``None`` when the whole audio is embedded or none is attached.

    Raises
    ------
    XmtagError
        If ``max_audio_seconds`` is not a positive finite number or ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> from xmtag import Explanation, Stems
    >>> s = Stems({"a": np.zeros(8000 * 90), "b": np.zeros(8000 * 90)}, sr=8000)
    >>> e = Explanation.from_game([0.0, 0.1, 0.2, 0.3], ["a", "b"], ["x"], audio=s)
    >>> audio_cap(e, 60.0), audio_cap(e, 120.0), audio_cap(e, None)
    (60.0, None, None)
    """
    from .._checks import finite_float

    cap = finite_float(max_audio_seconds, "max_audio_seconds", low=0.0, low_open=True, allow_none=True)
    audio = expl.audio
    if cap is None or audio is None or audio.n_samples <= int(round(cap * audio.sr)):
        return None
    return cap


def audio_key(mask: int, samples: int | None = None) -> int | tuple[int, int]:
    """The key of an encoded coalition in an audio cache: the mask for the whole length, ``(mask,
    samples)`` for its first ``samples`` (a capped report stem is not a full-length listenable mix)."""
    return mask if samples is None else (mask, samples)


def capped_samples(expl: Explanation, max_audio_seconds: float | None) -> int | None:
    """Samples of each stem a report embeds when it cuts them (``None``: the whole audio)."""
    cap = audio_cap(expl, max_audio_seconds)
    return None if cap is None else int(round(cap * expl.audio.sr))


def encode_coalition(expl: Explanation, mask: int, samples: int | None = None) -> bytes:
    """A coalition's audio (its first ``samples`` only, when given) as :func:`xmtag.report.audio_mp3` bytes.

    The mix is built and encoded block by block (:meth:`xmtag.Stems.mix_blocks`), so an hour-long
    recording's stems on disk are never read whole; with ``samples`` only that many samples of
    each stem are mixed (a capped report).
    """
    from ._encode import stems_mp3

    names = [name for i, name in enumerate(expl.stems) if mask >> i & 1]
    return stems_mp3(expl._require_audio("encode_coalition()"), names, samples)


def encode_stems(
    expl: Explanation, cache: dict | None = None, samples: int | None = None
) -> list[dict[str, Any]]:
    """Each stem's audio as compressed audio in base64 (``name``, ``mime``, ``b64``, ``bytes``).

    Encoded with :func:`xmtag.report.audio_mp3`; ``cache`` (``{audio_key: bytes}``) is read and
    filled so a stem already encoded for another output is not encoded again. ``samples``: embed
    only each stem's first ``samples`` (the report's cap).
    """
    from ._encode import audio_suffix

    memo: dict = {} if cache is None else cache
    out = []
    for i, name in enumerate(expl.stems):
        key = audio_key(1 << i, samples)
        if key not in memo:
            memo[key] = encode_coalition(expl, 1 << i, samples)
        data = memo[key]
        mime = "audio/ogg" if audio_suffix(data) == ".ogg" else "audio/mpeg"
        out.append(
            {"name": name, "mime": mime, "bytes": len(data), "b64": base64.b64encode(data).decode("ascii")}
        )
    return out


def _clock(seconds: float) -> str:
    """``"10:00"``, ``"1:00:00"``."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def cap_note(cap: float, duration: float) -> str:
    """What a report whose audio is cut says about it (the page, and ``xmtag explain``)."""
    return (
        f"This page embeds the first {_clock(cap)} of each stem's audio, of {_clock(duration)}: "
        f"reports cap embedded audio at {cap / 60:g} min per stem (max_audio_seconds; "
        "--report-audio-minutes on the command line). Playback stops there; the timeline and the "
        "scores cover the whole recording."
    )


def page_data(
    expl: Explanation,
    shown: Sequence[str],
    *,
    selected: str | None = None,
    share: float = 0.9,
    audio: bool = True,
    audio_cache: dict | None = None,
    title: str = "",
    max_audio_seconds: float | None = DEFAULT_AUDIO_SECONDS,
) -> dict[str, Any]:
    """Everything the page's script needs, JSON-compatible.

    Parameters
    ----------
    expl : Explanation
    shown : sequence of str
        The tags drawn as bars (the selected tag is added to them in the page).
    selected : str, optional
        The tag selected when the page opens (default: the first shown).
    share : float
        Share kept by the listenable explanations.
    audio : bool
        Embed the stems' audio when it is attached.
    audio_cache : dict, optional
        ``{audio_key: encoded bytes}`` shared with other outputs.
    title : str
    max_audio_seconds : float or None
        Embed at most this many seconds of each stem (default :data:`DEFAULT_AUDIO_SECONDS`;
        ``None``: all of it). A cut is said in ``audio_note`` and ``audio["capped"]``.

    Returns
    -------
    dict
    """
    shown_idx = [expl.tag_index(t) for t in shown]
    sel = expl.tag_index(selected) if selected is not None else shown_idx[0]
    env = _envelope(expl)
    duration = _duration(expl, env)
    stderr = getattr(expl, "stderr", None)
    data: dict[str, Any] = {
        "title": title,
        "stems": list(expl.stems),
        "labels": list(expl.labels),
        "units": _units(expl),
        "method": method_of(expl),
        "budget": None if getattr(expl, "budget", None) is None else int(expl.budget),
        "exact": method_of(expl) == "exact",
        "value_name": value_kind(method_of(expl))[0],
        "value_kind": value_kind(method_of(expl))[1],
        "z": _ci_multiplier(expl),
        "interval_label": interval_label(expl),
        "shown": shown_idx,
        "selected": int(sel),
        "duration": duration,
        "values": pack(expl.values),
        "stderr": None if stderr is None else pack(stderr),
        "base": pack(expl.base_values),
        "prediction": pack(expl.prediction),
        "coalitions": None if expl.coalition_values is None else pack(expl.coalition_values),
        "listen": _listenables(expl, shown_idx, share),
        "share": float(share),
        "segments": None,
        "envelope": None,
        "audio": None,
        "audio_note": "",
    }
    if expl.segment_bounds is not None:
        segcv = getattr(expl, "segment_coalition_values", None)
        data["segments"] = {
            "bounds": [[float(a), float(b)] for a, b in np.asarray(expl.segment_bounds)],
            "values": None if expl.segment_values is None else pack(expl.segment_values),
            "coalitions": None if segcv is None else pack(segcv),
        }
    if env is not None:
        data["envelope"] = {"rate": float(env[1]), "min": pack(env[0][0]), "max": pack(env[0][1])}
    if not audio:
        data["audio_note"] = "Audio was left out of this page (audio=False); the scores still follow the mix."
    elif expl.audio is None:
        data["audio_note"] = (
            "No audio: the stems' audio was not attached to this explanation "
            "(expl.attach_audio(stems) before writing the report)."
        )
    else:
        audio_cache = {} if audio_cache is None else audio_cache
        samples = capped_samples(expl, max_audio_seconds)
        stems = encode_stems(expl, audio_cache, samples)
        seconds = float(expl.audio.duration) if samples is None else samples / expl.audio.sr
        data["audio"] = {
            "stems": stems,
            "bytes": sum(s["bytes"] for s in stems),
            "sr": _encoded_rate(audio_cache, int(expl.audio.sr), samples),
            "codec": "MP3" if stems and stems[0]["mime"] == "audio/mpeg" else "Ogg Vorbis",
            "seconds": seconds,
            "capped": samples is not None,
        }
        if samples is not None:
            data["audio_note"] = cap_note(seconds, float(expl.audio.duration))
            logger.info("Report audio capped at %.0f s of %.0f s per stem", seconds, expl.audio.duration)
    return data


# -- what the template shows before the script runs ------------------------------------------
def _cell_color(x: float, vmax: float) -> str:
    """Background colour for a contribution cell (red positive, blue negative)."""
    if vmax <= 0:
        return "#ffffff"
    a = min(abs(x) / vmax, 1.0) * 0.55
    r, g, b = (224, 0, 77) if x >= 0 else (0, 119, 217)
    return f"rgba({r},{g},{b},{a:.2f})"


def _signed(v: float, err: float | None) -> str:
    return f"{v:+.3f}" + ("" if err is None else f" ± {err:.3f}")


def table(expl: Explanation, idx: list[int]) -> list[dict[str, Any]]:
    """Rows of the static table: tag, full mix, silence, and each stem's value (± 95 % interval)."""
    stderr = getattr(expl, "stderr", None)
    vmax = float(np.abs(expl.values[:, idx]).max()) if idx else 0.0
    rows = []
    for j in idx:
        cells = []
        for i in range(expl.n_stems):
            v = float(expl.values[i, j])
            err = None if stderr is None else _ci_multiplier(expl) * float(stderr[i, j])
            cells.append({"text": _signed(v, err), "color": _cell_color(v, vmax)})
        rows.append(
            {
                "tag": expl.labels[j],
                "full": f"{expl.prediction[j]:.3f}",
                "silence": f"{expl.base_values[j]:.3f}",
                "cells": cells,
            }
        )
    return rows


def desk(expl: Explanation, data: Mapping[str, Any]) -> dict[str, Any]:
    """What the desk's markup needs before the script runs (names, first values, notes)."""
    j = int(data["selected"])
    stderr = getattr(expl, "stderr", None)
    dur = float(data["duration"])
    stems = []
    for i, name in enumerate(expl.stems):
        err = None if stderr is None else _ci_multiplier(expl) * float(stderr[i, j])
        stems.append({"name": name, "value": _signed(float(expl.values[i, j]), err)})
    if expl.coalition_values is not None:
        scored = f"all {2**expl.n_stems} mixes of the {expl.n_stems} stems were scored"
    else:
        scored = (
            f"estimated with the {data['method']} method: only the full mix and silence have scores, "
            "the page says so for the other mixes"
        )
    seg = data["segments"]
    return {
        "stems": stems,
        "n_tags": expl.n_tags,
        "duration": f"{dur:.3f}",
        "duration_text": f"{int(dur // 60)}:{dur % 60:04.1f}" if dur > 0 else "?",
        "has_audio": data["audio"] is not None,
        "audio_note": data["audio_note"],
        "has_segment_coalitions": bool(seg and seg["coalitions"] is not None),
        "scored": scored,
        "exact": data["exact"],
        "has_stderr": data["stderr"] is not None,
        "interval_label": data.get("interval_label", ""),
        "units": data["units"],
        "value_kind": data["value_kind"],
        "value_name": data["value_name"],
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def size_text(total: int, data: Mapping[str, Any], n_stems: int) -> str:
    audio = data["audio"]
    if audio is None:
        return f"{_mb(total)} (no audio embedded)"
    b64 = sum(len(s["b64"]) for s in audio["stems"])
    return (
        f"{_mb(total)}, of which {_mb(b64)} is the audio of {n_stems} stems × "
        f"{audio.get('seconds', data['duration']):.1f} s"
        f"{' (the first part only, capped)' if audio.get('capped') else ''} "
        f"({audio['codec']}, {_mb(audio['bytes'])} before base64)"
    )


def source_name(expl: Explanation) -> str:
    """A short name of the explained song for titles."""
    source = _meta(expl)["source"].get("path")
    return Path(source).name if isinstance(source, str) and source else "stems"
