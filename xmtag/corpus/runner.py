"""Run :func:`xmtag.explain` over every track: in this process, in a local pool, or on Dask.

Each task is one track. The worker separates (for a mix), explains, and returns the
explanation file's bytes (or the failure's reason); the calling process writes them into the
store, so workers need to read the inputs but never write to the store (a Dask cluster's
workers may run on other machines). Taggers are loaded once per worker process and cached.

* ``workers=0`` — in this process, one track after the other (debugging, tests, notebooks);
* default — a local pool of worker processes (``concurrent.futures``), sized to the cores,
  each with ``cores // workers`` torch threads so the cores are not oversubscribed;
* ``client=`` — a ``dask.distributed.Client``: tracks run on the cluster's workers through
  Dask's own scheduler, with Dask's retries when a worker dies (``retries``).
"""

from __future__ import annotations

import functools
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from .. import _checks
from ..errors import XmtagError

__all__ = ["run_tracks", "explain_task", "default_workers"]

logger = logging.getLogger(__name__)


def default_workers() -> int:
    """Worker processes of the local pool: the cores this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


@functools.lru_cache(maxsize=4)
def _tagger(name: str, device: str) -> Any:
    from ..taggers import load_tagger

    return load_tagger(name) if device == "auto" else load_tagger(name, device=device)


def _init_worker(threads: int) -> None:
    """Local pool initializer: a thread budget per process, set before torch starts its pools."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except (ImportError, RuntimeError):  # pragma: no cover
        pass


def explain_task(task: dict[str, Any]) -> dict[str, Any]:
    """Explain one track (runs in a worker); returns ``{"track", "ok", "data" | "reason", ...}``.

    Never raises for a problem of the track itself: unreadable audio, a clip too short, a
    separator error, ... become ``ok=False`` with the reason, so the run goes on.
    """
    from pathlib import Path

    from ..pipeline import explain

    t0 = time.perf_counter()
    out = {k: task.get(k) for k in ("track", "path", "labels", "input_hash", "stat")}
    try:
        tagger = task.get("tagger_obj") or _tagger(task["tagger"], task.get("device", "auto"))
        source: Any = task["path"]
        separator = task.get("separator")
        if task["kind"] == "stems":
            separator = None
        expl = explain(
            source,
            tagger,
            separator=separator,
            segments=task.get("segments"),
            method=task.get("method", "exact"),
            budget=task.get("budget"),
            seed=task.get("seed", 0),
            baseline=task.get("baseline", "silence"),
            bands=task.get("bands"),
            cache=task.get("cache", True),
            progress=False,
        )
        import tempfile

        with tempfile.TemporaryDirectory(prefix="xmtag-corpus-") as tmp:
            path = expl.save(Path(tmp) / "e.xmtag")
            out["data"] = path.read_bytes()
        out.update(ok=True, n_stems=expl.n_stems, budget=expl.budget, method=expl.method)
    except XmtagError as exc:
        out.update(ok=False, reason=f"{type(exc).__name__}: {exc}")
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # a bug or a dependency failing on this track: recorded, never fatal to the run
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        out.update(ok=False, reason=f"unexpected error: {tb}")
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def _serial(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        yield explain_task(task)


def _local(tasks: list[dict[str, Any]], workers: int) -> Iterator[dict[str, Any]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, default_workers() // workers)
    ctx = mp.get_context("spawn")  # torch and fork do not mix; each worker imports xmtag afresh
    pending = list(tasks)
    retries: dict[str, int] = {}
    while pending:
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)
        )
        futures = {pool.submit(explain_task, t): t for t in pending}
        pending = []
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for f in done:
                    task = futures.pop(f)
                    try:
                        yield f.result()
                    except BrokenProcessPool:  # a worker died (killed, out of memory): rerun its tracks
                        n = retries[task["track"]] = retries.get(task["track"], 0) + 1
                        if n > 2:
                            yield {**_fail(task), "reason": "the worker process died 3 times on this track"}
                        else:
                            pending.append(task)
        except BaseException:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def _fail(task: dict[str, Any]) -> dict[str, Any]:
    return {k: task.get(k) for k in ("track", "path", "labels", "input_hash", "stat")} | {"ok": False}


def _dask(tasks: list[dict[str, Any]], client: Any, retries: int) -> Iterator[dict[str, Any]]:
    from ..errors import require

    distributed = require("distributed", "dask", "running a corpus on a Dask cluster")
    futures = client.map(
        explain_task,
        tasks,
        key=[f"xmtag-{t['input_hash'][:16]}-{i}" for i, t in enumerate(tasks)],
        retries=retries,
        pure=False,
    )
    by_key = {f.key: t for f, t in zip(futures, tasks)}
    try:
        for fut in distributed.as_completed(futures):
            try:
                yield fut.result()
            except distributed.client.FutureCancelledError:
                yield {**_fail(by_key[fut.key]), "reason": "cancelled on the cluster"}
            except Exception as exc:  # the task itself raised on the worker after Dask's retries
                yield {**_fail(by_key[fut.key]), "reason": f"worker error: {type(exc).__name__}: {exc}"}
    except BaseException:
        client.cancel(futures)
        raise


def run_tracks(
    tasks: list[dict[str, Any]],
    *,
    workers: int | None,
    client: Any = None,
    retries: int = 2,
    on_result: Callable[[dict[str, Any]], None],
    progress: bool = True,
) -> None:
    """Run the tasks and pass each result to ``on_result`` as it arrives (in completion order)."""
    from tqdm.auto import tqdm

    workers = default_workers() if workers is None else _checks.non_negative_int(workers, "workers")
    if client is not None:
        results = _dask(tasks, client, retries)
    elif workers == 0 or len(tasks) <= 1 or any("tagger_obj" in t for t in tasks):
        results = _serial(tasks)
    else:
        results = _local(tasks, min(workers, len(tasks)))
    failed = 0
    with tqdm(total=len(tasks), desc="tracks", unit="track", disable=not progress, dynamic_ncols=True) as bar:
        for res in results:
            on_result(res)
            failed += not res.get("ok")
            bar.update(1)
            if failed:
                bar.set_postfix(failed=failed, refresh=False)
