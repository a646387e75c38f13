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

torch's matrix products go to the MKL linked into ``libtorch_cpu``, which keeps its own
per-thread count (set by ``torch.set_num_threads`` and by that lazy initialisation) and which
threadpoolctl cannot see (it is linked statically). :func:`limit_threads` therefore also calls
MKL's ``MKL_Set_Num_Threads_Local`` (thread-local by MKL's definition; exported by
``libtorch_cpu``) when the symbol is there, and restores the previous value on exit. Without
this, a worker limited to one OpenMP thread still ran every small matrix product with two MKL
threads: measured 10-30x slower per product on a loaded 2-core machine.

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
import ctypes
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["limit_threads"]

_LOCK = threading.Lock()
_CONTROLLER: list[Any] = []
_MKL: list[Any] = []


def _openmp_controller() -> Any:
    with _LOCK:
        if not _CONTROLLER:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController().select(user_api="openmp"))
        return _CONTROLLER[0]


def _mkl_local() -> Any:
    """``MKL_Set_Num_Threads_Local`` of the MKL inside libtorch_cpu, or ``None``."""
    with _LOCK:
        if not _MKL:
            fn = None
            try:
                import torch

                lib = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
                if lib.is_file():
                    # the C interface (the lower-case symbol is the Fortran one, which takes a pointer)
                    fn = getattr(ctypes.CDLL(str(lib)), "MKL_Set_Num_Threads_Local", None)
                    if fn is not None:
                        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
            except OSError:  # pragma: no cover - an unusual torch build
                fn = None
            _MKL.append(fn)
        return _MKL[0]


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Run the block with at most ``n`` OpenMP and MKL threads in this thread (``None``: unchanged)."""
    if not n:
        yield
        return
    import torch

    torch.get_num_threads()  # torch's per-thread lazy init first, so it cannot undo the limit
    mkl = _mkl_local()
    previous = mkl(int(n)) if mkl is not None else None
    try:
        with _openmp_controller().limit(limits=int(n)):
            yield
    finally:
        if mkl is not None:
            mkl(previous)  # 0 (no local setting) restores the global one
