"""Throughput on real recordings: where the time of a 30-s track goes, and tracks per minute.

The tracks are the Frets on Fire songs in Debian (``fretsonfire-songs-muldjord`` and
``fretsonfire-songs-sectoid``: ``/usr/share/games/fretsonfire/data/songs/*/*/`` with
``song.ogg``, the band, and ``guitar.ogg``, the lead guitar, sample-aligned), 30 s from the
one-minute mark. Per track, in this process, with musicnn-msd loaded once (``cache=False``):

* **decoding**: reading the Ogg Vorbis files (whole songs, as a user's run reads them);
* **separation** of the mix (band + guitar) by ``xmtag.decompose.hpss`` and by
  ``Separator("spleeter:2stems")`` (unless ``--no-spleeter``), the model-free and the offline
  separator;
* **tagging**: the musicnn network calls of ``xmtag.explain`` on the two true stems (the
  time spent in ``predict_mel``), and **attribution**: the rest of ``xmtag.explain`` (reading
  the stem files, mixing the coalitions, spectrograms, the Shapley values);
* **writing**: ``xmtag.corpus.explain(workers=0)`` of the same stem folder minus the bare
  ``xmtag.explain()`` — the store's own work (hashing, the explanation file, its record, the
  tables); the goal is <= 5 % of the bare explain.

Then the stem folders go through ``xmtag.corpus.explain`` with ``workers=1`` and ``workers=2``
(tracks per minute end to end, worker start included); the peak resident memory of this
process comes from ``getrusage``, that of the workers from sampling them (psutil, every
0.2 s). The hours of audio explained per hour of CPU follow from the per-track CPU seconds;
the 10,000-track figure is a projection, not a measurement.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
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
    "xmtag/separation",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"real_tracks": ([], 3)}

NAME = "real_tracks"
TAGGER = "musicnn-msd"
SONGS = Path("/usr/share/games/fretsonfire/data/songs")
START, SECONDS = 60.0, 30.0
PROJECT_TO = 10_000


def song_folders(limit: int | None = None) -> list[Path]:
    """The Frets on Fire song folders with ``song.ogg`` and ``guitar.ogg`` (sorted)."""
    found = sorted(p.parent for p in SONGS.glob("*/*/song.ogg") if (p.parent / "guitar.ogg").is_file())
    return found[:limit] if limit else found


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kB on Linux


def measure_track(folder: Path, out: Path, tagger: Any, spleeter: Any) -> dict[str, Any]:
    import xmtag
    from xmtag.separation import decompose

    row: dict[str, Any] = {"track": f"{folder.parent.name}/{folder.name}"}
    with _common.timer() as t:
        band, sr = xmtag.load_audio(folder / "song.ogg")
        guitar, _ = xmtag.load_audio(folder / "guitar.ogg", sr=sr)
    row["decode_s"] = t["s"]
    a = int(START * sr)
    b = a + int(SECONDS * sr)
    band, guitar = band[..., a:b], guitar[..., a:b]
    n = min(band.shape[-1], guitar.shape[-1])
    band, guitar = band[..., :n], guitar[..., :n]
    mix = band + guitar
    with _common.timer() as t:
        decompose.hpss(mix, sr)
    row["hpss_s"] = t["s"]
    if spleeter is not None:
        with _common.timer() as t:
            spleeter.separate(mix, sr=sr)
        row["spleeter_s"] = t["s"]
    stems = out / "src" / row["track"].replace("/", "_").replace(" ", "_")
    stems.mkdir(parents=True, exist_ok=True)
    xmtag.save_audio(stems / "band.wav", band, sr)
    xmtag.save_audio(stems / "guitar.wav", guitar, sr)
    network = [0.0]
    inner = tagger.predict_mel

    def timed(patches):
        t0 = time.perf_counter()
        try:
            return inner(patches)
        finally:
            network[0] += time.perf_counter() - t0

    tagger.predict_mel = timed
    try:
        cpu = time.process_time()
        with _common.timer() as t:
            xmtag.explain(stems, tagger, cache=False, progress=False)
        row["explain_s"], row["explain_cpu_s"] = t["s"], time.process_time() - cpu
        row["tagging_s"] = network[0]
        row["attribution_s"] = row["explain_s"] - network[0]
    finally:
        tagger.predict_mel = inner
    one = out / "one" / stems.name
    one.mkdir(parents=True, exist_ok=True)
    for f in stems.iterdir():
        (one / f.name).write_bytes(f.read_bytes())
    with _common.timer() as t:
        xmtag.corpus.explain(one.parent, out / "one-store", tagger=tagger, cache=False, progress=False)
    row["corpus_s"] = t["s"]
    row["writing_s"] = row["corpus_s"] - row["explain_s"]
    row["store_overhead_fraction"] = row["writing_s"] / row["explain_s"]
    (one / "band.wav").unlink()  # the next track's run sees only its own folder
    (one / "guitar.wav").unlink()
    one.rmdir()
    print(
        f"  {row['track']}: decode {row['decode_s']:.2f} s, hpss {row['hpss_s']:.2f} s"
        + (f", spleeter {row['spleeter_s']:.2f} s" if "spleeter_s" in row else "")
        + f", explain {row['explain_s']:.2f} s (network {row['tagging_s']:.2f} s),"
        f" corpus {row['corpus_s']:.2f} s",
        flush=True,
    )
    return row


class ChildMemory:
    """Peak resident memory of this process's child processes (the pool's workers), sampled every 0.2 s."""

    def __init__(self) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            import psutil  # not a dependency of xmtag; without it the workers' peak is NaN
        except ImportError:
            self.peak_mb = float("nan")
            return
        me = psutil.Process()
        while not self._stop.wait(0.2):
            for child in me.children(recursive=True):
                try:
                    self.peak_mb = max(self.peak_mb, child.memory_info().rss / 2**20)
                except psutil.Error:
                    pass

    def __enter__(self) -> ChildMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def throughput(src: Path, tmp: Path, workers: int, n: int) -> dict[str, Any]:
    import xmtag

    with ChildMemory() as mem, _common.timer() as t:
        xmtag.corpus.explain(
            src, tmp / f"pool-{workers}", tagger=TAGGER, workers=workers, cache=False, progress=False
        )
    return {
        "workers": workers,
        "tracks": n,
        "wall_s": t["s"],
        "tracks_per_min": 60 * n / t["s"],
        "peak_worker_rss_mb": mem.peak_mb,
    }


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, runtime="~5 min on the shared 2-core machine", quick_runtime="~1-2 min")
    p.add_argument("--tracks", type=int, help="songs (default all 8; --quick 2)")
    p.add_argument("--no-spleeter", action="store_true", help="do not time Separator('spleeter:2stems')")
    args = p.parse_args(argv)
    _common.setup(args)
    folders = song_folders(args.tracks or (2 if args.quick else None))
    if not folders:
        print(
            f"no Frets on Fire songs under {SONGS}: "
            "apt-get install fretsonfire-songs-muldjord fretsonfire-songs-sectoid"
        )
        return 1
    import xmtag
    from xmtag.corpus import runner

    env = _common.environment(args)
    _common.print_environment(env)
    tagger = runner._tagger(TAGGER, "auto")
    spleeter = None if args.no_spleeter else xmtag.Separator("spleeter:2stems", cache=False, progress=False)
    rows = []
    with _common.timer() as total, tempfile.TemporaryDirectory(prefix="xmtag-real-") as d:
        tmp = Path(d)
        print(f"{len(folders)} tracks of {SECONDS:g} s (band + guitar), {TAGGER}, exact", flush=True)
        measure_track(folders[0], tmp / "warm", tagger, spleeter)  # first-call costs out of the numbers
        for f in folders:
            rows.append(measure_track(f, tmp, tagger, spleeter))
        peak_self = _peak_mb(resource.RUSAGE_SELF)
        pools = [throughput(tmp / "src", tmp, w, len(folders)) for w in (1, 2)]
        peak_workers = max(r["peak_worker_rss_mb"] for r in pools)
    med = statistics.median
    stages = [
        "decode_s",
        "hpss_s",
        *([] if args.no_spleeter else ["spleeter_s"]),
        "tagging_s",
        "attribution_s",
        "writing_s",
    ]
    split = {s: med(r[s] for r in rows) for s in stages}
    overhead = med(r["store_overhead_fraction"] for r in rows)
    cpu = med(r["explain_cpu_s"] for r in rows)
    audio_per_cpu = SECONDS / cpu
    print("\nMedian seconds per 30-s track, by stage (this process, musicnn-msd, 2 stems, 4 coalitions):")
    _common.print_table([{k.removesuffix("_s"): v for k, v in split.items()}])
    print(f"\nstore overhead over a bare explain(): {100 * overhead:+.1f} % (goal <= 5 %)")
    print(f"hours of audio explained per CPU-hour (explain of true stems): {audio_per_cpu:.1f}")
    print("\nThroughput (xmtag.corpus.explain of the stem folders, end to end):")
    _common.print_table(pools)
    print(f"peak RSS: this process {peak_self:.0f} MB, largest worker {peak_workers:.0f} MB")
    per_track_2 = 60 / pools[-1]["tracks_per_min"]
    projection = round(PROJECT_TO * per_track_2 / 3600, 1)
    print(f"PROJECTION (not measured): {PROJECT_TO:,} such tracks with 2 workers: {projection} h")
    results = {
        "tagger": TAGGER,
        "seconds_per_track": SECONDS,
        "tracks": rows,
        "median_s_by_stage": split,
        "store_overhead_fraction_median": overhead,
        "store_overhead_goal_met": overhead <= 0.05,
        "explain_cpu_s_per_track_median": cpu,
        "audio_hours_per_cpu_hour": audio_per_cpu,
        "throughput": pools,
        "peak_rss_mb": {"main": peak_self, "largest_worker": peak_workers},
        "projection": {
            "note": "projected from the 2-worker throughput, not measured",
            "tracks": PROJECT_TO,
            "hours_2_workers": projection,
        },
    }
    _common.write_result(NAME, args, env, results, total["s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
