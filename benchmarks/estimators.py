"""Estimator accuracy vs budget: permutation sampling, KernelSHAP and LIME against exact values.

Two games per song of the MMA corpus (songs with five stems; musicnn-msd, all 50 tags):

* **stems** -- the clip-level game of the n stems (2**n coalitions). Its exact Shapley values
  cost xmtag 2**n tagger passes. The estimators query the same tagger outputs (a deterministic
  tagger returns the same row for the same mix, so the coalition table is looked up instead of
  re-running it).
* **stems x segments** -- the n x K (stem, segment) players of the time-resolved explanation
  (K = 10 segments of the 30-s clip; 50 players, 2**50 coalitions). xmtag gets its exact values
  from the same 2**n passes (``xmtag.shapley.segments``); the value of any of the 2**50
  coalitions is the patch-weighted sum of the per-segment outputs, which is what a patch-wise
  tagger computes. The script checks that identity against real tagger passes on random
  coalitions and prints the largest difference (``assembly_max_abs_diff``; musicnn's
  spectrogram frames at segment edges see a few ms of the neighbouring segment).

Estimators (``xmtag.estimators.permutation`` with antithetic orders, ``xmtag.estimators.kernel``
= shap's KernelExplainer, ``xmtag.baselines.lime`` = audioLIME's LIME) run at growing budgets
with several seeds. The x axis is the number of distinct coalitions each one evaluates (=
tagger passes). The error is ``||estimate - exact|| / ||exact||`` over all players and tags;
``top_agreement`` is the share of tags whose top player matches the exact one.

Engine games (``--games engine``; every method of :func:`xmtag.attribution.attribute`, the code
behind ``xmtag.explain(method=...)``, at equal budgets) on the bundled demo song:

* **6 stems** -- the demo's five stems with the drums split at 200 Hz into ``kick`` (low) and
  ``drums`` (high) by :func:`xmtag.decompose.bands`;
* **6 x 8 stems x segments** -- those six stems in 8 time segments (48 players);
* **4 x 8 time-frequency grid** -- the mix in 4 mel bands x 8 segments (32 players).

Exact values come from xmtag's exact path (64 and 16 coalition mixes); sampled methods query the
same game (looked up / assembled from the per-segment outputs, as above). Costs are counted in
coalition mixes (distinct coalitions) for every method.
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
    "xmtag/separation/decompose.py",
    "xmtag/data/demo",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {
    "estimators": ([], 60),
    "estimators_engine": (["--games", "engine"], 3),
}  # 50-player game: ~25k patch rows since the exact (stem, segment) game (issue 26)

NAME = "estimators"
SONGS = ("soul_soul", "funk_funk1", "blues_fastblues", "soul_60ssoul", "soul_discosoul")
QUICK_SONGS = ("jazz_jazzcombo",)
FLOOR = 1e-3  # errors below this are drawn at it (KernelSHAP is exact once it enumerates)
CEIL = 10.0  # and above this at it (KernelSHAP with fewer samples than it needs blows up)


def segment_game(segment_coalition_values: np.ndarray, weights: np.ndarray):
    """Value function of the (stem, segment) game; player ``i * K + k`` is stem ``i`` in segment ``k``.

    >>> g = np.array([[[0.0], [0.0]], [[1.0], [3.0]]])  # 1 stem, K=2 segments, 1 tag
    >>> fn = segment_game(g, np.array([0.5, 0.5]))
    >>> fn(np.array([0, 0b01, 0b10, 0b11]))[:, 0].tolist()
    [0.0, 0.5, 1.5, 2.0]
    """
    table = np.asarray(segment_coalition_values, dtype=np.float64)  # (2**n, K, T)
    n = int(np.log2(table.shape[0]))
    k = table.shape[1]
    w = np.asarray(weights, dtype=np.float64)

    def fn(masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64)
        out = np.zeros((masks.size, table.shape[2]))
        for seg in range(k):
            sub = np.zeros(masks.size, dtype=np.int64)
            for i in range(n):
                sub |= ((masks >> (i * k + seg)) & 1) << i
            out += w[seg] * table[sub, seg]
        return out

    return fn


def relative_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    """``||estimate - exact|| / ||exact||`` (Frobenius).

    >>> relative_error(np.array([1.0, 1.0]), np.array([1.0, 0.0]))
    1.0
    """
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


def top_agreement(estimate: np.ndarray, exact: np.ndarray) -> float:
    """Share of tags (columns) whose largest player (row) is the same.

    >>> top_agreement(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0], [0.0, 0.0]]))
    0.5
    """
    return float(np.mean(estimate.argmax(0) == exact.argmax(0)))


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__, runtime="~10 min (first run; ~5 min cached)", quick_runtime="~1 min")
    p.add_argument("--repeats", type=int, default=None, help="seeds per budget (default 3; --quick 2)")
    p.add_argument(
        "--games",
        choices=("corpus", "engine", "all"),
        default="all",
        help="the MMA corpus games, the engine games on the demo song, or both (default)",
    )
    args = p.parse_args(argv)
    _common.setup(args)
    import xmtag
    from xmtag import coalitions
    from xmtag.attribution import baselines, estimators, shapley

    env = _common.environment(args)
    _common.print_environment(env)
    repeats = args.repeats or (2 if args.quick else 3)
    with _common.timer() as total:
        tagger = _common.load_tagger(args)
        engine = engine_games(tagger, repeats, args) if args.games in ("engine", "all") else None
        folders = {f.name: f for f in _common.songs("mma", args.quick)} if args.games != "engine" else {}
        song_names = (QUICK_SONGS if args.quick else SONGS) if args.games != "engine" else ()
        seconds, segments = (12.0, 4) if args.quick else (30.0, 10)
        records = []
        checks = {}
        exact_cost = {}
        for song in song_names:
            stems, _ = _common.load_stems(folders[song], seconds=seconds)
            n = len(stems)
            expl = xmtag.explain(stems, tagger, segments=segments, progress=not args.no_progress)
            exact_cost[song] = 2**n
            table = expl.coalition_values
            seg_fn = segment_game(expl.segment_coalition_values, expl.segment_weights)
            exact_seg = expl.segment_values.reshape(n * segments, -1)
            # the assembled game against real tagger passes on random coalitions
            real_fn, _, _ = coalitions.value_function(stems, tagger, segments=segments)
            rng = np.random.default_rng(args.seed)
            probe = rng.integers(1, 2 ** (n * segments) - 1, size=4, dtype=np.int64)
            checks[song] = float(np.abs(real_fn(probe) - seg_fn(probe)).max())
            print(
                f"{song}: {n} stems; assembled vs real tagger on 4 random coalitions: "
                f"max |diff| = {checks[song]:.2e}",
                flush=True,
            )
            games = {
                "stems": (lambda m, t=table: t[np.asarray(m, dtype=np.int64)], n, expl.values),
                "stems x segments": (seg_fn, n * segments, exact_seg),
            }
            for game, (fn, n_players, exact) in games.items():
                # sanity: the exact values are what shapley.exact gives on the table
                if game == "stems":
                    assert np.allclose(shapley.exact(table), exact)
                small = n_players <= 8
                budgets = {
                    "permutation": [4, 8, 16, 32, 64] if small else [4, 8, 16, 32, 64, 128, 256],
                    "kernel": sorted({8, 16, 24, 2**n_players - 2})
                    if small
                    else [64, 128, 256, 512, 1024, 2048, 4096],
                    "lime": [8, 32, 64, 256, 1024] if small else [64, 256, 1024, 4096, 16384],
                }
                if args.quick and not small:
                    budgets = {"permutation": [4, 16, 64], "kernel": [64, 256, 1024], "lime": [64, 256, 1024]}
                for method, sizes in budgets.items():
                    for size in sizes:
                        for r in range(repeats):
                            seed = args.seed * 1000 + r
                            if method == "permutation":
                                est = estimators.permutation(fn, n_players, n_permutations=size, seed=seed)
                                values, n_eval = est.values, est.n_evaluations
                            elif method == "kernel":
                                est = estimators.kernel(fn, n_players, n_samples=size, seed=seed)
                                values, n_eval = est.values, est.n_evaluations
                            else:
                                le = baselines.lime(fn, n_players, n_samples=size, seed=seed)
                                values, n_eval = le.coefficients, le.n_evaluations
                            records.append(
                                {
                                    "song": song,
                                    "game": game,
                                    "players": n_players,
                                    "method": method,
                                    "budget": size,
                                    "seed": seed,
                                    "tagger_passes": int(n_eval),
                                    "relative_error": relative_error(values, exact),
                                    "top_agreement": top_agreement(values, exact),
                                }
                            )
        import pandas as pd

        df = pd.DataFrame(
            records,
            columns=[
                "game",
                "method",
                "budget",
                "players",
                "tagger_passes",
                "relative_error",
                "top_agreement",
            ]
            if not records
            else None,
        )
        summary = (
            df.groupby(["game", "method", "budget"], sort=False)
            .agg(
                players=("players", "first"),
                tagger_passes=("tagger_passes", "mean"),
                relative_error=("relative_error", "mean"),
                error_sd=("relative_error", "std"),
                top_agreement=("top_agreement", "mean"),
            )
            .reset_index()
        )
        print()
        _common.print_table(summary.to_dict("records"))
        cost = sorted(set(exact_cost.values()))
        if records:
            print(f"\nxmtag exact: error 0 at {cost} tagger passes for both games")
        fig = _figure(summary, cost) if records else None
    results = {
        "tagger": tagger.name,
        "songs": list(song_names),
        "seconds": seconds,
        "segments": segments,
        "repeats": repeats,
        "xmtag_exact_passes": exact_cost,
        "assembly_max_abs_diff": checks,
        "summary": summary.to_dict("records"),
        "records": records,
        "engine": engine,
    }
    if fig is not None:
        _common.save_figure(fig, NAME, args)
    if engine is not None:
        _common.save_figure(_engine_figure(engine), NAME + "_engine", args)
    if args.games == "engine":  # the corpus games' results stay in estimators.json
        _common.write_result(NAME + "_engine", args, env, {"engine": engine}, total["s"])
    else:
        _common.write_result(NAME, args, env, results, total["s"])
    return 0


ENGINE_BUDGETS = (16, 32, 64, 128, 256, 512, 1024, 2048)
ENGINE_METHODS = ("permutation", "kernel", "lime", "loo", "banzhaf")


def engine_games(tagger, repeats: int, args) -> dict:
    """Error vs budget of every ``xmtag.attribution`` method on the three engine games."""
    import xmtag
    from xmtag.attribution import attribute
    from xmtag.separation.decompose import bands

    demo = xmtag.load_demo()
    seconds = 12.0 if args.quick else demo.duration
    n_keep = int(seconds * demo.sr)
    parts = bands(demo["drums"][:, :n_keep], demo.sr, [200.0])
    stems = {"kick": parts[parts.names[0]], "drums": parts[parts.names[1]]}
    stems.update({k: demo[k][:, :n_keep] for k in demo.names if k != "drums"})
    six = xmtag.Stems(stems, sr=demo.sr)
    mix = xmtag.Stems({"mix": six.mixture}, sr=demo.sr)
    k = 8
    e6 = xmtag.explain(six, tagger, segments=k, progress=not args.no_progress)
    grid = xmtag.explain(mix, tagger, bands=4, segments=k, progress=not args.no_progress)
    table = np.asarray(e6.coalition_values)
    games = {
        "6 stems": (
            lambda m, t=table: t[np.asarray(m, dtype=np.int64)],
            6,
            e6.values,
            2**6,
        ),
        "6 x 8 stems x segments": (
            segment_game(e6.segment_coalition_values, e6.segment_weights),
            48,
            e6.segment_values.reshape(48, -1),
            2**6,
        ),
        "4 x 8 time-frequency grid": (
            segment_game(grid.segment_coalition_values, grid.segment_weights),
            32,
            grid.segment_values.reshape(32, -1),
            2**4,
        ),
    }
    budgets = ENGINE_BUDGETS[:4] if args.quick else ENGINE_BUDGETS
    records = []
    for game, (fn, n, exact, exact_passes) in games.items():
        for method in ENGINE_METHODS:
            if method == "banzhaf" and n > 16:
                continue  # enumerates 2**n coalitions
            sizes = [None] if method in ("loo", "banzhaf") else budgets
            for size in sizes:
                for r in range(1 if size is None else repeats):
                    seed = args.seed * 1000 + r
                    try:
                        a = attribute(fn, n, method=method, budget=size, seed=seed)
                    except xmtag.XmtagError as exc:  # a budget below the method's minimum
                        print(f"  {game} / {method} / {size}: {exc}")
                        continue
                    records.append(
                        {
                            "game": game,
                            "players": n,
                            "method": method,
                            "budget": size,
                            "seed": seed,
                            "tagger_passes": int(a.budget),
                            "relative_error": relative_error(a.values, exact),
                            "top_agreement": top_agreement(a.values, exact),
                            "exact_passes": int(exact_passes),
                        }
                    )
        print(f"engine game {game}: {n} players; exact from {exact_passes} coalition mixes", flush=True)
    import pandas as pd

    df = pd.DataFrame(records)
    summary = (
        df.groupby(["game", "method", "budget"], sort=False, dropna=False)
        .agg(
            players=("players", "first"),
            tagger_passes=("tagger_passes", "mean"),
            relative_error=("relative_error", "mean"),
            error_sd=("relative_error", "std"),
            top_agreement=("top_agreement", "mean"),
            exact_passes=("exact_passes", "first"),
        )
        .reset_index()
    )
    print()
    _common.print_table(summary.to_dict("records"))
    return {"seconds": seconds, "segments": k, "summary": summary.to_dict("records"), "records": records}


def _engine_figure(engine: dict):
    import matplotlib.pyplot as plt
    import pandas as pd

    summary = pd.DataFrame(engine["summary"])
    games = list(dict.fromkeys(summary["game"]))
    fig, axes = plt.subplots(1, len(games), figsize=(5.2 * len(games), 4), squeeze=False)
    for ax, game in zip(axes[0], games):
        sub = summary[summary["game"] == game]
        for method, grp in sub.groupby("method", sort=False):
            err = np.clip(grp["relative_error"].to_numpy(), FLOOR, CEIL)
            style = {"marker": "s", "ls": "none", "ms": 8} if len(grp) == 1 else {"marker": "o"}
            ax.plot(grp["tagger_passes"], err, label=method, **style)
        exact = int(sub["exact_passes"].iloc[0])
        ax.axvline(exact, color="k", ls="--", lw=1)
        ax.text(exact, CEIL, f" exact: {exact} mixes", va="top", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(FLOOR / 2, CEIL * 2)
        ax.set_xlabel("coalition mixes scored (distinct coalitions)")
        ax.set_ylabel("relative error vs exact Shapley values")
        ax.set_title(f"{game} ({int(sub['players'].iloc[0])} players)", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Every method vs budget (musicnn-msd, demo song)")
    fig.tight_layout()
    return fig


def _figure(summary, exact_cost):
    import matplotlib.pyplot as plt

    games = list(dict.fromkeys(summary["game"]))
    fig, axes = plt.subplots(1, len(games), figsize=(5.5 * len(games), 4), squeeze=False)
    for ax, game in zip(axes[0], games):
        sub = summary[summary["game"] == game]
        for method, grp in sub.groupby("method", sort=False):
            # exact (KernelSHAP enumerating) -> FLOOR; blow-ups (KernelSHAP, few samples) -> CEIL
            err = np.clip(grp["relative_error"].to_numpy(), FLOOR, CEIL)
            sd = grp["error_sd"].fillna(0).to_numpy()
            yerr = [np.minimum(sd, 0.9 * err), np.minimum(sd, CEIL - err)]  # keep bars on the log axis
            ax.errorbar(grp["tagger_passes"], err, yerr=yerr, marker="o", capsize=2, label=method)
        for c in exact_cost:
            ax.axvline(c, color="k", ls="--", lw=1)
        ax.text(exact_cost[0], ax.get_ylim()[1], " xmtag exact\n (error 0)", va="top", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(FLOOR / 2, CEIL * 2)
        ax.set_xlabel("tagger passes (distinct coalitions evaluated)")
        ax.set_ylabel(f"relative error (clipped to [{FLOOR:g}, {CEIL:g}])")
        ax.set_title(f"{game} ({int(sub['players'].iloc[0])} players)")
        ax.legend(fontsize=8)
    fig.suptitle("Estimator error vs budget (musicnn-msd, MMA corpus)")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    sys.exit(main())
