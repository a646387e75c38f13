"""Write every coalition mix to audio files, for taggers xmtag cannot call.

A tagger behind a web service, a licence server or a colleague's laptop cannot be passed to
:func:`xmtag.explain`. :func:`export` writes what such a tagger must score instead: the mix of
every subset of stems (``2**n`` files; or every coalition x time segment) with a stable,
readable name, and a manifest that says which stems each file holds. Score the files with the
tagger, add one column per tag to the manifest, and :func:`xmtag.explanation._scores.from_scores` (also
``xmtag.Explanation.from_scores``) turns the table into an explanation.

File names are ``<mask>_<stems>.<format>``: the coalition's bitmask zero-padded to the width
of the largest one, then the stem names joined by ``+`` (``silence`` for the empty coalition),
e.g. ``05_drums+other.wav``; with segments ``<mask>_<stems>_seg<k>.<format>``. Characters that
are unsafe in file names are replaced by ``-`` in the file name only; the manifest keeps the
real names. A ``<stems>`` part longer than 160 bytes is cut and gets a short hash of the full
stem list (long stem names would otherwise exceed the 255 bytes a file name may have); the
manifest's ``path`` column maps each coalition to its file. In ``manifest.csv`` a stem list that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so that
a spreadsheet does not run it as a formula (:func:`xmtag.Explanation.from_scores` removes it
again when it reads the file); the returned table keeps the names exactly.

Mixes are sums of the stems in stem order in float32, exactly as
:func:`xmtag.coalitions.evaluate` builds them, and ``wav`` files are 32-bit float, so a tagger
reading them back sees the samples xmtag would have fed it (``flac`` is 24-bit PCM and clips at
+-1, ``ogg`` and ``mp3`` are lossy; use them only when the service needs them). Files are written atomically.

Examples
--------
>>> import numpy as np, tempfile, xmtag
>>> stems = xmtag.Stems({"a": np.full(800, 0.1), "b": np.full(800, 0.2)}, sr=8000)
>>> m = export(stems, tempfile.mkdtemp(), progress=False)
>>> m[["mask", "stems", "path", "duration"]]
   mask stems          path  duration
0     0          0_silence.wav       0.1
1     1     a        1_a.wav       0.1
2     2     b        2_b.wav       0.1
3     3   a+b      3_a+b.wav       0.1
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._checks import choice, positive_int
from .._csv import spreadsheet_csv
from .._files import atomic_write_text, shorten_name
from ..attribution import EXACT_MAX_PLAYERS
from ..errors import OutputError, XmtagError

__all__ = ["export", "coalition_name", "MANIFEST", "FORMATS"]

#: File name of the manifest written beside the mixes.
MANIFEST = "manifest.csv"
#: Audio formats :func:`export` writes.
FORMATS = ("wav", "flac", "ogg", "mp3")

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def coalition_name(names: list[str], mask: int) -> str:
    """The ``+``-joined stem names of a coalition (``""`` for silence).

    Parameters
    ----------
    names : list of str
        Stem names; stem ``i`` is bit ``i``.
    mask : int
        Coalition bitmask.

    Returns
    -------
    str

    Examples
    --------
    >>> coalition_name(["drums", "bass", "vocals"], 0b101)
    'drums+vocals'
    >>> coalition_name(["drums"], 0)
    ''
    """
    return "+".join(nm for i, nm in enumerate(names) if (int(mask) >> i) & 1)


def _as_stems(stems: Any) -> Any:
    from ..separation import Stems

    if isinstance(stems, Stems):
        return stems
    if isinstance(stems, (str, os.PathLike)):
        return Stems.from_folder(stems)
    raise XmtagError(
        f"export: stems must be an xmtag.Stems or a folder of stem files, got {type(stems).__name__}; "
        "wrap arrays with xmtag.Stems(mapping, sr=...)."
    )


def _masks(masks: Iterable[int] | None, n: int) -> np.ndarray:
    if masks is None:
        return np.arange(2**n, dtype=np.int64)
    out = []
    for m in masks:
        if isinstance(m, (bool, np.bool_)) or not isinstance(m, (int, np.integer)) or not 0 <= m < 2**n:
            raise XmtagError(f"export: masks must be ints in [0, {2**n - 1}] for {n} stems, got {m!r}.")
        out.append(int(m))
    if not out:
        raise XmtagError("export: masks is empty; pass at least one coalition (or None for all).")
    return np.unique(np.asarray(out, dtype=np.int64))


def _segment_spans(n_samples: int, segments: int | None) -> list[tuple[int, int]]:
    if segments is None:
        return [(0, n_samples)]
    k = positive_int(segments, "segments")
    if k > n_samples:
        raise XmtagError(f"segments={k} is more than the {n_samples} samples of the stems.")
    edges = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n_samples), k)])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def export(
    stems: Any,
    folder: str | os.PathLike[str],
    *,
    format: str = "wav",
    sr: int | None = None,
    segments: int | None = None,
    masks: Iterable[int] | None = None,
    mono: bool = False,
    progress: bool = True,
) -> Any:
    """Write the mix of every coalition of stems as an audio file, plus ``manifest.csv``.

    Parameters
    ----------
    stems : xmtag.Stems or path
        The stems (players, in order: stem ``i`` is bit ``i``), or a folder of stem files
        (:meth:`xmtag.Stems.from_folder`).
    folder : path
        Output folder (created if missing). Existing files of the same names are replaced.
    format : {"wav", "flac", "ogg", "mp3"}
        ``wav``: 32-bit float, lossless (the default). ``flac``: 24-bit PCM. ``ogg`` (Vorbis) and
        ``mp3`` are lossy: for services that only take those; the scores then differ from what
        xmtag's own evaluation would give by the codec's changes.
    sr : int, optional
        Sample rate of the files (default: the stems' rate). Each stem is resampled once,
        before mixing.
    segments : int, optional
        Also cut each mix into this many equal-length consecutive clips and write one file per
        coalition x segment (not the whole mixes); the manifest then has ``segment``, ``start``
        and ``end`` (seconds) columns. For a patch-decomposable tagger, choose a length whose
        segments hold whole patches: the scores then give the same (stem, segment) values as
        ``xmtag.explain(..., segments=K)``.
    masks : iterable of int, optional
        Only these coalitions (bitmasks), e.g. the ones a sampled estimator needs
        (:func:`xmtag.explanation._scores.needed_masks`). Default: all ``2**n``.
    mono : bool
        Write mono mixes built exactly as :func:`xmtag.coalitions.evaluate` builds them (each
        stem downmixed, then resampled to ``sr``, then summed), so that a tagger reading the files
        at ``sr`` sees bit for bit what :func:`xmtag.explain` feeds it. Default: keep the stems'
        channels (a stereo mix downmixed by the tagger can differ by float rounding, ~1e-7).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        The manifest, one row per file: ``mask`` (int), ``stems`` (names joined by ``+``, ``""``
        for silence), ``path`` (file name relative to ``folder``), ``duration`` (seconds),
        and with ``segments`` also ``segment``, ``start``, ``end``. The same table is saved as
        ``folder/manifest.csv``.

    Raises
    ------
    XmtagError
        For an unknown format, a bad ``sr``, ``segments`` or ``masks``, or more than 16 stems.
    OutputError
        If ``folder`` cannot be created or written.

    Examples
    --------
    >>> import numpy as np, tempfile, xmtag
    >>> stems = xmtag.Stems({"x": np.ones(1000), "y": np.zeros(1000)}, sr=1000)
    >>> m = export(stems, tempfile.mkdtemp(), segments=2, masks=[3], progress=False)
    >>> m[["mask", "stems", "segment", "start", "end", "path"]]
       mask stems  segment  start  end           path
    0     3   x+y        0    0.0  0.5  3_x+y_seg0.wav
    1     3   x+y        1    0.5  1.0  3_x+y_seg1.wav
    """
    import pandas as pd

    from ..audio import resample, save_audio

    fmt = choice(str(format).lower().lstrip("."), "format", FORMATS)
    st = _as_stems(stems)
    names = list(st.names)
    n = len(names)
    ambiguous = [nm for nm in names if "+" in nm or nm != nm.strip()]
    if ambiguous:  # before any mix is made: from_scores could not read the manifest back
        fixed = ", ".join(f"{nm!r} -> {nm.replace('+', '-').strip()!r}" for nm in ambiguous[:5])
        raise XmtagError(
            f"export: stem name(s) {ambiguous[:5]} cannot be written to manifest.csv: '+' joins the names "
            "of a coalition's stems (and spaces around a name are dropped when it is read back), so "
            "`xmtag explain --scores` could not tell the stems apart. Rename the stem(s) (the stem "
            f"files), e.g. {fixed}."
        )
    if n > EXACT_MAX_PLAYERS:
        raise XmtagError(
            f"export: {n} stems make {2**n:,} mixes; merge stems, or pass masks= (the coalitions a "
            "sampled estimator needs, see xmtag.explanation._scores.needed_masks)."
        )
    out_sr = int(st.sr) if sr is None else positive_int(sr, "sr")
    todo = _masks(masks, n)
    if mono:
        from ._evaluate import prepare_stems

        tracks = prepare_stems(st, out_sr)[1][:, np.newaxis, :]  # (n, 1, N), as evaluate() does
    else:
        tracks = np.stack([np.asarray(st[nm], dtype=np.float32) for nm in names])  # (n, C, N)
    if not mono and out_sr != st.sr:
        tracks = np.stack(
            [np.stack([resample(ch, int(st.sr), out_sr) for ch in tr]) for tr in tracks]
        ).astype(np.float32)
    spans = _segment_spans(tracks.shape[2], segments)
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the folder {str(folder)!r}: {exc.strerror or exc}.") from exc
    width = len(str(2**n - 1))
    safe = [_UNSAFE.sub("-", nm) for nm in names]
    rows = []
    with tqdm(total=int(todo.size * len(spans)), desc="mixes", unit="file", disable=not progress) as bar:
        for m in todo.tolist():
            mix = np.zeros(tracks.shape[1:], dtype=np.float32)
            for i in range(n):  # stem order, float32: the sums coalitions.evaluate builds
                if (m >> i) & 1:
                    mix += tracks[i]
            # a name cut to fit a file system's 255 bytes keeps a hash of the full stem list
            label = shorten_name(coalition_name(safe, m) or "silence", 160, key=coalition_name(names, m))
            for k, (a, b) in enumerate(spans):
                tail = "" if segments is None else f"_seg{k}"
                fname = f"{m:0{width}d}_{label}{tail}.{fmt}"
                save_audio(folder / fname, mix[:, a:b], out_sr)
                row = {"mask": m, "stems": coalition_name(names, m), "path": fname}
                if segments is not None:
                    row.update(segment=k, start=a / out_sr, end=b / out_sr)
                row["duration"] = (b - a) / out_sr
                rows.append(row)
                bar.update(1)
    table = pd.DataFrame(rows)
    # opened in spreadsheets to add score columns: a stem name like "=cmd" must not become a formula
    atomic_write_text(folder / MANIFEST, spreadsheet_csv(table))
    return table
