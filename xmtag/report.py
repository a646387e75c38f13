"""A self-contained HTML report of an :class:`~xmtag.Explanation`.

One ``.html`` file that opens in any browser, offline, and can be mailed around: the plots
are embedded as base64 PNG images and the audio (the full mix, each stem, and each tag's
listenable explanation) as base64 MP3 in ``<audio>`` players. Nothing is referenced outside
the file. Audio adds about 0.5 MB per stem per 30 s; ``audio=False`` leaves it out.

Examples
--------
>>> import tempfile, os
>>> from xmtag import Explanation
>>> e = Explanation.from_game([[0.0], [0.2], [0.5], [0.9]], ["drums", "guitar"], ["rock"])
>>> path = write_html(e, os.path.join(tempfile.mkdtemp(), "report.html"))
>>> "<img" in path.read_text() and "guitar" in path.read_text()
True
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import atomic_write_text
from .errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .explanation import Explanation

__all__ = ["write_html", "to_html", "render_plots", "figure_png", "audio_mp3", "audio_suffix", "slug"]

logger = logging.getLogger(__name__)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { margin-bottom: 0.3em; }
table { border-collapse: collapse; font-size: 0.92em; margin: 0.6em 0; }
th, td { padding: 0.25em 0.6em; border: 1px solid #e2e2e2; text-align: right; }
th { background: #f5f5f5; } td.tag, th.tag { text-align: left; }
.meta td { text-align: left; } .meta td:first-child { color: #666; }
.plots img { max-width: 100%; height: auto; margin: 0.4em 0; }
.players { display: grid; grid-template-columns: max-content 1fr; gap: 0.3em 1em; align-items: center; }
audio { width: 100%; max-width: 420px; height: 2.2em; }
.note { color: #666; font-size: 0.9em; }
.listen { background: #f7f7fb; border-left: 3px solid #7a7ad0; padding: 0.5em 0.8em; margin: 0.6em 0; }
"""


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Closed after rendering.
    dpi : int

    Returns
    -------
    bytes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> figure_png(plt.figure(figsize=(1, 1)), dpi=20)[:4]
    b'\\x89PNG'
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def audio_mp3(y: np.ndarray, sr: int) -> bytes:
    """Encode a ``(channels, samples)`` waveform as MP3 bytes (libsndfile, ~128 kbit/s).

    Peaks above 1 are scaled down (for listening only) instead of clipping. Where libsndfile
    cannot write MP3 (before 1.1), Ogg Vorbis bytes are returned instead (see :func:`audio_suffix`).

    Parameters
    ----------
    y : numpy.ndarray
        float ``(channels, samples)``.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    bytes

    Examples
    --------
    >>> import numpy as np
    >>> data = audio_mp3(np.zeros((1, 8000), np.float32), 8000)
    >>> audio_suffix(data) in (".mp3", ".ogg")
    True
    """
    import soundfile as sf

    from .audio import encode_audio  # interrupt-safe; downmixes > 2 channels for MP3

    return encode_audio(y, sr, "mp3" if "MP3" in sf.available_formats() else "ogg", normalize=True)


def audio_suffix(data: bytes) -> str:
    """``".ogg"`` for Ogg data, else ``".mp3"`` (what :func:`audio_mp3` returned).

    Parameters
    ----------
    data : bytes

    Returns
    -------
    str

    Examples
    --------
    >>> audio_suffix(b"OggS..."), audio_suffix(b"ID3...")
    ('.ogg', '.mp3')
    """
    return ".ogg" if data[:4] == b"OggS" else ".mp3"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{_data_uri(png, "image/png")}">'


def slug(text: str) -> str:
    """A file-name-safe version of a tag name (``"hip-hop"`` stays, ``"60s rock"`` -> ``"60s_rock"``).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Letters, digits, ``-`` and ``_`` only.

    Examples
    --------
    >>> slug("female vocalists"), slug("Hip-Hop/R&B")
    ('female_vocalists', 'Hip-Hop_R_B')
    """
    out = "".join(c if c.isalnum() or c in "-." else "_" for c in text.strip())
    return "_".join(filter(None, out.split("_"))) or "tag"


def render_plots(expl: Explanation, tags: Iterable[str], dpi: int = 110) -> dict[str, tuple[str, bytes]]:
    """PNG images of the report's plots: ``{file stem: (description, png bytes)}``.

    Keys: ``heatmap`` and, per tag, ``bar-<tag>``, ``waterfall-<tag>``, ``timeline-<tag>`` (with
    segments) and ``interactions-<tag>`` (two or more stems), tag names passed through :func:`slug`.

    Parameters
    ----------
    expl : Explanation
    tags : iterable of str
        Tags that get their own plots.
    dpi : int
        Resolution of the PNG images.

    Returns
    -------
    dict
        ``{file stem: (description, png bytes)}``.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> sorted(render_plots(e, ["rock"], dpi=40))
    ['bar-rock', 'heatmap', 'interactions-rock', 'waterfall-rock']
    """
    from . import plots

    tags = [expl.labels[expl.tag_index(t)] for t in ([tags] if isinstance(tags, str) else tags)]
    out = {"heatmap": ("Shapley values, tags by stems", figure_png(plots.heatmap(expl, tags=tags), dpi))}
    for tag in tags:
        s = slug(tag)
        out[f"bar-{s}"] = (f"Shapley values for {tag}", figure_png(plots.bar(expl, tag), dpi))
        out[f"waterfall-{s}"] = (
            f"from silence to the full mix for {tag}",
            figure_png(plots.waterfall(expl, tag), dpi),
        )
        if expl.segment_values is not None:
            out[f"timeline-{s}"] = (
                f"attribution over time for {tag}",
                figure_png(plots.timeline(expl, tag), dpi),
            )
        if expl.n_stems >= 2 and expl.interactions is not None:
            out[f"interactions-{s}"] = (
                f"stem interactions for {tag}",
                figure_png(plots.interactions(expl, tag), dpi),
            )
    return out


def _player(data: bytes) -> str:
    mime = "audio/ogg" if audio_suffix(data) == ".ogg" else "audio/mpeg"
    return f'<audio controls preload="none" src="{_data_uri(data, mime)}"></audio>'


def _cell_color(x: float, vmax: float) -> str:
    """Background colour for a contribution cell (red positive, blue negative)."""
    if vmax <= 0:
        return "#ffffff"
    a = min(abs(x) / vmax, 1.0) * 0.55
    r, g, b = (255, 0, 81) if x >= 0 else (0, 139, 251)
    return f"rgba({r},{g},{b},{a:.2f})"


def _fmt_seconds(s: Any) -> str:
    try:
        return f"{float(s):.1f} s"
    except (TypeError, ValueError):
        return "?"


def _meta_rows(expl: Explanation) -> list[tuple[str, str]]:
    md = expl.metadata
    tagger = md.get("tagger") or {}
    source = md.get("source") or {}
    audio = md.get("audio") or {}
    sep = md.get("separator")
    rows = [
        ("source", source.get("path") or source.get("kind") or "?"),
        ("stems", ", ".join(expl.stems)),
        ("tagger", f"{tagger.get('name', '?')} ({tagger.get('n_labels', expl.n_tags)} tags)"),
        ("separator", (sep or {}).get("repr") or (sep or {}).get("name") or "none (stems given)"),
        ("duration", _fmt_seconds(audio.get("duration"))),
        ("coalitions scored", f"{md.get('n_coalitions', 2**expl.n_stems)} (exact Shapley values)"),
        ("time segments", str(md.get("segments") or "none")),
    ]
    res = md.get("residual_db")
    if res is not None and str(res) not in ("-inf", "None"):
        rows.append(("separation residual", f"{float(res):.1f} dB relative to the mix (not a player)"))
    rows.append(("created", f"{md.get('created', '?')} with xmtag {md.get('xmtag_version', '?')}"))
    return rows


def to_html(
    expl: Explanation,
    *,
    tags: Iterable[str] | None = None,
    top: int = 5,
    share: float | None = None,
    audio: bool = True,
    title: str | None = None,
    images: Mapping[str, tuple[str, bytes]] | None = None,
    audio_cache: dict[int, bytes] | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_html`).

    Parameters
    ----------
    expl : Explanation
    tags, top, share, audio, title
        As for ``write_html``.

    Returns
    -------
    str
        A self-contained HTML page (images and audio embedded as data URIs).

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> to_html(e, audio=False).startswith("<!DOCTYPE html>")
    True
    """
    from .explanation import DEFAULT_SHARE

    share = DEFAULT_SHARE if share is None else float(share)
    if isinstance(tags, str):
        tags = [tags]
    shown = [expl.labels[expl.tag_index(t)] for t in tags] if tags is not None else expl.top_tags(top)
    if not shown:
        raise XmtagError("The report needs at least one tag to show.")
    if expl.audio is None and audio:
        try:
            expl._require_audio("the report's audio players")
        except XmtagError:
            logger.info("No audio attached: the report has no audio players.")
    have_audio = bool(audio) and expl.audio is not None
    memo: dict[int, bytes] = {} if audio_cache is None else audio_cache
    if images is None:
        images = render_plots(expl, shown)

    def encoded(mask: int) -> bytes:  # each coalition's audio is encoded once
        if mask not in memo:
            y, sr = expl.mix(expl.stems_of(mask))
            memo[mask] = audio_mp3(y, sr)
        return memo[mask]

    source = (expl.metadata.get("source") or {}).get("path")
    name = Path(source).name if source else "stems"
    title = title or f"Why these tags? {name}"
    e = html.escape
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        '<p class="note">Each number is a stem\'s exact Shapley value: its average contribution to the '
        "tagger's output over all orders of adding the stems to silence. The values of a tag add up "
        "to <i>full mix − silence</i>.</p>",
        '<table class="meta">',
        *(f"<tr><td>{e(k)}</td><td>{e(str(v))}</td></tr>" for k, v in _meta_rows(expl)),
        "</table>",
    ]

    # -- summary table --------------------------------------------------------------------------
    idx = [expl.tag_index(t) for t in shown]
    vmax = float(np.abs(expl.values[:, idx]).max()) if idx else 0.0
    out.append("<h2>Top tags and each stem's contribution</h2><table><tr>")
    out.append('<th class="tag">tag</th><th>full mix</th><th>silence</th>')
    out.extend(f"<th>{e(s)}</th>" for s in expl.stems)
    out.append('<th class="tag">smallest coalition keeping it</th></tr>')
    picks = {}
    for j in idx:
        tag = expl.labels[j]
        try:
            picks[tag] = expl.smallest_coalition(tag, share)
            pick_txt = " + ".join(picks[tag].stems) + f" ({picks[tag].value:.3f})"
        except XmtagError:
            pick_txt = "— (not above silence)"
        out.append(
            f'<tr><td class="tag">{e(tag)}</td><td>{expl.prediction[j]:.3f}</td>'
            f"<td>{expl.base_values[j]:.3f}</td>"
        )
        for i in range(expl.n_stems):
            v = float(expl.values[i, j])
            out.append(f'<td style="background:{_cell_color(v, vmax)}">{v:+.3f}</td>')
        out.append(f'<td class="tag">{e(pick_txt)}</td></tr>')
    out.append("</table>")
    out.append(
        f'<p class="note">Smallest coalition: the fewest stems whose mix keeps at least {share:.0%} of '
        "what the full mix adds to the tag over silence (from the coalition values; no extra tagger "
        "pass).</p>"
    )

    # -- audio ----------------------------------------------------------------------------------
    if have_audio:
        out.append('<h2>Listen</h2><div class="players">')
        out.append(f"<div><b>full mix</b></div><div>{_player(encoded(2**expl.n_stems - 1))}</div>")
        for i, s in enumerate(expl.stems):
            out.append(f"<div>{e(s)}</div><div>{_player(encoded(1 << i))}</div>")
        out.append("</div>")
    elif audio:
        out.append(
            '<p class="note">No audio players: the stems\' audio was not attached to this explanation.</p>'
        )

    # -- plots ----------------------------------------------------------------------------------
    out.append('<h2>All tags shown, all stems</h2><div class="plots">')
    out.append(_img(images["heatmap"][1], images["heatmap"][0]))
    out.append("</div>")
    for j in idx:
        tag = expl.labels[j]
        out.append(f"<h2>{e(tag)}</h2>")
        out.append(f"<p>full mix <b>{expl.prediction[j]:.3f}</b>, silence {expl.base_values[j]:.3f}.</p>")
        pick = picks.get(tag)
        if pick is not None:
            out.append('<div class="listen">')
            out.append(
                f"<b>Listenable explanation:</b> {e(' + '.join(pick.stems))} "
                f"{'alone scores' if len(pick.stems) == 1 else 'together score'} "
                f"{pick.value:.3f} ({pick.kept:.0%} of the full mix's gain over silence)."
            )
            if have_audio:
                out.append(f"<br>{_player(encoded(pick.mask))}")
            out.append("</div>")
        out.append('<div class="plots">')
        for kind in ("bar", "waterfall", "timeline", "interactions"):
            key = f"{kind}-{slug(tag)}"
            if key in images:
                out.append(_img(images[key][1], images[key][0]))
        out.append("</div>")
    out.append('<p class="note">Made with xmtag.</p></body></html>')
    return "\n".join(out)


def write_html(
    expl: Explanation,
    path: str | os.PathLike[str],
    *,
    tags: Iterable[str] | None = None,
    top: int = 5,
    share: float | None = None,
    audio: bool = True,
    title: str | None = None,
    images: Mapping[str, tuple[str, bytes]] | None = None,
    audio_cache: dict[int, bytes] | None = None,
) -> Path:
    """Write a self-contained HTML report (plots and audio embedded), atomically.

    Parameters
    ----------
    expl : Explanation
    path : str or os.PathLike
        Destination ``.html``; its folder must exist.
    tags : iterable of str, optional
        Tags to report, in order. Default: the ``top`` tags with the highest prediction.
    top : int
        How many tags without ``tags``.
    share : float, optional
        Share kept by the listenable explanations (default
        :data:`xmtag.explanation.DEFAULT_SHARE`).
    audio : bool
        Embed audio players (full mix, stems, listenable explanations) when the stems' audio is
        attached (``expl.audio``).
    title : str, optional
        Page title.
    images : mapping, optional
        Plots already rendered by :func:`render_plots` (to avoid rendering twice).
    audio_cache : dict, optional
        ``{coalition mask: MP3 bytes}``, read and filled (to avoid encoding twice).

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    UnknownTagError
        For a tag not in the labels.
    OutputError
        If the file cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> write_html(e, os.path.join(tempfile.mkdtemp(), "report.html")).suffix
    '.html'
    """
    text = to_html(
        expl,
        tags=tags,
        top=top,
        share=share,
        audio=audio,
        title=title,
        images=images,
        audio_cache=audio_cache,
    )
    written = atomic_write_text(path, text)
    logger.info("Wrote report %s (%.1f MB)", written, len(text) / 1e6)
    return written
