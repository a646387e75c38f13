"""Render a spoken "vocal" stem for each song of the MMA corpus (for the separation benchmark).

The MMA corpus has no vocals, and Spleeter separates vocals from accompaniment. This script
speaks public-domain sentences with Debian ``espeak-ng`` (a seeded voice -- male or female
variant --, pitch and rate per song), pads the phrases with pauses to the song length, and
writes ``vocals.wav`` (44.1 kHz stereo float32) whose RMS is a seeded -6..0 dB relative to the
song's music mixture. These are synthesized *speech* vocals, not singing: the separation
benchmark says so.

Usage::

    python benchmarks/data/mma_corpus.py && python benchmarks/data/vocals.py          # ~10 s
    python benchmarks/data/mma_corpus.py --quick && python benchmarks/data/vocals.py --quick

Output: ``benchmarks/data/cache/vocals/<song>/`` (one stem, ``vocals``; git-ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _tools
import mma_corpus

APT_PACKAGES = ("espeak-ng",)
VOICES = ("en-us", "en-us+f3", "en-gb", "en-gb+f4", "en-us+m3", "en-us+f2")
SENTENCES = (
    "It was the best of times, it was the worst of times.",
    "Call me Ishmael. Some years ago I thought I would sail about a little.",
    "The sun shone, having no alternative, on the nothing new.",
    "All happy families are alike; each unhappy family is unhappy in its own way.",
    "Far out in the uncharted backwaters of the western spiral arm of the galaxy.",
    "In a hole in the ground there lived a hobbit, and the road went ever on.",
    "The river flows down to the sea, and the sea is never full.",
    "We walked along the shore at night and listened to the waves.",
)


def voice_params(song_id: str, seed: int = 0) -> dict:
    """Seeded voice, pitch, rate, sentence order and level of a song's vocal stem.

    >>> p = voice_params("rock_rock1")
    >>> p == voice_params("rock_rock1"), p["voice"] in VOICES, -6.0 <= p["level_db"] <= 0.0
    (True, True, True)
    """
    digest = hashlib.sha256(f"vocals:{seed}:{song_id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return {
        "voice": VOICES[int(rng.integers(len(VOICES)))],
        "pitch": int(rng.integers(30, 70)),
        "rate": int(rng.integers(140, 175)),
        "order": [int(i) for i in rng.permutation(len(SENTENCES))],
        "level_db": round(float(rng.uniform(-6.0, 0.0)), 2),
        "seed": seed,
    }


def tile_phrases(phrases: Sequence[np.ndarray], n: int, gap: int) -> np.ndarray:
    """Concatenate 1-D phrases with ``gap`` zeros between them, cycling, to exactly ``n`` samples.

    >>> tile_phrases([np.ones(2), 2 * np.ones(1)], 8, 1).tolist()
    [1.0, 1.0, 0.0, 2.0, 0.0, 1.0, 1.0, 0.0]
    """
    if not phrases or all(len(p) == 0 for p in phrases):
        raise ValueError("no phrase audio to tile")
    out = np.zeros(n, np.float32)
    pos, k = 0, 0
    while pos < n:
        p = np.asarray(phrases[k % len(phrases)], np.float32)
        take = min(len(p), n - pos)
        out[pos : pos + take] = p[:take]
        pos += take + gap
        k += 1
    return out


def render_vocals(song_folder: Path, out_folder: Path, seed: int = 0) -> Path:
    """Speak the sentences for one song and write its ``vocals`` stem."""
    import soundfile as sf

    from xmtag.audio import resample

    music, sr, meta = _tools.load_song(song_folder)
    n = next(iter(music.values())).shape[1]
    params = voice_params(meta["song_id"], seed)
    phrases = []
    with tempfile.TemporaryDirectory(prefix="xmtag-vocals-") as tmp:
        for i in params["order"]:
            wav = Path(tmp) / f"{i}.wav"
            _tools.run_checked(
                [
                    "espeak-ng",
                    "-v",
                    params["voice"],
                    "-p",
                    params["pitch"],
                    "-s",
                    params["rate"],
                    "-w",
                    wav,
                    SENTENCES[i],
                ],
                timeout=30,
                what=f"vocals for {meta['song_id']}",
            )
            y, esr = sf.read(str(wav), dtype="float32")
            phrases.append(resample(y[None, :], esr, sr)[0])
    voice = tile_phrases(phrases, n, gap=round(0.4 * sr))
    mix = np.sum(list(music.values()), axis=0)
    rms_mix = float(np.sqrt(np.mean(mix.astype(np.float64) ** 2)))
    rms_voice = float(np.sqrt(np.mean(voice.astype(np.float64) ** 2)))
    voice *= rms_mix / rms_voice * 10 ** (params["level_db"] / 20)
    stem = np.stack([voice, voice]).astype(np.float32)  # centred, like a lead vocal
    out = {"params": dict(params, song_id=meta["song_id"]), "dataset": "vocals", "song_id": meta["song_id"]}
    return _tools.write_song(out_folder, {"vocals": stem}, sr, out)


def prepare(
    quick: bool = False,
    seed: int = 0,
    root: Path | None = None,
    only: Sequence[str] | None = None,
    specs: Sequence[mma_corpus.SongSpec] | None = None,
) -> list[Path]:
    """Vocal stems for every prepared MMA song of the plan (render the corpus first).

    ``only`` restricts it to these song ids, ``specs`` replaces the plan (e.g.
    ``mma_corpus.held_out_plan()``); each vocal stem is as long as its song.
    """
    _tools.ensure_apt(APT_PACKAGES)
    base = root or _tools.CACHE_ROOT
    folders = []
    for spec in specs if specs is not None else mma_corpus.plan(quick=quick):
        if only is not None and spec.song_id not in set(only):
            continue
        song = base / "mma" / spec.song_id
        if not (song / "meta.json").is_file():
            raise _tools.DataError(
                f"MMA song {spec.song_id} is not rendered. Run: python benchmarks/data/mma_corpus.py"
                + (" --quick" if quick else "")
            )
        out = base / "vocals" / spec.song_id
        if _tools.song_ready(out, dict(voice_params(spec.song_id, seed), song_id=spec.song_id)):
            folders.append(out)
            continue
        if out.exists():
            shutil.rmtree(out)
        _tools.say(f"speaking vocals for {spec.song_id}")
        folders.append(render_vocals(song, out, seed))
    _tools.say(f"{len(folders)} vocal stems ready in {base / 'vocals'}")
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the songs of mma_corpus.py --quick")
    parser.add_argument("--seed", type=int, default=0, help="seed of voices, pitches and levels")
    args = parser.parse_args(argv)
    try:
        prepare(quick=args.quick, seed=args.seed)
    except _tools.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
