"""Decompositions of one waveform into parts that sum back to it, as :class:`~xmtag.Stems`.

Any mix can be explained without a separator model by splitting it with signal processing:

- :func:`hpss`: harmonic / percussive (median filtering of the spectrogram, Fitzgerald 2010,
  with the soft masks and margins of Driedger et al. 2014);
- :func:`bands`: frequency bands between given edges (Hz) or mel-spaced, with complementary
  zero-phase linear-phase crossovers;
- :func:`nmf`: ``k`` components of a non-negative matrix factorisation of the magnitude
  spectrogram (:class:`sklearn.decomposition.NMF`), turned into Wiener-style soft masks.

Every function returns a :class:`~xmtag.Stems` whose stems **sum to the input** (its
``mixture``) to float32 precision: the STFT masks of :func:`hpss` and :func:`nmf` sum to one
in every time-frequency bin and the inverse STFT (:class:`scipy.signal.ShortTimeFFT`, a Hann
window at 75 % overlap) reconstructs the input to ~1e-15; the band filters of :func:`bands`
telescope (``low_1 + (low_2 - low_1) + ... + (x - low_K) = x``) and are computed in float64.
Multichannel input is decomposed channel by channel for :func:`hpss` and :func:`bands`; for
:func:`nmf` one set of spectral templates is fitted to all channels, so a component is the
same sound in every channel. All three are deterministic (:func:`nmf` takes a ``seed``).

What is hand-written and why: the HPSS masks (a dozen lines around
:func:`scipy.ndimage.median_filter`) follow ``librosa.decompose.hpss`` and are tested
against it; librosa is not a dependency of xmtag's core (it would add numba, audioread and
pooch) and ``librosa.effects.hpss`` does not return the exact-sum stems needed here. The
crossovers use scipy's :func:`~scipy.signal.firwin` / :func:`~scipy.signal.kaiserord` /
:func:`~scipy.signal.oaconvolve`; the factorisation is scikit-learn's.

Examples
--------
>>> import numpy as np
>>> from xmtag import decompose
>>> sr = 22050
>>> t = np.arange(sr) / sr
>>> y = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
>>> parts = decompose.bands(y, sr, [500.0])
>>> parts.names
['0-500Hz', '500-11025Hz']
>>> bool(np.abs(parts["0-500Hz"] + parts["500-11025Hz"] - parts.mixture).max() < 1e-6)
True
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import finite_float, non_negative_int, positive_int
from ..audio import check_waveform
from ..errors import AudioError, XmtagError
from ._stems import Stems

__all__ = ["hpss", "bands", "nmf", "mel_edges", "DECOMPOSITIONS"]

logger = logging.getLogger(__name__)

#: Names accepted by :class:`xmtag.Separator` chains (``"spleeter:2stems+hpss"``).
DECOMPOSITIONS = ("hpss", "bands", "nmf")


# -- shared helpers --------------------------------------------------------------------------------
def _input(y: Any, sr: Any, who: str) -> tuple[np.ndarray, int]:
    rate = positive_int(sr, f"{who}: sr", error=AudioError)
    return check_waveform(y, f"{who}(y)"), rate


def _stft_frame(n_fft: int, hop: int, sr: int) -> Any:
    from scipy.signal import ShortTimeFFT
    from scipy.signal.windows import hann

    return ShortTimeFFT(hann(n_fft, sym=False), hop=hop, fs=sr, fft_mode="onesided")


def _stft_args(n_fft: Any, hop: Any, who: str) -> tuple[int, int]:
    n_fft = positive_int(n_fft, f"{who}: n_fft")
    hop = positive_int(hop, f"{who}: hop")
    if hop > n_fft // 2:
        raise XmtagError(f"{who}: hop ({hop}) must be at most n_fft / 2 ({n_fft // 2}) for an exact inverse.")
    return n_fft, hop


def _masked(y: np.ndarray, sft: Any, masks_of: Any, names: list[str]) -> dict[str, np.ndarray]:
    """Apply per-channel soft masks (``masks_of(channel, spectrogram) -> list``) and invert."""
    n = y.shape[1]
    out = {name: np.empty_like(y) for name in names}
    for c in range(y.shape[0]):
        spec = sft.stft(y[c].astype(np.float64))
        masks = masks_of(c, spec)
        for name, mask in zip(names, masks):
            out[name][c] = sft.istft(spec * mask, k1=n).astype(np.float32)
    return out


def _softmask(x: np.ndarray, ref: np.ndarray, power: float, split_zeros: bool) -> np.ndarray:
    """``x**p / (x**p + ref**p)`` as ``librosa.util.softmask`` computes it (zeros: 0.5 or 0)."""
    z = np.maximum(x, ref)
    bad = z < np.finfo(np.float64).tiny
    z[bad] = 1.0
    mask = (x / z) ** power
    ref_mask = (ref / z) ** power
    good = ~bad
    mask[good] /= mask[good] + ref_mask[good]
    mask[bad] = 0.5 if split_zeros else 0.0
    return mask


# -- harmonic / percussive -------------------------------------------------------------------------
def _median_along(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``scipy.ndimage.median_filter(x, size)`` along one axis of a 2-D array (``mode="reflect"``).

    Filtered line by line: scipy's 1-D median filter is a running median (O(log k) per sample)
    while its n-D filter with a ``(1, k)`` footprint re-sorts every window, about 5x slower on a
    30-s spectrogram; the results are identical (tests/separation/test_decompose.py).
    """
    from scipy.ndimage import median_filter

    lines = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    out = np.empty_like(lines)
    for i, line in enumerate(lines):
        out[i] = median_filter(line, size=size, mode="reflect")
    return np.moveaxis(out, -1, axis)


def hpss(
    y: np.ndarray,
    sr: int,
    *,
    kernel_size: int | tuple[int, int] = 31,
    power: float = 2.0,
    margin: float | tuple[float, float] = 1.0,
    n_fft: int = 2048,
    hop: int = 512,
) -> Stems:
    """Harmonic / percussive decomposition by median filtering of the spectrogram.

    The harmonic estimate is the magnitude median-filtered along time, the percussive one
    along frequency; soft masks ``H**p / (H**p + P**p)`` split every STFT bin between the
    two (``librosa.decompose.hpss`` with ``mask=True``). With a ``margin`` above 1 the
    masks are stricter and what neither claims becomes a third stem, ``residual``.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform ``(channels, samples)`` or 1-D; channels are decomposed independently.
    sr : int
        Sample rate in Hz.
    kernel_size : int or (int, int)
        Median filter lengths (harmonic: frames, percussive: bins); librosa's default 31.
    power : float
        Exponent of the soft masks (2: Wiener-like; larger: harder).
    margin : float or (float, float)
        Separation margins (harmonic, percussive) >= 1.
    n_fft, hop : int
        STFT size and hop in samples (Hann window).

    Returns
    -------
    Stems
        ``harmonic``, ``percussive`` (and ``residual`` when a margin exceeds 1), float32,
        at ``sr``, with ``y`` as the mixture; their sum is ``y`` to float32 precision.

    Raises
    ------
    AudioError
        For an invalid waveform or sample rate.
    XmtagError
        For invalid parameters.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.zeros((2, 22050), np.float32)
    >>> y[:, ::5000] = 1.0                                    # clicks ...
    >>> y += 0.2 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)  # ... over a tone
    >>> parts = hpss(y, 22050)
    >>> parts.names
    ['harmonic', 'percussive']
    >>> bool(np.abs(parts["harmonic"] + parts["percussive"] - y).max() < 1e-5)
    True
    """
    y, sr = _input(y, sr, "hpss")
    n_fft, hop = _stft_args(n_fft, hop, "hpss")
    k_h, k_p = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    k_h, k_p = positive_int(k_h, "hpss: kernel_size"), positive_int(k_p, "hpss: kernel_size")
    power = finite_float(power, "hpss: power", low=0.0, low_open=True)
    m_h, m_p = margin if isinstance(margin, (tuple, list)) else (margin, margin)
    m_h, m_p = finite_float(m_h, "hpss: margin", low=1.0), finite_float(m_p, "hpss: margin", low=1.0)
    three = m_h != 1.0 or m_p != 1.0
    names = ["harmonic", "percussive", *(["residual"] if three else [])]

    def masks_of(_: int, spec: np.ndarray) -> list[np.ndarray]:
        mag = np.abs(spec)
        harm = _median_along(mag, k_h, axis=1)
        perc = _median_along(mag, k_p, axis=0)
        if not three:
            m_harm = _softmask(harm, perc, power, split_zeros=True)
            return [m_harm, 1.0 - m_harm]
        m_harm = _softmask(harm, perc * m_h, power, split_zeros=False)
        m_perc = _softmask(perc, harm * m_p, power, split_zeros=False)
        return [m_harm, m_perc, 1.0 - m_harm - m_perc]

    return Stems(_masked(y, _stft_frame(n_fft, hop, sr), masks_of, names), sr=sr, mixture=y)


# -- frequency bands -------------------------------------------------------------------------------
def mel_edges(n_bands: int, sr: int, fmin: float = 0.0, fmax: float | None = None) -> list[float]:
    """The ``n_bands - 1`` inner edges (Hz) of ``n_bands`` bands equally spaced on the mel scale.

    The HTK mel scale ``2595 * log10(1 + f / 700)`` between ``fmin`` and ``fmax``
    (default ``sr / 2``).

    Parameters
    ----------
    n_bands : int
        Number of bands (>= 2).
    sr : int
        Sample rate in Hz.
    fmin, fmax : float
        Range that is divided (Hz).

    Returns
    -------
    list of float
        Increasing edges in Hz.

    Examples
    --------
    >>> [round(e) for e in mel_edges(4, 44100)]
    [971, 3291, 8828]
    """
    n_bands = positive_int(n_bands, "bands: n_bands")
    if n_bands < 2:
        raise XmtagError(f"bands: the number of bands must be at least 2, got {n_bands}.")
    fmax = sr / 2 if fmax is None else fmax
    lo, hi = (2595.0 * np.log10(1.0 + f / 700.0) for f in (fmin, fmax))
    mels = np.linspace(lo, hi, n_bands + 1)[1:-1]
    return [float(700.0 * (10 ** (m / 2595.0) - 1.0)) for m in mels]


def _band_name(lo: float, hi: float) -> str:
    return f"{lo:.0f}-{hi:.0f}Hz"


def bands(
    y: np.ndarray,
    sr: int,
    edges: Sequence[float] | int,
    *,
    transition: float = 0.2,
    attenuation: float = 60.0,
) -> Stems:
    """Split a waveform into frequency bands that sum exactly to it.

    Each edge ``e`` gets a zero-phase linear-phase FIR low-pass (Kaiser window,
    :func:`scipy.signal.firwin`, transition width ``transition * e`` Hz centred on ``e``,
    stop-band ``attenuation`` dB). With low-passes ``L1 < L2 < ... < LK`` the bands are
    ``L1 x``, ``L2 x - L1 x``, ..., ``x - LK x``: complementary by construction, so they sum
    to ``x`` to float precision, whatever the filters' ripple.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform ``(channels, samples)`` or 1-D.
    sr : int
        Sample rate in Hz.
    edges : sequence of float or int
        Increasing band edges in Hz, each strictly between 0 and ``sr / 2``; or a number of
        bands (>= 2) equally spaced on the mel scale (:func:`mel_edges`).
    transition : float
        Width of each crossover as a fraction of its edge frequency (0 < t < 1); lower edges
        need longer filters (a 100 Hz edge at 44.1 kHz: about 18k taps, 0.4 s).
    attenuation : float
        Stop-band attenuation of the low-passes, dB.

    Returns
    -------
    Stems
        One stem per band, named ``"LO-HIHz"`` (e.g. ``"0-250Hz"``), low to high, with
        ``y`` as the mixture.

    Raises
    ------
    AudioError
        For an invalid waveform or sample rate.
    XmtagError
        For edges that are not increasing or outside ``(0, sr / 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((2, 8000)).astype(np.float32)
    >>> parts = bands(y, 16000, 3)
    >>> parts.names
    ['0-921Hz', '921-3056Hz', '3056-8000Hz']
    >>> bool(np.abs(sum(parts.values()) - y).max() < 1e-5)
    True
    """
    from scipy.signal import firwin, kaiserord, oaconvolve

    y, sr = _input(y, sr, "bands")
    nyq = sr / 2
    if isinstance(edges, (int, np.integer)) and not isinstance(edges, bool):
        cuts = mel_edges(int(edges), sr)
    else:
        try:
            cuts = [float(e) for e in edges]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise XmtagError(
                f"bands: edges must be a list of frequencies in Hz or a number of bands, got {edges!r}."
            ) from None
        if not cuts:
            raise XmtagError("bands: give at least one edge (Hz), or a number of bands >= 2.")
        if not all(np.isfinite(cuts)) or any(b <= a for a, b in itertools.pairwise(cuts)):
            raise XmtagError(f"bands: edges must be finite and strictly increasing, got {cuts}.")
        if cuts[0] <= 0 or cuts[-1] >= nyq:
            raise XmtagError(f"bands: edges must lie strictly between 0 and sr / 2 = {nyq:g} Hz, got {cuts}.")
    transition = finite_float(transition, "bands: transition", low=0.0, high=1.0, low_open=True)
    attenuation = finite_float(attenuation, "bands: attenuation", low=21.0)
    x = y.astype(np.float64)
    lows = []
    for e in cuts:
        width = min(transition * e, 2 * e, 2 * (nyq - e))  # the transition band stays inside (0, nyq)
        numtaps, beta = kaiserord(attenuation, width / nyq)
        numtaps |= 1  # odd and symmetric: the 'same' convolution is zero-phase
        numtaps = min(numtaps, 2 * (x.shape[1] // 2) + 1) if x.shape[1] > 2 else 1
        h = firwin(numtaps, e, window=("kaiser", beta), fs=sr) if numtaps > 1 else np.ones(1)
        lows.append(oaconvolve(x, h[None, :], mode="same", axes=-1))
    parts = [lows[0], *(b - a for a, b in itertools.pairwise(lows)), x - lows[-1]]
    bounds = [0.0, *cuts, nyq]
    out = {_band_name(lo, hi): p.astype(np.float32) for lo, hi, p in zip(bounds, bounds[1:], parts)}
    if len(out) != len(parts):
        raise XmtagError(f"bands: edges {cuts} are too close to name the bands apart (1 Hz); merge them.")
    return Stems(out, sr=sr, mixture=y)


# -- non-negative matrix factorisation ------------------------------------------------------------
def nmf(
    y: np.ndarray,
    sr: int,
    k: int,
    *,
    seed: int = 0,
    power: float = 2.0,
    beta_loss: str = "frobenius",
    max_iter: int = 300,
    n_fft: int = 2048,
    hop: int = 512,
) -> Stems:
    """``k`` parts from a non-negative factorisation of the magnitude spectrogram.

    :class:`sklearn.decomposition.NMF` (``init="nndsvda"``) factorises the magnitude
    frames of all channels, ``|S| ~ W H``: ``k`` spectral templates shared by the
    channels and their activations. Component ``i``'s estimate ``V_i = W_i H_i`` becomes the
    Wiener-style soft mask ``V_i**p / sum_j V_j**p`` (bins where every estimate is zero are
    split equally), applied to the complex STFT and inverted. Components are ordered by
    the spectral centroid of their template, low to high.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform ``(channels, samples)`` or 1-D.
    sr : int
        Sample rate in Hz.
    k : int
        Number of components (>= 1; 1 returns the input).
    seed : int
        ``random_state`` of the factorisation; equal inputs and seeds give equal outputs.
    power : float
        Exponent of the soft masks.
    beta_loss : str
        ``"frobenius"`` (coordinate descent) or ``"kullback-leibler"`` / ``"itakura-saito"``
        (multiplicative updates).
    max_iter : int
        Iterations of the solver (a non-converged factorisation still gives masks that sum
        to one; it is logged).
    n_fft, hop : int
        STFT size and hop in samples.

    Returns
    -------
    Stems
        ``nmf1`` ... ``nmfK``, with ``y`` as the mixture.

    Raises
    ------
    AudioError
        For an invalid waveform or sample rate.
    XmtagError
        For invalid parameters.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> y = (np.sin(2 * np.pi * 200 * t) * (t < 0.5) + np.sin(2 * np.pi * 3000 * t) * (t >= 0.5))
    >>> parts = nmf(y.astype(np.float32), 16000, 2)
    >>> parts.names
    ['nmf1', 'nmf2']
    >>> bool(np.abs(parts["nmf1"] + parts["nmf2"] - parts.mixture).max() < 1e-5)
    True
    """
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    y, sr = _input(y, sr, "nmf")
    k = positive_int(k, "nmf: k")
    seed = non_negative_int(seed, "nmf: seed")
    power = finite_float(power, "nmf: power", low=0.0, low_open=True)
    if beta_loss not in ("frobenius", "kullback-leibler", "itakura-saito"):
        raise XmtagError(
            f"nmf: beta_loss must be 'frobenius', 'kullback-leibler' or 'itakura-saito', got {beta_loss!r}."
        )
    max_iter = positive_int(max_iter, "nmf: max_iter")
    n_fft, hop = _stft_args(n_fft, hop, "nmf")
    sft = _stft_frame(n_fft, hop, sr)
    names = [f"nmf{i + 1}" for i in range(k)]
    if k == 1:
        return Stems({names[0]: y.copy()}, sr=sr, mixture=y)
    mags = [np.abs(sft.stft(y[c].astype(np.float64))).astype(np.float32) for c in range(y.shape[0])]
    frames = np.concatenate([m.T for m in mags], axis=0)  # (channels * T, F)
    if not frames.any():
        split = (y / k).astype(np.float32)
        return Stems(dict.fromkeys(names, split), sr=sr, mixture=y)
    eps = 1e-10 if beta_loss == "itakura-saito" else 0.0
    model = NMF(
        n_components=k,
        init="nndsvda",
        beta_loss=beta_loss,
        solver="cd" if beta_loss == "frobenius" else "mu",
        max_iter=max_iter,
        random_state=seed,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        act = model.fit_transform(frames + eps)  # (channels * T, k)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        logger.info("nmf: no convergence in %d iterations (the masks still sum to one).", max_iter)
    templates = model.components_  # (k, F)
    freqs = np.arange(templates.shape[1], dtype=np.float64)
    centroid = (templates @ freqs) / np.maximum(templates.sum(1), 1e-30)
    order = np.argsort(centroid, kind="stable")
    n_frames = mags[0].shape[1]

    def masks_of(c: int, _: np.ndarray) -> list[np.ndarray]:
        a = act[c * n_frames : (c + 1) * n_frames].astype(np.float64)  # (T, k)
        est = [(np.outer(templates[i], a[:, i])) ** power for i in order]  # each (F, T)
        total = np.sum(est, axis=0)
        zero = total <= np.finfo(np.float64).tiny
        total[zero] = 1.0
        masks = [e / total for e in est]
        for m in masks:
            m[zero] = 1.0 / k
        return masks

    return Stems(_masked(y, sft, masks_of, names), sr=sr, mixture=y)
