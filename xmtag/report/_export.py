"""Everything ``xmtag explain`` writes, as one library call: :func:`export`.

``xmtag.export`` and ``xmtag.report.export`` are this function (the private module name keeps a
submodule from ever shadowing it); ``xmtag.outputs`` is an alias of this module.

Examples
--------
>>> import os, tempfile
>>> from xmtag import Explanation
>>> e = Explanation.from_game([0.0, 0.6, 0.1, 0.9], ["drums", "bass"], ["rock"])
>>> out = export(e, os.path.join(tempfile.mkdtemp(), "run"), plots=False, report=False)
>>> sorted(p.name for p in out.values())
['attributions.csv', 'explanation.xmtag', 'files.csv']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _checks
from ..errors import XmtagError
from ._data import DEFAULT_AUDIO_SECONDS, capped_samples

if TYPE_CHECKING:  # pragma: no cover
    from ..explanation import Explanation

__all__ = ["export", "shown_tags", "OWNED"]

logger = logging.getLogger(__name__)

#: Files an export writes (what a rerun into the same folder replaces).
OWNED = (
    "explanation.xmtag",
    "attributions.csv",
    "segments.csv",
    "files.csv",
    "plots/*.png",
    "audio/*",
    "report.html",
)


def shown_tags(expl: Explanation, tags: Iterable[str] | str | None, top: int) -> list[str]:
    """The tags an export shows: ``tags`` when given (checked), else the ``top`` predictions."""
    if tags is not None:
        return [expl.labels[i] for i in _checks.tag_indices(expl.labels, tags, who="tags")]
    top = _checks.positive_int(top, "top")
    return expl.top_tags(min(top, expl.n_tags))


def export(
    expl: Explanation,
    out: str | os.PathLike[str],
    *,
    tags: Iterable[str] | None = None,
    top: int = 5,
    audio: bool = True,
    plots: bool = True,
    report: bool = True,
    share: float | None = None,
    force: bool = False,
    title: str | None = None,
    inputs: Iterable[str | os.PathLike[str]] = (),
    max_audio_seconds: float | None = DEFAULT_AUDIO_SECONDS,
) -> dict[str, Path]:
    """Write an explanation's files into a folder: what ``xmtag explain`` writes.

    ::

        explanation.xmtag       the Explanation (xmtag.Explanation.load)
        attributions.csv        tidy table: tag, stem, value, stderr, solo, without, base_value, prediction
        segments.csv            time-resolved values (when the explanation has segments)
        plots/*.png             heatmap, and per shown tag: bar, waterfall, timeline, interactions
        audio/listen-<tag>.*    the smallest stem coalition that keeps each shown tag
        report.html             self-contained interactive report
        files.csv               every file written: role, tag, path (tag names map to file names)

    The CSV files are meant for spreadsheets: a tag or stem name that starts with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return is written with a leading ``'`` so that no spreadsheet
    runs it as a formula (:mod:`xmtag._csv`); ``explanation.xmtag`` keeps the names exactly.

    File names made from tags are safe slugs cut to 80 bytes, with a short hash of the tag
    appended when two tags would give the same name (``rock/pop``, ``rock pop``, ``rock_pop``)
    or the name was cut; ``files.csv`` says which file belongs to which tag.

    Every file is written atomically. A rerun into the same folder first removes the files
    the previous export wrote there (a marker file lists them), so no stale plot of another
    song stays behind; a non-empty folder that xmtag did not write is refused unless
    ``force=True``.

    Parameters
    ----------
    expl : Explanation
    out : str or os.PathLike
        The output folder (created if needed).
    tags : iterable of str, optional
        Tags to show in plots, audio and report (default: the ``top`` predictions).
    top : int
        How many top tags to show when ``tags`` is not given.
    audio, plots, report : bool
        Write the listenable explanations, the PNG plots, the HTML report.
    share : float, optional
        Share of a tag's gain over silence a listenable explanation keeps (default 0.9).
    force : bool
        Write into a non-empty folder that is not an earlier xmtag output.
    title : str, optional
        Title of the report.
    inputs : iterable of path, optional
        The files and folders the explanation was computed from: an output folder that is,
        contains or lies inside one of them is refused before anything is written.
    max_audio_seconds : float or None
        The report embeds at most this many seconds of each stem's audio (default 600; ``None``:
        all of it) and says so when it cuts (:func:`xmtag.report.audio_cap`). The listenable
        explanations in ``audio/`` are always whole.

    Returns
    -------
    dict of str to pathlib.Path
        What was written, by role (``"explanation"``, ``"table"``, ``"plot:<name>"``,
        ``"listen:<tag>"``, ``"report"``).

    Raises
    ------
    OutputError
        If the folder cannot be used (not empty and not an xmtag output, or holding an input)
        or a file cannot be written.
    UnknownTagError
        For a tag that is not a label.
    """
    from .._csv import spreadsheet_csv
    from .._files import (
        atomic_write_bytes,
        atomic_write_text,
        output_path,
        prepare_output_dir,
        record_outputs,
    )
    from ..explanation import DEFAULT_SHARE

    share = _checks.share(DEFAULT_SHARE if share is None else share, "share")
    shown = shown_tags(expl, tags, top)
    samples = capped_samples(expl, max_audio_seconds) if audio and report else None
    folder = prepare_output_dir(out, force=force, owned=OWNED, inputs=inputs)
    written: dict[str, Path] = {}
    try:
        written["explanation"] = expl.save(output_path(folder, "explanation.xmtag"))
        written["table"] = atomic_write_text(
            output_path(folder, "attributions.csv"), spreadsheet_csv(expl.to_frame())
        )
        if expl.segment_values is not None:
            written["segments"] = atomic_write_text(
                output_path(folder, "segments.csv"),
                spreadsheet_csv(expl.to_frame(segments=True)),
            )
        # The audio (listenable mixes and the report's stems) is encoded in worker threads while
        # the plots render here: libsndfile's encoder runs without the GIL, matplotlib needs it.
        # Same bytes as encoding one after the other; only the waiting overlaps.
        encoding = _start_encoding(
            expl, shown, share, listen=audio, stems=audio and report, plots=plots, samples=samples
        )
        try:
            images: dict[str, tuple[str, bytes]] = {}
            if plots:  # the report draws its own figures in the page
                from ._encode import render_plots

                images = render_plots(expl, shown)
                for key, (_, png) in images.items():
                    written[f"plot:{key}"] = atomic_write_bytes(output_path(folder, f"plots/{key}.png"), png)
            cache: dict = _collect(encoding)
        finally:
            _stop(encoding)
        if audio and expl.audio is not None and expl.has_coalitions:
            written.update(_listenables(expl, folder, shown, share, cache))
        if report:
            from ._html import write_html

            written["report"] = write_html(
                expl,
                output_path(folder, "report.html"),
                tags=shown,
                share=share,
                audio=audio,
                images=images,
                audio_cache=cache,
                title=title,
                max_audio_seconds=max_audio_seconds,
            )
        written["files"] = atomic_write_text(
            output_path(folder, "files.csv"), _files_table(written, folder, shown)
        )
    finally:  # even a partial export is listed, so that the next run cleans it up
        record_outputs(folder, list(written.values()))
    logger.info("Exported %r to %s (%d files)", expl, folder, len(written))
    return written


def _files_table(written: dict[str, Path], folder: Path, shown: list[str]) -> str:
    """``files.csv``: one row per file written (role, tag, path), so a cut or hashed file name can
    be traced back to its tag."""
    import csv
    import io

    from .._csv import spreadsheet_safe
    from .._files import file_stems

    by_stem = {stem: tag for tag, stem in file_stems(shown).items()}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["role", "tag", "path"])
    for key, path in [*written.items(), ("files", folder / "files.csv")]:
        role, _, rest = key.partition(":")
        tag = rest if role == "listen" else by_stem.get(rest.partition("-")[2], "") if role == "plot" else ""
        w.writerow([role, spreadsheet_safe(tag), path.relative_to(folder).as_posix()])
    return buf.getvalue()


def _listenables(
    expl: Explanation, folder: Path, shown: list[str], share: float, cache: dict
) -> dict[str, Path]:
    from .._files import atomic_write_bytes, file_stems, output_path
    from ._encode import audio_mp3, audio_suffix

    out: dict[str, Path] = {}
    names = file_stems(shown)
    for tag in shown:
        try:
            pick = expl.smallest_coalition(tag, share)
        except XmtagError as exc:
            logger.info("No listenable explanation for %r: %s", tag, exc)
            continue
        if pick.mask not in cache:
            y, sr = expl.mix(pick.stems)
            cache[pick.mask] = audio_mp3(y, sr)
        data = cache[pick.mask]
        out[f"listen:{tag}"] = atomic_write_bytes(
            output_path(folder, f"audio/listen-{names[tag]}{audio_suffix(data)}"), data
        )
    return out


def _needed_masks(
    expl: Explanation, shown: list[str], share: float, listen: bool, stems: bool, samples: int | None = None
) -> list:
    """The stem subsets whose audio an export encodes, as audio-cache keys: each shown tag's
    listenable explanation (``listen``, whole) and each single stem for the report's players
    (``stems``; their first ``samples`` when the report caps its audio), in that order."""
    from ._data import audio_key

    if expl.audio is None:
        return []
    masks: list = []
    if listen and expl.has_coalitions:
        for tag in shown:
            try:
                masks.append(int(expl.smallest_coalition(tag, share).mask))
            except XmtagError:  # no listenable explanation for this tag (said when it is written)
                continue
    if stems:
        masks.extend(audio_key(1 << i, samples) for i in range(expl.n_stems))
    return list(dict.fromkeys(masks))


def _encode_mask(expl: Explanation, key: int | tuple[int, int]) -> bytes:
    from ._data import encode_coalition

    mask, samples = key if isinstance(key, tuple) else (key, None)
    return encode_coalition(expl, mask, samples)


def _workers(n_jobs: int, plots: bool) -> int:
    """Encoding threads: one per core, less the one that renders the plots (at least one)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(n_jobs, cores - (1 if plots else 0), 4))


def _start_encoding(
    expl: Explanation,
    shown: list[str],
    share: float,
    *,
    listen: bool,
    stems: bool,
    plots: bool,
    samples: int | None = None,
) -> tuple[object, dict] | None:
    """Start encoding every needed stem subset in a thread pool (``None`` when nothing is needed)."""
    masks = _needed_masks(expl, shown, share, listen, stems, samples)
    if not masks:
        return None
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=_workers(len(masks), plots), thread_name_prefix="xmtag-encode")
    return pool, {m: pool.submit(_encode_mask, expl, m) for m in masks}


def _collect(encoding: tuple[object, dict] | None) -> dict:
    """``{mask: encoded bytes}``: waits for the workers; an encoding error is raised here."""
    if encoding is None:
        return {}
    return {m: f.result() for m, f in encoding[1].items()}  # type: ignore[attr-defined]


def _stop(encoding: tuple[object, dict] | None) -> None:
    """Shut the pool down (cancelling what has not started, e.g. after a plot failed)."""
    if encoding is not None:
        encoding[0].shutdown(wait=True, cancel_futures=True)  # type: ignore[attr-defined]
