"""Per-block computations over long audio give the whole-array results: the envelope, the residual."""

from __future__ import annotations

import math

import numpy as np

import xmtag
from xmtag.explanation import ENVELOPE_RATE, waveform_envelope


def _whole_envelope(mix: np.ndarray, sr: int, rate: int) -> np.ndarray:
    mono = mix.mean(axis=0, dtype=np.float32)
    hop = max(1, int(round(sr / rate)))
    n = int(math.ceil(mono.shape[0] / hop))
    padded = np.zeros(n * hop, dtype=np.float32)
    padded[: mono.shape[0]] = mono
    frames = padded.reshape(n, hop)
    return np.stack([frames.min(axis=1), frames.max(axis=1)]).astype(np.float32)


def test_envelope_and_residual_of_a_long_recording_match_the_whole_array_formulas():
    rng = np.random.default_rng(1)
    n = 3 * (1 << 18) + 12_345  # several blocks, a partial last block and a partial last frame
    a = rng.uniform(-0.5, 0.4, (2, n)).astype(np.float32)
    b = rng.uniform(-0.3, 0.6, (2, n)).astype(np.float32)
    mix = (a + b + 1e-3 * rng.standard_normal((2, n))).astype(np.float32)
    stems = xmtag.Stems({"a": a, "b": b}, sr=44100, mixture=mix)
    env = waveform_envelope(stems)
    np.testing.assert_array_equal(env, _whole_envelope(mix, 44100, ENVELOPE_RATE))
    res = (mix - (a + b)).astype(np.float64)
    expected = 10 * np.log10((res**2).sum() / (mix.astype(np.float64) ** 2).sum())
    assert abs(stems.residual_db - expected) < 1e-6
