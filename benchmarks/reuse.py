"""Only the passes that matter: tagger rows and wall time per explanation with and without reuse.

``xmtag.coalitions.evaluate(..., reuse=True)`` (the default) evaluates each distinct
(patch, active stems) input of a patch-wise tagger once; ``reuse=False`` evaluates all ``2**n``
coalitions as whole clips (``2**n * P`` patch rows). For each case the two are run one after
the other (``--repeats`` times, alternating, the minimum wall time kept; the silence memo is
cleared before every run so both start cold), musicnn-msd, ``segments=4``:

  demo      the bundled demo song (26 s, 5 stems: drums, bass, guitar, piano, saxophone)
  fof       Frets on Fire recordings (Debian packages, CC BY-SA 3.0): 30-s excerpts, stems
            guitar + band (``python benchmarks/data/fretsonfire.py`` first)
  sparse    a sparse arrangement made from the demo's stems at 16 kHz: each instrument muted
            (digital zeros) outside its section, so instruments enter and leave

Reported per case: tagger rows (patches) with and without reuse and their ratio, wall times,
and the largest difference of coalition values, segment values and exact Shapley values between
the two (the reuse is exact: the goal is <= 1e-6). For the demo song it also prints how many
stems are digitally active in each patch (where the rows go), and a probe of the alternative
front-end that sums per-stem STFTs instead of transforming each mix: its share of the time and
its deviation from the tagger's own front-end on every coalition of one patch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

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
    "xmtag/data/demo",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"reuse": ([], 10)}

NAME = "reuse"
#: (stem, start s, stop s) of the sparse arrangement; everything else of a stem is digital zero
SECTIONS = {
    "drums": [(0.0, 26.0)],
    "bass": [(6.0, 20.0)],
    "guitar": [(0.0, 9.0), (18.0, 26.0)],
    "piano": [(9.0, 15.0)],
    "saxophone": [(14.0, 26.0)],
}


def sparse_arrangement(seconds: float | None = None):
    """The demo's stems at 16 kHz, each muted (exact zeros) outside its :data:`SECTIONS`.

    >>> s = sparse_arrangement(12.0)
    >>> s.names, s.sr, bool(np.all(s["piano"][:, : 9 * 16000] == 0))
    (['drums', 'bass', 'guitar', 'piano', 'saxophone'], 16000, True)
    """
    import xmtag
    from xmtag.coalitions import prepare_stems

    demo = xmtag.load_demo()
    names, tracks, _, _ = prepare_stems(demo, 16000)
    n = tracks.shape[1] if seconds is None else int(seconds * 16000)
    out = {}
    for i, name in enumerate(names):
        y = np.zeros(n, np.float32)
        for a, b in SECTIONS[name]:
            lo, hi = int(a * 16000), min(int(b * 16000), n)
            y[lo:hi] = tracks[i, lo:hi]
        out[name] = y[None]
    return xmtag.Stems(out, sr=16000)


def active_per_patch(stems, tagger) -> list[list[str]]:
    """Names of the stems with a non-zero sample in each patch's receptive field."""
    from xmtag.coalitions import patch_context, prepare_stems

    names, tracks, _, _ = prepare_stems(stems, tagger.sample_rate)
    pl, (c, _) = tagger.patch_length, patch_context(tagger)
    p_count = max(tracks.shape[1] // pl, 1)
    return [
        [nm for i, nm in enumerate(names) if np.any(tracks[i, max(p * pl - c, 0) : (p + 1) * pl])]
        for p in range(p_count)
    ]


def compare(stems, tagger, label: str, repeats: int, segments: int, progress: bool) -> dict:
    """Evaluate with and without reuse, alternating; rows, min wall and CPU times, differences.

    CPU time (``time.process_time``, all threads of this process) is reported beside wall time:
    on a machine shared with other jobs it varies much less.
    """
    import time

    from xmtag import coalitions
    from xmtag.attribution import shapley

    times: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    cvs = {}
    for _ in range(repeats):
        for reuse in (False, True):
            coalitions.clear_silence_cache()
            c0 = time.process_time()
            with _common.timer() as t:
                cvs[reuse] = coalitions.evaluate(
                    stems, tagger, segments=segments, progress=progress, reuse=reuse
                )
            cpu[reuse].append(time.process_time() - c0)
            times[reuse].append(t["s"])
    on, off = cvs[True], cvs[False]
    row = {
        "case": label,
        "stems": len(on.names),
        "patches": on.n_patches,
        "rows_reuse": on.n_tagger_rows,
        "rows_plain": off.n_tagger_rows,
        "rows_ratio": on.n_tagger_rows / off.n_tagger_rows,
        "wall_reuse_s": min(times[True]),
        "wall_plain_s": min(times[False]),
        "time_ratio": min(times[True]) / min(times[False]),
        "cpu_reuse_s": min(cpu[True]),
        "cpu_plain_s": min(cpu[False]),
        "cpu_ratio": min(cpu[True]) / min(cpu[False]),
        "max_diff_values": float(np.abs(on.values - off.values).max()),
        "max_diff_segments": float(np.abs(on.segment_values - off.segment_values).max()),
        "max_diff_shapley": float(np.abs(shapley.exact(on.values) - shapley.exact(off.values)).max()),
        "bit_identical": bool(np.array_equal(on.segment_values, off.segment_values)),
        "mode": on.reuse,
    }
    print(
        f"  {label}: {row['rows_reuse']} / {row['rows_plain']} rows ({row['rows_ratio']:.0%}), "
        f"{row['wall_reuse_s']:.1f} s / {row['wall_plain_s']:.1f} s wall, "
        f"{row['cpu_reuse_s']:.1f} s / {row['cpu_plain_s']:.1f} s CPU, "
        f"max diff {row['max_diff_shapley']:.1e}",
        flush=True,
    )
    return row


def stft_sum_probe(stems, tagger, patch: int = 1) -> dict:
    """Per-stem STFTs summed per coalition vs the tagger's front-end on each mix, one patch."""
    import time

    import torch

    from xmtag.coalitions import prepare_stems
    from xmtag.taggers import musicnn as m

    names, tracks, _, _ = prepare_stems(stems, tagger.sample_rate)
    n = len(names)
    a, b = patch * m.PATCH_LENGTH - m.HOP, (patch + 1) * m.PATCH_LENGTH
    wins = torch.from_numpy(np.ascontiguousarray(tracks[:, a:b]))
    masks = np.arange(2**n)
    mixes = np.zeros((2**n, b - a), np.float32)
    for i in range(n):  # the same float32 mixes evaluate() builds
        mixes[(masks >> i) & 1 == 1] += tracks[i, a:b]
    win = torch.hann_window(m.N_FFT, periodic=True, dtype=torch.float64)
    fb = torch.from_numpy(m.mel_filterbank().astype(np.float64))

    def front(spec):
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(fb, power).transpose(1, 2).to(torch.float32).to(torch.float16).to(torch.float32)
        return torch.log10(mel * 10000.0 + 1.0)[:, 1 : 1 + m.PATCH_FRAMES]

    def stft(y):
        return torch.stft(
            y.to(torch.float64),
            n_fft=m.N_FFT,
            hop_length=m.HOP,
            window=win,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )

    with torch.inference_mode():
        t0 = time.perf_counter()
        ref = front(stft(torch.from_numpy(mixes)))
        t_mix = time.perf_counter() - t0
        t0 = time.perf_counter()
        per_stem = stft(wins)
        coeff = torch.from_numpy(((masks[:, None] >> np.arange(n)) & 1).astype(np.float64)).to(
            torch.complex128
        )
        summed = torch.einsum("ms,sft->mft", coeff, per_stem)
        alt = front(summed)
        t_sum = time.perf_counter() - t0
    t0 = time.perf_counter()
    out_ref = tagger.predict_mel(ref.numpy())
    t_net = time.perf_counter() - t0
    out_alt = tagger.predict_mel(alt.numpy())
    flips = float((ref != alt).float().mean())
    res = {
        "coalitions": 2**n,
        "front_end_ms_per_mix": 1000 * t_mix / 2**n,
        "stft_sum_ms_per_mix": 1000 * t_sum / 2**n,
        "network_ms_per_patch": 1000 * t_net / 2**n,
        "front_end_share": t_mix / (t_mix + t_net),
        "logmel_bins_changed": flips,
        "max_logmel_diff": float((ref - alt).abs().max()),
        "max_output_diff": float(np.abs(out_ref - out_alt).max()),
    }
    print(
        f"  STFT-sum probe: front-end {res['front_end_ms_per_mix']:.1f} ms per mix vs network "
        f"{res['network_ms_per_patch']:.1f} ms per patch ({res['front_end_share']:.0%} of the time); "
        f"summed STFTs change {flips:.2%} of log-mel bins, outputs by up to {res['max_output_diff']:.1e}",
        flush=True,
    )
    return res


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, runtime="~6 min", quick_runtime="~1 min")
    p.add_argument("--repeats", type=int, default=None, help="runs per setting (default 2; --quick 1)")
    p.add_argument("--segments", type=int, default=4, help="time segments (default 4)")
    p.add_argument(
        "--cases",
        nargs="+",
        default=["demo", "sparse", "fof"],
        choices=["demo", "sparse", "fof"],
        help="which cases to run (default all)",
    )
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 2)
    _common.setup(args)
    import xmtag

    env = _common.environment(args)
    _common.print_environment(env)
    progress = not args.no_progress
    rows, notes = [], {}
    with _common.timer() as total:
        tagger = _common.load_tagger(args)
        tagger.predict(np.zeros((1, tagger.patch_length), np.float32))  # warm-up
        demo = xmtag.load_demo()
        if args.quick:
            demo = xmtag.Stems({k: demo[k][:, : 12 * demo.sr] for k in demo.names}, sr=demo.sr)
        notes["demo_active_stems_per_patch"] = active_per_patch(demo, tagger)
        print("demo song, stems active in each patch's receptive field:")
        for k, names in enumerate(notes["demo_active_stems_per_patch"]):
            print(f"  patch {k}: {len(names)} {names}")
        if "demo" in args.cases:
            rows.append(compare(demo, tagger, "demo song", repeats, args.segments, progress))
        if "sparse" in args.cases:
            sparse = sparse_arrangement(12.0 if args.quick else None)
            rows.append(compare(sparse, tagger, "sparse arrangement", repeats, args.segments, progress))
        folders = []
        if "fof" in args.cases:
            try:
                folders = _common.songs("fretsonfire", args.quick)
            except SystemExit as exc:
                if not args.quick:
                    raise
                print(f"  (Frets on Fire skipped: {exc})")
        fof = []
        for folder in folders[: 2 if args.quick else None]:
            stems, _ = _common.load_stems(folder)
            fof.append(compare(stems, tagger, f"fof {folder.name}", 1, args.segments, progress))
        if fof:
            keys = ("rows_reuse", "rows_plain", "wall_reuse_s", "wall_plain_s", "cpu_reuse_s", "cpu_plain_s")
            agg = {k: float(sum(r[k] for r in fof)) for k in keys}
            rows.append(
                {
                    "case": f"Frets on Fire, {len(fof)} excerpts (sum)",
                    "stems": 2,
                    "patches": int(sum(r["patches"] for r in fof)),
                    **agg,
                    "rows_ratio": agg["rows_reuse"] / agg["rows_plain"],
                    "time_ratio": agg["wall_reuse_s"] / agg["wall_plain_s"],
                    "cpu_ratio": agg["cpu_reuse_s"] / agg["cpu_plain_s"],
                    "max_diff_values": max(r["max_diff_values"] for r in fof),
                    "max_diff_segments": max(r["max_diff_segments"] for r in fof),
                    "max_diff_shapley": max(r["max_diff_shapley"] for r in fof),
                    "bit_identical": all(r["bit_identical"] for r in fof),
                    "mode": fof[0]["mode"],
                }
            )
        probe = stft_sum_probe(demo, tagger)
    print()
    _common.print_table(
        rows,
        [
            "case",
            "stems",
            "patches",
            "rows_reuse",
            "rows_plain",
            "rows_ratio",
            "wall_reuse_s",
            "wall_plain_s",
            "time_ratio",
            "max_diff_shapley",
        ],
    )
    results = {
        "tagger": tagger.name,
        "segments": args.segments,
        "repeats": repeats,
        "sections_of_sparse_arrangement": SECTIONS,
        "cases": rows,
        "fretsonfire_excerpts": fof,
        "stft_sum_probe": probe,
        **notes,
    }
    _common.save_figure(_figure(rows), NAME, args)
    _common.write_result(NAME, args, env, results, total["s"])
    return 0


def _figure(rows):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.6 * len(rows) + 1.2))
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["rows_plain"] for r in rows], height=0.4, label="every coalition as a whole clip")
    ax.barh(
        y + 0.2, [r["rows_reuse"] for r in rows], height=0.4, label="reuse (each distinct patch input once)"
    )
    for i, r in enumerate(rows):
        ax.text(r["rows_reuse"], i + 0.2, f" {r['rows_ratio']:.0%}", va="center", fontsize=8)
    ax.set_yticks(y, [r["case"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("tagger rows (3-s patches) per explanation")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    ax.set_title("Only the passes that matter (musicnn-msd, exact)")
    return fig


if __name__ == "__main__":
    sys.exit(main())
