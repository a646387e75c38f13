"""``xmtag info FILE``: what xmtag sees in an audio file."""

from __future__ import annotations

import argparse
import json

from ..audio import audio_info, load_audio


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe an audio file (rate, channels, duration, level)")
    p.add_argument("file", help="audio file (wav, flac, ogg, mp3, ...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = audio_info(args.file)
    y, sr = load_audio(args.file)
    peak = float(abs(y).max())
    rms = float((y.astype("float64") ** 2).mean() ** 0.5)
    out = {
        "file": args.file,
        "format": info.format,
        "subtype": info.subtype,
        "sample_rate": sr,
        "channels": int(y.shape[0]),
        "samples": int(y.shape[1]),
        "duration_s": round(y.shape[1] / sr, 3),
        "peak": round(peak, 6),
        "rms": round(rms, 6),
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:>12}: {v}")
    return 0
