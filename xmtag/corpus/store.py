"""The corpus store: one folder of per-track explanation files and tidy tables, written atomically.

Layout::

    store/
      corpus.json            the settings every track of the store was explained with
      tracks/<file>.xmtag    one explanation per track (xmtag.Explanation.load)
      tracks/<file>.json     its record: track id, labels, input content hash, settings key
      failures/<file>.json   a track that failed: id, reason
      table.parquet          tidy table: track, tag, stem, value, stderr, solo, without,
                             base_value, prediction, + the labels
      segments.parquet       time-resolved values (when segments were asked for)
      failures.csv           the failures, one row each
      .lock                  held by the run writing the store (its pid, host and start time)

A track counts as done when its record exists with the same settings key and input hash, so a
rerun (after Ctrl-C, SIGKILL or a dead worker) computes only what is missing; every file is
written to a temporary name and renamed, so nothing under a final name is ever half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_write_bytes, atomic_write_text
from ..errors import OutputError, XmtagError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..explanation import Explanation

__all__ = ["Store", "Corpus", "load", "StoreBusyError", "SETTINGS_FILE", "TABLE_FILE", "TABLE_COLUMNS"]

SETTINGS_FILE = "corpus.json"
TABLE_FILE = "table.parquet"
SEGMENTS_FILE = "segments.parquet"
FAILURES_FILE = "failures.csv"
# the columns of table.parquet and segments.parquet; a manifest label may not take one of these names
TABLE_COLUMNS = (
    "track",
    "tag",
    "stem",
    "value",
    "stderr",
    "solo",
    "without",
    "base_value",
    "prediction",
    "segment",
    "start",
    "end",
    "local_value",
)
LOCK_FILE = ".lock"
_FORMAT = "xmtag.corpus"


def file_stem(track_id: str) -> str:
    """A file name for a track id: readable, and unique (a short hash of the id).

    >>> file_stem("rock/song 1")
    'rock_song_1-2bac395c'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", track_id).strip("._")[:80] or "track"
    return f"{safe}-{hashlib.sha256(track_id.encode()).hexdigest()[:8]}"


class StoreBusyError(XmtagError):
    """Another run is writing the store (it holds the store's lock file)."""


class Store:
    """A store folder (see the module notes); made by :func:`xmtag.corpus.explain`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None

    # -- one writer at a time --------------------------------------------------------------------
    def lock(self) -> None:
        """Take the store's lock (``.lock``, an OS file lock that dies with its process, holding
        the owner's pid, host and start time); :class:`StoreBusyError` when another run holds
        it. Creates the folder, so that creating a store is serialized by the lock too."""
        import socket
        import time

        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"Corpus store {str(self.root)!r} is a file. Choose a folder for out=.")
        if (
            self.root.is_dir()
            and not (self.root / SETTINGS_FILE).exists()
            and not (self.root / LOCK_FILE).exists()
            and any(self.root.iterdir())
        ):  # leave no lock file in a folder of the user's
            raise OutputError(
                f"Corpus store {str(self.root)!r} is a non-empty folder that is not an xmtag corpus "
                "store; choose a new or empty folder."
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"Cannot write the corpus store {str(self.root)!r}: {exc}") from None
        try:
            _os_lock(fd)
        except OSError:
            try:
                owner = json.loads(os.read(fd, 4096).decode() or "{}")
            except ValueError:
                owner = {}
            os.close(fd)
            who = (
                f"pid {owner.get('pid')} on host {owner.get('host')!r}, since {owner.get('started')}"
                if owner
                else "a run that is starting"
            )
            raise StoreBusyError(
                f"Corpus store {str(self.root)!r} is being written by another run ({who}). Wait for "
                "it to finish (a rerun then computes only what is missing), or use another out= folder."
            ) from None
        doc = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(doc) + "\n").encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock (the file stays: removing it could let two runs hold it)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing releases the OS lock

    # -- settings ------------------------------------------------------------------------------
    def open(self, settings: dict[str, Any], *, create: bool) -> None:
        """Create the store for ``settings``, or check that an existing one used the same."""
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"Corpus store {str(self.root)!r} is a file. Choose a folder for out=.")
        have = self.settings()
        if have is None:
            if not create:
                raise XmtagError(f"{str(self.root)!r} is not an xmtag corpus store (no {SETTINGS_FILE}).")
            if self.root.is_dir() and any(p.name != LOCK_FILE for p in self.root.iterdir()):
                raise OutputError(
                    f"Corpus store {str(self.root)!r} is a non-empty folder that is not an xmtag corpus "
                    "store; choose a new or empty folder."
                )
            for sub in ("tracks", "failures"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            doc = {"format": _FORMAT, "format_version": 1, "settings": settings}
            atomic_write_text(self.root / SETTINGS_FILE, json.dumps(doc, indent=1, sort_keys=True) + "\n")
            return
        if have != settings:
            diff = {
                k: (have.get(k), settings.get(k))
                for k in sorted(set(have) | set(settings))
                if have.get(k) != settings.get(k)
            }
            shown = "; ".join(f"{k}: store {a!r}, now {b!r}" for k, (a, b) in diff.items())
            raise XmtagError(
                f"Corpus store {str(self.root)!r} was made with other settings ({shown}). Its table would "
                "mix explanations made differently: use another out= folder for these settings."
            )
        for sub in ("tracks", "failures"):
            (self.root / sub).mkdir(exist_ok=True)

    def settings(self) -> dict[str, Any] | None:
        """The store's settings, or ``None`` when it has none yet."""
        p = self.root / SETTINGS_FILE
        if not p.is_file():
            return None
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise XmtagError(f"{str(p)!r} is damaged ({exc}); move the store away and run again.") from None
        if (
            not isinstance(doc, dict)
            or doc.get("format") != _FORMAT
            or not isinstance(doc.get("settings"), dict)
        ):
            raise XmtagError(f"{str(p)!r} is not an xmtag corpus settings file.")
        return doc["settings"]

    def _doc(self) -> dict[str, Any]:
        return json.loads((self.root / SETTINGS_FILE).read_text(encoding="utf-8"))

    def separator_used(self) -> str | None:
        """The separator that split the store's mixes (recorded with the first one; the
        ``separator`` setting may be ``None``, the automatic choice)."""
        try:
            used = self._doc().get("separator_used")
        except (OSError, ValueError):
            return None
        return used if isinstance(used, str) else None

    def set_separator_used(self, name: str) -> None:
        doc = self._doc()
        doc["separator_used"] = name
        atomic_write_text(self.root / SETTINGS_FILE, json.dumps(doc, indent=1, sort_keys=True) + "\n")

    # -- tracks --------------------------------------------------------------------------------
    def record(self, track_id: str) -> dict[str, Any] | None:
        p = self.root / "tracks" / f"{file_stem(track_id)}.json"
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return rec if isinstance(rec, dict) and rec.get("track") == track_id else None

    def is_done(self, track_id: str, input_hash: str) -> bool:
        rec = self.record(track_id)
        return bool(
            rec
            and rec.get("input_hash") == input_hash
            and (self.root / "tracks" / f"{file_stem(track_id)}.xmtag").is_file()
        )

    def write_track(self, track_id: str, data: bytes, record: dict[str, Any]) -> None:
        """The explanation file first, then its record: a record always has its file."""
        stem = file_stem(track_id)
        atomic_write_bytes(self.root / "tracks" / f"{stem}.xmtag", data)
        atomic_write_text(
            self.root / "tracks" / f"{stem}.json", json.dumps(record, indent=1, default=str) + "\n"
        )
        (self.root / "failures" / f"{stem}.json").unlink(missing_ok=True)

    def write_failure(self, track_id: str, record: dict[str, Any]) -> None:
        atomic_write_text(
            self.root / "failures" / f"{file_stem(track_id)}.json",
            json.dumps(record, indent=1, default=str) + "\n",
        )

    def records(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted((self.root / "tracks").glob("*.json")):
            try:
                rec = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a record being replaced right now; the next run rewrites it
            if (p.with_suffix(".xmtag")).is_file():
                out.append(rec)
        return out

    def failure_records(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted((self.root / "failures").glob("*.json")):
            try:
                out.append(json.loads(p.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return out

    def explanation(self, track_id: str) -> Explanation:
        from ..explanation import Explanation

        p = self.root / "tracks" / f"{file_stem(track_id)}.xmtag"
        if not p.is_file():
            raise XmtagError(f"Track {track_id!r} has no explanation in {str(self.root)!r}.")
        return Explanation.load(p)

    # -- tables --------------------------------------------------------------------------------
    def built_from(self) -> dict[str, str] | None:
        """The track files the table was built from (track id -> input hash), read from the
        table's Parquet metadata; ``None`` without a table (or one from before this record)."""
        p = self.root / TABLE_FILE
        if not p.is_file():
            return None
        try:
            import pyarrow.parquet as pq

            meta = pq.read_schema(p).metadata or {}
            built = json.loads(meta[_BUILT_KEY])
        except (OSError, ValueError, KeyError):
            return None
        return built if isinstance(built, dict) else None

    def tables_current(self, records: list[dict[str, Any]] | None = None) -> bool:
        """Whether the table was built from exactly the track files there are now."""
        records = self.records() if records is None else records
        return self.built_from() == {r["track"]: r.get("input_hash", "") for r in records}

    def write_tables(self, *, force: bool = False) -> bool:
        """Bring the tidy tables up to date with the per-track files (atomic writes).

        The tables are derived data: they record the track files they were built from (track id
        and input hash, in the Parquet metadata). Rows of unchanged tracks are kept, tracks gone
        or changed are dropped and new ones added, so a run that adds a few tracks to a large
        store reads only those. Nothing is rewritten when the table is current (``force``:
        rebuild everything). ``failures.csv`` is always rewritten. Returns whether the tables
        were written.
        """
        self._write_failures()
        records = self.records()
        want = {r["track"]: r.get("input_hash", "") for r in records}
        built = None if force else self.built_from()
        if built == want:
            return False
        import pandas as pd

        seg_path = self.root / SEGMENTS_FILE
        keep: set[str] = set()
        old_table = old_segs = None
        if built:
            keep = {t for t, h in want.items() if built.get(t) == h}
            try:
                old_table = pd.read_parquet(self.root / TABLE_FILE)
                old_segs = pd.read_parquet(seg_path) if seg_path.is_file() else None
                if old_segs is not None and _read_built(seg_path) != built:
                    old_segs, keep = None, set()  # the two files disagree: rebuild both
            except (OSError, ValueError):
                old_table, keep = None, set()
        frames, seg_frames = [], []
        if keep and old_table is not None:
            frames.append(old_table[old_table["track"].isin(keep)])
            if old_segs is not None:
                seg_frames.append(old_segs[old_segs["track"].isin(keep)])
        for rec in records:
            if rec["track"] in keep:
                continue
            expl = self.explanation(rec["track"])
            labels = rec.get("labels") or {}
            f = expl.to_frame()
            f.insert(0, "track", rec["track"])
            for k, v in labels.items():  # a clash (a store from before the check) never overwrites
                f[k if k not in f.columns else f"label_{k}"] = v
            frames.append(f)
            if expl.segment_values is not None:
                s = expl.to_frame(segments=True)
                s.insert(0, "track", rec["track"])
                for k, v in labels.items():
                    s[k if k not in s.columns else f"label_{k}"] = v
                seg_frames.append(s)
        order = {t: i for i, t in enumerate(want)}  # the records' order, whatever was kept
        columns = ["track", "tag", "stem", "value", "stderr", "solo", "without", "base_value", "prediction"]
        table = (
            _ordered(pd.concat(frames, ignore_index=True), order) if frames else pd.DataFrame(columns=columns)
        )
        segs = _ordered(pd.concat(seg_frames, ignore_index=True), order) if seg_frames else None
        built_doc = json.dumps(want, sort_keys=True)
        if segs is None:
            seg_path.unlink(missing_ok=True)
        else:
            atomic_write_bytes(seg_path, _parquet_bytes(segs, built_doc))
        atomic_write_bytes(self.root / TABLE_FILE, _parquet_bytes(table, built_doc))  # last: the mark
        return True

    def _write_failures(self) -> None:
        import pandas as pd

        fails = pd.DataFrame(self.failure_records(), columns=["track", "path", "reason"])
        atomic_write_text(self.root / FAILURES_FILE, fails.to_csv(index=False))


_BUILT_KEY = b"xmtag.corpus.built_from"


def _read_built(path: Path) -> dict[str, str] | None:
    import pyarrow.parquet as pq

    try:
        return json.loads((pq.read_schema(path).metadata or {})[_BUILT_KEY])
    except (OSError, ValueError, KeyError):
        return None


def _ordered(frame: pd.DataFrame, order: dict[str, int]) -> pd.DataFrame:
    """Rows grouped by track in the records' order (stable within a track)."""
    import numpy as np

    idx = np.argsort(frame["track"].map(order).to_numpy(), kind="stable")
    return frame.iloc[idx].reset_index(drop=True)


def _parquet_bytes(frame: pd.DataFrame, built: str) -> bytes:
    """The frame as Parquet, with the tracks it was built from in the file's metadata."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _BUILT_KEY: built.encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _os_lock(fd: int) -> None:
    """An exclusive, non-blocking lock on ``fd`` that the OS drops when the process dies;
    ``OSError`` when another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class Corpus:
    """The explanations of a whole corpus, read from a store folder.

    Made by :func:`xmtag.corpus.explain` and :func:`xmtag.corpus.load`.

    Attributes
    ----------
    root : pathlib.Path
        The store folder.
    settings : dict
        Tagger, separator, method, segments, ... every track was explained with.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._store = Store(root)
        settings = self._store.settings()
        if settings is None:
            raise XmtagError(f"{str(root)!r} is not an xmtag corpus store (no {SETTINGS_FILE}).")
        self.root = self._store.root
        self.settings = settings
        self._table: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return f"Corpus({str(self.root)!r}, {len(self)} tracks, {len(self.failures)} failed)"

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def tracks(self) -> list[str]:
        """Ids of the tracks explained, sorted."""
        return sorted(r["track"] for r in self._store.records())

    @property
    def table(self) -> pd.DataFrame:
        """Tidy table: one row per track × tag × stem (with the labels)."""
        import pandas as pd

        if self._table is None:
            self._current()
            self._table = pd.read_parquet(self.root / TABLE_FILE)
        return self._table

    def _current(self) -> None:
        """Rebuild the tables when they are stale (a run died before its last write)."""
        if not self._store.tables_current():
            try:
                self._store.write_tables()
            except OSError as exc:  # a read-only store: the table would be stale
                raise OutputError(
                    f"The table of {str(self.root)!r} is out of date and cannot be rebuilt ({exc})."
                ) from None

    @property
    def segments(self) -> pd.DataFrame | None:
        """Time-resolved values (track × tag × stem × segment), when segments were asked for."""
        import pandas as pd

        self._current()
        p = self.root / SEGMENTS_FILE
        return pd.read_parquet(p) if p.is_file() else None

    @property
    def failures(self) -> pd.DataFrame:
        """Tracks that failed: ``track, path, reason``."""
        import pandas as pd

        return pd.DataFrame(self._store.failure_records(), columns=["track", "path", "reason"])

    def explanation(self, track: str) -> Explanation:
        """The :class:`~xmtag.Explanation` of one track."""
        return self._store.explanation(track)

    def status(self, sources: Any = None) -> dict[str, int]:
        """Counts of ``done``, ``failed`` and ``pending`` tracks (pending against ``sources``:
        a folder, list or manifest as for :func:`xmtag.corpus.explain`)."""
        done, failed = (
            set(self.tracks),
            {r["track"] for r in self._store.failure_records()} - set(self.tracks),
        )
        out = {"done": len(done), "failed": len(failed)}
        if sources is not None:
            from .sources import resolve_sources

            tracks, _ = resolve_sources(sources)
            out["pending"] = sum(1 for t in tracks if t.id not in done and t.id not in failed)
            out["total"] = len(tracks)
        return out

    def summarize(
        self,
        by: str | Iterable[str] | None = "genre",
        tags: Iterable[str] | str | None = None,
        ci: float = 0.95,
        n_boot: int = 1000,
        seed: int = 0,
        *,
        interval: str = "auto",
        min_n: int = 3,
        cluster: str | None = "auto",
    ) -> pd.DataFrame:
        """Mean attribution per group × tag × stem with confidence intervals.

        See :func:`xmtag.corpus.stats.summarize` (``interval``: t below 30 tracks, bootstrap from
        there; ``min_n``: fewest tracks for an interval; ``cluster``: the label naming each clip's
        song, whose clips are resampled together).
        """
        from .stats import summarize

        return summarize(
            self.table,
            by=by,
            tags=tags,
            ci=ci,
            n_boot=n_boot,
            seed=seed,
            interval=interval,
            min_n=min_n,
            cluster=cluster,
        )

    def faithfulness(
        self, tags: Iterable[str] | None = None, by: str | None = None, **kwargs: Any
    ) -> pd.DataFrame:
        """Faithfulness metrics of every track (:func:`xmtag.metrics.faithfulness`), aggregated with
        bootstrap intervals (:func:`xmtag.metrics.summarize`)."""
        from .. import metrics

        tracks = self.tracks
        frame = metrics.faithfulness([self.explanation(t) for t in tracks], tags=tags)
        frame.insert(0, "track", frame["explanation"].map(lambda i: tracks[int(i)]))
        if by is not None:
            labels = {r["track"]: (r.get("labels") or {}).get(by) for r in self.records()}
            frame[by] = frame["track"].map(labels)
        return metrics.summarize(frame, by=by, **kwargs)

    def records(self) -> list[dict[str, Any]]:
        """One record per explained track: ``track``, ``path``, ``labels``, ``input_hash``,
        ``seconds`` (compute time), ``budget``, ``method``."""
        return self._store.records()


def load(out: str | os.PathLike[str]) -> Corpus:
    """Open a store written by :func:`xmtag.corpus.explain`.

    Examples
    --------
    >>> load("store/")  # doctest: +SKIP
    Corpus('store', 36 tracks, 0 failed)
    """
    return Corpus(out)
