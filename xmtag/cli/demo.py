"""``xmtag demo``: explain the bundled song with the pretrained musicnn tagger, offline.

The song ("Stem Cell Blues", 26 s, five stems: drums, bass, guitar, piano, saxophone) ships
with xmtag (``xmtag/data/demo``, see its README and LICENSE). The demo scores all 32 stem
mixes with ``musicnn-msd``, computes exact Shapley values over the whole clip and over
``--segments`` time segments, and writes what ``xmtag explain`` writes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._segments import add_segment_arguments, resolve_segments
from .explain import (
    add_method_arguments,
    add_output_arguments,
    add_segment_players_argument,
    method_kwargs,
    report_audio_seconds,
    write_outputs,
)

DEFAULT_OUT = "xmtag-demo"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="explain the bundled 26-second song with the pretrained musicnn tagger (offline)",
        description=__doc__.split("\n\n")[1].replace("\n", " ").replace("``", ""),
    )
    add_output_arguments(p, default_out=DEFAULT_OUT)
    add_segment_arguments(p, default=8)
    add_segment_players_argument(p)
    p.add_argument("--tagger", default="musicnn-msd", help="tagger to explain (default: %(default)s)")
    add_method_arguments(p)
    p.add_argument("--no-cache", action="store_true", help="do not read or write the xmtag cache")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..datasets import demo_path
    from ..pipeline import explain

    report_audio_seconds(args.report_audio_minutes)  # a bad value fails before the work
    t0 = time.perf_counter()
    folder = demo_path()
    if not args.quiet:
        print(
            "xmtag demo: 'Stem Cell Blues' (26 s; drums, bass, guitar, piano, saxophone)\n"
            f"  from {folder}\n"
            f"  scoring all 32 stem mixes with {args.tagger} ...",
            flush=True,
        )
    segments = resolve_segments(args, folder, args.tagger)
    expl = explain(
        folder,
        tagger=args.tagger,
        segments=segments,
        segment_players=args.segment_players,
        cache=not args.no_cache,
        progress=not args.quiet,
        **method_kwargs(args),
    )
    out = Path(args.out)
    write_outputs(expl, out, args, title="Why these tags? 'Stem Cell Blues', the xmtag demo song")
    if not args.quiet:
        print(f"\nDone in {time.perf_counter() - t0:.0f} s. Open {out / 'report.html'} in a browser.")
    return 0
