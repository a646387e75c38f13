"""Size of xmtag's wheel and sdist, and what takes the space.

Usage::

    python benchmarks/wheel_size.py [--quick]

Builds both with ``python -m build`` (sdist, then the wheel from it) into a temporary folder,
and reports the compressed sizes of the wheel and the sdist and, from the wheel's listing,
the compressed and installed bytes of the musicnn weights (``xmtag/data/musicnn``), the demo
song (``xmtag/data/demo``) and everything else (code, licences, metadata).
``--quick`` builds only the wheel. Results go to ``benchmarks/results/wheel_size.json``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

#: the wheel's size is dominated by the bundled data (code is ~0.2 MB): a code change does not stale it
DEPENDS = ("pyproject.toml", "xmtag/data")
#: result name -> (extra command-line arguments, estimated minutes on the reference machine)
RESULTS = {"wheel_size": ([], 0.5)}

NAME = "wheel_size"


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.splitlines()[0], runtime="about 20 s", quick_runtime="about 10 s")
    args = p.parse_args(argv)
    _common.setup(args)
    env = _common.environment(args)
    _common.print_environment(env)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "build", "--outdir", tmp, str(_common.REPO)]
        if args.quick:
            cmd.insert(3, "--wheel")
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900)
        wheel = next(Path(tmp).glob("xmtag-*.whl"))
        sdist = next(Path(tmp).glob("xmtag-*.tar.gz"), None)
        parts: dict[str, dict[str, int]] = {}
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                part = next(
                    (k for k in ("xmtag/data/musicnn", "xmtag/data/demo") if info.filename.startswith(k)),
                    "rest",
                )
                d = parts.setdefault(part, {"files": 0, "compressed_bytes": 0, "installed_bytes": 0})
                d["files"] += 1
                d["compressed_bytes"] += info.compress_size
                d["installed_bytes"] += info.file_size
        rows = [{"part": k, **v} for k, v in parts.items()]
        results = {
            "wheel": wheel.name,
            "wheel_bytes": wheel.stat().st_size,
            "sdist_bytes": sdist.stat().st_size if sdist else None,
            "parts": rows,
        }
    _common.print_table(rows)
    print(
        f"# {results['wheel']}: {results['wheel_bytes'] / 1e6:.2f} MB"
        + (f"; sdist {results['sdist_bytes'] / 1e6:.2f} MB" if results["sdist_bytes"] else "")
    )
    _common.write_result(NAME, args, env, results, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
