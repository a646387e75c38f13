"""``xmtag explain SOURCE``: which stems make the tagger say what it says.

Writes into ``--out`` (default ``./out/<source name>``)::

    explanation.xmtag       the Explanation (xmtag.Explanation.load)
    attributions.csv        tidy table: tag, stem, value, solo, without, base_value, prediction
    segments.csv            time-resolved values (with --segments)
    plots/*.png             heatmap, and per shown tag: bar, waterfall, timeline, interactions
    audio/listen-<tag>.mp3  the smallest stem coalition that keeps each shown tag
    report.html             self-contained report (plots and audio players embedded)

and prints a compact table of the top tags with each stem's contribution.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import OutputError, XmtagError

if TYPE_CHECKING:  # pragma: no cover
    from ..explanation import Explanation

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="explain a tagger's prediction by stems (exact Shapley values, plots, HTML report)",
        description=(
            "Separate SOURCE into stems (or read a folder of stems), score the mix of every subset "
            "of stems with a tagger, and attribute each tag to the stems with exact Shapley values. "
            "Writes the explanation, a CSV table, PNG plots, listenable explanations and an HTML "
            "report."
        ),
        epilog=(
            "examples:\n"
            "  xmtag explain song/ --segments 8            # folder of stems: drums.wav, bass.wav, ...\n"
            "  xmtag explain song.mp3 --repo ~/demucs_models --tags rock,jazz\n"
            "  xmtag explain song/ --tagger musicnn-mtt --top 3 --out results/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="audio file (separated with Demucs) or folder of stems (drums.wav, ...)")
    add_output_arguments(p, default_out=None)
    p.add_argument(
        "--tagger", default="musicnn-msd", help="tagger name or Essentia .pb path (default: %(default)s)"
    )
    p.add_argument("--segments", type=int, help="also attribute over time, in N segments of the clip")
    p.add_argument("--separator", help="Demucs model for an audio file (default: htdemucs)")
    p.add_argument("--repo", help="local Demucs model folder (for offline use)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the xmtag cache")
    p.add_argument("--device", default="auto", help="where the tagger runs: auto (default), cpu, cuda")
    p.set_defaults(func=run)


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


def _positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise XmtagError(f"{flag} must be a positive integer, got {value}.")


def run(args: argparse.Namespace) -> int:
    from ..explanation import explain

    _positive(args.segments, "--segments")
    _positive(args.top, "--top")
    separator = None
    if args.separator or args.repo:
        from ..separation import Separator

        separator = Separator(
            args.separator or "htdemucs", repo=args.repo, progress=not args.quiet, cache=not args.no_cache
        )
    expl = explain(
        args.source,
        tagger=args.tagger,
        separator=separator,
        segments=args.segments,
        cache=not args.no_cache,
        device=args.device,
        progress=not args.quiet,
    )
    out = Path(args.out) if args.out else Path("out") / (Path(args.source).stem or "stems")
    write_outputs(expl, out, args)
    return 0


def _make_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise OutputError(f"Output folder {str(path)!r} is a file. Choose another --out.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create output folder {str(path)!r}: {exc.strerror or exc}.") from exc
    return path


def format_table(expl: Explanation, tags: list[str]) -> str:
    """A compact text table: one row per tag, full-mix and silence scores, each stem's value."""
    names = list(expl.stems)
    tag_w = max(12, *(len(t) for t in tags)) + 1
    col_w = [max(7, len(s)) for s in names]
    head = f"{'tag':<{tag_w}} {'full':>6} {'silence':>7}  " + "  ".join(
        f"{s:>{w}}" for s, w in zip(names, col_w)
    )
    lines = [head, "-" * len(head)]
    for tag in tags:
        j = expl.tag_index(tag)
        cells = "  ".join(f"{expl.values[i, j]:>+{w}.3f}" for i, w in enumerate(col_w))
        lines.append(f"{tag:<{tag_w}} {expl.prediction[j]:>6.3f} {expl.base_values[j]:>7.3f}  {cells}")
    return "\n".join(lines)


def write_outputs(
    expl: Explanation, out: Path, args: argparse.Namespace, title: str | None = None
) -> dict[str, Path]:
    """Write everything ``xmtag explain`` writes into ``out`` and print the summary."""
    from .._files import atomic_write_bytes, atomic_write_text
    from ..explanation import DEFAULT_SHARE
    from ..report import audio_mp3, audio_suffix, render_plots, slug, write_html

    share = DEFAULT_SHARE if args.share is None else float(args.share)
    if not 0.0 < share <= 1.0:
        raise XmtagError(f"--share must be in (0, 1], got {share}.")
    tags = [t.strip() for t in args.tags.split(",") if t.strip()] if args.tags else None
    shown = (
        [expl.labels[expl.tag_index(t)] for t in tags] if tags else expl.top_tags(min(args.top, expl.n_tags))
    )
    out = _make_dir(out)
    written: dict[str, Path] = {}
    written["explanation"] = expl.save(out / "explanation.xmtag")
    written["table"] = atomic_write_text(out / "attributions.csv", expl.to_frame().to_csv(index=False))
    if expl.segment_values is not None:
        written["segments"] = atomic_write_text(
            out / "segments.csv", expl.to_frame(segments=True).to_csv(index=False)
        )
    images = render_plots(expl, shown)
    plot_dir = _make_dir(out / "plots")
    for key, (_, png) in images.items():
        written[f"plot:{key}"] = atomic_write_bytes(plot_dir / f"{key}.png", png)
    cache: dict[int, bytes] = {}
    listens = []
    if not args.no_audio and expl.audio is not None:
        audio_dir = _make_dir(out / "audio")
        for tag in shown:
            try:
                pick = expl.smallest_coalition(tag, share)
            except XmtagError as exc:
                logger.info("No listenable explanation for %r: %s", tag, exc)
                continue
            if pick.mask not in cache:
                y, sr = expl.mix(pick.stems)
                cache[pick.mask] = audio_mp3(y, sr)
            data = cache[pick.mask]
            path = atomic_write_bytes(audio_dir / f"listen-{slug(tag)}{audio_suffix(data)}", data)
            written[f"listen:{tag}"] = path
            listens.append((tag, pick, path))
    written["report"] = write_html(
        expl,
        out / "report.html",
        tags=shown,
        share=share,
        audio=not args.no_audio,
        images=images,
        audio_cache=cache,
        title=title,
    )

    if not args.quiet:
        print(f"\n{expl!r}: Shapley values per stem ({_units(expl)}); full = silence + sum of stems\n")
        print(format_table(expl, shown))
        if listens:
            print(
                "\nListenable explanations (fewest stems keeping "
                f"{share:.0%} of each tag's gain over silence):"
            )
            for tag, pick, path in listens:
                print(f"  {tag:<16} {' + '.join(pick.stems):<28} {pick.value:.3f}  {path}")
        print(f"\nWrote to {out}/:")
        print(f"  {written['explanation'].name:<22} the explanation (xmtag.Explanation.load)")
        print(f"  {written['table'].name:<22} tidy table of all {expl.n_tags} tags")
        if "segments" in written:
            print(f"  {written['segments'].name:<22} time-resolved values")
        print(f"  plots/ ({len(images)} PNG)")
        if listens:
            print(f"  audio/ ({len(listens)} listenable explanations)")
        print(f"  {written['report'].name:<22} open in a browser (self-contained)")
        sys.stdout.flush()
    return written


def _units(expl: Explanation) -> str:
    from ..plots import _units as units

    return units(expl)
