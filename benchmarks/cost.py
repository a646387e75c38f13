"""Cost of an explanation: tagger rows and wall time of xmtag against shap, LIME and a naive loop.

One song of the MMA corpus (30 s, its five stems: drums, bass, keys, guitar, other), one
tagger (musicnn-msd), one process, measured one after another:

  (a) xmtag exact, clip level          ``xmtag.explain(stems, tagger)``: 2**n mixes
  (b) xmtag exact, stems x 10 segments ``xmtag.explain(stems, tagger, segments=10)``: same 2**n mixes
  (c) shap Exact / Permutation / Kernel explainers on the same stem game (binary features,
      all-off background = silence), shap's default budgets
  (d) LIME as audioLIME does it (``xmtag.baselines.lime``) over the 50 (stem, segment)
      components with audioLIME's 16,384 perturbations: run on a subsample of
      perturbations and **extrapolated linearly** (labelled ``extrapolated``)
  (e) the naive loop a blog reader writes: for each subset, write the mix to a WAV file,
      load the file back (resampled to 16 kHz mono), tag it, then the Shapley formula in Python

"tagger rows" are clip equivalents (here 30-s mixes): the patch rows the tagger computed divided
by the patches per clip. xmtag's own runs (a), (b) use its patch-level reuse (each distinct
(patch, active stems) input once, exact; ``benchmarks/reuse.py`` measures it on its own), so
their rows can be below ``2**n``; the value functions behind (c) and (d) evaluate every
coalition as a whole clip (``reuse=False``), as shap and audioLIME do. Ratios are against (a).
The xmtag cache is off for (a) and (b) so that nothing is reused across runs. shap's numba code
is compiled before timing (a warm-up call on a toy game), as is the tagger.
"""

from __future__ import annotations

import math
import sys
import tempfile
from itertools import combinations
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
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"cost": ([], 4)}

NAME = "cost"
SONG = "soul_soul"  # five stems in the full corpus
QUICK_SONG = "jazz_jazzcombo"  # four stems in the --quick corpus
AUDIOLIME_SAMPLES = 16384


def naive_loop(stems, tagger, folder: Path) -> tuple[np.ndarray, int]:
    """What a reader of a blog post writes: one WAV file and one tagger call per subset of stems."""
    import xmtag

    names = list(stems.names)
    n = len(names)
    value = {}
    rows = 0
    for size in range(n + 1):
        for subset in combinations(range(n), size):
            if subset:
                mix = sum(stems[names[i]] for i in subset)
            else:
                mix = np.zeros_like(stems[names[0]])
            path = folder / f"mix_{'_'.join(map(str, subset)) or 'none'}.wav"
            xmtag.save_audio(path, mix, stems.sr)
            y, _ = xmtag.load_audio(path, sr=tagger.sample_rate, mono=True)
            value[frozenset(subset)] = tagger.predict(y.reshape(1, -1))[0].astype(np.float64)
            rows += 1
    phi = np.zeros((n, len(tagger.labels)))
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in combinations(others, size):
                s = frozenset(subset)
                phi[i] += weight * (value[s | {i}] - value[s])
    return phi, rows


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, runtime="~15 min", quick_runtime="~3 min")
    p.add_argument(
        "--lime-subsample",
        type=int,
        default=None,
        help="perturbations actually run for (d) (default 128; --quick 16)",
    )
    p.add_argument(
        "--shap-max-evals",
        type=int,
        default=None,
        help="max_evals of shap's Permutation explainer (default shap's 500; --quick 50)",
    )
    args = p.parse_args(argv)
    if args.shap_max_evals is None:
        args.shap_max_evals = 50 if args.quick else 500
    _common.setup(args)
    import shap

    import xmtag
    from xmtag import coalitions
    from xmtag.attribution import baselines

    env = _common.environment(args)
    _common.print_environment(env)
    with _common.timer() as total:
        song = QUICK_SONG if args.quick else SONG
        folders = {f.name: f for f in _common.songs("mma", args.quick)}
        seconds = 12.0 if args.quick else 30.0
        segments = 4 if args.quick else 10
        stems, meta = _common.load_stems(folders[song], seconds=seconds)
        tagger = _common.load_tagger(args)
        n = len(stems)
        progress = not args.no_progress
        lime_sub = args.lime_subsample or (16 if args.quick else 128)
        print(f"song {song} ({meta['genre']}), {n} stems {stems.names}, {seconds:.0f} s, {segments} segments")
        tagger.predict(np.zeros((1, tagger.patch_length), np.float32))  # warm-up
        ppc = max(stems.n_samples * tagger.sample_rate // stems.sr // tagger.patch_length, 1)

        rows = []

        def add(method: str, n_rows: float, seconds_: float, note: str = "", **extra) -> None:
            rows.append({"method": method, "tagger_rows": n_rows, "wall_s": seconds_, "note": note, **extra})
            print(f"  {method}: {n_rows:.0f} rows, {seconds_:.1f} s {note}", flush=True)

        # (a) and (b)
        with _common.timer() as t:
            expl_a = xmtag.explain(stems, tagger, cache=False, progress=progress)
        add("(a) xmtag exact, clip", expl_a.provenance.budget / ppc, t["s"])
        with _common.timer() as t:
            expl_b = xmtag.explain(stems, tagger, segments=segments, cache=False, progress=progress)
        add(f"(b) xmtag exact, stems x {segments} segments", expl_b.provenance.budget / ppc, t["s"])
        exact = expl_a.values  # (n, n_tags)

        # (c) shap, on the stem game: binary features, background all-off
        fn, _, _ = coalitions.value_function(stems, tagger, reuse=False)
        bits = np.left_shift(1, np.arange(n, dtype=np.int64))
        counter = {"rows": 0}

        def model(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x)
            counter["rows"] += len(x)
            return fn((x > 0.5).astype(np.int64) @ bits)

        background, instance = np.zeros((1, n)), np.ones((1, n))
        toy = shap.explainers.Exact(lambda x: x.sum(1), shap.maskers.Independent(background, max_samples=1))
        toy(instance)  # compiles shap's numba code before timing
        shap_values = {}
        for label, make in (
            (
                "Exact",
                lambda: shap.explainers.Exact(model, shap.maskers.Independent(background, max_samples=1)),
            ),
            (
                "Permutation",
                lambda: shap.explainers.Permutation(
                    model, shap.maskers.Independent(background, max_samples=1)
                ),
            ),
            ("Kernel", None),
        ):
            counter["rows"], rows_before = 0, fn.n_rows
            with _common.timer() as t:
                if make is None:
                    ke = shap.KernelExplainer(model, background)
                    vals = np.asarray(ke.shap_values(instance, silent=True))  # (1, n, T) in shap 0.51
                    vals = (
                        vals.reshape(n, -1) if vals.size == exact.size else np.moveaxis(vals, -1, 0)[..., 0].T
                    )
                else:
                    kwargs = {"max_evals": args.shap_max_evals} if label == "Permutation" else {}
                    vals = make()(instance, **kwargs).values[0]  # (n, n_tags)
            shap_values[label] = vals
            err = float(np.abs(vals - exact).max())
            add(
                f"(c) shap {label}",
                (fn.n_rows - rows_before) / ppc,
                t["s"],
                max_abs_diff_vs_exact=err,
                rows_requested_by_shap=counter["rows"],
            )

        # (d) LIME over stems x segments, subsampled and extrapolated
        fn_seg, players, _ = coalitions.value_function(stems, tagger, segments=segments, reuse=False)
        with _common.timer() as t:
            lime_expl = baselines.lime(
                fn_seg, len(players), n_samples=lime_sub, seed=args.seed, progress=progress
            )
        per_row = t["s"] / lime_expl.n_evaluations
        add(
            f"(d) LIME {len(players)} components, {lime_sub} perturbations (measured)",
            lime_expl.n_evaluations,
            t["s"],
        )
        add(
            f"(d) LIME {len(players)} components, {AUDIOLIME_SAMPLES} perturbations",
            AUDIOLIME_SAMPLES,
            per_row * AUDIOLIME_SAMPLES,
            note="extrapolated",
            extrapolated=True,
        )

        # (e) naive loop
        with tempfile.TemporaryDirectory(prefix="xmtag-naive-") as tmp, _common.timer() as t:
            naive_phi, naive_rows = naive_loop(stems, tagger, Path(tmp))
        add(
            "(e) naive loop (wav files)",
            naive_rows,
            t["s"],
            max_abs_diff_vs_exact=float(np.abs(naive_phi - exact).max()),
        )

        base_rows, base_s = rows[0]["tagger_rows"], rows[0]["wall_s"]
        for r in rows:
            r["rows_ratio"] = r["tagger_rows"] / base_rows
            r["time_ratio"] = r["wall_s"] / base_s
        print()
        _common.print_table(rows, ["method", "tagger_rows", "wall_s", "rows_ratio", "time_ratio", "note"])
        seg_check = float(np.abs(expl_b.segment_values.sum(1) - exact).max())
        print(f"\nsegment values sum to the clip values within {seg_check:.2e}")

        fig = _figure(rows)
    results = {
        "song": song,
        "genre": meta["genre"],
        "stems": stems.names,
        "seconds": seconds,
        "segments": segments,
        "tagger": tagger.name,
        "patches_per_clip": ppc,
        "lime_subsample": lime_sub,
        "shap_permutation_max_evals": args.shap_max_evals,
        "rows": rows,
        "segment_sum_max_abs_diff": seg_check,
    }
    _common.save_figure(fig, NAME, args)
    _common.write_result(NAME, args, env, results, total["s"])
    return 0


def _figure(rows):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1))
    labels = [r["method"] + (" *" if r.get("extrapolated") else "") for r in rows]
    ax.barh(
        range(len(rows)),
        [r["wall_s"] for r in rows],
        color=["C0" if i < 2 else "C1" for i in range(len(rows))],
    )
    for i, r in enumerate(rows):
        ax.text(r["wall_s"], i, f" {r['tagger_rows']:.0f} rows, {r['wall_s']:.0f} s", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("wall time (s, log scale); * extrapolated from a subsample")
    ax.set_title("Cost of one explanation (musicnn-msd)")
    return fig


if __name__ == "__main__":
    sys.exit(main())
