"""Regenerate the figures and numbers of the tutorial "Explain a real recording offline".

Takes 30 s of *Feelings* by Carlos Viola Iborra (Sectoid), from the Debian package
``fretsonfire-songs-sectoid`` (Expat licence: see the tutorial), whose folder holds the band
(``song.ogg``) and the lead guitar (``guitar.ogg``), sample-aligned. Their sum is the mix.
Explains the mix with musicnn-msd three ways: stems from the automatic separator (Spleeter
2-stem here, no Demucs weights), from the chain ``spleeter:2stems+hpss``, and from the true
guitar / band stems. Writes small PNGs and the printed tables into ``docs/img/``.

Usage (about 1-2 min on 2 CPU cores, from the repository root)::

    apt-get install fretsonfire-songs-sectoid && pip install -e ".[spleeter]"
    python docs/_tools/make_real_recording_figures.py
"""

from __future__ import annotations

import argparse
import io
import sys
from contextlib import redirect_stdout
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "docs" / "img"
SONG = Path("/usr/share/games/fretsonfire/data/songs/sectoid/Feelings")
OFFSET, SECONDS = 60.0, 30.0


def load_mix():
    """(mix, band, guitar, sr): 30 s of the song, the mix being the sum of the two files."""
    import xmtag

    band, sr = xmtag.load_audio(SONG / "song.ogg")
    guitar, _ = xmtag.load_audio(SONG / "guitar.ogg")
    a, b = int(OFFSET * sr), int((OFFSET + SECONDS) * sr)
    band, guitar = band[:, a:b], guitar[:, a:b]
    return band + guitar, band, guitar, sr


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=IMG, help=f"output folder (default {IMG})")
    args = p.parse_args(argv)
    if not SONG.is_dir():
        raise SystemExit(f"error: {SONG} is missing: apt-get install fretsonfire-songs-sectoid")

    import matplotlib.pyplot as plt

    import xmtag
    from xmtag import plots

    mix, band, guitar, sr = load_mix()
    text = io.StringIO()
    with redirect_stdout(text):
        auto = xmtag.Separator(progress=False)
        print(f"separator: {auto.model_name} ({auto.chosen_because.split(';')[-1].strip()})")
        two = auto.separate(mix, sr=sr)
        chain = xmtag.Separator("spleeter:2stems+hpss", progress=False).separate(mix, sr=sr)
        true = xmtag.Stems({"guitar": guitar, "band": band}, sr=sr)
        print(
            f"residual of the separation: {two.residual_db:.0f} dB; of the chain: {chain.residual_db:.0f} dB"
        )
        expls = {}
        for name, stems in (("spleeter:2stems", two), ("spleeter:2stems+hpss", chain), ("true stems", true)):
            expls[name] = xmtag.explain(stems, tagger="musicnn-msd", progress=False)
        top = expls["true stems"].top_tags(3)
        print(f"top tags of the mix: {', '.join(top)}")
        for name, e in expls.items():
            print(f"\n{name}: Shapley values (probability)")
            print(f"{'tag':<12}" + "".join(f"{s:>15}" for s in e.stems))
            for t in top:
                j = e.tag_index(t)
                print(f"{t:<12}" + "".join(f"{v:>+15.3f}" for v in e.values[:, j]))
    out = text.getvalue()
    print(out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real-recording-output.txt").write_text(out)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), gridspec_kw={"wspace": 0.6})
    for ax, (name, e) in zip(axes, expls.items()):
        plots.bar(e, tag=top[0], ax=ax)
        ax.set_title(f"{top[0]!r}: {name}", fontsize=10)
    fig.savefig(args.out / "real-recording-bars.png", dpi=60, bbox_inches="tight")
    fig = plots.heatmap(expls["spleeter:2stems+hpss"], top=5)
    fig.set_size_inches(6.5, 3.2)
    fig.savefig(args.out / "real-recording-heatmap.png", dpi=60, bbox_inches="tight")
    for f in sorted(args.out.glob("real-recording-*")):
        print(f"wrote {f} ({f.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
