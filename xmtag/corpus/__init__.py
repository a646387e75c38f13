"""Explain a whole dataset, resumably, locally or on a Dask cluster: :func:`explain`, :func:`load`.

:func:`explain` runs :func:`xmtag.explain` on every track of a folder, a list of paths or a
manifest, writes one explanation file per track and tidy tables into a store folder, and
returns a :class:`Corpus`. A rerun computes only what is missing; a track that fails goes into
the failures table and the run goes on.

Examples
--------
>>> import xmtag
>>> c = xmtag.corpus.explain("musdb18/train/", "store/", segments=8)  # doctest: +SKIP
>>> c.summarize(by="genre").head()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .. import _checks
from ..errors import XmtagError
from .runner import PoolBrokenError
from .sources import Track, resolve_sources
from .stats import bootstrap_mean, summarize
from .store import TABLE_COLUMNS, Corpus, Store, StoreBusyError, load

__all__ = [
    "explain",
    "load",
    "Corpus",
    "Track",
    "Store",
    "StoreBusyError",
    "PoolBrokenError",
    "resolve_sources",
    "summarize",
    "bootstrap_mean",
]

logger = logging.getLogger(__name__)


def _stat_signature(track: Track) -> list:
    """Names, sizes and modification times of the track's audio files (cheap to read)."""
    from pathlib import Path

    from .sources import AUDIO_SUFFIXES

    p = Path(track.path)
    try:
        files = [p]
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    except OSError:
        return []


def _input_hash(track: Track, settings_key: str) -> str:
    """Content hash of the track's audio (every audio file of a stem folder) and the settings."""
    from pathlib import Path

    from ..cache import hash_file, make_key
    from .sources import AUDIO_SUFFIXES

    p = Path(track.path)
    if not p.exists():
        return make_key("missing", track.path, settings_key)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        parts = [(f.name, hash_file(f)) for f in files]
    else:
        try:
            parts = [(p.name, hash_file(p))]
        except (OSError, XmtagError):
            return make_key("unreadable", track.path, settings_key)
    return make_key("corpus-track", parts, settings_key)


def explain(
    sources: Any,
    out: str | os.PathLike[str],
    *,
    tagger: Any = "musicnn-msd",
    separator: str | None = None,
    method: str = "exact",
    segments: int | None = None,
    budget: int | None = None,
    bands: Any = None,
    seed: int = 0,
    baseline: str = "silence",
    manifest: Any = None,
    device: str = "auto",
    client: Any = None,
    workers: int | None = None,
    retries: int = 2,
    cache: bool = True,
    progress: bool = True,
) -> Corpus:
    """Explain every track of a dataset into a store folder; resumable.

    Parameters
    ----------
    sources : str, os.PathLike, list or pandas.DataFrame
        A folder (each sub-folder of stem files is one track, MUSDB18's layout included; each
        audio file directly in it is a mix to separate), a list of paths, or a manifest (CSV /
        Parquet / DataFrame with a ``path`` column and any label columns such as ``genre``;
        a ``track`` column gives the ids). See :func:`xmtag.corpus.resolve_sources`.
    out : str or os.PathLike
        The store folder (created; an existing store must have the same settings).
    tagger : str or tagger
        A tagger name (each worker loads it once). A tagger object runs in this process only.
    separator : str, optional
        Separator for the mixes (default: the best available, see :class:`xmtag.Separator`).
    method, segments, budget, bands, seed, baseline, device, cache
        As for :func:`xmtag.explain`; recorded in the store's settings.
    manifest : str, os.PathLike or pandas.DataFrame, optional
        Labels for a folder's tracks (``track`` + label columns).
    client : dask.distributed.Client, optional
        Run the tracks on this Dask cluster (``[dask]`` extra) instead of a local pool.
    workers : int, optional
        Local worker processes (default: the cores, at most 8; ``0``: in this process).
    retries : int
        Dask retries of a track whose worker died.
    progress : bool
        A progress bar over tracks, with an ETA.

    Returns
    -------
    Corpus

    Raises
    ------
    XmtagError
        For bad sources (empty folder, duplicate ids, a manifest without ``path``), an ``out``
        that is a file or a store made with other settings.
    KeyboardInterrupt
        After Ctrl-C: the tracks finished so far are in the store (and its table); a rerun
        computes the rest.
    """
    from ..attribution import METHODS
    from ..taggers.base import tagger_name

    _checks.choice(method, "method", METHODS)
    segments = _checks.positive_int(segments, "segments", allow_none=True)
    budget = _checks.positive_int(budget, "budget", allow_none=True)
    retries = _checks.non_negative_int(retries, "retries")
    tracks, _ = resolve_sources(sources, manifest)
    clash = sorted({k for t in tracks for k in t.labels} & set(TABLE_COLUMNS))
    if clash:
        raise XmtagError(
            f"Manifest label column(s) {clash} have the names of table columns "
            f"({', '.join(TABLE_COLUMNS)}) and would overwrite them: rename them in the manifest "
            "(e.g. 'tag' -> 'label_tag')."
        )
    by_name = isinstance(tagger, (str, os.PathLike))
    settings = {
        "tagger": os.fspath(tagger) if by_name else tagger_name(tagger),
        "separator": separator,
        "method": method,
        "segments": segments,
        "budget": budget,
        "bands": bands if bands is None or isinstance(bands, int) else [float(b) for b in bands],
        "seed": seed,
        "baseline": baseline,
    }
    store = Store(out)
    store.lock()  # one run per store; released in the finally below
    try:
        return _explain_locked(
            store, tracks, settings, tagger, by_name, device, cache, workers, client, retries, progress
        )
    finally:
        store.unlock()


def _explain_locked(
    store: Store,
    tracks: list[Track],
    settings: dict[str, Any],
    tagger: Any,
    by_name: bool,
    device: str,
    cache: bool,
    workers: int | None,
    client: Any,
    retries: int,
    progress: bool,
) -> Corpus:
    from ..cache import make_key

    key = make_key("corpus-settings", sorted(settings.items()))
    out = store.root
    store.open(settings, create=True)
    used = store.separator_used()  # the automatic choice of an earlier run: the same one again
    todo, skipped = [], 0
    for t in tracks:
        sig = _stat_signature(t)
        rec = store.record(t.id)
        if sig and rec and rec.get("stat") == sig and rec.get("settings_key") == key:
            if store.is_done(t.id, rec.get("input_hash", "")):  # files untouched since: no hashing needed
                skipped += 1
                continue
        h = _input_hash(t, key)
        if store.is_done(t.id, h):
            skipped += 1
            continue
        task = {
            "track": t.id,
            "path": t.path,
            "kind": t.kind,
            "labels": t.labels,
            "input_hash": h,
            "stat": sig,
            **{k: v for k, v in settings.items() if k != "tagger"},
            "separator": settings["separator"] or used,
            "device": device,
            "cache": cache,
        }
        if by_name:
            task["tagger"] = settings["tagger"]
        else:
            task["tagger_obj"] = tagger
        todo.append(task)
    logger.info("corpus: %d tracks, %d already done, %d to explain", len(tracks), skipped, len(todo))
    failed = 0

    def write(res: dict[str, Any]) -> None:
        nonlocal failed, used
        record = {
            k: res.get(k)
            for k in (
                "track",
                "path",
                "labels",
                "input_hash",
                "stat",
                "seconds",
                "budget",
                "method",
                "separator",
            )
        }
        sep = res.get("separator")
        if res.get("ok") and sep:
            if used is None:
                store.set_separator_used(sep)
                used = sep
            elif sep != used:  # never two separators' stems in one table
                res = {
                    **res,
                    "ok": False,
                    "reason": f"separated with {sep!r}, but this store's mixes were separated with {used!r}; "
                    f"pass separator={used!r} (or use another out= folder)",
                }
        if res.get("ok"):
            store.write_track(res["track"], res["data"], {**record, "settings_key": key})
        else:
            failed += 1
            store.write_failure(res["track"], {**record, "reason": res.get("reason", "unknown")})
            logger.warning("corpus: %s failed: %s", res["track"], res.get("reason"))

    from .runner import run_tracks

    try:
        run_tracks(todo, workers=workers, client=client, retries=retries, on_result=write, progress=progress)
    finally:  # also after Ctrl-C: the table shows what is done (and is rebuilt when stale)
        store.write_tables()
    corpus = Corpus(out)
    if failed:
        logger.warning("corpus: %d of %d tracks failed; see %s/failures.csv", failed, len(tracks), out)
    return corpus
