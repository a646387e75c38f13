"""Shared fixtures: an isolated cache per test session and small generated audio."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Point XMTAG_CACHE at a temporary folder unless the caller set one."""
    if "XMTAG_CACHE" not in os.environ:
        os.environ["XMTAG_CACHE"] = str(tmp_path_factory.mktemp("xmtag-cache"))
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tone(freq: float = 440.0, sr: int = 16000, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    """A float32 sine, (channels, samples), amplitude 0.5."""
    t = np.arange(int(round(sr * seconds))) / sr
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.repeat(y[np.newaxis], channels, axis=0).astype(np.float32)
