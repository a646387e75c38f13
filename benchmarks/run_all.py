"""Rerun the benchmarks (all, or only the stale ones) and regenerate the README tables.

Usage::

    python benchmarks/run_all.py --only-stale          # what `tables.py --stale` lists, then tables.py
    python benchmarks/run_all.py --only confound cost  # these results
    python benchmarks/run_all.py --dry-run             # print the commands and the time estimate

Each result's command and estimated minutes come from its script's ``RESULTS`` (see
``_common.py``); the scripts run one at a time, ``nice -n 10``, with this interpreter. The data
scripts must have run once (the benchmarks say which when their data are missing). A failing
benchmark is reported and the others still run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import tables


def plan(only: Sequence[str] | None, only_stale: bool) -> list[tuple[str, list[str], float]]:
    """``[(result name, argv, estimated minutes)]``; one run per script and argument list."""
    entries = tables.benchmarks()
    names = list(entries)
    if only:
        unknown = sorted(set(only) - set(entries))
        if unknown:
            raise SystemExit(f"error: unknown result(s) {unknown}; known: {', '.join(names)}")
        names = list(dict.fromkeys(only))  # in the order given: the most wanted first
    if only_stale:
        names = [n for n in names if n in tables.stale()]
    runs, seen = [], set()
    for name in names:
        e = entries[name]
        argv = [sys.executable, str(e["script"]), *e["args"]]
        if tuple(argv) not in seen:
            seen.add(tuple(argv))
            runs.append((name, argv, e["minutes"]))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only-stale", action="store_true", help="only the results tables.py --stale lists")
    p.add_argument(
        "--only", nargs="+", metavar="RESULT", help="only these results, in this order (e.g. confound cost)"
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands and estimates, run nothing")
    p.add_argument("--no-nice", action="store_true", help="do not lower the priority (nice -n 10)")
    args = p.parse_args(argv)
    runs = plan(args.only, args.only_stale)
    total = sum(m for _, _, m in runs)
    print(f"{len(runs)} benchmark runs, ~{total:g} min on the 2-core reference machine:")
    for name, cmd, minutes in runs:
        print(f"  ~{minutes:g} min  {name}: python benchmarks/{' '.join([Path(cmd[1]).name, *cmd[2:]])}")
    if args.dry_run:
        return 0
    failed = []
    for name, cmd, minutes in runs:
        full = cmd if args.no_nice else ["nice", "-n", "10", *cmd]
        print(f"\n=== {name} (~{minutes:g} min)", flush=True)
        start = time.perf_counter()
        rc = subprocess.run(full, cwd=_common.REPO, check=False).returncode
        print(f"=== {name}: exit {rc} after {(time.perf_counter() - start) / 60:.1f} min", flush=True)
        if rc != 0:
            failed.append(name)
    subprocess.run(
        [sys.executable, str(Path(__file__).with_name("tables.py"))], cwd=_common.REPO, check=False
    )
    left = tables.stale()
    if failed:
        print(f"failed: {', '.join(failed)}")
    print(f"still stale: {', '.join(left) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
