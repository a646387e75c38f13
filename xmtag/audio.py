"""Audio input and output: float32 ``(channels, samples)`` arrays and a sample rate.

Reading and writing goes through `soundfile` (libsndfile: wav, flac, ogg/vorbis,
mp3 and the other formats libsndfile knows, no ffmpeg needed); resampling through
`soxr` (band-limited, high quality, deterministic). Long files are read block by
block into one preallocated array and resampled channel by channel, so a one-hour
recording is never held twice in memory.

Conventions (see ``DESIGN.md``): a waveform is a ``numpy.float32`` array shaped
``(channels, samples)``; mono is the mean of the channels, kept 2-D as ``(1, samples)``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ._files import atomic_path, check_input_file
from .errors import AudioError, OutputError

__all__ = ["load_audio", "save_audio", "resample", "to_mono", "check_waveform", "audio_info"]

logger = logging.getLogger(__name__)

_BLOCK = 1 << 20  # frames per block when reading, writing and checking
#: Default libsndfile subtype per extension when saving. ``wav`` keeps float32 exactly.
DEFAULT_SUBTYPES = {".wav": "FLOAT", ".flac": "PCM_24", ".ogg": "VORBIS", ".mp3": "MPEG_LAYER_III"}


def _soundfile():
    import soundfile as sf

    return sf


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


def audio_info(path: str | os.PathLike[str]):
    """Return soundfile's ``info`` for ``path`` or raise :class:`AudioError` naming the file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    soundfile._SoundFileInfo
        With ``samplerate``, ``channels``, ``frames``, ``duration``, ``format``, ...

    Raises
    ------
    AudioFileNotFoundError
        If the file does not exist.
    AudioError
        If it is not audio that libsndfile can read.

    Examples
    --------
    >>> import xmtag
    >>> info = audio_info(xmtag.datasets.demo_path() / "bass.ogg")
    >>> info.samplerate, info.channels
    (44100, 2)
    """
    p = check_input_file(path, "audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"Audio file {str(p)!r} is empty (0 bytes).")
    sf = _soundfile()
    try:
        return sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"Cannot read {str(p)!r} as audio: {_clean(exc)}. Supported: wav, flac, ogg, mp3 "
            "(and the other formats libsndfile reads)."
        ) from exc


def _clean(exc: Exception) -> str:
    return str(exc).replace("Error : ", "").strip().rstrip(".")


def load_audio(
    path: str | os.PathLike[str], sr: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """Load an audio file as float32 ``(channels, samples)``.

    Parameters
    ----------
    path : str or os.PathLike
        wav, flac, ogg/vorbis, mp3, or any other format libsndfile reads; video and
        compressed containers (mp4, m4a, webm, mkv, aac, ...) through PyAV (:mod:`xmtag._av`).
    sr : int, optional
        Resample to this rate (soxr, high quality). ``None`` keeps the file's rate.
    mono : bool
        Mix down to the mean of the channels, returned as ``(1, samples)``.

    Returns
    -------
    y : numpy.ndarray
        float32 samples, shape ``(channels, samples)``.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioFileNotFoundError
        If the path does not exist or is a directory.
    AudioError
        If the file is empty, not audio, corrupt or truncated, has zero samples,
        or contains NaN/inf samples.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> t = np.arange(8000) / 8000
    >>> _ = save_audio(path, np.sin(2 * np.pi * 440 * t).astype(np.float32), 8000)
    >>> y, sr = load_audio(path, sr=16000)
    >>> y.shape, y.dtype, sr
    ((1, 16000), dtype('float32'), 16000)
    """
    from . import _av  # video and compressed containers (mp4, m4a, webm, mkv, aac) through PyAV

    if _av.wants_av(path):
        check_input_file(path, "audio file")
        return _av.load_av(path, sr=sr, mono=mono)
    try:
        info = audio_info(path)
    except AudioError:  # not a libsndfile format: FFmpeg gets a second chance
        if not _av.may_try(path):
            raise
        try:
            return _av.load_av(path, sr=sr, mono=mono)
        except AudioError:
            pass
        raise
    p = Path(path)
    sf = _soundfile()
    n_ch, n_frames, file_sr = int(info.channels), int(info.frames), int(info.samplerate)
    try:
        y = _read_blocks(sf, p, n_ch, n_frames)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(
            f"Cannot decode {str(p)!r}: {_clean(exc)}. The file is corrupt or truncated; re-export it."
        ) from exc
    if y.shape[1] == 0:
        raise AudioError(f"Audio file {str(p)!r} contains zero samples.")
    _check_finite(y, f"Audio file {str(p)!r}")
    if mono:
        y = to_mono(y)
    if sr is not None and int(sr) != file_sr:
        y = resample(y, file_sr, int(sr))
        file_sr = int(sr)
    return y, file_sr


def _read_blocks(sf, path: Path, n_ch: int, n_frames: int) -> np.ndarray:
    """Read into one preallocated ``(channels, frames)`` array, block by block."""
    if n_frames <= 0 or n_frames >= 2**62:  # unknown length: let libsndfile size it
        data, _ = sf.read(str(path), dtype="float32", always_2d=True)
        return np.ascontiguousarray(data.T)
    out = np.empty((n_ch, n_frames), dtype=np.float32)
    pos = 0
    with sf.SoundFile(str(path)) as fh:
        while pos < n_frames:
            block = fh.read(min(_BLOCK, n_frames - pos), dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            out[:, pos : pos + block.shape[0]] = block.T
            pos += block.shape[0]
    if pos < n_frames:
        raise AudioError(
            f"Audio file {str(path)!r} is truncated: its header announces {n_frames} frames but only "
            f"{pos} could be decoded. Re-export or re-download it."
        )
    return out


def save_audio(path: str | os.PathLike[str], y: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    """Write a waveform atomically (temporary file, then rename).

    The format follows the extension. Without ``subtype``: wav is written as 32-bit
    float (lossless for xmtag's float32 arrays), flac as 24-bit PCM, ogg as Vorbis,
    mp3 as MPEG layer III.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    y : numpy.ndarray
        ``(channels, samples)`` or 1-D float waveform.
    sr : int
        Sample rate in Hz.
    subtype : str, optional
        A libsndfile subtype such as ``"PCM_16"``.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    OutputError
        If the destination cannot be written or the extension is unknown.
    AudioError
        If ``y`` is not a valid waveform (NaN/inf, wrong shape, no samples).

    Examples
    --------
    >>> import tempfile, os
    >>> path = save_audio(os.path.join(tempfile.mkdtemp(), "x.flac"), np.zeros((2, 100)), 8000)
    >>> path.suffix
    '.flac'
    """
    sf = _soundfile()
    p = Path(path)
    y = check_waveform(y, f"Audio for {str(p)!r}")
    if p.is_dir():
        raise OutputError(f"Cannot write {str(p)!r}: it is a directory. Give a file name.")
    ext = p.suffix.lower()
    fmt = ext.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise OutputError(
            f"Cannot write {str(p)!r}: unknown audio extension {ext!r}. Use .wav, .flac, .ogg or .mp3."
        )
    subtype = subtype or DEFAULT_SUBTYPES.get(ext)
    if subtype and not subtype.upper().startswith(("FLOAT", "DOUBLE")):
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 1.0:
            logger.warning("%s: peak %.3f exceeds 1.0 and will clip in %s.", p, peak, subtype)
    with atomic_path(p) as tmp:
        try:
            with sf.SoundFile(str(tmp), "w", int(sr), y.shape[0], subtype=subtype, format=fmt) as fh:
                for start in range(0, y.shape[1], _BLOCK):
                    fh.write(np.ascontiguousarray(y[:, start : start + _BLOCK].T))
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            raise OutputError(f"Cannot write {str(p)!r}: {_clean(exc)}.") from exc
    return p
