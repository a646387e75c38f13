"""Corpus scaling: tracks per minute, overhead over a bare explain(), rerun cost, 10,000-track estimate.

Every track is a short stem folder cut from the bundled demo song (``xmtag.load_demo()``: each
track a different excerpt, so every track has its own content hash) and written as WAV files
into a temporary folder; musicnn-msd explains them exactly. The script measures

* **throughput** -- tracks per minute of ``xmtag.corpus.explain`` with the local process pool
  (``workers=1`` and ``workers=2``) and with a 2-worker Dask ``LocalCluster``
  (``client=``): end to end (worker start and tagger loading included) and in steady state
  (from the per-track seconds the workers report);
* **overhead per track** of ``xmtag.corpus.explain(workers=0)`` (in this process: hashing the
  audio, writing the explanation file and its record atomically, the tidy tables) over a bare
  ``xmtag.explain()`` of the same tracks with the same loaded tagger, both with ``cache=False``
  (goal <= 5 %); repeated, alternating the two, median reported;
* **rerun of a finished store** of >= 100 tiny tracks (3-s, 2-stem clips): seconds and tagger
  calls (goal: no tagger call, < 1 s per 100 tracks); once with the files untouched (size and
  modification time match the records) and once after touching every file (content hashed);
* **extrapolated** time for 10,000 tracks on N workers from the measured steady per-track cost
  (linear scaling assumed; worker start excluded) -- an extrapolation, not a measurement.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

#: source files (besides this script and _common.py) whose changes make the results stale
DEPENDS = (
    "xmtag/pipeline.py",
    "xmtag/attribution",
    "xmtag/coalitions",
    "xmtag/explanation",
    "xmtag/audio",
    "xmtag/cache",
    "xmtag/taggers/__init__.py",
    "xmtag/taggers/base.py",
    "xmtag/taggers/musicnn.py",
    "xmtag/taggers/musicnn_net.py",
    "xmtag/taggers/musicnn_weights.py",
    "xmtag/data/musicnn",
    "xmtag/corpus",
    "xmtag/data/demo",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"corpus_scaling": ([], 5)}

NAME = "corpus_scaling"
TAGGER = "musicnn-msd"
EXTRAPOLATE_TO = 10_000
EXTRAPOLATE_WORKERS = (1, 2, 8, 32, 128)


def make_tracks(root: Path, n: int, seconds: float, n_stems: int, *, seed: int = 0) -> Path:
    """Write ``n`` stem folders of ``seconds``-long excerpts of the demo song under ``root``.

    Track ``i`` starts at its own offset, so no two tracks have the same audio.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = make_tracks(Path(d), 2, 0.5, 2)
    ...     sorted(x.name for x in (p / "clip001").iterdir())
    ['bass.wav', 'drums.wav']
    """
    import numpy as np

    import xmtag

    demo = xmtag.load_demo()
    names = demo.names[:n_stems]
    length = int(round(seconds * demo.sr))
    span = max(1, demo.n_samples - length)
    offsets = np.random.default_rng(seed).choice(span, size=n, replace=n > span)
    root.mkdir(parents=True, exist_ok=True)
    for i, off in enumerate(offsets):
        d = root / f"clip{i:03d}"
        d.mkdir(exist_ok=True)
        for name in names:
            xmtag.save_audio(d / f"{name}.wav", demo[name][..., int(off) : int(off) + length], demo.sr)
    return root


class CallCounter:
    """Counts the network calls of a loaded musicnn tagger (wraps ``predict_mel`` on the instance)."""

    def __init__(self, tagger: Any) -> None:
        self.calls = 0
        self.rows = 0
        inner = tagger.predict_mel

        def counted(patches):
            self.calls += 1
            self.rows += len(patches)
            return inner(patches)

        tagger.predict_mel = counted


def _bare(folders: list[Path], tagger: Any) -> tuple[float, float]:
    """Wall and CPU seconds of bare ``xmtag.explain()`` calls on the folders."""
    import time

    import xmtag

    cpu = time.process_time()
    with _common.timer() as t:
        for f in folders:
            xmtag.explain(f, tagger, cache=False, progress=False)
    return t["s"], time.process_time() - cpu


def _corpus(src: Path, out: Path, **kwargs: Any) -> tuple[float, Any]:
    import xmtag

    with _common.timer() as t:
        c = xmtag.corpus.explain(src, out, tagger=TAGGER, cache=False, progress=False, **kwargs)
    return t["s"], c


def _steady(c: Any) -> float:
    """Median seconds per track the workers spent (from the store's records)."""
    secs = [r["seconds"] for r in c.records() if r.get("seconds") is not None]
    return float(statistics.median(secs)) if secs else float("nan")


def measure_overhead(src: Path, tmp: Path, tagger: Any, repeats: int) -> dict[str, Any]:
    import time

    folders = sorted(p for p in src.iterdir() if p.is_dir())
    n = len(folders)
    _bare(folders[:1], tagger)  # warm-up: first-call costs (imports, allocations) out of both
    _corpus(src, tmp / "overhead-warm", workers=0)
    bare, corp, bare_cpu, corp_cpu = [], [], [], []
    for r in range(repeats):
        order = ("bare", "corpus") if r % 2 == 0 else ("corpus", "bare")
        for what in order:
            if what == "bare":
                wall, cpu = _bare(folders, tagger)
                bare.append(wall / n)
                bare_cpu.append(cpu / n)
            else:
                cpu = time.process_time()
                corp.append(_corpus(src, tmp / f"overhead-{r}", workers=0)[0] / n)
                corp_cpu.append((time.process_time() - cpu) / n)
    med = statistics.median
    res = {
        "tracks": n,
        "repeats": repeats,
        "bare_s_per_track": bare,
        "corpus_s_per_track": corp,
        "bare_cpu_s_per_track": bare_cpu,
        "corpus_cpu_s_per_track": corp_cpu,
        "bare_s_per_track_median": med(bare),
        "corpus_s_per_track_median": med(corp),
        "overhead_s_per_track_median": med(corp) - med(bare),
        "overhead_fraction_median": med(corp) / med(bare) - 1,
        "overhead_fraction_per_pair": [c / b - 1 for b, c in zip(bare, corp)],
        "bare_cpu_s_per_track_median": med(bare_cpu),
        "corpus_cpu_s_per_track_median": med(corp_cpu),
        "overhead_cpu_fraction_median": med(corp_cpu) / med(bare_cpu) - 1,
        "goal_fraction": 0.05,
    }
    res["goal_met"] = res["overhead_fraction_median"] <= 0.05
    return res


def measure_throughput(src: Path, tmp: Path, worker_counts: tuple[int, ...], dask: bool) -> list[dict]:
    n = sum(1 for p in src.iterdir() if p.is_dir())
    rows = []
    for w in worker_counts:
        wall, c = _corpus(src, tmp / f"pool-{w}", workers=w)
        steady = _steady(c)
        rows.append(
            {
                "engine": f"local pool, workers={w}",
                "workers": w,
                "tracks": n,
                "wall_s": wall,
                "tracks_per_min": 60 * n / wall,
                "steady_s_per_track_per_worker": steady,
                "steady_tracks_per_min": 60 * w / steady,
            }
        )
        print(f"  local pool workers={w}: {n} tracks in {wall:.1f} s", flush=True)
    if dask:
        from xmtag.errors import require

        distributed = require("distributed", "dask", "the Dask part of this benchmark")
        with _common.timer() as start:
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = distributed.Client(cluster)
        try:
            wall, c = _corpus(src, tmp / "dask-2", client=client)
        finally:
            client.close()
            cluster.close()
        steady = _steady(c)
        rows.append(
            {
                "engine": "Dask LocalCluster, 2 workers",
                "workers": 2,
                "tracks": n,
                "cluster_start_s": start["s"],
                "wall_s": wall,
                "tracks_per_min": 60 * n / wall,
                "steady_s_per_track_per_worker": steady,
                "steady_tracks_per_min": 60 * 2 / steady,
            }
        )
        print(f"  Dask LocalCluster (2 workers): {n} tracks in {wall:.1f} s", flush=True)
    return rows


def measure_rerun(tmp: Path, n: int, repeats: int, seed: int) -> dict[str, Any]:
    """Build a store of ``n`` 3-s 2-stem tracks in this process, then time reruns and count tagger calls."""
    import os

    import xmtag
    from xmtag.corpus import runner

    src = make_tracks(tmp / "rerun-src", n, 3.0, 2, seed=seed + 1)
    counter = CallCounter(runner._tagger(TAGGER, "auto"))  # the tagger workers=0 uses, loaded once
    out = tmp / "rerun-store"
    with _common.timer() as build:
        xmtag.corpus.explain(src, out, tagger=TAGGER, workers=0, cache=False, progress=False)
    build_calls = counter.calls
    counter.calls = 0
    times = []
    for _ in range(repeats):
        with _common.timer() as t:
            c = xmtag.corpus.explain(src, out, tagger=TAGGER, cache=False, progress=False)
        times.append(t["s"])
    calls_untouched = counter.calls
    for f in src.rglob("*.wav"):  # new modification times: every file is hashed again
        os.utime(f)
    hashed = []
    for _ in range(repeats):
        with _common.timer() as t:
            xmtag.corpus.explain(src, out, tagger=TAGGER, cache=False, progress=False)
        hashed.append(t["s"])
    res = {
        "tracks": n,
        "seconds_per_track_clip": 3.0,
        "stems": 2,
        "build_s": build["s"],
        "build_tagger_calls": build_calls,
        "rerun_s": times,
        "rerun_s_median": statistics.median(times),
        "rerun_s_per_100_tracks_median": 100 * statistics.median(times) / n,
        "rerun_tagger_calls": calls_untouched,
        "rerun_after_touch_s": hashed,
        "rerun_after_touch_s_median": statistics.median(hashed),
        "rerun_after_touch_s_per_100_tracks_median": 100 * statistics.median(hashed) / n,
        "rerun_after_touch_tagger_calls": counter.calls - calls_untouched,
        "tracks_in_store": len(c),
    }
    res["goal_met"] = (
        res["rerun_tagger_calls"] == 0
        and res["rerun_after_touch_tagger_calls"] == 0
        and res["rerun_s_per_100_tracks_median"] < 1.0
    )
    return res


def extrapolate(s_per_track_per_worker: float) -> list[dict[str, Any]]:
    """Hours for 10,000 tracks on N workers at the measured steady cost (linear scaling assumed).

    >>> extrapolate(3.6)[0]["hours"]
    10.0
    """
    return [
        {"workers": w, "hours": round(EXTRAPOLATE_TO * s_per_track_per_worker / w / 3600, 2)}
        for w in EXTRAPOLATE_WORKERS
    ]


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, runtime="~3-5 min on the shared 2-core machine", quick_runtime="~1-3 min")
    p.add_argument("--tracks", type=int, help="tracks of the throughput runs (default 8; --quick 4)")
    p.add_argument("--seconds", type=float, help="seconds per throughput track (default 6; --quick 3)")
    p.add_argument("--stems", type=int, help="stems per throughput track (default 3; --quick 2)")
    p.add_argument("--rerun-tracks", type=int, help="tracks of the rerun store (default 100; --quick 30)")
    p.add_argument(
        "--repeats", type=int, help="repeats of the overhead and rerun timings (default 5; --quick 3)"
    )
    p.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster run")
    args = p.parse_args(argv)
    _common.setup(args)
    n = args.tracks or (4 if args.quick else 8)
    seconds = args.seconds or (3.0 if args.quick else 6.0)
    n_stems = args.stems or (2 if args.quick else 3)
    n_rerun = args.rerun_tracks or (30 if args.quick else 100)
    repeats = args.repeats or (3 if args.quick else 5)

    from xmtag.corpus import runner

    env = _common.environment(args)
    _common.print_environment(env)
    with _common.timer() as total, tempfile.TemporaryDirectory(prefix="xmtag-corpus-bench-") as d:
        tmp = Path(d)
        src = make_tracks(tmp / "src", n, seconds, n_stems, seed=args.seed)
        print(f"{n} tracks of {seconds:g} s x {n_stems} stems ({2**n_stems} coalitions each), {TAGGER}")
        tagger = runner._tagger(TAGGER, "auto")
        print("overhead of corpus.explain(workers=0) over bare xmtag.explain() ...", flush=True)
        overhead = measure_overhead(src, tmp, tagger, repeats)
        print("throughput ...", flush=True)
        throughput = measure_throughput(src, tmp, (1, 2), dask=not args.no_dask)
        print(f"rerun of a finished store of {n_rerun} tracks ...", flush=True)
        rerun = measure_rerun(tmp, n_rerun, repeats, args.seed)

    two = [r for r in throughput if r["engine"].startswith("local pool") and r["workers"] == 2]
    cost = (two or throughput)[0]["steady_s_per_track_per_worker"]
    extra = extrapolate(cost)

    print(f"\nOverhead per track (medians of {repeats} alternating runs, workers=0, cache=False):")
    _common.print_table(
        [
            {
                "bare explain s/track": overhead["bare_s_per_track_median"],
                "corpus s/track": overhead["corpus_s_per_track_median"],
                "overhead s/track": overhead["overhead_s_per_track_median"],
                "overhead %": 100 * overhead["overhead_fraction_median"],
                "CPU overhead %": 100 * overhead["overhead_cpu_fraction_median"],
                "goal <= 5 %": "met" if overhead["goal_met"] else "MISSED",
            }
        ]
    )
    print("\nThroughput:")
    _common.print_table(
        throughput,
        [
            "engine",
            "tracks",
            "wall_s",
            "tracks_per_min",
            "steady_s_per_track_per_worker",
            "steady_tracks_per_min",
        ],
    )
    print(f"\nRerun of a finished store ({n_rerun} tracks of 3 s x 2 stems; median of {repeats}):")
    _common.print_table(
        [
            {
                "case": "files untouched",
                "s": rerun["rerun_s_median"],
                "s per 100 tracks": rerun["rerun_s_per_100_tracks_median"],
                "tagger calls": rerun["rerun_tagger_calls"],
            },
            {
                "case": "after touching every file (hashed)",
                "s": rerun["rerun_after_touch_s_median"],
                "s per 100 tracks": rerun["rerun_after_touch_s_per_100_tracks_median"],
                "tagger calls": rerun["rerun_after_touch_tagger_calls"],
            },
        ]
    )
    print(f"(building it took {rerun['build_s']:.1f} s and {rerun['build_tagger_calls']} tagger calls)")
    print(
        f"\nEXTRAPOLATED (not measured): {EXTRAPOLATE_TO:,} tracks like these at {cost:.2f} s per track per "
        "worker (the 2-worker pool's steady cost), linear scaling, worker start excluded:"
    )
    _common.print_table(extra)
    results = {
        "tagger": TAGGER,
        "tracks": {"n": n, "seconds": seconds, "stems": n_stems, "coalitions": 2**n_stems},
        "overhead": overhead,
        "throughput": throughput,
        "rerun": rerun,
        "extrapolated": {
            "note": "extrapolated from the measured steady per-track cost, linear in workers, start excluded",
            "tracks": EXTRAPOLATE_TO,
            "s_per_track_per_worker": cost,
            "rows": extra,
        },
    }
    _common.write_result(NAME, args, env, results, total["s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
