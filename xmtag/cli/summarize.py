"""``xmtag summarize TEXTFILE|-``: summarise a transcript or any text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import atomic_write_text, check_input_file
from ..errors import XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from ..speech import Transcript


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summarize",
        help="summarise a text or transcript (extractive offline; abstractive with --model)",
        description="Summarise a text file, a transcript (.json/.srt/.vtt from `xmtag transcribe`) or "
        "standard input (-). Without --model the summary is extractive (TextRank, no download).",
    )
    p.add_argument("file", help="text file, transcript .json/.srt/.vtt, or - for standard input")
    p.add_argument(
        "--model", default=None, help="seq2seq model folder or hub name; with --method llm, a .gguf file"
    )
    p.add_argument(
        "--method",
        default="auto",
        choices=["auto", "extractive", "abstractive", "llm"],
        help="extractive (TextRank, default without --model), abstractive (seq2seq), llm (GGUF "
        "instruction model; default SmolLM2-135M from the [llm] extra: weak summaries)",
    )
    p.add_argument(
        "--by-speaker",
        action="store_true",
        help="one summary per speaker (a diarized transcript .json/.srt/.vtt)",
    )
    p.add_argument(
        "--max-words",
        "--summary-words",
        dest="max_words",
        type=int,
        default=None,
        help="summary length bound in words (default: about a fifth of the text, at most 150)",
    )
    p.add_argument(
        "--grounding",
        default="flag",
        choices=["flag", "drop", "off"],
        help="check each summary sentence against the text: numbers, names and content words it never "
        "says are flagged (default), or the sentence is dropped; the count goes to standard error",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write the summary here instead of printing it")
    p.set_defaults(func=run)


def read_source(source: str) -> str | Transcript:
    """A transcript (``.json``/``.srt``/``.vtt``), the text of a file, or standard input (``-``).

    Raises
    ------
    XmtagError
        For input without a word to summarise (an empty file, or a JSON file that is not an
        xmtag transcript), or text that is not UTF-8.
    """
    if source == "-":
        content: str | Transcript = sys.stdin.read()
        where = "standard input"
    else:
        path = check_input_file(source, "text file")
        where = repr(str(path))
        if path.suffix.lower() in (".json", ".srt", ".vtt"):
            from ..speech import Transcript

            content = Transcript.load(path)
        else:
            try:
                content = Path(path).read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise XmtagError(f"{source!r} is not UTF-8 text; convert it or give a transcript.") from exc
    text = content if isinstance(content, str) else content.text
    if not text.split():
        kind = (
            "a transcript without any text, or a JSON file that is not an xmtag transcript"
            if not isinstance(content, str)
            else "empty"
        )
        raise XmtagError(f"Nothing to summarize in {where}: it is {kind}.")
    return content


def read_text(source: str) -> str:
    """Text of a file, a saved transcript, or standard input (``-``)."""
    content = read_source(source)
    return content if isinstance(content, str) else content.text


def run(args: argparse.Namespace) -> int:
    from ..speech import summarize

    content = read_source(args.file)
    summary = summarize(
        content,
        model=args.model,
        method=args.method,
        max_words=args.max_words,
        by_speaker=args.by_speaker,
        progress=not getattr(args, "quiet", False),
        grounding=args.grounding,
    )
    if not getattr(args, "quiet", False) and args.grounding != "off":
        for who, part in summary.items() if isinstance(summary, dict) else [(None, summary)]:
            print((f"[{who}] " if who else "") + part.grounding_report(), file=sys.stderr)
    if isinstance(summary, dict):
        summary = "\n\n".join(f"[{who}] {text}" for who, text in summary.items())
    if args.output:
        atomic_write_text(args.output, summary + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(summary)
    return 0
