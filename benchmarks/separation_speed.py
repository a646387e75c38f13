"""Separation speed and peak memory of the default-size HTDemucs through ``xmtag.Separator``.

The released Demucs weights cannot be downloaded on the project machines, so the model
is ``HTDemucs(sources=[drums, bass, other, vocals], segment=7.8)`` with all other
arguments at their defaults (26.9 M parameters, the released ``htdemucs`` size) and
**random weights**: the numbers measure compute time and memory, not separation
quality. The model is saved to a temporary Demucs model folder and loaded through
``Separator(name, repo=folder)``, i.e. the same code path as real weights.

Each duration runs in its own subprocess so that its peak resident memory
(``ru_maxrss``) is its own. The input is a 32-bit float wav file of deterministic
synthetic stereo audio at 44.1 kHz, separated from the file as ``xmtag separate`` does
(stem cache off).

Usage::

    python benchmarks/separation_speed.py                 # 30 s and 10 min
    python benchmarks/separation_speed.py --durations 30  # 30 s only
    python benchmarks/separation_speed.py --threads 1 --out benchmarks/results/sep.json

Result (JSON, one record per duration): audio seconds, wall seconds, CPU seconds,
x real time (audio seconds per wall second), peak RSS in MB, and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

SR = 44100
SOURCES = ["drums", "bass", "other", "vocals"]


def build_model_folder(folder: Path) -> str:
    """Save the default-size HTDemucs with random (seeded) weights as ``NAME.th``."""
    import torch
    from demucs.htdemucs import HTDemucs

    name = "htdemucs_random_weights"
    path = folder / f"{name}.th"
    if not path.exists():
        torch.manual_seed(0)
        model = HTDemucs(sources=SOURCES, segment=Fraction(39, 5))
        args, kwargs = model._init_args_kwargs
        torch.save({"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": model.state_dict()}, path)
    return name


def synth(seconds: float):
    """Deterministic stereo test signal: two detuned tone sets plus low-level noise."""
    import numpy as np

    n = int(round(seconds * SR))
    y = np.empty((2, n), dtype=np.float32)
    rng = np.random.default_rng(0)
    block = SR * 10
    for start in range(0, n, block):
        t = np.arange(start, min(n, start + block)) / SR
        base = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 440 * t)
        y[0, start : start + t.size] = base + 0.01 * rng.standard_normal(t.size)
        y[1, start : start + t.size] = 0.9 * base + 0.01 * rng.standard_normal(t.size)
    return y


def child(seconds: float, folder: Path, threads: int | None) -> dict:
    """Run one separation and report its timings and this process's peak memory."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    import xmtag

    name = build_model_folder(folder)
    song = folder / f"song_{seconds:g}s.wav"  # a file, as `xmtag separate FILE` reads it
    if not song.exists():
        xmtag.save_audio(song, synth(seconds), SR)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sep = xmtag.Separator(name, repo=folder, cache=False, progress=False)
    t_load = time.perf_counter()
    model = sep.model
    load_s = time.perf_counter() - t_load
    cpu0, t0 = time.process_time(), time.perf_counter()
    stems = sep.separate(song)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert stems.names == SOURCES and stems.n_samples == int(round(seconds * SR))
    return {
        "model": "HTDemucs default size, segment 7.8 s, RANDOM WEIGHTS (timing/memory only)",
        "parameters_millions": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "audio_s": seconds,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "x_realtime": round(seconds / wall, 3),
        "model_load_s": round(load_s, 2),
        "peak_rss_mb": round(peak, 1),
        "rss_before_separation_mb": round(rss_before, 1),
        "torch_threads": torch.get_num_threads(),
        "shifts": sep.shifts,
        "overlap": sep.overlap,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[30.0, 600.0], help="seconds of audio")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(child(args.child, args.folder, args.threads)))
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="xmtag-sepbench-") as tmp:
        folder = Path(tmp)
        build_model_folder(folder)
        for seconds in args.durations:
            cmd = [sys.executable, __file__, "--child", str(seconds), "--folder", str(folder)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            env = dict(os.environ, XMTAG_CACHE=str(folder / "cache"))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            rec["machine"] = (
                f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
            )
            results.append(rec)
            print(
                f"{seconds:7.0f} s audio: {rec['wall_s']:8.1f} s wall, {rec['cpu_s']:8.1f} s CPU, "
                f"x{rec['x_realtime']:.3f} real time, peak RSS {rec['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    print("(HTDemucs of the default size with RANDOM weights: timing and memory only, not quality.)")
    if args.out:
        from xmtag._files import atomic_write_text

        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
