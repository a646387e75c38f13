"""Reference outputs of the original musicnn on real recorded music (Debian Frets on Fire songs).

The songs are not committed (CC BY-SA 3.0, tens of MB); the Debian packages
``fretsonfire-songs-muldjord`` and ``fretsonfire-songs-sectoid`` install them. Each excerpt is
``guitar.ogg + song.ogg`` (the full band), read with :func:`xmtag.load_audio` at 16 kHz mono,
seconds 30 to 60. Step 1 (xmtag environment) writes the excerpts as float WAVs::

    python benchmarks/tools/recorded_music_reference.py excerpts /tmp/fof

Step 2 (the TensorFlow reference environment, see ``musicnn_reference.py``) tags them and
step 3 collects the small reference file the slow test reads::

    for f in /tmp/fof/*.wav; do
        /tmp/tfref/bin/python benchmarks/tools/musicnn_reference.py "$f" --out "${f%.wav}.npz"
    done
    python benchmarks/tools/recorded_music_reference.py collect /tmp/fof tests/data/musicnn/recorded.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SONGS_DIR = Path("/usr/share/games/fretsonfire/data/songs")
SONGS = {"armygeddon": "muldjord/armygeddon", "feelings": "sectoid/Feelings"}
START_S, END_S = 30, 60


def excerpt(song: str) -> np.ndarray:
    """The 16-kHz mono excerpt ``(1, 480000)`` of one song (guitar + rest of the band)."""
    import xmtag

    folder = SONGS_DIR / SONGS[song]
    parts = [xmtag.load_audio(folder / name, sr=16000, mono=True)[0] for name in ("guitar.ogg", "song.ogg")]
    n = min(p.shape[1] for p in parts)
    y = parts[0][:, :n] + parts[1][:, :n]
    return np.ascontiguousarray(y[:, START_S * 16000 : END_S * 16000])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("excerpts")
    a.add_argument("folder", type=Path)
    c = sub.add_parser("collect")
    c.add_argument("folder", type=Path)
    c.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.cmd == "excerpts":
        import soundfile as sf

        args.folder.mkdir(parents=True, exist_ok=True)
        for song in SONGS:
            sf.write(args.folder / f"{song}.wav", excerpt(song)[0], 16000, subtype="FLOAT")
    else:
        out = {}
        for song in SONGS:
            ref = np.load(args.folder / f"{song}.npz")
            for model in ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"):
                out[f"{song}/{model}"] = ref[model]
            out["versions"] = ref["versions"]
        np.savez_compressed(args.out, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
