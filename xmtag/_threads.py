"""Per-call torch thread limits that leave global torch state alone.

``torch.set_num_threads(n)`` is process-wide: besides the calling thread's OpenMP setting it
stores ``n`` in a global that every thread *started later* copies on its first parallel
operation. Calling it from a worker thread (a corpus worker, a web server's request thread, a
tagger's own pool) therefore changes the thread count of unrelated code, and two workers doing
it race. xmtag never calls it inside library code (benchmarks and the CLI may, once, at start).

Instead, :func:`limit_threads` sets the OpenMP thread count of **the calling thread only**:
OpenMP's ``nthreads-var`` is a per-thread setting (``omp_set_num_threads`` from one thread does
not change another's), and torch's CPU kernels (its own ``parallel_for`` and oneDNN, which run
musicnn's convolutions) size their parallel regions from the calling thread's value. The call
goes through `threadpoolctl <https://github.com/joblib/threadpoolctl>`_ (a dependency of
scikit-learn), restricted to the OpenMP libraries, and is undone on exit. Before setting it,
``torch.get_num_threads()`` runs torch's once-per-thread lazy initialisation, which would
otherwise overwrite the limit on the thread's first torch operation.

Examples
--------
>>> import torch
>>> before = torch.get_num_threads()
>>> with limit_threads(1):
...     inside = torch.get_num_threads()
>>> inside, torch.get_num_threads() == before
(1, True)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["limit_threads"]

_LOCK = threading.Lock()
_CONTROLLER: list[Any] = []


def _openmp_controller() -> Any:
    with _LOCK:
        if not _CONTROLLER:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController().select(user_api="openmp"))
        return _CONTROLLER[0]


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Run the block with at most ``n`` OpenMP threads in this thread (``None``: unchanged)."""
    if not n:
        yield
        return
    import torch

    torch.get_num_threads()  # torch's per-thread lazy init first, so it cannot undo the limit
    with _openmp_controller().limit(limits=int(n)):
        yield
