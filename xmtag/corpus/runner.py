"""Run :func:`xmtag.explain` over every track: in this process, in a local pool, or on Dask.

Each task is one track. The worker separates (for a mix), explains, and returns the
explanation file's bytes (or the failure's reason); the calling process writes them into the
store, so workers need to read the inputs but never write to the store (a Dask cluster's
workers may run on other machines). Taggers are loaded once per worker process and cached.

* ``workers=0`` — in this process, one track after the other (debugging, tests, notebooks);
* default — a local pool of worker processes (joblib's loky), sized to the cores, each with
  ``cores // workers`` torch threads so the cores are not oversubscribed. Loky workers never
  re-run the caller's ``__main__`` and exit when the calling process dies;
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

__all__ = ["run_tracks", "explain_task", "default_workers", "PoolBrokenError"]

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


def _exit_with_parent(parent: int) -> None:
    """End this worker process when ``parent`` dies, even while it computes a track.

    Loky workers notice a dead parent only between tasks; a track can take minutes. On Linux
    the kernel kills us with the parent (``PR_SET_PDEATHSIG``); everywhere a daemon thread
    watches the parent pid too (an orphan is re-parented, so ``getppid`` changes).
    """
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover
            pass
    if os.getppid() != parent:  # died before we got here
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="xmtag-parent-watch", daemon=True).start()


def _init_worker(threads: int, parent: int | None = None) -> None:
    """Local pool initializer: exit with the parent; a thread budget per process, set before
    torch starts its pools."""
    if parent is not None:
        _exit_with_parent(parent)
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
        used = expl.provenance.separator  # the separator actually used, for a mix
        out["separator"] = used.get("name") if isinstance(used, dict) else None
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


class PoolBrokenError(XmtagError):
    """The local worker pool itself broke (its workers cannot start, or die again and again)."""


def _probe() -> int:
    """A task that cannot fail: a fresh pool that cannot run it is broken."""
    return os.getpid()


def _pool_works(workers: int) -> str | None:
    """``None`` when a fresh pool runs a trivial task, else what went wrong."""
    pool = _new_pool(1)
    try:
        pool.submit(_probe).result(timeout=300)
        return None
    except Exception as exc:  # BrokenProcessPool, a timeout, an initializer that fails
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        pool.shutdown(wait=False, kill_workers=True)


def _new_pool(workers: int) -> Any:
    """A loky process pool: workers are fresh interpreters (``fork`` + ``exec``) that never re-run
    the caller's ``__main__`` (scripts without a main guard, ``python -c``, ``python -``,
    notebooks all work), receive the task by cloudpickle, and exit when this process dies
    (SIGKILL included), so no worker outlives its run."""
    from joblib.externals.loky import ProcessPoolExecutor

    threads = max(1, default_workers() // workers)
    return ProcessPoolExecutor(
        max_workers=workers,
        initializer=_init_worker,
        initargs=(threads, os.getpid()),
        env={"OMP_NUM_THREADS": str(threads)},
    )


def _local(tasks: list[dict[str, Any]], workers: int) -> Iterator[dict[str, Any]]:
    """Tracks on a local loky pool. A dead worker (killed, out of memory) breaks the pool; a
    fresh pool then runs a trivial probe task: when it cannot, the pool itself is broken and the
    run stops with :class:`PoolBrokenError` (no track is recorded as failed). Otherwise the
    unfinished tracks run again on a fresh pool; a track that was running in two pools that broke
    is run again alone at the end (tracks still queued are not charged), and only when it breaks
    a pool on its own is it recorded as a failure."""
    from joblib.externals.loky import FIRST_COMPLETED, BrokenProcessPool, wait

    pending = list(tasks)
    suspects: list[dict[str, Any]] = []
    breaks: dict[str, int] = {}
    while pending or suspects:
        alone = not pending
        batch = pending if pending else [suspects.pop(0)]
        pending = []
        pool = _new_pool(1 if alone else min(workers, len(batch)))
        broken: list[tuple[dict[str, Any], bool]] = []  # (task, was it handed to a worker)
        error = ""
        try:
            futures = {pool.submit(explain_task, t): t for t in batch}
            started: set[Any] = set()
            while futures:
                done, _ = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                started |= {f for f in futures if f.running()}
                for f in done:
                    task = futures.pop(f)
                    try:
                        res = f.result()
                    except BrokenProcessPool as exc:
                        broken.append((task, f in started))
                        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                        continue
                    yield res
        except BaseException:
            pool.shutdown(wait=False, kill_workers=True)
            raise
        pool.shutdown(wait=True)
        if not broken:
            continue
        why = _pool_works(workers)
        if why is not None:
            raise PoolBrokenError(
                f"The local worker pool is broken: a worker died ({error}) and a fresh worker cannot run "
                f"a trivial task ({why}). The tracks finished so far are in the store; rerun to go on, "
                "or pass workers=0 to explain in this process."
            )
        logger.warning("corpus: a worker process died (%s); running its tracks again", error)
        for task, was_running in broken:  # tracks still queued when the pool broke are not charged
            n = breaks[task["track"]] = breaks.get(task["track"], 0) + was_running
            if alone:
                yield {
                    **_fail(task),
                    "reason": "the worker process died while explaining this track on its own "
                    f"(killed, or out of memory?): {error}",
                }
            elif n >= 2:
                suspects.append(task)
            else:
                pending.append(task)


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
