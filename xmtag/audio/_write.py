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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from .._checks import choice, positive_int
from .._files import atomic_path
from ..errors import AudioError, OutputError, XmtagError
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
    step = _BLOCK // 4
    blocks = (y[:, a : a + step] for a in range(0, y.shape[1], step))
    _write_stream(path, blocks, sr, y.shape[0], fmt, subtype, **kw)


def _write_stream(
    path: Path, blocks: Iterable[np.ndarray], sr: int, channels: int, fmt: str, subtype: str | None, **kw
) -> int:
    """Write ``(channels, n)`` blocks to ``path`` by name, one block in memory; returns the frames."""
    sf = _soundfile()
    frames = 0
    with sf.SoundFile(str(path), "w", int(sr), int(channels), subtype=subtype, format=fmt, **kw) as fh:
        for y in blocks:
            fh.write(np.ascontiguousarray(y.T))
            frames += y.shape[1]
    return frames


def _fit_blocks(
    blocks: Iterable[np.ndarray], sr: int, channels: int, fmt: str, peak: float | None = None
) -> tuple[Iterator[np.ndarray], int, int]:
    """:func:`_fit_format` for a stream of blocks (soxr's streaming resampler for other MP3 rates),
    each block divided by ``peak`` when given."""
    out_sr = 44100 if fmt == "mp3" and sr not in MP3_RATES else sr
    out_ch = 2 if channels > MAX_CHANNELS.get(fmt, 1024) else channels

    def gen() -> Iterator[np.ndarray]:
        import soxr

        stream = None if out_sr == sr else soxr.ResampleStream(sr, out_sr, out_ch, dtype="float32")
        for y in blocks:
            y = np.asarray(y, dtype=np.float32)
            if out_ch != channels:
                y = to_stereo(y)
            if peak is not None:
                y = y / np.float32(peak)
            if stream is not None:
                y = stream.resample_chunk(np.ascontiguousarray(y.T)).T
            if y.shape[1]:
                yield y
        if stream is not None:
            tail = stream.resample_chunk(np.zeros((0, out_ch), np.float32), last=True).T
            if tail.shape[1]:
                yield tail

    return gen(), out_sr, out_ch


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
    fmt = choice(str(format).lower().lstrip("."), "encode_audio(): format", ENCODE_FORMATS)
    y = check_waveform(y, f"audio to encode as {fmt}")
    sr = positive_int(sr, "encode_audio(): sr", error=AudioError)
    y, sr = _fit_format(y, sr, fmt)
    if normalize:
        peak = float(np.abs(y).max()) if y.size else 0.0
        if peak > 1.0:
            y = y / np.float32(peak)
    return _encode_with(
        lambda tmp, kind, sub, **kw: _write_sound(tmp, y, sr, kind, sub, **kw), fmt, subtype, y.shape[0]
    )


def _encode_with(write: Callable[..., object], fmt: str, subtype: str | None, channels: int) -> bytes:
    """Run ``write(tmp, kind, subtype, **kw)`` into a temporary file and return its bytes."""
    sf = _soundfile()
    kind = fmt.upper()
    if kind not in sf.available_formats():
        raise OutputError(f"This libsndfile ({sf.__libsndfile_version__}) cannot write {kind}; use 'ogg'.")
    kw = {"compression_level": 0.5} if fmt == "mp3" else {}
    subtype = subtype or DEFAULT_SUBTYPES[f".{fmt}"]
    y = np.empty((channels, 0), np.float32)  # for the free-space check
    with tempfile.TemporaryDirectory(prefix="xmtag-encode-") as tmpdir:
        tmp = Path(tmpdir) / f"audio.{fmt}"
        try:
            write(tmp, kind, subtype, **kw)
            return tmp.read_bytes()
        except XmtagError:  # a bad block (or a failing read behind it) says what it is
            raise
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


def save_blocks(
    path: str | os.PathLike[str],
    blocks: Iterable[np.ndarray],
    sr: int,
    channels: int,
    subtype: str | None = None,
) -> Path:
    """Write a waveform given as ``(channels, n)`` blocks, atomically, one block in memory.

    :func:`save_audio` for audio that is never whole in memory (the mix of an hour's stems). The
    format follows the extension, with :func:`save_audio`'s defaults; blocks are checked for
    NaN/inf as they come.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    blocks : iterable of numpy.ndarray
        float ``(channels, n)`` blocks, in order.
    sr : int
        Sample rate in Hz.
    channels : int
        Channels of every block.
    subtype : str, optional
        A libsndfile subtype such as ``"PCM_16"``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputError
        As :func:`save_audio`; nothing is left under ``path`` when writing fails.
    AudioError
        For a block with NaN/inf or the wrong number of channels, or no samples at all.

    Examples
    --------
    >>> import tempfile, os
    >>> blocks = (np.zeros((2, 100), np.float32) for _ in range(3))
    >>> p = save_blocks(os.path.join(tempfile.mkdtemp(), "x.wav"), blocks, 8000, 2)
    >>> import soundfile; soundfile.info(str(p)).frames
    300
    """
    sf = _soundfile()
    p = Path(path)
    sr = positive_int(sr, f"save_blocks({str(p)!r}): sr", error=AudioError)
    channels = positive_int(channels, f"save_blocks({str(p)!r}): channels", error=AudioError)
    if p.is_dir():
        raise OutputError(f"Cannot write {str(p)!r}: it is a directory. Give a file name.")
    ext = p.suffix.lower()
    fmt = ext.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise OutputError(
            f"Cannot write {str(p)!r}: unknown audio extension {ext!r}. Use .wav, .flac, .ogg or .mp3."
        )
    subtype = subtype or DEFAULT_SUBTYPES.get(ext)
    checked = _checked(blocks, channels, f"Audio for {str(p)!r}")
    fitted, sr, channels = _fit_blocks(checked, sr, channels, fmt.lower())
    with atomic_path(p) as tmp:
        try:
            n = _write_stream(tmp, fitted, sr, channels, fmt, subtype)
        except XmtagError:  # a bad block (or a failing read behind it) says what it is
            raise
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            _raise_if_disk_full(tmp, np.empty((channels, 0)), exc)
            raise OutputError(f"Cannot write {str(p)!r}: {_clean(exc)}.") from exc
        if n == 0:
            raise AudioError(f"Audio for {str(p)!r} has no samples.")
    return p


def encode_blocks(
    blocks: Callable[[], Iterable[np.ndarray]],
    sr: int,
    channels: int,
    format: str = "mp3",
    *,
    subtype: str | None = None,
    normalize: bool = False,
) -> bytes:
    """:func:`encode_audio` for audio given as blocks: the bytes of an audio file, one block in memory.

    Parameters
    ----------
    blocks : callable
        Returns a fresh iterable of float ``(channels, n)`` blocks each time it is called (twice
        with ``normalize``: once for the peak, once to encode).
    sr : int
        Sample rate in Hz.
    channels : int
        Channels of every block.
    format, subtype, normalize
        As :func:`encode_audio`; the result is the same bytes as :func:`encode_audio` of the
        concatenated blocks (``normalize`` takes the peak before any downmix or resampling).

    Returns
    -------
    bytes

    Examples
    --------
    >>> y = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 8000)).astype(np.float32)
    >>> whole = encode_audio(y, 8000, "flac")
    >>> encode_blocks(lambda: (y[:, a : a + 3000] for a in range(0, 8000, 3000)), 8000, 2, "flac") == whole
    True
    """
    fmt = choice(str(format).lower().lstrip("."), "encode_blocks(): format", ENCODE_FORMATS)
    sr = positive_int(sr, "encode_blocks(): sr", error=AudioError)
    channels = positive_int(channels, "encode_blocks(): channels", error=AudioError)
    peak = None
    if normalize:
        top = 0.0
        for y in _checked(blocks(), channels, f"audio to encode as {fmt}"):
            top = max(top, float(np.abs(y).max()) if y.size else 0.0)
        peak = top if top > 1.0 else None
    checked = _checked(blocks(), channels, f"audio to encode as {fmt}")
    fitted, out_sr, out_ch = _fit_blocks(checked, sr, channels, fmt, peak)

    def write(tmp: Path, kind: str, sub: str, **kw: object) -> None:
        _write_stream(tmp, fitted, out_sr, out_ch, kind, sub, **kw)

    return _encode_with(write, fmt, subtype, out_ch)


def _checked(blocks: Iterable[np.ndarray], channels: int, what: str) -> Iterator[np.ndarray]:
    """Blocks as float32 ``(channels, n)``, each checked for its shape and for NaN/inf."""
    pos = 0
    for y in blocks:
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1:
            y = y[np.newaxis]
        if y.ndim != 2 or y.shape[0] != channels:
            raise AudioError(f"{what}: a block of shape {y.shape} where ({channels}, n) was expected.")
        if not np.isfinite(y).all():
            raise AudioError(f"{what}: NaN or infinite samples in the block at sample {pos}.")
        pos += y.shape[1]
        yield y
