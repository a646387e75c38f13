"""Audio input and output: float32 ``(channels, samples)`` arrays and a sample rate.

Reading and writing goes through `soundfile` (libsndfile: wav, flac, ogg/vorbis,
mp3 and the other formats libsndfile knows, no ffmpeg needed); resampling through
`soxr` (band-limited, high quality, deterministic). Long files are read block by
block into one preallocated array and resampled channel by channel, so a one-hour
recording is never held twice in memory.

Conventions (see ``DESIGN.md``): a waveform is a ``numpy.float32`` array shaped
``(channels, samples)``; mono is the mean of the channels, kept 2-D as ``(1, samples)``.

Reliability notes:

- **Truncated WAV/AIFF files** are an :class:`~xmtag.errors.AudioError`. libsndfile quietly
  decodes the part of a data chunk that is there, so :func:`load_audio` reads the chunk sizes
  of RIFF/RF64/AIFF headers itself (a few bytes, hand-written because no library exposes
  "declared versus present") and refuses a data chunk shorter than its header says.
- **Encoding is interrupt-safe.** :func:`encode_audio` and :func:`save_audio` let libsndfile
  write a real file by path (never a Python file object, whose cffi write callbacks swallow
  ``KeyboardInterrupt`` and leave a truncated result that looks complete); Ctrl-C raises
  ``KeyboardInterrupt`` and nothing is left under the final name.
- **MP3 is mono or stereo**: more channels (5.1 and 7.1 stems) are downmixed with
  :func:`to_stereo` before MP3 encoding.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import numpy as np

from ._checks import positive_int
from ._files import check_input_file
from .errors import AudioError

__all__ = [
    "load_audio",
    "save_audio",
    "encode_audio",
    "resample",
    "to_mono",
    "to_stereo",
    "check_waveform",
    "audio_info",
    "ENCODE_FORMATS",
]

logger = logging.getLogger(__name__)

_BLOCK = 1 << 20  # frames per block when reading, writing and checking
#: Default libsndfile subtype per extension when saving. ``wav`` keeps float32 exactly.
DEFAULT_SUBTYPES = {".wav": "FLOAT", ".flac": "PCM_24", ".ogg": "VORBIS", ".mp3": "MPEG_LAYER_III"}
#: Formats :func:`encode_audio` writes.
ENCODE_FORMATS = ("mp3", "ogg", "flac", "wav")
#: Sample rates MPEG layer III supports; other rates are resampled to 44100 Hz for MP3.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: Most channels per format (more are downmixed to stereo by :func:`encode_audio`).
MAX_CHANNELS = {"mp3": 2, "flac": 8, "ogg": 255, "wav": 1024}


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
        If the path does not exist or is not a readable regular file (directory, pipe,
        device, link loop, permission denied).
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
        raise AudioError(f"Audio file {str(p)!r} is empty (0 bytes). Re-export or re-download it.")
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


_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # written by streaming encoders that could not seek back


def _declared_data(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` bytes of a WAV/RF64/AIFF file's audio data chunk, else ``None``."""
    total = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12:
            return None
        riff = head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE"
        aiff = head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC")
        if not (riff or aiff):
            return None
        endian = ">" if head[:4] in (b"RIFX", b"FORM") else "<"
        data_id = b"data" if riff else b"SSND"
        ds64 = None
        pos = 12
        for _ in range(10_000):
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if cid == b"ds64":
                body = fh.read(16)
                if len(body) == 16:
                    ds64 = struct.unpack("<QQ", body)[1]
            if cid == data_id:
                if head[:4] == b"RF64" and size == 0xFFFFFFFF and ds64 is not None:
                    size = ds64
                elif size in _UNKNOWN_SIZES:
                    return None
                return size, total - (pos + 8)
            pos += 8 + size + (size & 1)
    return None


def _check_length(path: Path) -> None:
    try:
        found = _declared_data(path)
    except OSError:
        return
    if found is not None and found[0] > found[1]:
        declared, present = found
        raise AudioError(
            f"Audio file {str(path)!r} is truncated: its header announces {declared} bytes of audio data "
            f"but the file holds only {present} ({100 * present / declared:.1f} %). Re-export or "
            "re-download it."
        )


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
        If the path does not exist or is not a readable regular file.
    AudioError
        If the file is empty, not audio, corrupt or truncated (a WAV/AIFF data chunk shorter
        than its header says, or fewer frames than announced), has zero samples, or contains
        NaN/inf samples; or if ``sr`` is not a positive integer.

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
    sr = positive_int(sr, "load_audio(): sr (target rate in Hz)", allow_none=True, error=AudioError)
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
    _check_length(p)
    sf = _soundfile()
    n_ch, n_frames, file_sr = int(info.channels), int(info.frames), int(info.samplerate)
    try:
        y = _read_blocks(sf, p, n_ch, n_frames)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(
            f"Cannot decode {str(p)!r}: {_clean(exc)}. The file is corrupt or truncated; re-export it."
        ) from exc
    if y.shape[1] == 0:
        raise AudioError(
            f"Audio file {str(p)!r} contains zero samples (empty, or truncated or damaged so that no "
            "frame decodes). Re-export it."
        )
    _check_finite(y, f"Audio file {str(p)!r}")
    if mono:
        y = to_mono(y)
    if sr is not None and sr != file_sr:
        y = resample(y, file_sr, sr)
        file_sr = sr
    return y, file_sr


def _read_blocks(sf, path: Path, n_ch: int, n_frames: int) -> np.ndarray:
    """Read into one preallocated ``(channels, frames)`` array, block by block."""
    if n_frames <= 0 or n_frames >= 2**62:  # unknown length: let libsndfile size it
        data, _ = sf.read(str(path), dtype="float32", always_2d=True)
        return np.ascontiguousarray(data.T)
    try:
        out = np.empty((n_ch, n_frames), dtype=np.float32)
    except (MemoryError, ValueError):
        raise AudioError(
            f"Audio file {str(path)!r}: its header announces {n_frames} frames x {n_ch} channels "
            f"({n_frames * n_ch * 4 / 2**30:.1f} GiB as float32), more than this machine can hold. The "
            "header is damaged, or the recording is too long to load at once: cut it into parts."
        ) from None
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


# writing lives in xmtag._audio_write (kept public here: xmtag.audio.save_audio, encode_audio)
from ._audio_write import encode_audio, save_audio  # noqa: E402
