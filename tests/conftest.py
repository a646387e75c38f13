"""Shared fixtures: small generated audio (the temporary cache is set up in ../conftest.py)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tone(freq: float = 440.0, sr: int = 16000, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    """A float32 sine, (channels, samples), amplitude 0.5."""
    t = np.arange(int(round(sr * seconds))) / sr
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.repeat(y[np.newaxis], channels, axis=0).astype(np.float32)
