"""``xmtag explain SOURCE``: which stems make the tagger say what it says.

A thin layer over :func:`xmtag.explain` and :func:`xmtag.export`. Writes into ``--out``
(default ``./out/<source name>``)::

    explanation.xmtag       the Explanation (xmtag.Explanation.load)
    attributions.csv        tidy table: tag, stem, value, stderr, solo, without, base_value, prediction
    segments.csv            time-resolved values (with --segments)
    plots/*.png             heatmap, and per shown tag: bar, waterfall, timeline, interactions
    audio/listen-<tag>.mp3  the smallest stem coalition that keeps each shown tag
    report.html             self-contained interactive report

(``--no-plots``, ``--no-audio`` and ``--no-report`` leave those out, and save their time)

and prints a compact table of the top tags with each stem's contribution.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _checks
from ..attribution import METHODS
from ._segments import add_segment_arguments, describe_bounds, resolve_segments

if TYPE_CHECKING:  # pragma: no cover
    from ..explanation import Explanation


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="explain a tagger's prediction by stems (Shapley values, plots, interactive report)",
        description=(
            "Separate SOURCE into stems (or read a folder of stems), score the mix of every subset "
            "of stems with a tagger, and attribute each tag to the stems (exact Shapley values by "
            "default, or a sampled method). Writes the explanation, a CSV table, PNG plots, "
            "listenable explanations and an HTML report."
        ),
        epilog=(
            "examples:\n"
            "  xmtag explain song/ --segments 8            # folder of stems: drums.wav, bass.wav, ...\n"
            "  xmtag explain set.flac --segment-seconds 60 # a time segment per minute of a long recording\n"
            "  xmtag explain song.mp3 --repo ~/demucs_models --tags rock,jazz\n"
            "  xmtag explain song/ --method permutation --budget 500\n"
            "  xmtag explain song/ --tagger musicnn-mtt --top 3 --out results/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "source", nargs="?", help="audio file (separated first) or folder of stems (drums.wav, ...)"
    )
    p.add_argument("--scores", help="a table of coalition scores (CSV/Parquet) instead of SOURCE")
    p.add_argument("--stems", help="with --scores: stem names in bit order, e.g. drums,bass,other,vocals")
    p.add_argument("--units", default="probability", help="with --scores: probability (default), logit, ...")
    add_output_arguments(p, default_out=None)
    p.add_argument(
        "--tagger", default="musicnn-msd", help="tagger name or Essentia .pb path (default: %(default)s)"
    )
    add_segment_arguments(p)
    add_segment_players_argument(p)
    p.add_argument(
        "--separator",
        help="separator for an audio file: auto (default: Demucs if its weights are here, else Spleeter), "
        "htdemucs, htdemucs_6s, spleeter:2stems, spleeter:2stems+hpss, ... (xmtag info --separators)",
    )
    p.add_argument(
        "--decompose",
        help="split the mix (or, with --separator, its accompaniment/other stem) without a model: "
        "hpss, bands:N, bands:F1,F2,..., nmf:K",
    )
    p.add_argument("--repo", help="local Demucs model folder (for offline use)")
    add_method_arguments(p)
    p.add_argument("--no-cache", action="store_true", help="do not read or write the xmtag cache")
    p.add_argument(
        "--mixture",
        choices=["file", "sum", "residual"],
        help="stem folder with mixture.wav: keep it (file, default), ignore it (sum), or add mixture - "
        "sum of stems as a 'residual' stem",
    )
    p.add_argument("--sr", type=int, help="stem folder: resample every file to this rate (Hz)")
    p.set_defaults(func=run)


def add_method_arguments(p: argparse.ArgumentParser) -> None:
    """The attribution options shared by ``explain`` and ``demo``."""
    p.add_argument(
        "--method",
        default="exact",
        choices=METHODS,
        help="attribution method (default: %(default)s; 'auto' samples above 8 players)",
    )
    p.add_argument("--budget", type=int, help="most coalitions a sampled method may score (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled methods (default: %(default)s)")
    p.add_argument(
        "--bands",
        help="split stems into frequency bands: a count (mel-spaced) or edges in Hz, e.g. 4 or 250,2000",
    )
    p.add_argument(
        "--baseline",
        default="silence",
        choices=("silence", "noise"),
        help="what an absent stem becomes (default: %(default)s)",
    )
    p.add_argument("--device", default="auto", help="where the tagger runs: auto, cpu, cuda (default: auto)")


def add_output_arguments(p: argparse.ArgumentParser, default_out: str | None) -> None:
    """The output options shared by ``explain`` and ``demo``."""
    where = f"default: {default_out}" if default_out else "default: ./out/<source name>"
    p.add_argument("--out", default=default_out, help=f"output folder ({where})")
    p.add_argument(
        "--top", type=int, default=5, help="tags shown in the table, plots and report (default: %(default)s)"
    )
    p.add_argument("--tags", help="comma-separated tags to show instead of the top ones, e.g. rock,jazz")
    p.add_argument(
        "--share",
        type=float,
        default=None,
        help="share of a tag's gain over silence a listenable explanation keeps (default: 0.9)",
    )
    p.add_argument(
        "--no-audio", action="store_true", help="no audio files and no audio players in the report"
    )
    p.add_argument(
        "--no-plots", action="store_true", help="no PNG plots (the report draws its own figures; faster)"
    )
    p.add_argument("--no-report", action="store_true", help="no HTML report (faster)")
    p.add_argument(
        "--stream",
        choices=["auto", "yes", "no"],
        default="auto",
        help="separate and score an audio file block by block with its stems in a temporary folder, "
        "in bounded memory (auto, the default: for files longer than 6 minutes); the same values",
    )
    p.add_argument(
        "--report-audio-minutes",
        default="10",  # xmtag.report.DEFAULT_AUDIO_SECONDS / 60
        metavar="M",
        help="the report embeds at most M minutes of each stem's audio, and says so when it cuts; "
        "'all' embeds everything (default: %(default)s; about 12 MB of page per stem for 10 minutes)",
    )
    p.add_argument(
        "--force", action="store_true", help="write into a non-empty output folder that xmtag did not write"
    )
    p.add_argument("--open", action="store_true", help="open the report in the default browser")


def parse_bands(text: str | None) -> int | list[float] | None:
    """``--bands`` as explain() takes it: an int count or a list of edges in Hz."""
    if text is None:
        return None
    from ..errors import XmtagError

    parts = [x.strip() for x in text.split(",") if x.strip()]
    try:
        return int(parts[0]) if len(parts) == 1 and parts[0].isdigit() else [float(x) for x in parts]
    except (ValueError, IndexError):
        raise XmtagError(f"--bands must be a count or comma-separated edges in Hz, got {text!r}.") from None


def report_audio_seconds(text: str) -> float | None:
    """``--report-audio-minutes`` as ``export(max_audio_seconds=...)`` takes it: seconds, or None for 'all'.

    Examples
    --------
    >>> report_audio_seconds("10"), report_audio_seconds("0.5"), report_audio_seconds("all")
    (600.0, 30.0, None)
    """
    from ..errors import XmtagError

    if str(text).strip().lower() == "all":
        return None
    try:
        minutes = float(text)
    except ValueError:
        minutes = float("nan")
    if not (minutes > 0 and minutes < float("inf")):
        raise XmtagError(f"--report-audio-minutes must be a number of minutes > 0 or 'all', got {text!r}.")
    return minutes * 60.0


def method_kwargs(args: argparse.Namespace) -> dict:
    """The explain() keywords of the method options."""
    return {
        "method": args.method,
        "budget": args.budget,
        "seed": args.seed,
        "bands": parse_bands(args.bands),
        "baseline": args.baseline,
        "device": args.device,
    }


def run(args: argparse.Namespace) -> int:
    from ..pipeline import explain

    _checks.positive_int(args.segments, "--segments", allow_none=True)
    _checks.positive_int(args.top, "--top")
    report_audio_seconds(args.report_audio_minutes)  # a bad value fails before the work
    if args.segment_seconds is not None and args.scores:
        from ..errors import XmtagError

        raise XmtagError("--segment-seconds needs audio (SOURCE); a table of --scores has no time axis.")
    _refuse_out_over_inputs(args)
    if args.scores:  # an external tagger's scores (xmtag.explanation._scores)
        from ..explanation import from_scores

        kw = {"stems": args.stems, "units": args.units, "method": args.method, "seed": args.seed}
        expl = from_scores(args.scores, **kw)
        write_outputs(expl, Path(args.out) if args.out else Path("out") / Path(args.scores).stem, args)
        return 0
    if args.source is None:
        from ..errors import XmtagError

        raise XmtagError("Give a SOURCE (audio file or folder of stems) or --scores TABLE.")
    separator = None
    if Path(args.source).is_file():  # a mix: build the separator here to say which one is used
        from ..separation import Separator

        spec = args.separator or ("auto" if not args.decompose else None)
        if args.decompose:
            spec = f"{spec}+{args.decompose}" if spec else args.decompose
        separator = Separator(spec, repo=args.repo, progress=not args.quiet, cache=not args.no_cache)
        if not args.quiet:
            why = getattr(separator, "chosen_because", None)
            print(f"separator: {separator.model_name}" + (f" ({why})" if why else ""), file=sys.stderr)
    source = args.source
    if (getattr(args, "mixture", None) or getattr(args, "sr", None)) and Path(source).is_dir():
        from ..separation import Stems

        source = Stems.from_folder(source, sr=args.sr, mixture=args.mixture or "file")
    segments = resolve_segments(args, source, args.tagger)
    stream = {"auto": None, "yes": True, "no": False}[args.stream]
    if separator is not None and not args.quiet:
        _say_stream(source, separator, stream)
    expl = explain(
        source,
        tagger=args.tagger,
        separator=separator,
        segments=segments,
        segment_players=args.segment_players,
        cache=not args.no_cache,
        progress=not args.quiet,
        stream=stream,
        **method_kwargs(args),
    )
    out = Path(args.out) if args.out else Path("out") / (Path(args.source).stem or "stems")
    write_outputs(expl, out, args)
    return 0


def clock(seconds: float) -> str:
    """``"1:00:00"``, ``"10:00"``: a duration as a clock."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _say_stream(source: str, separator: object, stream: bool | None) -> None:
    """Say, before the work, that a long recording goes block by block and what disk it takes."""
    from .. import pipeline
    from ..audio import stream_audio

    if stream is False:
        return
    info = stream_audio(source)
    if info.duration is None or (stream is None and info.duration <= pipeline.STREAM_SECONDS):
        return
    n_files = len(getattr(separator, "sources", ())) + 1
    rate = getattr(separator, "samplerate", None) or info.file_sr
    gb = info.duration * rate * max(2, info.channels) * 4 * n_files / 1e9
    print(
        f"long recording ({clock(info.duration)}): separated and scored block by block, its stems in a "
        f"temporary folder (about {gb:.1f} GB of disk, deleted at the end; --stream no keeps them in memory)",
        file=sys.stderr,
    )


def add_segment_players_argument(p: argparse.ArgumentParser) -> None:
    """``--segment-players``: which (stem, segment) game the time-resolved values are exact for."""
    p.add_argument(
        "--segment-players",
        choices=["receptive", "samples"],
        default="receptive",
        help="with --segments: player (stem, segment) is the stem as heard by the segment's patches, "
        "the context before a patch counting for the patch's segment (receptive, default, no extra "
        "cost), or the stem's samples in the segment (samples: up to 2^(2n) extra windows per "
        "segment boundary for musicnn)",
    )


def _inputs(args: argparse.Namespace) -> list[str]:
    return [str(p) for p in (getattr(args, "source", None), getattr(args, "scores", None)) if p]


def _default_out(args: argparse.Namespace) -> Path:
    if getattr(args, "scores", None):
        return Path("out") / Path(args.scores).stem
    return Path("out") / (Path(args.source).stem or "stems") if args.source else Path("out")


def _refuse_out_over_inputs(args: argparse.Namespace) -> None:
    """Refuse ``--out`` over the inputs before any work (``xmtag explain P/audio --out P``)."""
    from .._files import check_output_outside_inputs

    check_output_outside_inputs(Path(args.out) if args.out else _default_out(args), _inputs(args))


def format_table(expl: Explanation, tags: list[str]) -> str:
    """A compact text table: one row per tag, full-mix and silence scores, each stem's value
    (``± stderr`` for sampled methods)."""
    names = list(expl.stems)
    err = expl.stderr is not None
    tag_w = max(12, *(len(t) for t in tags)) + 1
    col_w = [max(14 if err else 7, len(s)) for s in names]
    head = f"{'tag':<{tag_w}} {'full':>6} {'silence':>7}  " + "  ".join(
        f"{s:>{w}}" for s, w in zip(names, col_w)
    )
    lines = [head, "-" * len(head)]
    for tag in tags:
        j = expl.tag_index(tag)
        cells = "  ".join(
            (
                f"{expl.values[i, j]:+.3f}±{expl.stderr[i, j]:.3f}" if err else f"{expl.values[i, j]:+.3f}"
            ).rjust(w)
            for i, w in enumerate(col_w)
        )
        lines.append(f"{tag:<{tag_w}} {expl.prediction[j]:>6.3f} {expl.base_values[j]:>7.3f}  {cells}")
    return "\n".join(lines)


def write_outputs(expl: Explanation, out: Path, args: argparse.Namespace, title: str | None = None) -> dict:
    """:func:`xmtag.export` with the CLI's options, then print the summary."""
    from ..report import DEFAULT_AUDIO_SECONDS, export, shown_tags

    tags = [t.strip() for t in args.tags.split(",") if t.strip()] if args.tags else None
    minutes = getattr(args, "report_audio_minutes", None)
    max_audio = report_audio_seconds(minutes) if minutes is not None else DEFAULT_AUDIO_SECONDS
    written = export(
        expl,
        out,
        tags=tags,
        top=args.top,
        audio=not args.no_audio,
        plots=not getattr(args, "no_plots", False),
        report=not getattr(args, "no_report", False),
        share=args.share,
        force=getattr(args, "force", False),
        title=title,
        inputs=_inputs(args),
        max_audio_seconds=max_audio,
    )
    if getattr(args, "open", False) and "report" not in written:
        print("No report to open (--no-report).")
    elif getattr(args, "open", False):
        from ..report import open_in_browser

        # always say where the page is: on a machine without a desktop nothing may open
        opened = open_in_browser(written["report"])
        where = Path(written["report"]).resolve()
        hint = "" if opened else " (no web browser could be started here: open it yourself)"
        print(f"Report: {where}{hint}")
    if not args.quiet:
        shown = shown_tags(expl, tags, args.top)
        kind = "Shapley values" if expl.method == "exact" else f"{expl.method} values"
        print(f"\n{expl!r}: {kind} per stem ({_units(expl)}); full = silence + sum of stems\n")
        print(format_table(expl, shown))
        listens = [(k.split(":", 1)[1], p) for k, p in written.items() if k.startswith("listen:")]
        if listens:
            print("\nListenable explanations (fewest stems keeping each tag's gain over silence):")
            from ..explanation import DEFAULT_SHARE

            share = DEFAULT_SHARE if args.share is None else args.share
            for tag, path in listens:
                pick = expl.smallest_coalition(tag, share)
                print(f"  {tag:<16} {' + '.join(pick.stems):<28} {pick.value:.3f}  {path}")
        print(f"\nWrote to {out}/:")
        print(f"  {written['explanation'].name:<22} the explanation (xmtag.Explanation.load)")
        print(f"  {written['table'].name:<22} tidy table of all {expl.n_tags} tags")
        if "segments" in written:
            what = f" ({describe_bounds(expl.segment_bounds)})" if expl.segment_bounds is not None else ""
            print(f"  {written['segments'].name:<22} time-resolved values{what}")
        n_plots = sum(k.startswith("plot:") for k in written)
        if n_plots:
            print(f"  plots/ ({n_plots} PNG)")
        if listens:
            print(f"  audio/ ({len(listens)} listenable explanations)")
        if "report" in written:
            print(f"  {written['report'].name:<22} open in a browser (self-contained)")
            if not args.no_audio:
                _say_audio_cap(expl, max_audio)
        sys.stdout.flush()
    return written


def _say_audio_cap(expl: Explanation, max_audio: float | None) -> None:
    """Say when the report embeds only the first part of each stem's audio."""
    from ..report import audio_cap

    cap = audio_cap(expl, max_audio)
    if cap is not None:
        print(
            f"  (the report embeds the first {clock(cap)} of each stem's audio, of "
            f"{clock(expl.audio.duration)}; --report-audio-minutes M or 'all' to change)"
        )


def _units(expl: Explanation) -> str:
    from ..plots import units_label as units

    return units(expl)
