"""How long ``import xmtag`` takes, in a fresh interpreter, for this checkout and optionally another revision.

Each run is a new process (``python -c "import xmtag"`` with the tree first on ``sys.path``);
the trees take turns (A B A B ...) so that a drift of the machine's speed hits both alike.
Prints the minimum and median wall time per tree and the median of the pairwise ratios.

Usage::

    python benchmarks/import_time.py                  # this checkout
    python benchmarks/import_time.py --ref a0cd57c    # and the revision before the redesign
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATEMENTS = {
    "import xmtag": "import xmtag",
    "import xmtag + Explanation + plots": "import xmtag; xmtag.Explanation; import xmtag.plots",
}


def _once(tree: Path, statement: str) -> float:
    code = (
        f"import sys; sys.path.insert(0, {str(tree)!r}); {statement}; "
        f"assert xmtag.__file__.startswith({str(tree)!r})"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", help="another git revision to time beside this checkout")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    trees = {"this checkout": ROOT}
    tmp = None
    if args.ref:
        tmp = tempfile.mkdtemp(prefix="xmtag-ref-")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, args.ref], check=True,
                       capture_output=True)
        trees[args.ref] = Path(tmp)
    try:
        for label, statement in STATEMENTS.items():
            for tree in trees.values():  # warm the file cache
                _once(tree, statement)
            times: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(args.runs):
                for name, tree in trees.items():
                    times[name].append(_once(tree, statement))
            print(f"{label} ({args.runs} runs each, wall seconds incl. interpreter start)")
            for name, ts in times.items():
                print(f"  {name:>14}: min {min(ts):.3f}  median {statistics.median(ts):.3f}")
            if len(trees) == 2:
                a, b = times.values()
                ratio = statistics.median(x / y for x, y in zip(a, b))
                print(f"  median ratio this/ref: {ratio:.2f}")
    finally:
        if tmp:
            cmd = ["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp]
        subprocess.run(cmd, capture_output=True)


if __name__ == "__main__":
    main()
