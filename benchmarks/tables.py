"""Generate the tables of ``benchmarks/README.md`` from the result JSONs, and find stale results.

Usage::

    python benchmarks/tables.py            # rewrite every generated table in benchmarks/README.md
    python benchmarks/tables.py --check    # exit 1 if a README table differs from its JSON
    python benchmarks/tables.py --stale    # list results whose source files changed since they ran

A generated table sits between two markers in the README::

    <!-- table:confound:begin -->
    ... (written by this script; do not edit by hand) ...
    <!-- table:confound:end -->

Each marker name is a function in :data:`TABLES`: it takes the result JSONs (``load(name)``)
and returns the Markdown. No number in such a table is typed by hand; prose that cites a
number should cite the table instead.

A result is **stale** when the sources it depends on (its script, ``_common.py`` and the
files its script's ``DEPENDS`` names; see ``_common.py``) no longer hash to what the JSON
recorded in ``sources`` when it ran, or when the JSON recorded no ``sources`` at all (written
before this check existed). ``python benchmarks/run_all.py --only-stale`` reruns those.
Runs under ``--quick`` (``*_quick.json``) are smoke tests and are not checked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

BENCH = _common.BENCH_DIR
README = BENCH / "README.md"
RESULTS_DIR = _common.RESULTS
#: benchmark scripts that write results but do not declare their sources yet (owned elsewhere),
#: with the reason; they are listed by --stale but not failed on
UNTRACKED = {
    "diarization.py": "tables typed from results/diarization*.json (not generated yet)",
    "speech.py": "tables typed from results/speech*.json (not generated yet)",
    "end_to_end.py": "table typed from results/end_to_end*.json (not generated yet)",
    "long_recordings.py": "table typed from results/long_recordings.json (not generated yet)",
    "summaries.py": "table typed from results/summaries.json (not generated yet)",
    "shapley_speed.py": "writes its JSON with --json, not through _common.py; its README numbers are typed",
    "separation_speed.py": "writes its JSON with --out, not through _common.py; its README numbers are typed",
    "import_time.py": "a one-off comparison with another checkout; writes no JSON, its table is typed",
}

MARKER = re.compile(
    r"(<!-- table:(?P<name>[\w.-]+):begin -->\n)(?P<body>.*?)(<!-- table:(?P=name):end -->)", re.S
)


# --------------------------------------------------------------------------- registry of results


def benchmarks(bench: Path = BENCH) -> dict[str, dict[str, Any]]:
    """``{result name: {"script", "args", "minutes"}}`` from every script's ``RESULTS``."""
    out = {}
    for script in sorted(bench.glob("*.py")):
        if script.name.startswith("_") or script.name in ("tables.py", "run_all.py"):
            continue
        decl = _common.declared(script)
        for name, (args, minutes) in decl.get("RESULTS", {}).items():
            out[name] = {"script": script, "args": list(args), "minutes": float(minutes)}
    return out


def load(name: str, results: Path = RESULTS_DIR) -> dict[str, Any]:
    """The stored result ``results/<name>.json``."""
    path = Path(results) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the benchmark that writes it")
    return json.loads(path.read_text())


def staleness(
    name: str, entry: dict[str, Any], results: Path = RESULTS_DIR, repo: Path = _common.REPO
) -> str | None:
    """Why ``results/<name>.json`` is stale, or None when its recorded sources are current."""
    path = Path(results) / f"{name}.json"
    command = rerun_command(name, entry)
    if not path.is_file():
        return f"{path.name} is missing; run: {command}"
    payload = json.loads(path.read_text())
    recorded = payload.get("sources")
    if not recorded:
        return (
            f"{path.name} records no source hash (written before provenance was recorded); rerun: {command}"
        )
    current = _common.source_fingerprint(entry["script"], repo)
    if recorded.get("sha256") == current["sha256"]:
        return None
    old, new = recorded.get("files", {}), current["files"]
    changed = sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    commit = (payload.get("environment") or {}).get("git_commit")
    return f"{path.name} (commit {commit}) is stale: changed since it ran: {shown}; rerun: {command}"


def rerun_command(name: str, entry: dict[str, Any]) -> str:
    """The command line that regenerates a result.

    >>> rerun_command("x", {"script": Path("benchmarks/x.py"), "args": ["--a", "1"], "minutes": 2})
    'python benchmarks/x.py --a 1'
    """
    return " ".join(["python", f"benchmarks/{Path(entry['script']).name}", *entry["args"]])


def stale(results: Path = RESULTS_DIR, repo: Path = _common.REPO) -> dict[str, str]:
    """``{result name: reason}`` for every stale result of :func:`benchmarks`."""
    out = {}
    for name, entry in benchmarks().items():
        why = staleness(name, entry, results, repo)
        if why:
            out[name] = why
    return out


# --------------------------------------------------------------------------- Markdown helpers


def md(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table.

    >>> print(md(["a", "b"], [[1, "x"]]))
    | a | b |
    |---|---|
    | 1 | x |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def f(x: Any, fmt: str = ".3f") -> str:
    """A number for a table (blank for None / NaN).

    >>> f(0.12345), f(None), f(3, "d")
    ('0.123', '', '3')
    """
    if x is None or (isinstance(x, float) and x != x):
        return ""
    return format(x, fmt)


def pct(x: Any, digits: int = 1) -> str:
    """``0.938 -> '93.8 %'``.

    >>> pct(0.9381)
    '93.8 %'
    """
    return "" if x is None else f"{100 * x:.{digits}f} %"


def ci(lo: Any, hi: Any, fmt: str = ".3f") -> str:
    """``[lo, hi]``."""
    return f"[{f(lo, fmt)}, {f(hi, fmt)}]"


def caption(payload: dict[str, Any]) -> str:
    """The provenance line under a table: date, commit, load, wall time."""
    env = payload.get("environment") or {}
    parts = [
        f"`results/{payload.get('benchmark')}.json`",
        str(env.get("date_utc", "?"))[:16].replace("T", " "),
    ]
    parts.append(f"commit {env.get('git_commit')}")
    if env.get("load_average_1min") is not None:
        parts.append(f"load average {env['load_average_1min']}")
    if payload.get("wall_s") is not None:
        parts.append(f"run time {payload['wall_s'] / 60:.1f} min")
    if env.get("quick"):
        parts.append("**--quick run**")
    return "<sub>Generated from " + ", ".join(parts) + ".</sub>"


# --------------------------------------------------------------------------- the tables

TableFn = Callable[[Callable[[str], dict[str, Any]]], str]
TABLES: dict[str, TableFn] = {}


def table(name: str) -> Callable[[TableFn], TableFn]:
    """Register a README table generator under its marker name."""

    def deco(fn: TableFn) -> TableFn:
        TABLES[name] = fn
        return fn

    return deco


@table("confound")
def _confound(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("confound")
    r = p["results"]
    clustered = "cluster_low" in r["rows"][0]
    head = ["method", "tagger passes (distinct)", "drums ranked first"]
    head += ["[95 % cluster bootstrap over songs]"] if clustered else []
    head += ["[95 % Wilson, clips as if independent]", "on the fooled clips"]
    rows = []
    for row in r["rows"]:
        name = f"**{row['method']}**" if row["method"] == "exact" else row["method"]
        cells = [
            name,
            f"{row['tagger_passes']:.3g} ({row['distinct_coalitions']:.3g})",
            f"{pct(row['spurious_first'])} ({row['hits']}/{row['clips']})",
        ]
        if clustered:
            cells.append(f"[{pct(row['cluster_low'])}, {pct(row['cluster_high'])}]")
        cells.append(f"[{pct(row['wilson_low'])}, {pct(row['wilson_high'])}]")
        fooled = pct(row["spurious_first_fooled"])
        if clustered and row.get("fooled_cluster_low") is not None:
            fooled += f" [{pct(row['fooled_cluster_low'])}, {pct(row['fooled_cluster_high'])}]"
        cells.append(fooled)
        rows.append(cells)
    out = md(head, rows)
    diffs = r.get("paired_differences")
    if diffs:
        out += "\n\n" + md(
            [
                "paired difference, drums ranked first (same clips)",
                "points",
                "[95 % cluster bootstrap over songs]",
            ],
            [
                [d["label"], f"{100 * d['mean']:+.1f}", f"[{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"]
                for d in diffs
            ],
        )
    facts = [
        ("training songs", len(r["train_songs"])),
        ("held-out songs with keys, drums and bass (clusters)", len(r["confounded_test_songs"])),
        ("confounded clips (clips per song)", f"{r['rows'][0]['clips']} ({r['confounded_clips_per_song']})"),
        (
            "classifier set-up (chosen on the training songs)",
            ", ".join(f"{k}={v}" for k, v in r["selection"]["chosen"].items()),
        ),
        ("accuracy, held-out clips as trained", pct(r["accuracy"]["test, as trained"])),
        ("accuracy, held-out clips without drums", pct(r["accuracy"]["test, no drums"])),
        ("confounded clips called guitar (fooled)", pct(r["confounded_called_guitar"])),
    ]
    if "design_effect" in r:
        facts.append(
            ("design effect of exact's rate (clustered / independent variance)", f(r["design_effect"], ".1f"))
        )
    corpus = set(r.get("test_songs", []))
    clips = r.get("clips", [])
    if clips and "exact" in clips[0]:
        spurious = r["players"].index(r["spurious_stem"])
        for label, keep in (("corpus test songs", True), ("held-out grooves", False)):
            part = [c for c in clips if (c["song"] in corpus) == keep]
            if part:
                hits = sum(
                    int(max(range(len(c["exact"])), key=c["exact"].__getitem__) == spurious) for c in part
                )
                n_songs = len({c["song"] for c in part})
                facts.append(
                    (
                        f"exact, drums first on the {label} ({n_songs} songs)",
                        f"{pct(hits / len(part))} ({hits}/{len(part)})",
                    )
                )
    if "target_verdict" in r:
        facts.append(("target: exact ranks the drums first on >= 95 % of clips", r["target_verdict"]))
    out += "\n\n" + md(["", ""], facts)
    return out + "\n\n" + caption(p)


@table("cost")
def _cost(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("cost")
    r = p["results"]
    rows = [
        [
            row["method"] + (f" ({row['note']})" if row.get("note") else ""),
            f(row["tagger_rows"], ",.0f"),
            f"{row['wall_s']:.1f} s",
            f(row["rows_ratio"], ".3g"),
            f(row["time_ratio"], ".3g"),
        ]
        for row in r["rows"]
    ]
    head = ["method", "tagger rows", "wall time", "x rows", "x time"]
    intro = (
        f"Song `{r['song']}` ({len(r['stems'])} stems, {r['seconds']:g} s), {r['segments']} segments, "
        f"{r['tagger']} ({r['patches_per_clip']} patches per clip).\n\n"
    )
    return intro + md(head, rows) + "\n\n" + caption(p)


@table("reuse")
def _reuse(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("reuse")
    rows = [
        [
            c["case"],
            c["stems"],
            c["patches"],
            c["rows_reuse"],
            c["rows_plain"],
            f"**{pct(c['rows_ratio'], 0)}**",
            f"{c['cpu_reuse_s']:.1f} / {c['cpu_plain_s']:.1f} ({c['cpu_ratio']:.2f})",
            f"{c['wall_reuse_s']:.1f} / {c['wall_plain_s']:.1f}",
            f(c["max_diff_shapley"], ".1e"),
        ]
        for c in p["results"]["cases"]
    ]
    head = [
        "case",
        "stems",
        "patches",
        "rows with reuse",
        "rows without",
        "rows ratio",
        "CPU s with / without",
        "wall s with / without",
        "max diff of Shapley values",
    ]
    return md(head, rows) + "\n\n" + caption(p)


@table("genre_table")
def _genre(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("genre_table")
    r = p["results"]
    stems = ["drums", "bass", "keys", "guitar", "other"]
    rows = [[g, *(f(v.get(s), "+.3f") for s in stems)] for g, v in r["own_genre_table"].items()]
    hits = ", ".join(f"{g} {h[0]}/{h[1]}" for g, h in r["per_genre_hits"].items())
    out = md(["genre (tag)", *stems], rows)
    out += (
        f"\n\nTop tag = corpus genre: {pct(r['top_genre_accuracy_corpus_genres'], 0)} of {r['n_songs']} "
        "songs "
        f"among the {len(r['corpus_genres'])} corpus genres (chance {pct(r['chance_corpus_genres'], 0)}), "
        f"{pct(r['top_genre_accuracy_all_genre_tags'], 0)} among all genre tags; per genre: {hits}."
    )
    return out + "\n\n" + caption(p)


@table("genre_table_real")
def _genre_real(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("genre_table")
    rr = p["results"]["real_recordings"]
    rows = [
        [
            x["tag"],
            f(x["prediction"]),
            f(x["phi_guitar"], "+.3f"),
            f(x["phi_band"], "+.3f"),
            pct(x["guitar_larger"], 0),
        ]
        for x in rr["rows"]
    ]
    counts = ", ".join(f"*{k}* {v}" for k, v in rr["top_genre_tag_counts"].items())
    out = md(["tag", "prediction", "phi guitar", "phi band", "guitar > band"], rows)
    return out + f"\n\nTop genre tag over the {len(rr['excerpts'])} excerpts: {counts}.\n\n" + caption(p)


def _estimator_rows(summary: list[dict[str, Any]], exact_key: str | None = None) -> list[list[str]]:
    rows = []
    for s in summary:
        rows.append(
            [
                s["game"],
                s["method"],
                f(s.get("budget"), ",.0f"),
                f(s["tagger_passes"], ",.0f"),
                f(s["relative_error"], ".3g"),
                pct(s["top_agreement"], 0),
            ]
        )
    return rows


@table("estimators")
def _estimators(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("estimators")
    head = ["game", "method", "budget", "tagger passes", "relative error", "top stem/segment agrees"]
    return md(head, _estimator_rows(p["results"]["summary"])) + "\n\n" + caption(p)


@table("estimators_engine")
def _estimators_engine(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("estimators_engine")
    head = ["game", "method", "budget", "mixes scored", "relative error", "top player agrees"]
    return md(head, _estimator_rows(p["results"]["engine"]["summary"])) + "\n\n" + caption(p)


@table("separation_sensitivity")
def _separation(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("separation_sensitivity")
    r = p["results"]
    rows = [
        [
            s["setting"],
            f"{s['mean_sdr_db']:.1f} dB",
            pct(s["top_stem_agreement"], 0),
            f(s["kendall_tau"], ".2f"),
            f(s["spearman_all_tags"], ".2f"),
            f(s["mean_abs_diff"]),
        ]
        for s in r["summary"]
    ]
    head = [
        "setting",
        "SDR of the estimates",
        "top stem agrees",
        "Kendall tau (per tag)",
        "Spearman",
        "mean abs diff",
    ]
    speed = ", ".join(f"{k} {v['seconds_per_minute_of_audio']:.1f} s" for k, v in r["speed"].items())
    hb = r["high_band"]
    out = md(head, rows)
    out += (
        f"\n\nSeconds per minute of stereo 44.1 kHz audio (wall clock): {speed}. Band above 11 kHz "
        f"({hb['songs']} songs): {pct(hb['share_of_energy'], 2)} of the accompaniment's energy; "
        f"SDR {hb['sdr_db_average']:.1f} dB with the mean-mask extension, "
        f"{hb['sdr_db_zeros']:.1f} dB without."
    )
    return out + "\n\n" + caption(p)


@table("faithfulness")
def _faithfulness(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("faithfulness")
    md_ = p["results"]["markdown"]
    out = "**MMA corpus**\n\n" + md_["mma"].strip()
    for key, title in (("fretsonfire", "Frets on Fire"), ("demo", "Demo song (one clip, no interval)")):
        if key in md_:
            out += f"\n\n**{title}**\n\n" + md_[key].strip()
    return out + "\n\n" + caption(p)


@table("faithfulness_baselines")
def _faithfulness_baselines(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("faithfulness")
    summary = p["results"]["baselines"]["summary"]
    metrics = list(dict.fromkeys(s["metric"] for s in summary))
    rows = []
    for ds in dict.fromkeys(s["dataset"] for s in summary):
        by = {s["metric"]: s for s in summary if s["dataset"] == ds}
        n = max(s["n"] for s in by.values())
        cells = []
        for m in metrics:
            s = by.get(m)
            if s is None:
                cells.append("")
            elif n > 1:
                cells.append(f"{f(s['mean'])} {ci(s['ci_low'], s['ci_high'])}")
            else:
                cells.append(f(s["mean"]))
        rows.append([f"{ds} ({n})", *cells])
    return md(["data", *metrics], rows) + "\n\n" + caption(p)


@table("faithfulness_randomization")
def _faithfulness_randomization(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("faithfulness")
    summary = [s for s in p["results"]["randomization"]["summary"] if s["metric"] == "spearman"]
    steps = sorted({(s["step"], s["layer"]) for s in summary})[1:3]  # the first two randomised layers
    methods = list(dict.fromkeys(s["method"] for s in summary))
    rows = []
    for m in methods:
        cells = [m]
        for step, _ in steps:
            x = next((s for s in summary if s["method"] == m and s["step"] == step), None)
            cells.append(f"{f(x['mean'], '+.2f')} {ci(x['ci_low'], x['ci_high'], '+.2f')}" if x else "")
        rows.append(cells)
    head = ["method", *(f"Spearman with the trained attribution, `{layer}` randomised" for _, layer in steps)]
    return md(head, rows) + "\n\n" + caption(p)


@table("external_taggers")
def _external(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("external_taggers")
    rows = [
        [
            r["tagger"],
            f"{r['window_s']:g} s",
            r["batch"],
            r["threads"],
            f(r["ms_per_window"], ",.1f"),
            f(r["x_realtime"], ".3g"),
        ]
        for r in p["results"]["rows"]
    ]
    return (
        md(["tagger", "window", "batch", "threads", "ms per window", "x real time"], rows)
        + "\n\n"
        + caption(p)
    )


@table("corpus_scaling")
def _corpus_scaling(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("corpus_scaling")
    r = p["results"]
    rows = [
        [
            t["engine"],
            f"{t['wall_s']:.1f} s"
            + (f", + {t['cluster_start_s']:.1f} s cluster start" if t.get("cluster_start_s") else ""),
            f(t["tracks_per_min"], ".1f"),
            f(t["steady_s_per_track_per_worker"], ".2f"),
        ]
        for t in r["throughput"]
    ]
    tr = r["tracks"]
    o, re_ = r["overhead"], r["rerun"]
    out = (
        f"{tr['n']} tracks of {tr['seconds']:g} s x {tr['stems']} stems ({tr['coalitions']} coalitions each)."
    )
    out += "\n\n"
    out += md(["engine", "wall", "tracks / min (end to end)", "s per track per worker (steady)"], rows)
    out += "\n\n" + md(
        ["measure", "value", "goal"],
        [
            [
                "overhead over a bare `explain()` (median of pairs)",
                f"{pct(o['overhead_fraction_median'])} (CPU {pct(o['overhead_cpu_fraction_median'])}); "
                f"{f(o['bare_s_per_track_median'])} vs {f(o['corpus_s_per_track_median'])} s per track",
                f"<= {pct(o['goal_fraction'], 0)}: {'met' if o['goal_met'] else 'missed'}",
            ],
            [
                f"rerun of a finished store ({re_['tracks']} tracks)",
                f"{f(re_['rerun_s_median'])} s, {re_['rerun_tagger_calls']} tagger calls; after touching "
                f"every file {f(re_['rerun_after_touch_s_median'])} s, "
                f"{re_['rerun_after_touch_tagger_calls']} calls",
                f"{'met' if re_['goal_met'] else 'missed'}",
            ],
        ],
    )
    return out + "\n\n" + caption(p)


@table("real_tracks")
def _real_tracks(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("real_tracks")
    r = p["results"]
    names = {
        "decode_s": "decoding (both Ogg Vorbis files, whole songs)",
        "hpss_s": "separation of the mix: `decompose.hpss` (1 thread)",
        "spleeter_s": 'separation of the mix: `Separator("spleeter:2stems")` (uncached)',
        "tagging_s": "tagging (musicnn network calls)",
        "attribution_s": "attribution (the rest of `xmtag.explain`)",
        "writing_s": "writing (`corpus.explain(workers=0)` minus the bare `explain()`)",
    }
    rows = [[names.get(k, k), f(v)] for k, v in r["median_s_by_stage"].items()]
    out = md([f"stage, per {r['seconds_per_track']:g}-s track", "median s"], rows)
    thr = "; ".join(f"workers={t['workers']}: {t['tracks_per_min']:.1f}" for t in r["throughput"])
    out += "\n\n" + md(
        ["measure", "value"],
        [
            ["store overhead (median)", pct(r["store_overhead_fraction_median"])],
            ["hours of audio per CPU hour (`explain()` alone)", f(r["audio_hours_per_cpu_hour"], ".1f")],
            ["tracks per minute (`corpus.explain`, end to end)", thr],
            [
                "peak RSS, measuring process / largest worker",
                f"{r['peak_rss_mb']['main']:.0f} MB / {r['peak_rss_mb']['largest_worker']:.0f} MB",
            ],
        ],
    )
    return out + "\n\n" + caption(p)


@table("tagger_speed")
def _tagger_speed(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("tagger_speed")
    r = p["results"]
    rows = []
    for x in r["rows"]:
        if x.get("implementation", "network") != "network":
            continue
        rows.append(
            [
                x["threads"],
                x["precision"],
                f"{x['ms_per_patch']:.1f} ({x['best_ms_per_patch']:.1f})",
                f(x["cpu_ms_per_patch"], ".1f"),
                f"{pct(x['of MKL peak'], 0)} ({pct(x.get('best of MKL peak'), 0)})",
                pct(x["of oneDNN peak"], 0),
            ]
        )
    peaks = "; ".join(
        f"{t} thread(s): MKL {v['mkl']:.0f}, oneDNN {v['onednn']:.0f} GFLOP/s"
        for t, v in r["measured_peak_gflops"].items()
    )
    head = [
        "threads",
        "precision",
        "ms/patch, wall median (best)",
        "CPU ms/patch",
        "of MKL peak, median (best)",
        "of oneDNN peak",
    ]
    out = md(head, rows)
    dev = f(r["bf16_max_abs_deviation"], ".1e")
    out += f"\n\nMeasured GEMM peaks: {peaks}. Largest bfloat16 deviation: {dev}."
    return out + "\n\n" + caption(p)


@table("wheel_size")
def _wheel(load: Callable[[str], dict[str, Any]]) -> str:
    p = load("wheel_size")
    r = p["results"]
    rows = [
        ["wheel", f"{r['wheel_bytes'] / 1e6:.2f} MB", "", ""],
        ["sdist", f"{r['sdist_bytes'] / 1e6:.2f} MB", "", ""],
    ]
    rows += [
        [
            f"wheel part: {x['part']}",
            f"{x['compressed_bytes'] / 1e6:.2f} MB",
            x["files"],
            f"{x['installed_bytes'] / 1e6:.2f} MB",
        ]
        for x in r["parts"]
    ]
    return md(["", "size (compressed)", "files", "installed"], rows) + "\n\n" + caption(p)


# --------------------------------------------------------------------------- README regions


def render(names: Sequence[str] | None = None, results: Path = RESULTS_DIR) -> dict[str, str]:
    """``{marker name: Markdown}`` of the tables (all of :data:`TABLES` by default).

    A table whose result is stale (:func:`staleness`) says so under it, with the command that
    regenerates it: the README never shows old numbers as current.
    """
    entries = benchmarks()
    out = {}
    for n in names or TABLES:
        used: list[str] = []

        def loader(name: str, used: list[str] = used) -> dict[str, Any]:
            used.append(name)
            return load(name, results)

        text = TABLES[n](loader).strip()
        for name in dict.fromkeys(used):
            if name in entries and staleness(name, entries[name], results) is not None:
                text += (
                    f"\n\n> **Stale:** `{name}.json` does not match the sources of this checkout "
                    f"(`python benchmarks/tables.py --stale` says what changed); rerun "
                    f"`{rerun_command(name, entries[name])}`."
                )
        out[n] = text + "\n"
    return out


def update(text: str, tables: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with every marked region replaced; and the names of the regions that changed.

    >>> t = "a\\n<!-- table:x:begin -->\\nold\\n<!-- table:x:end -->\\nb"
    >>> update(t, {"x": "new\\n"})
    ('a\\n<!-- table:x:begin -->\\nnew\\n<!-- table:x:end -->\\nb', ['x'])
    """
    changed = []

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in tables:
            raise KeyError(f"README marker table:{name} has no generator in benchmarks/tables.py (TABLES)")
        if m.group("body") != tables[name]:
            changed.append(name)
        return m.group(1) + tables[name] + m.group(4)

    return MARKER.sub(sub, text), changed


def markers(text: str) -> list[str]:
    """The table names marked in ``text``."""
    return [m.group("name") for m in MARKER.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a README table differs from its JSON")
    p.add_argument(
        "--stale", action="store_true", help="list results whose source files changed since they ran"
    )
    p.add_argument("--readme", type=Path, default=README, help=f"the README (default {README})")
    args = p.parse_args(argv)
    if args.stale:
        reasons = stale()
        entries = benchmarks()
        total = 0.0
        for name, why in reasons.items():
            total += entries[name]["minutes"]
            print(f"{name} (~{entries[name]['minutes']:g} min): {why}")
        for script, why in UNTRACKED.items():
            if (BENCH / script).is_file():
                print(f"{script}: not tracked ({why})")
        print(
            f"{len(reasons)} stale of {len(entries)} results, ~{total:g} min to rerun on the reference "
            "machine"
        )
        return 1 if reasons else 0
    text = args.readme.read_text()
    names = markers(text)
    new, changed = update(text, render(names))
    if args.check:
        for name in changed:
            print(f"README table {name!r} differs from its JSON: run python benchmarks/tables.py")
        return 1 if changed else 0
    if changed:
        from xmtag._files import atomic_write_text

        atomic_write_text(args.readme, new)
    print(f"{len(names)} tables, {len(changed)} rewritten: {', '.join(changed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
