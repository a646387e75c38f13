"""What a corpus run explains: tracks from a folder, a list of paths or a manifest.

A *track* is one song: either a folder of stem files (explained as it is, MUSDB18's
``track/{drums,bass,other,vocals}.wav`` layout included) or one audio file (a mix, separated
first). Each track has a stable id (the manifest's ``track`` column, else its path relative to
the source folder without the suffix) and the manifest's other columns as labels (``genre``,
...), which travel into the results.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AudioFileNotFoundError, XmtagError

__all__ = ["Track", "resolve_sources", "AUDIO_SUFFIXES"]

#: File suffixes taken as audio when a folder is scanned.
AUDIO_SUFFIXES = (
    ".wav",
    ".flac",
    ".ogg",
    ".mp3",
    ".aiff",
    ".aif",
    ".m4a",
    ".mp4",
    ".webm",
    ".mkv",
    ".aac",
    ".opus",
)


@dataclass(frozen=True)
class Track:
    """One song of a corpus.

    Attributes
    ----------
    id : str
        Stable id (unique in the corpus).
    path : str
        A folder of stems or an audio file (absolute).
    kind : str
        ``"stems"`` or ``"mix"``.
    labels : dict
        The manifest's other columns for this track.
    """

    id: str
    path: str
    kind: str
    labels: dict[str, Any] = field(default_factory=dict)


def _has_audio(folder: Path) -> bool:
    return any(p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() for p in folder.iterdir())


def _track(path: Path, track_id: str, labels: dict[str, Any] | None = None) -> Track:
    kind = "stems" if path.is_dir() else "mix"
    return Track(track_id, str(path.resolve()) if path.exists() else str(path), kind, dict(labels or {}))


def _from_folder(folder: Path) -> list[Track]:
    tracks = []
    for p in sorted(folder.rglob("*")):
        if p.is_dir() and _has_audio(p):
            tracks.append(_track(p, p.relative_to(folder).as_posix()))
        elif p.is_file() and p.parent == folder and p.suffix.lower() in AUDIO_SUFFIXES:
            tracks.append(_track(p, p.relative_to(folder).with_suffix("").as_posix()))
    # a folder of stems inside another folder of stems is not a track of its own
    stems_dirs = {t.path for t in tracks if t.kind == "stems"}
    tracks = [
        t
        for t in tracks
        if not (t.kind == "stems" and any(t.path != d and t.path.startswith(d + os.sep) for d in stems_dirs))
    ]
    if not tracks:
        raise AudioFileNotFoundError(
            f"Corpus folder {str(folder)!r} has no tracks: put one sub-folder of stem files per song "
            f"(drums.wav, bass.wav, ...), or audio files to separate, in it "
            f"(suffixes {', '.join(AUDIO_SUFFIXES[:5])}, ...)."
        )
    return tracks


def _from_manifest(frame: Any, base: Path | None, where: str) -> list[Track]:
    if "path" not in frame.columns:
        raise XmtagError(
            f"Manifest {where} has no 'path' column (columns: {', '.join(map(str, frame.columns))}). "
            "Give one row per track with its audio file or stem folder in 'path'."
        )
    if frame.empty:
        raise XmtagError(f"Manifest {where} has no rows.")
    label_cols = [c for c in frame.columns if c not in ("path", "track")]
    tracks = []
    for row in frame.to_dict("records"):
        raw = row["path"]
        if not isinstance(raw, str) or not raw.strip():
            raise XmtagError(f"Manifest {where}: a row has no path ({row}).")
        p = Path(raw).expanduser()
        if not p.is_absolute() and base is not None:
            p = base / p
        tid = row.get("track")
        tid = (
            str(tid)
            if tid is not None and str(tid) not in ("", "nan")
            else Path(raw).with_suffix("").as_posix()
        )
        labels = {c: (None if _isnan(row[c]) else row[c]) for c in label_cols}
        tracks.append(_track(p, tid, labels))
    return tracks


def _isnan(x: Any) -> bool:
    return isinstance(x, float) and x != x


def resolve_sources(sources: Any, manifest: Any = None) -> tuple[list[Track], dict[str, Any]]:
    """The tracks of ``sources`` and a description of where they came from.

    Parameters
    ----------
    sources : str, os.PathLike, list of paths, or pandas.DataFrame
        A folder (each sub-folder of stem files is one track; each audio file directly in it is
        a mix), a list of paths (folders of stems or audio files), a manifest file
        (``.csv``/``.parquet``) or a DataFrame with a ``path`` column (relative paths are taken
        from the manifest's folder) and any label columns.
    manifest : str, os.PathLike or pandas.DataFrame, optional
        Labels for a folder's tracks: a table with ``track`` (or ``path``) and label columns.

    Returns
    -------
    tracks : list of Track
    info : dict
        ``{"kind": "folder" | "paths" | "manifest", ...}``.

    Raises
    ------
    AudioFileNotFoundError
        For a folder that does not exist or has no tracks.
    XmtagError
        For duplicate track ids, a manifest without ``path``, or labels that match no track.
    """
    import pandas as pd

    if isinstance(sources, pd.DataFrame):
        tracks, info = _from_manifest(sources, None, "(DataFrame)"), {"kind": "manifest"}
    elif isinstance(sources, (str, os.PathLike)):
        p = Path(sources).expanduser()
        if not p.exists():
            raise AudioFileNotFoundError(f"Corpus source {str(p)!r} does not exist.")
        if p.is_dir():
            tracks, info = _from_folder(p), {"kind": "folder", "path": str(p.resolve())}
        elif p.suffix.lower() in (".csv", ".parquet", ".tsv"):
            frame = _read_table(p)
            tracks, info = (
                _from_manifest(frame, p.parent, repr(str(p))),
                {"kind": "manifest", "path": str(p.resolve())},
            )
        else:
            raise XmtagError(
                f"Corpus source {str(p)!r} is a file but not a manifest (.csv / .parquet); give a folder, a "
                "manifest, or a list of paths (one audio file is a list of one: [path])."
            )
    elif isinstance(sources, Iterable):
        paths = list(sources)
        if not paths:
            raise XmtagError("corpus.explain(): the list of sources is empty.")
        tracks = [
            _track(
                Path(x).expanduser(), Path(x).with_suffix("").name if not Path(x).is_dir() else Path(x).name
            )
            for x in paths
        ]
        info = {"kind": "paths"}
    else:
        raise XmtagError(
            f"corpus sources must be a folder, a manifest (CSV / Parquet / DataFrame) or a list of paths; "
            f"got {type(sources).__name__}."
        )
    if manifest is not None:
        tracks = _attach_labels(tracks, manifest)
    ids = [t.id for t in tracks]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise XmtagError(
            f"Duplicate track ids {dup[:5]}{' ...' if len(dup) > 5 else ''}: every track needs its own id "
            "(a 'track' column in the manifest, or distinct file names)."
        )
    info["n_tracks"] = len(tracks)
    return tracks, info


def _read_table(p: Path) -> Any:
    import pandas as pd

    try:
        if p.suffix.lower() == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
    except (OSError, ValueError, ImportError) as exc:
        raise XmtagError(f"Manifest {str(p)!r} cannot be read as a table: {exc}") from None


def _attach_labels(tracks: list[Track], manifest: Any) -> list[Track]:
    import pandas as pd

    frame = manifest if isinstance(manifest, pd.DataFrame) else _read_table(Path(manifest))
    key = "track" if "track" in frame.columns else "path" if "path" in frame.columns else None
    if key is None:
        raise XmtagError("The labels manifest needs a 'track' (or 'path') column to match tracks.")
    label_cols = [c for c in frame.columns if c not in ("path", "track")]
    rows = {
        str(r[key]) if key == "track" else Path(str(r[key])).with_suffix("").as_posix(): r
        for r in frame.to_dict("records")
    }
    out = []
    for t in tracks:
        r = rows.get(t.id)
        labels = dict(t.labels)
        if r is not None:
            labels.update({c: (None if _isnan(r[c]) else r[c]) for c in label_cols})
        out.append(Track(t.id, t.path, t.kind, labels))
    if not any(t.id in rows for t in tracks):
        raise XmtagError(
            f"No track matches the labels manifest ({key} values like {next(iter(rows), '?')!r}; tracks like "
            f"{tracks[0].id!r})."
        )
    return out
