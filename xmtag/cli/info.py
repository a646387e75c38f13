"""``xmtag info FILE``: what xmtag sees in an audio file; ``xmtag info --separators``: which
separators run here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..audio import audio_info, load_audio
from ..errors import XmtagError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info", help="describe an audio file (rate, channels, duration, level), or list the separators"
    )
    p.add_argument("file", nargs="?", help="audio file (wav, flac, ogg, mp3, ...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument(
        "--separators", action="store_true", help="list the separators and whether they can run here"
    )
    p.add_argument("--repo", default=None, help="with --separators: also list this Demucs model folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.separators:
        return _separators(args)
    if args.file is None:
        raise XmtagError("xmtag info: give an audio FILE, or --separators.")
    y, sr = load_audio(args.file)  # every container the other commands read (PyAV for mp4, mkv, ...)
    try:
        info = audio_info(args.file)
        fmt, subtype = info.format, info.subtype
    except XmtagError:  # decoded above through PyAV: a container libsndfile does not read
        fmt, subtype = Path(args.file).suffix.lstrip(".").upper() or "?", "decoded with PyAV"
    peak = float(abs(y).max())
    rms = float((y.astype("float64") ** 2).mean() ** 0.5)
    out = {
        "file": args.file,
        "format": fmt,
        "subtype": subtype,
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


def _separators(args: argparse.Namespace) -> int:
    from ..separation import available_separators

    rows = available_separators(args.repo)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["spec"]) for r in rows)
    for r in rows:
        mark = "yes" if r["available"] else "no "
        stems = ", ".join(r["stems"]) if r["stems"] else "-"
        print(f"{r['spec']:<{width}}  {mark}  {r['backend']:<13} {stems}")
        print(f"{'':<{width}}       {r['where']}")
    print("\nChains: SEPARATOR+STEP[@STEM], e.g. spleeter:2stems+hpss, htdemucs+bands:3@other, hpss alone.")
    return 0
