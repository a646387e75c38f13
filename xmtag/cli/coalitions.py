"""``xmtag coalitions export STEMS/ --out mixes/``: write every coalition mix for an external tagger."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "coalitions",
        help="write the mix of every subset of stems as audio files (for taggers xmtag cannot call)",
        description="Work with coalition mixes (the mixes of every subset of stems).",
    )
    csub = p.add_subparsers(dest="coalitions_command", metavar="ACTION")
    e = csub.add_parser(
        "export",
        help="write every coalition mix and manifest.csv",
        description=(
            "Write the mix of every subset of the stems in STEMS (a folder of drums.wav, bass.wav, ...) "
            "into --out, with manifest.csv (mask, stems, path, duration). Score the files with any "
            "tagger, add one column per tag to the manifest, then run "
            "`xmtag explain --scores manifest.csv --stems a,b,c`."
        ),
        epilog=(
            "examples:\n"
            "  xmtag coalitions export song/ --out mixes/\n"
            "  xmtag coalitions export song/ --out mixes/ --format flac --sr 16000 --segments 4"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("stems", help="folder of stem files (drums.wav, bass.wav, ...)")
    e.add_argument("--out", required=True, help="output folder (created if missing)")
    e.add_argument(
        "--format",
        default="wav",
        choices=["wav", "flac", "ogg", "mp3"],
        help="wav (32-bit float, lossless; default), flac (24-bit), ogg or mp3 (lossy)",
    )
    e.add_argument("--sr", type=int, default=None, help="sample rate of the files (default: the stems')")
    e.add_argument("--segments", type=int, default=None, help="also cut each mix into N equal segments")
    e.add_argument(
        "--mono", action="store_true", help="mono mixes exactly as xmtag feeds a tagger (with --sr its rate)"
    )
    e.set_defaults(func=run)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def run(args: argparse.Namespace) -> int:
    from ..coalitions import MANIFEST, export

    table = export(
        args.stems,
        args.out,
        format=args.format,
        sr=args.sr,
        segments=args.segments,
        mono=args.mono,
        progress=not args.quiet,
    )
    print(f"wrote {len(table)} files and {MANIFEST} to {args.out}")
    return 0
