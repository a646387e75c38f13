"""Speed of the PyTorch musicnn port against the original TensorFlow implementation.

Usage::

    python benchmarks/tagger_speed.py [--model musicnn-msd] [--patches 32] [--repeats 5]
        [--tf-python /tmp/tfref/bin/python] [--threads 2] [--quick]

Measures, in milliseconds per 3-s patch (best of ``--repeats`` runs over ``--patches``
patches, after a warm-up, and best over ``--rounds`` rounds that alternate port and
reference so that both see the same machine load), both wall-clock time and CPU time (all
threads of the process; on a shared machine CPU time is the steadier measure of work):

* ``port network``: the PyTorch network on log-mel patches (what the TF graph computes);
* ``port end-to-end``: :meth:`MusicnnTagger.predict_patches` from 16-kHz audio (mel
  spectrogram included);
* ``TF reference``: the original ``musicnn.models`` graph in a TensorFlow 1-style session on
  the same number of log-mel patches, run in the reference environment given by
  ``--tf-python`` (or ``$XMTAG_TF_PYTHON``; see ``benchmarks/tools/musicnn_reference.py`` for
  how to make it) with the same thread count, in the same run; skipped when not given.

It also counts the FLOPs of one patch (``torch.utils.flop_counter``: convolutions and
matrix products, 2 FLOPs per multiply-add) and relates the achieved FLOP rate to this
machine's *measured* peak (the best rate of a large float32 matrix product in torch with
the same threads) and to a nominal peak from the CPU model (cores x clock x FLOPs/cycle from
the SIMD flags, stated as an assumption). Results go to ``benchmarks/results/tagger_speed.json``.
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

NAME = "tagger_speed"
_TF_NAMES = {
    "musicnn-msd": "MSD_musicnn",
    "musicnn-mtt": "MTT_musicnn",
    "msd-vgg": "MSD_vgg",
    "mtt-vgg": "MTT_vgg",
}


def best_ms_per_patch(fn, n_patches: int, repeats: int) -> tuple[float, float]:
    """Best wall and CPU milliseconds per patch."""
    fn()  # warm-up
    best = best_cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return 1000.0 * best / n_patches, 1000.0 * best_cpu / n_patches


def flops_per_patch(tagger) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 187, 96)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        tagger._net(x)
    return float(counter.get_total_flops())


def measured_peak_gflops(threads: int, repeats: int = 5) -> float:
    import torch

    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def nominal_peak_gflops(threads: int) -> tuple[float | None, str]:
    """cores x GHz x FP32 FLOPs/cycle (2 FMA units assumed), from /proc/cpuinfo."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, "no /proc/cpuinfo"
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []
    )
    mhz = [float(line.split(":", 1)[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    if not mhz:
        return None, "clock unknown"
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    per_cycle = lanes * 2 * (2 if "fma" in flags or "avx512f" in flags else 1)  # FMA = 2 FLOPs, 2 units
    ghz = max(mhz) / 1000
    return threads * ghz * per_cycle, f"{threads} cores x {ghz:.2f} GHz x {per_cycle} FLOP/cycle (assumed)"


def tf_reference(tf_python: str, model: str, patches: int, repeats: int, threads: int) -> tuple[float, float]:
    tool = Path(__file__).resolve().parent / "tools" / "musicnn_reference.py"
    cmd = [tf_python, str(tool), "--time", str(repeats), "--patches", str(patches)]
    cmd += ["--threads", str(threads), "--model", _TF_NAMES[model]]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, timeout=900)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return float(res["ms_per_patch"]), float(res["cpu_ms_per_patch"])


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0], runtime="about 1.5 min", quick_runtime="about 30 s")
    p.add_argument("--model", default="musicnn-msd", choices=sorted(_TF_NAMES))
    p.add_argument("--patches", type=int, default=None, help="patches per timed run (default 32, quick 8)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs, best kept (default 5, quick 2)")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3, quick 1)")
    p.add_argument("--batch-size", type=int, default=None, help="patches per forward pass of the port")
    p.add_argument("--tf-python", default=os.environ.get("XMTAG_TF_PYTHON"), help="reference env's python")
    args = p.parse_args(argv)
    _common.setup(args)
    n = args.patches or (8 if args.quick else 32)
    repeats = args.repeats or (2 if args.quick else 5)
    rounds = args.rounds or (1 if args.quick else 3)
    env = _common.environment(args)
    _common.print_environment(env)
    start = time.perf_counter()

    import xmtag

    kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
    tagger = xmtag.load_tagger(args.model, num_threads=args.threads, **kwargs)
    rng = np.random.default_rng(args.seed)
    audio = (0.1 * rng.standard_normal((1, n * tagger.patch_length))).astype(np.float32)
    mel = tagger.melspectrogram(audio)[0, : n * 187].reshape(n, 187, 96)

    best: dict[str, list[float]] = {}

    def keep(name: str, wall_cpu: tuple[float, float]) -> None:
        old = best.get(name, [float("inf"), float("inf")])
        best[name] = [min(old[0], wall_cpu[0]), min(old[1], wall_cpu[1])]

    for _ in range(rounds):
        keep("port network", best_ms_per_patch(lambda: tagger.predict_mel(mel), n, repeats))
        keep("port end-to-end", best_ms_per_patch(lambda: tagger.predict_patches(audio), n, repeats))
        if args.tf_python:
            keep("TF reference", tf_reference(args.tf_python, args.model, n, repeats, args.threads))
    if not args.tf_python:
        print("# TF reference skipped: pass --tf-python (see benchmarks/tools/musicnn_reference.py)")
    rows = [{"implementation": k, "ms_per_patch": v[0], "cpu_ms_per_patch": v[1]} for k, v in best.items()]
    tf_ms = best.get("TF reference")

    flops = flops_per_patch(tagger)
    peak = measured_peak_gflops(args.threads)
    nominal, nominal_note = nominal_peak_gflops(args.threads)
    for r in rows:
        r["GFLOP/s"] = flops / (r["ms_per_patch"] / 1000) / 1e9  # wall-clock rate
        r["of measured peak"] = r["GFLOP/s"] / peak
        if nominal:
            r["of nominal peak"] = r["GFLOP/s"] / nominal
        if tf_ms:
            r["speed-up vs TF (wall)"] = tf_ms[0] / r["ms_per_patch"]
            r["speed-up vs TF (CPU)"] = tf_ms[1] / r["cpu_ms_per_patch"]
    _common.print_table(rows)
    print(
        f"# {args.model}: {flops / 1e9:.3f} GFLOP per patch, {n} patches per run, batch {tagger.batch_size}; "
        f"measured float32 GEMM peak {peak:.1f} GFLOP/s"
        + (f"; nominal peak {nominal:.1f} GFLOP/s ({nominal_note})" if nominal else "")
    )
    results = {
        "model": args.model,
        "patches": n,
        "repeats": repeats,
        "batch_size": tagger.batch_size,
        "rounds": rounds,
        "flops_per_patch": flops,
        "measured_peak_gflops": peak,
        "nominal_peak_gflops": nominal,
        "nominal_peak_note": nominal_note,
        "rows": rows,
        "tf_python": args.tf_python,
    }
    _common.write_result(NAME, args, env, results, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
