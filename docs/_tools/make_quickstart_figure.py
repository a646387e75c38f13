"""Regenerate the Quick start's demo picture and terminal output (docs/img/).

Runs what ``xmtag demo`` runs (the bundled song, musicnn-msd, 8 segments), then writes

* ``docs/img/demo.png``: the attribution heatmap of the top tags next to the stem x time
  timeline of "rock" (small PNG, committed);
* ``docs/img/demo-output.txt``: the terminal output of ``xmtag demo`` (included verbatim by the
  Quick start page).

Usage (about 30 s on 2 CPU cores, from the repository root)::

    python docs/_tools/make_quickstart_figure.py
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "docs" / "img"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=IMG, help=f"output folder (default {IMG})")
    args = p.parse_args(argv)

    import matplotlib.pyplot as plt

    import xmtag
    from xmtag import plots

    args.out.mkdir(parents=True, exist_ok=True)
    expl = xmtag.explain(xmtag.load_demo(), tagger="musicnn-msd", segments=8, progress=False)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(14, 4.4), gridspec_kw={"width_ratios": [1.2, 1.5], "wspace": 0.35}
    )
    plots.heatmap(expl, top=5, ax=left)
    plots.timeline(expl, tag="rock", ax=right)
    png = args.out / "demo.png"
    fig.savefig(png, dpi=72, bbox_inches="tight")
    print(f"wrote {png} ({png.stat().st_size // 1024} kB)")

    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run(
            [sys.executable, "-m", "xmtag", "demo", "--out", str(Path(tmp) / "xmtag-demo")],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
        )
    text = run.stdout.replace(tmp + "/", "").replace(str(ROOT) + "/", "")
    text = re.sub(r"from \S+/xmtag/data/demo", "from .../xmtag/data/demo", text)
    text = re.sub(r"Done in \d+ s", "Done in 25 s", text)  # stable across machines and cache state
    txt = args.out / "demo-output.txt"
    txt.write_text("$ xmtag demo\n" + text)
    print(f"wrote {txt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
