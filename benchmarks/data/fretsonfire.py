"""Prepare real recordings with stems: the Frets on Fire songs shipped by Debian.

Debian ``fretsonfire-songs-muldjord`` and ``fretsonfire-songs-sectoid`` (CC BY-SA 3.0; metal /
rock instrumentals by Muldjord and Sectoid) ship each song as ``guitar.ogg`` (lead guitar) and
``song.ogg`` (the rest of the band), sample-aligned, 44.1 kHz stereo. This script cuts excerpts
of each song into two stems, ``guitar`` and ``band``; the mixture is **their sum**, i.e. the
song as the game plays it. Excerpts where the guitar is (nearly) silent are moved later.

Usage::

    python benchmarks/data/fretsonfire.py            # 8 songs x 2 excerpts x 30 s, ~20 s
    python benchmarks/data/fretsonfire.py --quick    # 2 songs x 1 excerpt

The two Debian packages are installed with apt-get if missing (the script says so).
Output: ``benchmarks/data/cache/fretsonfire/<song>_<k>/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _tools

APT_PACKAGES = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
SONG_ROOT = Path("/usr/share/games/fretsonfire/data/songs")
MIN_GUITAR_DB = -45.0  # an excerpt whose guitar stem is quieter than this (dBFS RMS) is moved


def find_songs(root: Path = SONG_ROOT) -> list[Path]:
    """Song folders holding both ``guitar.ogg`` and ``song.ogg``, sorted."""
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/*/guitar.ogg") if (p.parent / "song.ogg").is_file())


def excerpt_offsets(duration: float, seconds: float, count: int) -> list[float]:
    """Start times (whole seconds) of ``count`` excerpts spread over the middle of a song.

    Excerpts start at 25 %, 55 %, ... of the song and never run past its end.

    >>> excerpt_offsets(200.0, 30.0, 2)
    [50.0, 110.0]
    >>> excerpt_offsets(40.0, 30.0, 2)
    [10.0, 10.0]
    >>> excerpt_offsets(20.0, 30.0, 1)
    []
    """
    if duration < seconds:
        return []
    out = []
    for k in range(count):
        start = np.floor(duration * (0.25 + 0.30 * k))
        out.append(float(min(start, np.floor(duration - seconds))))
    return out


def rms_db(y: np.ndarray) -> float:
    """RMS level in dBFS (-inf for silence).

    >>> round(rms_db(np.full((2, 10), 0.1, np.float32)), 2)
    -20.0
    """
    power = float(np.mean(np.asarray(y, np.float64) ** 2))
    return float(10 * np.log10(power)) if power > 0 else float("-inf")


def prepare(
    quick: bool = False, seconds: float = 30.0, excerpts: int = 2, root: Path | None = None
) -> list[Path]:
    """Cut the excerpts not already in the cache; return the excerpt folders."""
    from xmtag.audio import load_audio

    _tools.ensure_apt(APT_PACKAGES)
    songs = find_songs()
    if not songs:
        raise _tools.DataError(
            f"No Frets on Fire songs under {SONG_ROOT}. apt-get install {' '.join(APT_PACKAGES)}"
        )
    if quick:
        songs, excerpts = songs[:2], 1
    base = (root or _tools.CACHE_ROOT) / "fretsonfire"
    folders = []
    for song in songs:
        params = {"dataset": "fretsonfire", "source": str(song), "seconds": seconds, "excerpts": excerpts}
        name = _tools.slug(f"{song.parent.name}_{song.name}")
        wanted = [base / f"{name}_{k}" for k in range(excerpts)]
        if all(_tools.song_ready(f, dict(params, excerpt=k)) for k, f in enumerate(wanted)):
            folders += wanted
            continue
        _tools.say(f"cutting {excerpts} excerpt(s) of {song.parent.name}/{song.name}")
        guitar, sr = load_audio(song / "guitar.ogg")
        band, sr2 = load_audio(song / "song.ogg")
        if sr != sr2:
            raise _tools.DataError(f"{song}: guitar.ogg is {sr} Hz but song.ogg is {sr2} Hz.")
        n_total = min(guitar.shape[1], band.shape[1])
        n = round(seconds * sr)
        for k, offset in enumerate(excerpt_offsets(n_total / sr, seconds, excerpts)):
            start = round(offset * sr)
            # move past a silent-guitar stretch, one second at a time
            while rms_db(guitar[:, start : start + n]) < MIN_GUITAR_DB and start + n + sr <= n_total:
                start += sr
            folder = base / f"{name}_{k}"
            if folder.exists():
                shutil.rmtree(folder)
            stems = {"guitar": guitar[:, start : start + n], "band": band[:, start : start + n]}
            meta = {
                "params": dict(params, excerpt=k),
                "dataset": "fretsonfire",
                "song": song.name,
                "artist_pack": song.parent.name,
                "offset": start / sr,
                "seconds": seconds,
                "genre": "metal",
                "licence": "CC BY-SA 3.0",
            }
            folders.append(_tools.write_song(folder, stems, sr, meta))
    _tools.say(f"{len(folders)} excerpts ready in {base}")
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 songs, 1 excerpt each")
    parser.add_argument("--seconds", type=float, default=30.0, help="excerpt length (default 30)")
    parser.add_argument("--excerpts", type=int, default=2, help="excerpts per song (default 2)")
    args = parser.parse_args(argv)
    try:
        prepare(quick=args.quick, seconds=args.seconds, excerpts=args.excerpts)
    except _tools.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
