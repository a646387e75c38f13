"""pytest setup shared by tests/ and the doctests in xmtag/: an isolated, temporary cache.

Unless the caller set ``XMTAG_CACHE``, the whole run (tests and doctests alike) uses a fresh
temporary cache folder, removed at the end, so no test reads or pollutes the user's cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import matplotlib

matplotlib.use("Agg")

_OWNED: list[str] = []


def pytest_configure(config) -> None:
    if "XMTAG_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="xmtag-test-cache-")
        os.environ["XMTAG_CACHE"] = folder
        _OWNED.append(folder)


def pytest_unconfigure(config) -> None:
    for folder in _OWNED:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("XMTAG_CACHE", None)
