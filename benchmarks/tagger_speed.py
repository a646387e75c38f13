"""Speed of the PyTorch musicnn port: float32 and bfloat16, 1 and 2 threads, against the GEMM peak.

Usage::

    python benchmarks/tagger_speed.py [--model musicnn-msd] [--patches 32] [--repeats 7]
        [--thread-counts 1 2] [--tf-python /tmp/tfref/bin/python] [--quick]

For each thread count and precision (``fp32``, ``bf16``), in rounds that alternate all
configurations so that each sees the same machine load, it times (milliseconds per 3-s patch,
**median** and best of ``--repeats`` runs over ``--patches`` patches after a warm-up) both
wall-clock time and CPU time of the process (all threads; on a shared machine CPU time is the
steadier measure of work):

* ``network``: :meth:`MusicnnTagger.predict_mel` on log-mel patches (what the TF graph computes);
* ``end-to-end``: :meth:`MusicnnTagger.predict_patches` from 16-kHz audio (spectrogram included);
* ``TF reference`` (float32 only): the original ``musicnn.models`` graph in a TensorFlow 1-style
  session, run in the reference environment given by ``--tf-python`` (or ``$XMTAG_TF_PYTHON``;
  see ``benchmarks/tools/musicnn_reference.py``); skipped when not given.

Thread counts are applied per call with :func:`xmtag._threads.limit_threads` (the tagger's
``num_threads``), not by changing torch's global setting between configurations.

It counts the FLOPs of one patch (``torch.utils.flop_counter``: convolutions and matrix
products, 2 FLOPs per multiply-add) and relates the achieved rate to this machine's *measured*
float32 GEMM peak with the same thread count, in two versions: ``torch.mm`` of 2048 x 2048
matrices (MKL; the figure the earlier numbers used) and the same product through oneDNN
(``torch.utils.mkldnn`` linear: the library that runs musicnn's convolutions; on AMD CPUs MKL
takes its AVX2 path, oneDNN its AVX-512 one, so the oneDNN peak is the stricter reference).
The peaks are measured in every round, interleaved with the timings (so under the same
machine load), and their medians are used.

bfloat16 deviation: the largest absolute difference of tag probabilities (per patch) between
``precision="bf16"`` and float32 on real music: the committed recorded clip
(``tests/data/musicnn/clip.flac``, 15 s) and, unless ``--quick``, seconds 30-60 of the eight
Frets on Fire songs (Debian ``fretsonfire-songs-muldjord`` / ``-sectoid``, guitar + band summed)
when installed. The CPU flags that matter (``avx512_bf16``, ``amx_bf16``) are recorded.

Results go to ``benchmarks/results/tagger_speed.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

#: source files (besides this script and _common.py) whose changes make the results stale
DEPENDS = (
    "xmtag/taggers/__init__.py",
    "xmtag/taggers/base.py",
    "xmtag/taggers/musicnn.py",
    "xmtag/taggers/musicnn_net.py",
    "xmtag/taggers/musicnn_weights.py",
    "xmtag/data/musicnn",
    "xmtag/_threads.py",
    "xmtag/audio",
    "xmtag/data/demo",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"tagger_speed": ([], 8)}

NAME = "tagger_speed"
_TF_NAMES = {
    "musicnn-msd": "MSD_musicnn",
    "musicnn-mtt": "MTT_musicnn",
    "msd-vgg": "MSD_vgg",
    "mtt-vgg": "MTT_vgg",
}
FOF = Path("/usr/share/games/fretsonfire/data/songs")
CLIP = _common.REPO / "tests" / "data" / "musicnn" / "clip.flac"


def time_ms_per_patch(fn, n_patches: int) -> tuple[float, float]:
    """Wall and CPU milliseconds per patch of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return 1000.0 * (time.perf_counter() - t0) / n_patches, 1000.0 * (time.process_time() - c0) / n_patches


def flops_per_patch(tagger) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 187, 96)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        tagger.module(x)
    return float(counter.get_total_flops())


def measured_peaks_gflops(threads: int, repeats: int = 7) -> dict[str, float]:
    """Median float32 GEMM rate (2048^3) with ``threads`` threads: MKL (torch.mm) and oneDNN."""
    import torch
    from torch.utils import mkldnn

    from xmtag._threads import limit_threads

    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    lin = mkldnn.to_mkldnn(torch.nn.Linear(n, n, bias=False).eval())
    am = a.to_mkldnn()
    out = {}
    with torch.inference_mode(), limit_threads(threads):
        for name, fn in (("mkl", lambda: torch.mm(a, b)), ("onednn", lambda: lin(am))):
            fn()
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[name] = 2 * n**3 / float(np.median(times)) / 1e9
    return out


def cpu_flags() -> dict[str, bool]:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []
    )
    return {f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")}


def tf_reference(tf_python: str, model: str, patches: int, repeats: int, threads: int) -> tuple[float, float]:
    tool = Path(__file__).resolve().parent / "tools" / "musicnn_reference.py"
    cmd = [tf_python, str(tool), "--time", str(repeats), "--patches", str(patches)]
    cmd += ["--threads", str(threads), "--model", _TF_NAMES[model]]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, timeout=900)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return float(res["ms_per_patch"]), float(res["cpu_ms_per_patch"])


def real_music(quick: bool) -> dict[str, np.ndarray]:
    """Name -> 16-kHz mono clip (1, N): the committed clip and, unless quick, 30 s of each FoF song."""
    import xmtag

    clips = {"clip.flac": xmtag.load_audio(CLIP, sr=16000, mono=True)[0]}
    if quick or not FOF.is_dir():
        return clips
    for folder in sorted(
        p for p in FOF.glob("*/*") if (p / "guitar.ogg").is_file() and (p / "song.ogg").is_file()
    ):
        parts = [xmtag.load_audio(folder / f, sr=16000, mono=True)[0] for f in ("guitar.ogg", "song.ogg")]
        n = min(p.shape[1] for p in parts)
        y = (parts[0][:, :n] + parts[1][:, :n])[:, 30 * 16000 : 60 * 16000]
        if y.shape[1] >= 47872:
            clips[f"fretsonfire/{folder.parent.name}/{folder.name}"] = y
    return clips


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0], runtime="about 3 min", quick_runtime="about 40 s")
    p.add_argument("--model", default="musicnn-msd", choices=sorted(_TF_NAMES))
    p.add_argument("--patches", type=int, default=None, help="patches per timed run (default 32, quick 8)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per round (default 3, quick 1)")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 5, quick 3)")
    p.add_argument("--thread-counts", type=int, nargs="+", default=[1, 2], help="default: 1 2")
    p.add_argument("--batch-size", type=int, default=None, help="patches per forward pass of the port")
    p.add_argument("--tf-python", default=os.environ.get("XMTAG_TF_PYTHON"), help="reference env's python")
    args = p.parse_args(argv)
    args.threads = max(args.thread_counts)
    _common.setup(args)
    n = args.patches or (8 if args.quick else 32)
    repeats = args.repeats or (1 if args.quick else 3)
    rounds = args.rounds or (3 if args.quick else 5)
    env = _common.environment(args)
    _common.print_environment(env)
    start = time.perf_counter()

    import xmtag

    kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
    taggers = {
        (t, prec): xmtag.load_tagger(args.model, device="cpu", precision=prec, num_threads=t, **kwargs)
        for t in args.thread_counts
        for prec in ("fp32", "bf16")
    }
    some = next(iter(taggers.values()))
    rng = np.random.default_rng(args.seed)
    audio = (0.1 * rng.standard_normal((1, n * some.patch_length))).astype(np.float32)
    mel = some.melspectrogram(audio)[0, : n * 187].reshape(n, 187, 96)

    samples: dict[tuple, list[tuple[float, float]]] = {}
    for tagger in taggers.values():  # warm-up
        tagger.predict_mel(mel[:4])
    peak_samples: dict[int, list[dict[str, float]]] = {t: [] for t in args.thread_counts}
    for _ in range(rounds):
        for t in args.thread_counts:  # the peak under the same load as the timings
            peak_samples[t].append(measured_peaks_gflops(t, repeats=3))
        for (t, prec), tagger in taggers.items():
            calls = (("network", tagger.predict_mel, mel), ("end-to-end", tagger.predict_patches, audio))
            for what, fn, x in calls:
                for _ in range(repeats):
                    samples.setdefault((t, prec, what), []).append(time_ms_per_patch(lambda: fn(x), n))  # noqa: B023
        if args.tf_python:
            for t in args.thread_counts:
                samples.setdefault((t, "fp32", "TF reference"), []).append(
                    tf_reference(args.tf_python, args.model, n, 2, t)
                )
    if not args.tf_python:
        print("# TF reference skipped: pass --tf-python (see benchmarks/tools/musicnn_reference.py)")

    flops = flops_per_patch(some)
    peaks = {
        t: {k: float(np.median([d[k] for d in ds])) for k in ("mkl", "onednn")}
        for t, ds in peak_samples.items()
    }
    rows = []
    for (t, prec, what), vals in samples.items():
        wall = np.array([v[0] for v in vals])
        cpu = np.array([v[1] for v in vals])
        med = float(np.median(wall))
        row = {
            "threads": t,
            "precision": prec,
            "implementation": what,
            "ms_per_patch": med,
            "best_ms_per_patch": float(wall.min()),
            "spread": float((np.percentile(wall, 90) - np.percentile(wall, 10)) / med),
            "cpu_ms_per_patch": float(np.median(cpu)),
            "GFLOP/s": flops / (med / 1000) / 1e9,
        }
        row["of MKL peak"] = row["GFLOP/s"] / peaks[t]["mkl"]
        row["of oneDNN peak"] = row["GFLOP/s"] / peaks[t]["onednn"]
        row["best of MKL peak"] = flops / (row["best_ms_per_patch"] / 1000) / 1e9 / peaks[t]["mkl"]
        rows.append(row)
    for t in args.thread_counts:
        f32 = next(
            r
            for r in rows
            if r["threads"] == t and r["precision"] == "fp32" and r["implementation"] == "network"
        )
        b16 = next(
            r
            for r in rows
            if r["threads"] == t and r["precision"] == "bf16" and r["implementation"] == "network"
        )
        b16["bf16 / fp32 (wall)"] = b16["ms_per_patch"] / f32["ms_per_patch"]
        b16["bf16 / fp32 (CPU)"] = b16["cpu_ms_per_patch"] / f32["cpu_ms_per_patch"]
    _common.print_table(rows)

    # bfloat16 deviation on real music
    music = real_music(args.quick)
    f32, b16 = taggers[(args.threads, "fp32")], taggers[(args.threads, "bf16")]
    deviation = {}
    for name, y in music.items():
        a, b = f32.predict_patches(y)[0], b16.predict_patches(y)[0]
        deviation[name] = {
            "patches": int(a.shape[0]),
            "max_abs": float(np.abs(a - b).max()),
            "mean_abs": float(np.abs(a - b).mean()),
            "top1_agree": float(np.mean(a.argmax(1) == b.argmax(1))),
        }
    worst = max(d["max_abs"] for d in deviation.values())
    print(
        f"# bf16 vs fp32 on {len(music)} real recordings: largest |difference| {worst:.2e} (tag probability)"
    )
    flags = cpu_flags()
    print(
        f"# {args.model}: {flops / 1e9:.3f} GFLOP per patch, {n} patches per run, batch {some.batch_size}; "
        + "; ".join(
            f"{t} thread(s): GEMM peak MKL {pk['mkl']:.0f}, oneDNN {pk['onednn']:.0f} GFLOP/s"
            for t, pk in peaks.items()
        )
        + f"; CPU flags {', '.join(k for k, v in flags.items() if v)}"
    )
    results = {
        "model": args.model,
        "patches": n,
        "repeats": repeats,
        "rounds": rounds,
        "batch_size": some.batch_size,
        "flops_per_patch": flops,
        "measured_peak_gflops": {str(t): pk for t, pk in peaks.items()},
        "peak_samples": {str(t): ds for t, ds in peak_samples.items()},
        "cpu_flags": flags,
        "rows": rows,
        "bf16_deviation": deviation,
        "bf16_max_abs_deviation": worst,
        "tf_python": args.tf_python,
    }
    _common.write_result(NAME, args, env, results, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
