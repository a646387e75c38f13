"""``xmtag summarize TEXTFILE|-``: summarise a transcript or any text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._files import atomic_write_text, check_input_file
from ..errors import XmtagError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summarize",
        help="summarise a text or transcript (extractive offline; abstractive with --model)",
        description="Summarise a text file, a transcript (.json/.srt/.vtt from `xmtag transcribe`) or "
        "standard input (-). Without --model the summary is extractive (TextRank, no download).",
    )
    p.add_argument("file", help="text file, transcript .json/.srt/.vtt, or - for standard input")
    p.add_argument("--model", default=None, help="transformers seq2seq model folder or hub name")
    p.add_argument("--method", default="auto", choices=["auto", "extractive", "abstractive"])
    p.add_argument("--max-words", type=int, default=150, help="summary length bound in words")
    p.add_argument("-o", "--output", metavar="OUT", help="write the summary here instead of printing it")
    p.set_defaults(func=run)


def read_text(source: str) -> str:
    """Text of a file, a saved transcript, or standard input (``-``)."""
    if source == "-":
        return sys.stdin.read()
    path = check_input_file(source, "text file")
    if path.suffix.lower() in (".json", ".srt", ".vtt"):
        from ..speech import Transcript

        return Transcript.load(path).text
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise XmtagError(f"{source!r} is not UTF-8 text; convert it or give a transcript.") from exc


def run(args: argparse.Namespace) -> int:
    from ..speech import summarize

    text = read_text(args.file)
    summary = summarize(
        text,
        model=args.model,
        method=args.method,
        max_words=args.max_words,
        progress=not getattr(args, "quiet", False),
    )
    if args.output:
        atomic_write_text(args.output, summary + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(summary)
    return 0
