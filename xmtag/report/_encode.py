"""What the report and the exported files embed: plots as PNG, audio as MP3, and safe file names."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..explanation import Explanation

__all__ = ['render_plots', 'figure_png', 'audio_mp3', 'stems_mp3', 'audio_suffix', 'slug']


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

    from ..audio import encode_audio  # interrupt-safe; downmixes > 2 channels for MP3

    return encode_audio(y, sr, "mp3" if "MP3" in sf.available_formats() else "ogg", normalize=True)


def stems_mp3(audio: Any, names: Iterable[str], samples: int | None = None) -> bytes:
    """The mix of the stems ``names`` (their first ``samples``, when given) as :func:`audio_mp3`
    bytes, mixed and encoded block by block (:func:`xmtag.audio.encode_blocks`).

    Examples
    --------
    >>> import numpy as np
    >>> from xmtag import Stems
    >>> s = Stems({"a": np.full((1, 8000), 0.1), "b": np.full((1, 8000), 0.2)}, sr=8000)
    >>> stems_mp3(s, ["a", "b"]) == audio_mp3(s.mixture, 8000)
    True
    """
    import soundfile as sf

    from ..audio import encode_blocks

    names = list(names)
    fmt = "mp3" if "MP3" in sf.available_formats() else "ogg"

    def blocks() -> Iterable[np.ndarray]:
        return audio.mix_blocks(names, 0, samples)

    return encode_blocks(blocks, int(audio.sr), int(audio.n_channels), fmt, normalize=True)


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
    segments) and ``interactions-<tag>`` (two or more stems), tag names made file-safe and distinct
    by :func:`xmtag._files.file_stems` (slug, cut to 80 bytes, a short hash on a clash or cut).

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
    from .. import plots
    from .._files import file_stems

    tags = [expl.labels[expl.tag_index(t)] for t in ([tags] if isinstance(tags, str) else tags)]
    stems = file_stems(tags)
    out = {"heatmap": ("Shapley values, tags by stems", figure_png(plots.heatmap(expl, tags=tags), dpi))}
    for tag in tags:
        s = stems[tag]
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
