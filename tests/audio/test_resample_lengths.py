"""Output length of xmtag.audio.resample at sample-rate ratios that do not divide the input length.

The oracle is soxr itself (called directly, not through xmtag): xmtag must return exactly as many
samples as ``soxr.resample`` does for the same input, for 1-D and multichannel input.
"""

from __future__ import annotations

import numpy as np
import pytest

from xmtag.audio import resample

soxr = pytest.importorskip("soxr")

# (orig_sr, target_sr): none of them maps the lengths below to a whole number of samples
RATIOS = [(44100, 16000), (16000, 44100), (48000, 22050), (8000, 11025), (44100, 48000), (22050, 16000)]
# lengths whose exact output length has a fractional part above and below one half
LENGTHS = [7, 999, 1000, 1001, 4097, 12345]


def _soxr_len(n: int, orig: int, target: int) -> int:
    y = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    return int(soxr.resample(y, orig, target, quality="HQ").shape[0])


def test_the_documented_case_1000_samples_441_to_16_khz_gives_363():
    """Catches output lengths rounded down: 1000 samples at 44.1 kHz -> 16 kHz is 363 (soxr), not 362."""
    assert _soxr_len(1000, 44100, 16000) == 363
    assert resample(np.zeros(1000, np.float32), 44100, 16000).shape == (363,)
    assert resample(np.zeros((2, 1000), np.float32), 44100, 16000).shape == (2, 363)


@pytest.mark.parametrize(("orig", "target"), RATIOS)
def test_output_length_is_soxr_output_length_at_non_dividing_ratios(orig, target):
    """Catches output lengths rounded down (or up) instead of matching soxr.resample."""
    rng = np.random.default_rng(orig + target)
    fractions = set()
    for n in LENGTHS:
        want = _soxr_len(n, orig, target)
        fractions.add(n * target / orig - np.floor(n * target / orig) >= 0.5)
        y = (0.1 * rng.standard_normal((2, n))).astype(np.float32)
        assert resample(y[0], orig, target).shape == (want,), (n, orig, target)
        got = resample(y, orig, target)
        assert got.shape == (2, want), (n, orig, target)
        # the samples too, the last one included: each channel is soxr's own output
        for c in range(2):
            np.testing.assert_allclose(got[c], soxr.resample(y[c], orig, target, quality="HQ"), atol=2e-6)
    assert fractions == {True, False}  # the lengths exercise both sides of one half
