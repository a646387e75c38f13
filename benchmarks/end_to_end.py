"""End-to-end time of ``xmtag explain``, by stage, before and after the speed work of issue #27.

What a user waits for is the whole command, not the tagger alone: start-up and imports, finding
a separator, separation, tagging and attribution, then the outputs (PNG plots, the HTML report,
MP3 encoding of the report's stems and of the listenable explanations, the mixes behind them).
This benchmark runs the real command line (``xmtag explain ... --no-cache``) in a fresh Python
process per run, with the functions behind each stage wrapped by a timer that counts each
stage's *exclusive* wall time (a stage nested in another is subtracted from it), on three inputs:

- ``demo``: the bundled demo song (folder of 5 stems, 26 s, ``--segments 8``, as ``xmtag demo``);
- ``fof-stems``: a real recording, 30 s of the Frets on Fire song "Chaos God" (Debian
  ``fretsonfire-songs-muldjord``, CC BY-SA 3.0) as a folder of its two stems (``band``, ``guitar``);
- ``fof-mix``: the mix of those two stems as one file, separated by the offline separator
  (``auto``: Spleeter 2-stem here, as no Demucs weights are on this machine).

*Before* is the code at git commit ``0bde8d5`` (checked out with ``git worktree add`` into a
temporary folder, put first on ``PYTHONPATH``, removed at the end), *after* is this checkout; both run in the
same invocation, alternating, ``--repeats`` times each, and the median of each stage is kept.
The "core" time is what the issue compares against: separation + tagging + attribution (the
stages ``separator load``, ``load``, ``separation`` and ``tag+attribute``: what a script calling
the separator and the tagger itself would wait for); ``ratio`` is total / core. Audio encoding
that runs in worker threads while the plots render is counted in ``audio encode`` only for the
time the command waits for it; the workers' busy seconds are kept in ``background``.

Stages (exclusive wall seconds):

============== ==========================================================================
startup        interpreter start and imports until the command runs
probe          looking for Demucs weights on this machine (``auto`` separator)
separator load building the separator: importing torch, loading its weights
load           reading audio files (stems of a folder; the mix)
separation     the separator's work, minus reading the file
tag+attribute  ``xmtag.explain`` minus the above: tagger load, coalition scores, Shapley values
plots          rendering the PNG plots
report         building and writing ``report.html`` (minus encoding and mixing)
audio encode   MP3 encoding of the report's stems and the listenable explanations
mixes          summing stems into the listenable mixes and the report's stems
other          everything else (saving the explanation, CSV tables, printing)
total          wall time of the whole process
============== ==========================================================================

Usage::

    python benchmarks/end_to_end.py                 # before and after, 3 runs each (~6 min)
    python benchmarks/end_to_end.py --repeats 1 --inputs demo
    python benchmarks/end_to_end.py --quick         # after only, demo only, 1 run
    python benchmarks/end_to_end.py --lean          # also this checkout with --no-plots

Result: ``benchmarks/results/end_to_end.json`` (``end_to_end_quick.json`` under ``--quick``):
``results.runs`` holds every run (variant, input, per-stage seconds, ``background`` busy seconds
of worker threads), ``results.summary`` the median per (variant, input) of each stage with
``core_s``, ``total_s`` and ``ratio``, and ``results.outputs_before_vs_after`` whether the two
versions wrote the same files with the same bytes (the report without its creation time, the
explanation by its numbers).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BEFORE_COMMIT = "0bde8d5"
SONG = Path("/usr/share/games/fretsonfire/data/songs/muldjord/chaos_god")
OFFSET_S, SECONDS = 60.0, 30.0
INPUTS = ("demo", "fof-stems", "fof-mix")
STAGES = (
    "startup",
    "probe",
    "separator load",
    "load",
    "separation",
    "tag+attribute",
    "plots",
    "report",
    "audio encode",
    "mixes",
    "other",
)
CORE = ("separator load", "load", "separation", "tag+attribute")

# (module, attribute, stage): the functions whose exclusive time makes a stage. Missing ones
# (code of another version) are skipped. Methods are given as "Class.method".
_WRAP = (
    ("xmtag.separation._registry", "make_separator", "separator load"),
    ("xmtag.separation._demucs_models", "find_local", "probe"),
    ("xmtag.audio._read", "load_audio", "load"),
    ("xmtag.separation._stems", "Stems.from_folder", "load"),
    ("xmtag.pipeline", "_resolve_source", "separation"),
    ("xmtag.pipeline", "explain", "tag+attribute"),
    ("xmtag.report._encode", "render_plots", "plots"),
    ("xmtag.report._plots", "render_plots", "plots"),
    ("xmtag.report._html", "write_html", "report"),
    ("xmtag.report._encode", "audio_mp3", "audio encode"),
    ("xmtag.explanation._listening", "mix", "mixes"),
    ("xmtag.report._export", "_collect", "audio encode"),  # after: waiting for the encoding threads
)


# -- the child: one timed run of the command line ----------------------------------------------
def _child(argv: list[str], out_json: str, t_start: float) -> int:
    import importlib
    import threading

    totals = dict.fromkeys(STAGES, 0.0)
    background = dict.fromkeys(STAGES, 0.0)  # busy seconds of worker threads (overlap the wall)
    local = threading.local()
    main_thread = threading.main_thread()

    def wrap(fn: Any, stage: str) -> Any:
        def timed(*a: Any, **k: Any) -> Any:
            stack = local.__dict__.setdefault("stack", [])  # [start, time of nested wrapped calls]
            stack.append([time.perf_counter(), 0.0])
            try:
                return fn(*a, **k)
            finally:
                start, nested = stack.pop()
                spent = time.perf_counter() - start
                where = totals if threading.current_thread() is main_thread else background
                where[stage] += spent - nested
                if stack:
                    stack[-1][1] += spent

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        timed.__name__ = getattr(fn, "__name__", "timed")
        timed.__doc__ = getattr(fn, "__doc__", None)
        return timed

    import xmtag.cli  # (what `python -m xmtag` imports first)

    code_root = str(Path(xmtag.cli.__file__).resolve().parent.parent.parent)

    wrapped = []
    for mod_name, attr, stage in _WRAP:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        owner: Any = mod
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        raw = None if owner is None else owner.__dict__.get(name)
        if raw is None:
            continue
        if isinstance(raw, classmethod):
            setattr(owner, name, classmethod(wrap(raw.__func__, stage)))
            wrapped.append(f"{mod_name}.{attr}")
            continue
        new = wrap(raw, stage)
        setattr(owner, name, new)
        factory = getattr(sys.modules.get("xmtag.separation._base"), "_FACTORY", {})
        for key, value in list(factory.items()):  # Separator(spec) calls make_separator through it
            if value is raw:
                factory[key] = new
        for m in list(sys.modules.values()):  # rebind `from x import f` copies too
            if getattr(m, "__name__", "").startswith("xmtag") and getattr(m, name, None) is raw:
                setattr(m, name, new)
        wrapped.append(f"{mod_name}.{attr}")

    from xmtag.cli import main

    t_main = time.perf_counter()
    rc = main(argv)
    t_end = time.perf_counter()
    totals["startup"] = t_main - t_start
    totals["other"] = (t_end - t_main) - sum(v for k, v in totals.items() if k != "startup")
    bg = {k: v for k, v in background.items() if v}
    Path(out_json).write_text(
        json.dumps({"rc": rc, "stages": totals, "background": bg, "wrapped": wrapped, "code": code_root})
    )
    return int(rc or 0)


# -- the parent ---------------------------------------------------------------------------------
def _prepare_inputs(folder: Path) -> dict[str, tuple[list[str], str]]:
    """The three inputs: ``{name: (explain arguments, description)}``."""
    import numpy as np
    import soundfile as sf

    from xmtag.datasets import demo_path

    stems = folder / "fof-stems"
    stems.mkdir(parents=True, exist_ok=True)
    parts = {}
    for name, file in (("band", "song.ogg"), ("guitar", "guitar.ogg")):
        with sf.SoundFile(SONG / file) as f:
            f.seek(int(OFFSET_S * f.samplerate))
            parts[name] = (f.read(int(SECONDS * f.samplerate), dtype="float32", always_2d=True), f.samplerate)
    for name, (y, sr) in parts.items():
        sf.write(stems / f"{name}.wav", 0.5 * y, sr, subtype="FLOAT")
    mix = 0.5 * (parts["band"][0] + parts["guitar"][0])
    sf.write(folder / "fof-mix.wav", mix.astype(np.float32), parts["band"][1], subtype="FLOAT")
    return {
        "demo": ([str(demo_path()), "--segments", "8"], "demo song, 5 stems, 26 s, --segments 8"),
        "fof-stems": ([str(stems)], "Frets on Fire 'Chaos God' 30 s, 2 stems (band, guitar)"),
        "fof-mix": (
            [str(folder / "fof-mix.wav")],
            "the same 30 s as one mix, separator auto (Spleeter 2-stem)",
        ),
    }


def _git_worktree(*args: str, check: bool = True) -> None:
    repo = Path(__file__).resolve().parent.parent
    subprocess.run(["git", "-C", str(repo), "worktree", *args], check=check, capture_output=True)


def _before_tree(commit: str, where: Path) -> Path:
    """A checkout of ``commit`` at ``where`` (a detached git worktree; removed by the caller)."""
    _git_worktree("add", "--detach", str(where), commit)
    return where


def _run_once(code_root: Path, args: list[str], out: Path, threads: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code_root)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["MPLBACKEND"] = "Agg"
    with tempfile.TemporaryDirectory() as tmp:
        res = Path(tmp) / "stages.json"
        cmd = [
            sys.executable,
            "-c",
            "import sys, time; t = time.perf_counter(); sys.path.insert(0, sys.argv[1]); "
            "import end_to_end as e; sys.exit(e._child(sys.argv[4:], sys.argv[2], t))",
            str(Path(__file__).resolve().parent),
            str(res),
            "--",
            "explain",
            *args,
            "--out",
            str(out),
            "--no-cache",
            "-q",
        ]
        # the interpreter's own start-up before the first line runs is in `total`, not in `startup`
        t0 = time.perf_counter()
        # cwd: not this checkout, whose xmtag/ would come before PYTHONPATH's for `python -c`
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=tmp)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not res.exists():
            raise RuntimeError(f"run failed ({code_root}): {proc.stderr[-2000:]}")
        data = json.loads(res.read_text())
    if Path(data["code"]) != code_root.resolve():
        raise RuntimeError(f"the run imported xmtag from {data['code']}, not from {code_root}")
    stages = {k: round(v, 3) for k, v in data["stages"].items()}
    stages["startup"] = round(stages["startup"] + wall - sum(data["stages"].values()), 3)
    bg = {k: round(v, 3) for k, v in data.get("background", {}).items()}
    return {"stages": stages, "background": bg, "total": round(wall, 3), "wrapped": data["wrapped"]}


def _outputs_digest(out: Path) -> dict[str, str]:
    """SHA-256 (16 hex digits) of every file written. The report's creation time and the page id
    made from it are blanked first; ``explanation.xmtag`` (which stores the creation time and the
    measured seconds) is digested by its numbers, and the folder's marker file is left out."""
    import hashlib
    import re

    import numpy as np

    from xmtag import Explanation

    digests = {}
    for p in sorted(out.rglob("*")):
        if not p.is_file() or p.name == ".xmtag-output.json":
            continue
        data = p.read_bytes()
        if p.name == "report.html":
            data = re.sub(rb"xm-[0-9a-f]{8}", b"xm-ID", data)
            data = re.sub(rb"<td>created</td><td>[^<]*</td>", b"<td>created</td><td></td>", data)
        elif p.suffix == ".xmtag":
            e = Explanation.load(p)
            arrays = [e.values, e.base_values, e.prediction, e.coalition_values, e.segment_values]
            data = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays if a is not None)
        digests[p.relative_to(out).as_posix()] = hashlib.sha256(data).hexdigest()[:16]
    return digests


def _run_all(
    names: list[str], inputs: dict, variants: dict, args: Any, tmp_path: Path
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, str]]]:
    """Every (input, repeat, variant) run, variants alternating; the runs and the output digests."""
    runs: list[dict[str, Any]] = []
    digests: dict[tuple[str, str], dict[str, str]] = {}
    for name in names:
        for rep in range(args.repeats):
            for variant, (root, extra) in variants.items():
                out = tmp_path / f"out-{variant.replace(' ', '')}-{name}"
                r = _run_once(root, [*inputs[name][0], *extra], out, args.threads)
                digests[(variant, name)] = _outputs_digest(out)
                runs.append({"variant": variant, "input": name, "repeat": rep, **r})
                print(f"{name:<10} {variant:<7} run {rep + 1}: {r['total']:.2f} s", flush=True)
    return runs, digests


def main(argv: list[str] | None = None) -> int:
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import environment, print_table, result_path

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="runs per variant and input (default 3)")
    p.add_argument("--inputs", default=",".join(INPUTS), help=f"comma-separated, of {', '.join(INPUTS)}")
    p.add_argument("--before", default=BEFORE_COMMIT, help="git commit of 'before' (default %(default)s)")
    p.add_argument("--no-before", action="store_true", help="time this checkout only")
    p.add_argument("--lean", action="store_true", help="also time this checkout with --no-plots")
    p.add_argument("--quick", action="store_true", help="demo only, one run, this checkout only")
    p.add_argument("--threads", type=int, default=2, help="torch / BLAS threads (default 2)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.inputs, args.no_before = 1, "demo", True
    names = [x.strip() for x in args.inputs.split(",") if x.strip()]
    t_all = time.perf_counter()
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="xmtag-e2e-") as tmp:
        tmp_path = Path(tmp)
        inputs = _prepare_inputs(tmp_path / "inputs")
        variants: dict[str, tuple[Path, list[str]]] = {}
        if not args.no_before:
            variants["before"] = (_before_tree(args.before, tmp_path / "before"), [])
        variants["after"] = (here, [])
        if args.lean:  # what skipping the PNG plots buys (outputs differ: no plots/)
            variants["after --no-plots"] = (here, ["--no-plots"])
        try:
            runs, digests = _run_all(names, inputs, variants, args, tmp_path)
        finally:
            if "before" in variants:  # leave no worktree registered in the repository
                _git_worktree("remove", "--force", str(variants["before"][0]), check=False)
        summary = []
        for name in names:
            for variant in variants:
                mine = [r for r in runs if r["variant"] == variant and r["input"] == name]
                med = {s: round(statistics.median(r["stages"][s] for r in mine), 3) for s in STAGES}
                core = sum(med[s] for s in CORE)
                total = round(statistics.median(r["total"] for r in mine), 3)
                summary.append(
                    {
                        "input": name,
                        "variant": variant,
                        **med,
                        "core_s": round(core, 3),
                        "total_s": total,
                        "ratio": round(total / core, 2) if core else None,
                    }
                )
        same = {}
        if "before" in variants:
            for name in names:
                a, b = digests[("before", name)], digests[("after", name)]
                same[name] = {
                    "same_files": sorted(a) == sorted(b),
                    "different_bytes": sorted(k for k in a if k in b and a[k] != b[k]),
                }
    print()
    print_table(summary, ["input", "variant", *STAGES, "core_s", "total_s", "ratio"], floatfmt=".2f")
    if same:
        print(
            "\nOutputs, before vs after (same file names; files whose bytes differ; the report without its "
            "creation time, the explanation by its numbers):"
        )
        for name, d in same.items():
            differ = d["different_bytes"] or "none"
            print(f"  {name:<10} same files: {d['same_files']}; bytes differ: {differ}")
    args.seed = 0
    env = environment(args)
    payload = {
        "benchmark": "end_to_end",
        "environment": env,
        "wall_s": round(time.perf_counter() - t_all, 1),
        "results": {
            "before_commit": None if args.no_before else args.before,
            "inputs": {k: inputs[k][1] for k in names},
            "stages": list(STAGES),
            "core_stages": list(CORE),
            "summary": summary,
            "outputs_before_vs_after": same,
            "runs": runs,
        },
    }
    from xmtag._files import atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, "end_to_end", args.quick, ".json")
    atomic_write_text(path, json.dumps(payload, indent=1, default=str) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
