"""pytest setup shared by tests/ and the doctests in xmtag/: an isolated, temporary cache.

Unless the caller set ``XMTAG_CACHE``, the whole run (tests and doctests alike) uses a fresh
temporary cache folder, removed at the end, so no test reads or pollutes the user's cache.
pytest-mpl's image comparisons are on in every run (as if ``--mpl`` were given).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import matplotlib
import pytest

matplotlib.use("Agg")

_OWNED: list[str] = []


@pytest.hookimpl(tryfirst=True)  # before pytest-mpl's own hook reads the option
def pytest_configure(config) -> None:
    # Image comparisons (tests/plots/test_plot_images.py) in every run: pytest-mpl only compares
    # under --mpl and otherwise just runs the figure code, so turn it on unless it is generating
    # baselines or was disabled (-p no:pytest_mpl).
    if config.pluginmanager.hasplugin("pytest_mpl") and hasattr(config.option, "mpl"):
        config.option.mpl = True
    if "XMTAG_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="xmtag-test-cache-")
        os.environ["XMTAG_CACHE"] = folder
        _OWNED.append(folder)


def pytest_unconfigure(config) -> None:
    for folder in _OWNED:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("XMTAG_CACHE", None)
