"""Waveform helpers over arrays: checks, mono and stereo downmixes, resampling (soxr)."""

from __future__ import annotations

import numpy as np

from ..errors import AudioError

_BLOCK = 1 << 20  # frames per block when reading, writing and checking

# writing lives in xmtag.audio._write (kept public here: xmtag.audio.save_audio, encode_audio)

__all__ = ['resample', 'to_mono', 'to_stereo', 'check_waveform']


def check_waveform(y: np.ndarray, name: str = "audio", allow_empty: bool = False) -> np.ndarray:
    """Validate a waveform and return it as float32 ``(channels, samples)``.

    1-D input is taken as mono and becomes ``(1, samples)``.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform, 1-D or ``(channels, samples)``, real-valued.
    name : str
        How the waveform is called in error messages (e.g. a file name or stem name).
    allow_empty : bool
        Accept zero samples.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(channels, samples)`` (no copy when already so).

    Raises
    ------
    AudioError
        For a wrong number of dimensions, no channels, zero samples, a non-real
        dtype, or NaN/inf values.

    Examples
    --------
    >>> check_waveform(np.zeros(4)).shape
    (1, 4)
    """
    y = np.asarray(y)
    if y.dtype.kind not in "fiub":
        raise AudioError(f"{name}: expected real-valued samples, got dtype {y.dtype}.")
    if y.ndim == 1:
        y = y[np.newaxis, :]
    if y.ndim != 2:
        raise AudioError(
            f"{name}: expected a waveform shaped (channels, samples), got {y.ndim} dimensions {y.shape}."
        )
    if y.shape[0] == 0:
        raise AudioError(f"{name}: the waveform has no channels (shape {y.shape}).")
    if y.shape[0] > y.shape[1] and y.shape[1] <= 16 and y.shape[0] > 16:
        raise AudioError(
            f"{name}: shape {y.shape} looks like (samples, channels); xmtag wants (channels, samples). "
            "Pass y.T."
        )
    if y.shape[1] == 0 and not allow_empty:
        raise AudioError(f"{name}: the audio has zero samples.")
    if y.dtype.kind in "iub":
        raise AudioError(
            f"{name}: integer samples ({y.dtype}) are ambiguous; convert to float in [-1, 1] first."
        )
    y = y.astype(np.float32, copy=False)
    _check_finite(y, name)
    return y


def _check_finite(y: np.ndarray, name: str) -> None:
    for start in range(0, y.shape[-1], _BLOCK):
        block = y[..., start : start + _BLOCK]
        if not np.isfinite(block).all():
            bad = start + int(np.argwhere(~np.isfinite(block))[0][-1])
            raise AudioError(
                f"{name}: the audio contains NaN or infinite samples (first at sample {bad}). "
                "Clean or re-export it."
            )


def to_mono(y: np.ndarray) -> np.ndarray:
    """Mix down to mono as the mean of the channels, shape ``(1, samples)``.

    Parameters
    ----------
    y : numpy.ndarray
        ``(channels, samples)`` (a 1-D array is one channel).

    Returns
    -------
    numpy.ndarray
        float32 ``(1, samples)``.

    Examples
    --------
    >>> to_mono(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    array([[0.5, 0.5]], dtype=float32)
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        return y[np.newaxis, :]
    if y.shape[0] == 1:
        return y
    return y.mean(axis=0, keepdims=True, dtype=np.float32)


def to_stereo(y: np.ndarray) -> np.ndarray:
    """Downmix more than two channels to stereo (mono and stereo are returned unchanged).

    Six channels are taken as 5.1 and eight as 7.1 in WAV order (L, R, C, LFE, surrounds...):
    ``L' = L + 0.707 C + 0.707 (left surrounds)``, likewise for R, LFE dropped (ITU-R BS.775),
    then scaled by the sum of the coefficients so a full-scale signal stays within [-1, 1].
    Other counts: even-numbered channels are averaged to the left, odd-numbered to the right.

    Parameters
    ----------
    y : numpy.ndarray
        ``(channels, samples)``.

    Returns
    -------
    numpy.ndarray
        float32 ``(min(channels, 2), samples)``.

    Examples
    --------
    >>> y = np.zeros((6, 3), np.float32); y[2] = 1.0   # 5.1 with only the centre channel
    >>> to_stereo(y).round(3)
    array([[0.293, 0.293, 0.293],
           [0.293, 0.293, 0.293]], dtype=float32)
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1 or y.shape[0] <= 2:
        return y
    c = y.shape[0]
    k = np.float32(1 / np.sqrt(2))
    if c in (6, 8):
        left = [(0, 1.0), (2, k), (4, k)] + ([(6, k)] if c == 8 else [])
        right = [(1, 1.0), (2, k), (5, k)] + ([(7, k)] if c == 8 else [])
    else:
        left = [(i, 1.0) for i in range(0, c, 2)]
        right = [(i, 1.0) for i in range(1, c, 2)]
    out = np.zeros((2, y.shape[1]), dtype=np.float32)
    for row, terms in enumerate((left, right)):
        for ch, w in terms:
            out[row] += np.float32(w) * y[ch]
        out[row] /= np.float32(sum(w for _, w in terms))
    return out


def resample(y: np.ndarray, orig_sr: int, target_sr: int, quality: str = "HQ") -> np.ndarray:
    """Resample a ``(channels, samples)`` waveform with soxr (band-limited).

    Channels are resampled one at a time into a preallocated output, so memory is
    the input plus the output.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform ``(channels, samples)`` or 1-D.
    orig_sr, target_sr : int
        Sample rates in Hz.
    quality : str
        soxr quality: ``"HQ"`` (default), ``"VHQ"``, ``"MQ"``, ``"LQ"``, ``"QQ"``.

    Returns
    -------
    numpy.ndarray
        float32 array; same number of dimensions as the input.

    Examples
    --------
    >>> y = np.zeros((2, 44100), dtype=np.float32)
    >>> resample(y, 44100, 16000).shape
    (2, 16000)
    """
    import soxr

    orig_sr, target_sr = int(orig_sr), int(target_sr)
    if orig_sr <= 0 or target_sr <= 0:
        raise AudioError(f"Sample rates must be positive, got {orig_sr} -> {target_sr}.")
    y = np.asarray(y, dtype=np.float32)
    if orig_sr == target_sr:
        return y
    squeeze = y.ndim == 1
    y2 = y[np.newaxis] if squeeze else y
    n_out = int(round(y2.shape[-1] * target_sr / orig_sr))
    out = np.empty((y2.shape[0], n_out), dtype=np.float32)
    for c in range(y2.shape[0]):
        r = soxr.resample(np.ascontiguousarray(y2[c]), orig_sr, target_sr, quality=quality)
        m = min(n_out, r.shape[0])
        out[c, :m] = r[:m]
        out[c, m:] = 0.0
    return out[0] if squeeze else out
