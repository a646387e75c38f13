"""The report page: render the template with the explanation's numbers, write it, open it."""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import tempfile
import webbrowser
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_write_text, shorten_name
from ..errors import XmtagError
from ._data import DEFAULT_AUDIO_SECONDS, SIZE_BUDGET_MB
from ._encode import slug

if TYPE_CHECKING:  # pragma: no cover

    from ..explanation import Explanation

__all__ = ['write_html', 'to_html', 'repr_html', 'show', 'open_in_browser']


logger = logging.getLogger(__name__)


_SIZE_MARK = "@@XMTAG_PAGE_SIZE@@"


# -- the page ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("xmtag.report", "templates"),
        autoescape=True,
        trim_blocks=False,
        lstrip_blocks=False,
        undefined=jinja2.StrictUndefined,
    )


@functools.lru_cache(maxsize=4)
def _asset(name: str) -> str:
    """The text of a file in ``xmtag/report/templates`` (the page's script and stylesheet)."""
    from importlib import resources

    return resources.files("xmtag.report").joinpath("templates", name).read_text(encoding="utf-8")


def _shown_tags(expl: Explanation, tags: Iterable[str] | str | None, top: int) -> list[str]:
    from .._checks import positive_int

    if isinstance(tags, str):
        tags = [tags]
    if tags is not None:
        shown = [expl.labels[expl.tag_index(t)] for t in tags]
    else:
        shown = expl.top_tags(min(positive_int(top, "top"), expl.n_tags))
    if not shown:
        raise XmtagError("The report needs at least one tag to show: pass tags=[...] or top >= 1.")
    return shown


def _render(
    expl: Explanation,
    template: str,
    *,
    tags: Iterable[str] | str | None,
    top: int,
    share: float | None,
    audio: bool,
    title: str | None,
    audio_cache: dict | None,
    selected: str | None = None,
    open_static: bool = False,
    max_audio_seconds: float | None = DEFAULT_AUDIO_SECONDS,
) -> str:
    from ..explanation import DEFAULT_SHARE
    from ._data import desk, meta_rows, page_data, size_text, source_name, table

    share = DEFAULT_SHARE if share is None else float(share)
    if not 0.0 < share <= 1.0:
        raise XmtagError(f"share must be in (0, 1], got {share!r}.")
    shown = _shown_tags(expl, tags, top)
    if selected is not None:
        selected = expl.labels[expl.tag_index(selected)]
    title = title or f"Why these tags? {source_name(expl)}"
    data = page_data(
        expl,
        shown,
        selected=selected,
        share=share,
        audio=audio,
        audio_cache=audio_cache,
        title=title,
        max_audio_seconds=max_audio_seconds,
    )
    # < > & as \u escapes (jinja's tojson rule): the data element cannot end early or open a comment
    data_json = (
        json.dumps(data, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    context = {
        "uid": f"xm-{secrets.token_hex(4)}",
        "title": title,
        "css": _asset("report.css"),
        "js": _asset("report.js"),
        "data_json": data_json,
        "desk": desk(expl, data),
        "table": table(expl, [expl.tag_index(t) for t in shown]),
        "meta": meta_rows(expl),
        "budget_mb": f"{SIZE_BUDGET_MB:g}",
        "size_placeholder": _SIZE_MARK,
        "open_static": open_static,
    }
    text = _environment().get_template(template).render(**context)
    if _SIZE_MARK in text:
        size = len(text.replace(_SIZE_MARK, "").encode("utf-8"))
        text = text.replace(_SIZE_MARK, size_text(size + 120, data, expl.n_stems))
    return text


def to_html(
    expl: Explanation,
    *,
    tags: Iterable[str] | str | None = None,
    top: int = 5,
    share: float | None = None,
    audio: bool = True,
    title: str | None = None,
    images: Mapping[str, tuple[str, bytes]] | None = None,
    audio_cache: dict | None = None,
    selected: str | None = None,
    max_audio_seconds: float | None = DEFAULT_AUDIO_SECONDS,
) -> str:
    """The report as an HTML string (see :func:`write_html`).

    Parameters
    ----------
    expl : Explanation
    tags, top, share, audio, title, images, audio_cache, selected, max_audio_seconds
        As for :func:`write_html`.

    Returns
    -------
    str
        A self-contained HTML page (script, styles, data and audio inline).

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> to_html(e, audio=False).startswith("<!DOCTYPE html>")
    True
    """
    del images  # the page draws its figures from the numbers; PNGs are no longer embedded
    return _render(
        expl,
        "report.html.j2",
        tags=tags,
        top=top,
        share=share,
        audio=audio,
        title=title,
        audio_cache=audio_cache,
        selected=selected,
        max_audio_seconds=max_audio_seconds,
    )


def write_html(
    expl: Explanation,
    path: str | os.PathLike[str],
    *,
    tags: Iterable[str] | str | None = None,
    top: int = 5,
    share: float | None = None,
    audio: bool = True,
    title: str | None = None,
    images: Mapping[str, tuple[str, bytes]] | None = None,
    audio_cache: dict | None = None,
    selected: str | None = None,
    max_audio_seconds: float | None = DEFAULT_AUDIO_SECONDS,
) -> Path:
    """Write the interactive report (one self-contained ``.html`` file), atomically.

    Parameters
    ----------
    expl : Explanation
    path : str or os.PathLike
        Destination ``.html``; its folder must exist.
    tags : iterable of str, optional
        Tags drawn as bars, in order. Default: the ``top`` tags with the highest prediction.
        The page's tag picker searches all labels.
    top : int
        How many tags without ``tags``.
    share : float, optional
        Share kept by the listenable explanations (default
        :data:`xmtag.explanation.DEFAULT_SHARE`).
    audio : bool
        Embed the stems' audio (compressed, base64) when it is attached (``expl.audio``).
    title : str, optional
        Page title.
    images : mapping, optional
        Ignored (kept for callers of earlier versions; the page draws its own figures).
    audio_cache : dict, optional
        ``{coalition mask: encoded bytes}`` (``(mask, samples)`` keys for capped audio,
        :func:`xmtag.report._data.audio_key`), read and filled (to avoid encoding a stem twice).
    selected : str, optional
        The tag selected when the page opens (default: the first shown).
    max_audio_seconds : float or None
        Embed at most this many seconds of each stem's audio (default 600, ten minutes: about
        12 MB of base64 MP3 per stem); ``None`` embeds all of it. When it cuts, the page says
        so above the desk, playback stops at the cut, and the timeline and the scores still cover
        the whole recording (:func:`xmtag.report.audio_cap` tells whether a page will be cut).

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
        selected=selected,
        max_audio_seconds=max_audio_seconds,
    )
    written = atomic_write_text(path, text)
    size = len(text.encode("utf-8")) / 1e6
    logger.info("Wrote report %s (%.1f MB)", written, size)
    if size > SIZE_BUDGET_MB:
        logger.warning(
            "The report %s is %.1f MB, above the %g MB of a 30-s, 5-stem song: the stems' audio is "
            "embedded; write_html(..., audio=False) (or --no-audio) makes a small page.",
            written,
            size,
            SIZE_BUDGET_MB,
        )
    return written


def repr_html(
    expl: Explanation,
    *,
    tags: Iterable[str] | str | None = None,
    top: int = 5,
    audio: bool = False,
    title: str | None = None,
) -> str:
    """The compact notebook view (``Explanation._repr_html_``): the desk without the page.

    No audio unless ``audio=True`` (a notebook keeps every output it shows). The keys act while
    the view has focus; without JavaScript (e.g. a rendered notebook on the web) the table of
    values is what shows.

    Parameters
    ----------
    expl : Explanation
    tags, top, title
        As for :func:`write_html`.
    audio : bool
        Embed the stems' audio.

    Returns
    -------
    str
        An HTML fragment.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> fragment = repr_html(e)
    >>> fragment.lstrip().startswith("<style>") and "Solo bass" in fragment
    True
    """
    title = title or f"{expl!r}"
    return _render(
        expl,
        "notebook.html.j2",
        tags=tags,
        top=top,
        share=None,
        audio=audio,
        title=title,
        audio_cache=None,
        open_static=False,
    )


def open_in_browser(path: str | os.PathLike[str]) -> bool:
    """Open a file in the default web browser (:mod:`webbrowser`).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bool
        Whether a browser was started; where none is available (a server without a desktop)
        a message says which file to open.

    Raises
    ------
    OutputError
        If the file does not exist.
    """
    from ..errors import OutputError

    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise OutputError(f"Cannot open {str(path)!r} in a browser: no such file.")
    try:
        ok = bool(webbrowser.open(p.as_uri()))
    except webbrowser.Error:
        ok = False
    if not ok:
        logger.warning("No web browser could be started here; open %s in a browser.", p)
    return ok


def show(
    expl: Explanation,
    path: str | os.PathLike[str] | None = None,
    *,
    open: bool = True,
    **kwargs: Any,
) -> Path:
    """Write the interactive report and open it in the default browser (``Explanation.show``).

    Parameters
    ----------
    expl : Explanation
    path : str or os.PathLike, optional
        Where to write the page; default a new file in the temporary folder.
    open : bool
        Open it in the browser (:func:`open_in_browser`).
    **kwargs
        Passed to :func:`write_html` (``tags``, ``top``, ``audio``, ...).

    Returns
    -------
    pathlib.Path
        The written page.

    Examples
    --------
    >>> from xmtag import Explanation
    >>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
    >>> show(e, open=False).suffix
    '.html'
    """
    from ._data import source_name

    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="xmtag-report-"))
        path = folder / f"{shorten_name(slug(Path(source_name(expl)).stem))}.html"
    written = write_html(expl, path, **kwargs)
    if open:
        open_in_browser(written)
    return written
