"""The interactive HTML report of an :class:`~xmtag.Explanation`: a mixing desk in one file.

The page (:func:`write_html`, what ``xmtag explain``, ``xmtag demo`` and ``xmtag.export`` write)
opens in any browser from a file, offline, and can be mailed around: it needs no server, no CDN
and no network. A channel strip per stem mutes and solos it; the stems play through the Web
Audio API, all started together, so a mute switches on the same sample in every stem; and the
bars show the tagger's output for exactly the mix you hear, read from the explanation's
coalition values (per time segment at the playhead when segments were computed). The selected
tag's waterfall and time-resolved view are drawn in the page from the numbers. Stems are
embedded as compressed audio (MP3, about 0.4 MB per stem per 30 s in base64; the page of the
26-s, 5-stem demo song is 2.1 MB, and states its size); ``audio=False`` leaves them out. Each
stem's embedded audio is capped at :data:`DEFAULT_AUDIO_SECONDS` (10 minutes; ``max_audio_seconds``,
``--report-audio-minutes``): the page of a longer recording embeds its first ten minutes, says so,
and still shows the timeline and the scores of the whole recording.

The page is a jinja2 template (``xmtag/report/templates/report.html.j2``) with a stylesheet and a script
next to it; :mod:`xmtag.report._data` prepares the numbers. :func:`repr_html` is the compact
notebook view (``Explanation._repr_html_``), :func:`show` writes the page and opens it.

Examples
--------
>>> import tempfile, os
>>> from xmtag import Explanation
>>> e = Explanation.from_game([[0.0], [0.2], [0.5], [0.9]], ["drums", "guitar"], ["rock"])
>>> path = write_html(e, os.path.join(tempfile.mkdtemp(), "report.html"))
>>> text = path.read_text()
>>> "Mute guitar" in text and "<script src" not in text
True
"""

from ._data import DEFAULT_AUDIO_SECONDS, audio_cap
from ._encode import audio_mp3, audio_suffix, figure_png, render_plots, slug
from ._export import OWNED, export, shown_tags
from ._html import open_in_browser, repr_html, show, to_html, write_html

__all__ = [
    "write_html",
    "to_html",
    "repr_html",
    "show",
    "open_in_browser",
    "render_plots",
    "figure_png",
    "audio_mp3",
    "audio_suffix",
    "slug",
    "export",
    "shown_tags",
    "OWNED",
    "DEFAULT_AUDIO_SECONDS",
    "audio_cap",
]
