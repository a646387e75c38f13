"""``xmtag separate FILE``: split a song into stems with Demucs and write one file per stem."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..separation.demucs import DEFAULT_MODEL, Separator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "separate",
        help="separate a song into stems (Demucs)",
        description=(
            "Separate FILE into stems with a Demucs model and write OUT/<name>.wav per stem. "
            "Results are cached: separating the same audio again with the same model and settings "
            "is instant. Offline, point --repo at a folder holding the model's .th (and bag .yaml) files."
        ),
    )
    p.add_argument("file", help="audio file (wav, flac, ogg, mp3)")
    p.add_argument("--model", "-n", default=DEFAULT_MODEL, help="Demucs model name (default: %(default)s)")
    p.add_argument("--repo", type=Path, default=None, help="local folder with the model files")
    p.add_argument(
        "--out", "-o", type=Path, default=None, help="output folder (default: separated/MODEL/TRACK/)"
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--mp3", action="store_true", help="write mp3 instead of 32-bit float wav")
    fmt.add_argument("--flac", action="store_true", help="write 24-bit flac instead of 32-bit float wav")
    p.add_argument("--shifts", type=int, default=0, help="random shifts averaged (default: %(default)s)")
    p.add_argument("--overlap", type=float, default=0.25, help="chunk overlap (default: %(default)s)")
    p.add_argument("--segment", type=float, default=None, help="chunk length in seconds (default: model's)")
    p.add_argument("--jobs", "-j", type=int, default=0, help="parallel CPU workers (default: %(default)s)")
    p.add_argument("--device", "-d", default="cpu", help="torch device (default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the stem cache")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sep = Separator(
        args.model,
        repo=args.repo,
        device=args.device,
        shifts=args.shifts,
        overlap=args.overlap,
        segment=args.segment,
        jobs=args.jobs,
        cache=not args.no_cache,
        progress=not getattr(args, "quiet", False),
    )
    stems = sep.separate(args.file)
    out = args.out if args.out is not None else Path("separated") / args.model / Path(args.file).stem
    fmt = "mp3" if args.mp3 else "flac" if args.flac else "wav"
    written = stems.save(out, format=fmt, mixture=False)
    if not getattr(args, "quiet", False):
        print(f"{len(stems)} stems, {stems.duration:.1f} s at {stems.sr} Hz -> {out}/")
        for name, path in written.items():
            print(f"  {name:>8}: {path}")
        print(f"residual (mixture - sum of stems): {stems.residual_db:.1f} dB relative to the mixture")
    return 0
