"""``xmtag corpus explain|summarize|status``: explanations of a whole dataset (a thin layer over
:mod:`xmtag.corpus`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import XmtagError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "corpus",
        help="explain a whole dataset into a store folder (resumable; local pool or Dask)",
        description="Explain every track of a folder (one sub-folder of stems per track, or audio files "
        "to separate) or a manifest, resumably, and summarise the results by label.",
    )
    cmds = p.add_subparsers(dest="corpus_command", metavar="ACTION")
    e = cmds.add_parser(
        "explain", help="explain every track into STORE (reruns compute only what is missing)"
    )
    e.add_argument("sources", help="folder of tracks, or a manifest .csv/.parquet with a 'path' column")
    e.add_argument("--out", required=True, help="store folder")
    e.add_argument("--manifest", help="labels for a folder's tracks: CSV with 'track' and label columns")
    e.add_argument("--tagger", default="musicnn-msd", help="tagger name (default: %(default)s)")
    e.add_argument("--separator", help="separator for mixes (default: the best available)")
    e.add_argument(
        "--decompose",
        help="split each mix (or, with --separator, its accompaniment/other stem) without a model, as "
        "in `xmtag explain`: hpss, bands:N, bands:F1,F2,..., nmf:K",
    )
    e.add_argument("--segments", type=int, help="also attribute over time in N segments")
    e.add_argument("--method", default="exact", help="attribution method (default: %(default)s)")
    e.add_argument("--budget", type=int, help="most coalitions a sampled method may score")
    e.add_argument(
        "--workers", type=int, help="local worker processes (default: the cores; 0: in this process)"
    )
    e.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://HOST:8786 ([dask] extra)")
    e.add_argument("--device", default="auto", help="where the tagger runs (default: auto)")
    e.set_defaults(func=run_explain)
    s = cmds.add_parser("summarize", help="mean attribution per group x tag x stem with confidence intervals")
    s.add_argument("store", help="store folder")
    s.add_argument(
        "--by", default="genre", help="label column to group by (default: %(default)s; 'none': all)"
    )
    s.add_argument("--tags", help="comma-separated tags, or 'own' (each group's own tag); default: all")
    s.add_argument("--ci", type=float, default=0.95, help="interval coverage (default: %(default)s)")
    s.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default: %(default)s)")
    s.add_argument(
        "--cluster",
        default="auto",
        help="label column naming each clip's song, resampled as one unit ('none': every track "
        "independent; default auto: a 'song' label, or track ids <song>@<start>)",
    )
    s.add_argument("--csv", help="write the summary here")
    s.add_argument("--plot", help="write a heatmap (PNG) of each group's own tag here")
    s.set_defaults(func=run_summarize)
    st = cmds.add_parser("status", help="done / failed (/ pending against SOURCES) tracks of a store")
    st.add_argument("store", help="store folder")
    st.add_argument("sources", nargs="?", help="the sources, to count pending tracks")
    st.set_defaults(func=run_status)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_explain(args: argparse.Namespace) -> int:
    from .. import corpus

    client = None
    if args.scheduler:
        from ..errors import require

        distributed = require("distributed", "dask", "--scheduler")
        client = distributed.Client(args.scheduler)
    separator = args.separator  # --decompose composes the spec as `xmtag explain` does
    if args.decompose:
        separator = f"{separator}+{args.decompose}" if separator else args.decompose
    try:
        c = corpus.explain(
            args.sources,
            args.out,
            tagger=args.tagger,
            separator=separator,
            method=args.method,
            segments=args.segments,
            budget=args.budget,
            manifest=args.manifest,
            device=args.device,
            client=client,
            workers=args.workers,
            progress=not args.quiet,
        )
    finally:
        if client is not None:
            client.close()
    n_failed = len(c.failures)
    if not args.quiet:
        print(f"{c!r}: table {Path(args.out) / 'table.parquet'}", file=sys.stderr)
        if n_failed:
            print(f"{n_failed} track(s) failed; see {Path(args.out) / 'failures.csv'}:", file=sys.stderr)
            for row in c.failures.head(10).itertuples():
                print(f"  {row.track}: {row.reason}", file=sys.stderr)
    return 1 if n_failed else 0


def run_summarize(args: argparse.Namespace) -> int:
    from .. import corpus
    from .._files import atomic_write_text

    c = corpus.load(args.store)
    by = None if args.by.lower() == "none" else args.by
    tags = (
        None
        if not args.tags
        else ("own" if args.tags == "own" else [t.strip() for t in args.tags.split(",")])
    )
    cluster = None if args.cluster.lower() == "none" else args.cluster
    table = c.summarize(by=by, tags=tags, ci=args.ci, n_boot=args.n_boot, cluster=cluster)
    if args.csv:
        atomic_write_text(args.csv, table.to_csv(index=False))
    if args.plot:
        if by is None:
            raise XmtagError("--plot needs --by (a label column).")
        from .. import plots
        from .._files import atomic_write_bytes
        from ..report import figure_png

        fig = plots.corpus_heatmap(c, by=by, tag="own", cluster=cluster)
        atomic_write_bytes(args.plot, figure_png(fig, dpi=110))
    if not args.csv:
        print(table.to_string(index=False, float_format=lambda x: f"{x:+.4f}"))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from .. import corpus

    st = corpus.load(args.store).status(args.sources)
    print(" ".join(f"{k}={v}" for k, v in st.items()))
    return 0
