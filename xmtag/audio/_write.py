"""Writing audio: :func:`save_audio` (atomic files) and :func:`encode_audio` (bytes), interrupt-safe.

Public through :mod:`xmtag.audio` (``xmtag.save_audio``, ``xmtag.audio.encode_audio``); see its
notes on why libsndfile writes by path here (Ctrl-C is never swallowed) and how MP3's two-channel
limit is handled.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .._checks import choice, positive_int
from .._files import atomic_path
from ..errors import AudioError, OutputError
from ._read import _clean, _soundfile
from ._signal import _BLOCK, check_waveform, resample, to_stereo

__all__ = ["save_audio", "encode_audio", "DEFAULT_SUBTYPES", "ENCODE_FORMATS", "MP3_RATES", "MAX_CHANNELS"]

logger = logging.getLogger("xmtag.audio")

#: Default libsndfile subtype per extension when saving. ``wav`` keeps float32 exactly.
DEFAULT_SUBTYPES = {".wav": "FLOAT", ".flac": "PCM_24", ".ogg": "VORBIS", ".mp3": "MPEG_LAYER_III"}


#: Formats :func:`encode_audio` writes.
ENCODE_FORMATS = ("mp3", "ogg", "flac", "wav")


#: Sample rates MPEG layer III supports; other rates are resampled to 44100 Hz for MP3.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


#: Most channels per format (more are downmixed to stereo by :func:`encode_audio`).
MAX_CHANNELS = {"mp3": 2, "flac": 8, "ogg": 255, "wav": 1024}


def _write_sound(path: Path, y: np.ndarray, sr: int, fmt: str, subtype: str | None, **kw) -> None:
    """Write ``y`` to ``path`` by name (libsndfile's own file I/O: no Python callbacks, so a
    ``KeyboardInterrupt`` is raised between blocks instead of being swallowed)."""
    sf = _soundfile()
    with sf.SoundFile(str(path), "w", int(sr), y.shape[0], subtype=subtype, format=fmt, **kw) as fh:
        for start in range(0, y.shape[1], _BLOCK // 4):
            fh.write(np.ascontiguousarray(y[:, start : start + _BLOCK // 4].T))


def _raise_if_disk_full(tmp: Path, y: np.ndarray, exc: Exception) -> None:
    """libsndfile reports a full disk as "System error": check the free space ourselves."""
    import shutil

    try:
        free = shutil.disk_usage(tmp.parent).free
    except OSError:
        return
    if free < 4 * _BLOCK * y.shape[0]:  # less than one block still fits
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp)) from exc


def _fit_format(y: np.ndarray, sr: int, fmt: str) -> tuple[np.ndarray, int]:
    """Downmix/resample what a format cannot hold (MP3: <= 2 channels and MPEG rates)."""
    if y.shape[0] > MAX_CHANNELS.get(fmt, 1024):
        logger.info("Downmixing %d channels to stereo for %s.", y.shape[0], fmt.upper())
        y = to_stereo(y)
    if fmt == "mp3" and sr not in MP3_RATES:
        y, sr = resample(y, sr, 44100), 44100
    return y, sr


def save_audio(path: str | os.PathLike[str], y: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    """Write a waveform atomically (temporary file, then rename; see :func:`xmtag._files.atomic_path`).

    The format follows the extension. Without ``subtype``: wav is written as 32-bit
    float (lossless for xmtag's float32 arrays), flac as 24-bit PCM, ogg as Vorbis,
    mp3 as MPEG layer III (more than two channels are downmixed to stereo for mp3, more
    than eight for flac; see :func:`to_stereo`). Ctrl-C while writing raises
    ``KeyboardInterrupt`` and leaves nothing under ``path``.

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
        If the destination cannot be written (a directory, a missing folder, a full disk) or
        the extension is unknown.
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
    sr = positive_int(sr, f"save_audio({str(p)!r}): sr", error=AudioError)
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
    y, sr = _fit_format(y, sr, fmt.lower())
    with atomic_path(p) as tmp:
        try:
            _write_sound(tmp, y, sr, fmt, subtype)
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            _raise_if_disk_full(tmp, y, exc)
            raise OutputError(f"Cannot write {str(p)!r}: {_clean(exc)}.") from exc
    return p


def encode_audio(
    y: np.ndarray, sr: int, format: str = "mp3", *, subtype: str | None = None, normalize: bool = False
) -> bytes:
    """Encode a waveform to the bytes of an audio file (mp3, ogg, flac or wav).

    libsndfile writes a temporary file by path, which is read back and deleted; Ctrl-C while
    encoding raises ``KeyboardInterrupt`` (never a truncated result returned as if complete).
    MP3 gets at most two channels (:func:`to_stereo` downmixes 5.1/7.1 and other layouts) and
    an MPEG sample rate (others are resampled to 44100 Hz); FLAC at most eight channels.

    Parameters
    ----------
    y : numpy.ndarray
        ``(channels, samples)`` or 1-D float waveform.
    sr : int
        Sample rate in Hz.
    format : {"mp3", "ogg", "flac", "wav"}
        MP3 ~128 kbit/s (libsndfile >= 1.1), Ogg Vorbis, 24-bit FLAC, 32-bit float WAV.
    subtype : str, optional
        A libsndfile subtype instead of the format's default.
    normalize : bool
        Scale the audio down when its peak exceeds 1 (for listening) instead of clipping.

    Returns
    -------
    bytes

    Raises
    ------
    XmtagError
        For an unknown format.
    AudioError
        For an invalid waveform or sample rate.
    OutputError
        If libsndfile cannot encode it (e.g. MP3 before libsndfile 1.1) or the temporary
        folder is full.

    Examples
    --------
    >>> data = encode_audio(np.zeros((6, 8000), np.float32), 8000, "mp3")   # 5.1 -> stereo MP3
    >>> import io, soundfile
    >>> soundfile.info(io.BytesIO(data)).channels
    2
    """
    sf = _soundfile()
    fmt = choice(str(format).lower().lstrip("."), "encode_audio(): format", ENCODE_FORMATS)
    y = check_waveform(y, f"audio to encode as {fmt}")
    sr = positive_int(sr, "encode_audio(): sr", error=AudioError)
    y, sr = _fit_format(y, sr, fmt)
    if normalize:
        peak = float(np.abs(y).max()) if y.size else 0.0
        if peak > 1.0:
            y = y / np.float32(peak)
    kind = fmt.upper()
    if kind not in sf.available_formats():
        raise OutputError(f"This libsndfile ({sf.__libsndfile_version__}) cannot write {kind}; use 'ogg'.")
    kw = {"compression_level": 0.5} if fmt == "mp3" else {}
    subtype = subtype or DEFAULT_SUBTYPES[f".{fmt}"]
    with tempfile.TemporaryDirectory(prefix="xmtag-encode-") as tmpdir:
        tmp = Path(tmpdir) / f"audio.{fmt}"
        try:
            _write_sound(tmp, y, sr, kind, subtype, **kw)
            return tmp.read_bytes()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OutputError(
                    f"Cannot encode {fmt}: the temporary folder {tempfile.gettempdir()!r} is full. Free "
                    "space there or point TMPDIR at another folder."
                ) from exc
            raise OutputError(f"Cannot encode {fmt}: {_clean(exc)}.") from exc
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            try:
                _raise_if_disk_full(tmp, y, exc)
            except OSError as full:
                raise OutputError(
                    f"Cannot encode {fmt}: the temporary folder {tempfile.gettempdir()!r} is full. Free "
                    "space there or point TMPDIR at another folder."
                ) from full
            raise OutputError(f"Cannot encode {fmt}: {_clean(exc)}.") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
