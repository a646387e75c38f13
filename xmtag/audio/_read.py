"""Reading audio files: :func:`load_audio` and :func:`audio_info` (libsndfile, PyAV for containers)."""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .._checks import positive_int
from .._files import check_input_file
from ..errors import AudioError
from ._signal import _BLOCK, _check_finite, resample, to_mono

# writing lives in xmtag.audio._write (kept public here: xmtag.audio.save_audio, encode_audio)

__all__ = ["load_audio", "audio_info", "stream_audio", "AudioStream"]


logger = logging.getLogger(__name__)

#: samples (at the output rate) per block of :func:`stream_audio`: 16 s at 16 kHz
_STREAM_BLOCK = 1 << 18


def _soundfile():
    import soundfile as sf

    return sf


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
        why = _clean(exc)
        if "not a regular file" in why or "does not exist" in why:
            # libsndfile's words for "no decoder recognised it"; the file exists and is regular
            why = (
                f"it is not a readable audio file (no decoder recognises the {p.stat().st_size:,} bytes: "
                "damaged, truncated, or not audio)"
            )
        raise AudioError(
            f"Cannot read {str(p)!r} as audio: {why}. Supported: wav, flac, ogg, mp3 "
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
        compressed containers (mp4, m4a, webm, mkv, aac, ...) through PyAV (:mod:`xmtag.audio._containers`).
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
    >>> from xmtag.audio import save_audio
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> t = np.arange(8000) / 8000
    >>> _ = save_audio(path, np.sin(2 * np.pi * 440 * t).astype(np.float32), 8000)
    >>> y, sr = load_audio(path, sr=16000)
    >>> y.shape, y.dtype, sr
    ((1, 16000), dtype('float32'), 16000)
    """
    sr = positive_int(sr, "load_audio(): sr (target rate in Hz)", allow_none=True, error=AudioError)
    from . import (
        _containers as _av,  # video and compressed containers (mp4, m4a, webm, mkv, aac) through PyAV
    )

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
    if (mono and n_ch > 1) or (sr is not None and sr != file_sr):
        # decode, downmix and resample block by block into the output: the file is never
        # held whole at its own rate (a 1-hour stereo 44.1-kHz file is 635 MB as float32)
        stream = AudioStream(p, sr, mono, info=info)
        return _av.collect(iter(stream), stream.channels, stream.frames, str(p)), stream.sr
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


class AudioStream:
    """An audio file as an iterable of float32 ``(channels, n)`` blocks (:func:`stream_audio`).

    Attributes
    ----------
    path : str
    sr : int
        Rate of the blocks (the target rate, or the file's).
    channels : int
        Channels of the blocks (1 with ``mono``).
    frames : int or None
        Samples per channel at ``sr`` (from the header; an estimate for containers, ``None``
        when unknown).
    file_sr : int
        The file's own rate.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sr: int | None = None,
        mono: bool = False,
        block: int = _STREAM_BLOCK,
        info=None,
    ) -> None:
        from . import _containers as _av

        self.path = os.fspath(path)
        self.mono = bool(mono)
        self.block = positive_int(block, "stream_audio(): block (samples)", error=AudioError)
        self._av = None
        if info is None and _av.wants_av(path):
            check_input_file(path, "audio file")
            self._av = _av.open_av(path, sr=sr, mono=mono, block=self.block)
        elif info is None:
            try:
                info = audio_info(path)
            except AudioError:
                if not _av.may_try(path):
                    raise
                self._av = _av.open_av(path, sr=sr, mono=mono, block=self.block)
        if self._av is not None:
            self.file_sr = self._av.src_sr
            self.sr, self.channels, self.frames = self._av.sr, self._av.channels, self._av.frames
            return
        _check_length(Path(path))
        self.file_sr = int(info.samplerate)
        self._file_channels = int(info.channels)
        self._file_frames = int(info.frames)
        self.sr = int(sr) if sr else self.file_sr
        self.channels = 1 if mono else self._file_channels
        known = 0 < self._file_frames < 2**62
        self.frames = int(round(self._file_frames * self.sr / self.file_sr)) if known else None

    @property
    def duration(self) -> float | None:
        """Length in seconds (``None`` when unknown)."""
        return None if self.frames is None else self.frames / self.sr

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._av is not None:
            yield from self._av
            return
        import soxr

        sf = _soundfile()
        p = self.path
        total = self._file_frames if 0 < self._file_frames < 2**62 else None
        resampler = None
        if self.sr != self.file_sr:
            resampler = soxr.ResampleStream(self.file_sr, self.sr, self.channels, dtype="float32")
        pos = 0
        step = max(1, int(round(self.block * self.file_sr / self.sr)))
        try:
            with sf.SoundFile(p) as fh:
                while total is None or pos < total:
                    want = step if total is None else min(step, total - pos)
                    x = fh.read(want, dtype="float32", always_2d=True)
                    last = x.shape[0] < want or (total is not None and pos + x.shape[0] >= total)
                    if x.shape[0]:
                        _check_finite(x.T, f"Audio file {p!r} (block at sample {pos})")
                    y = np.ascontiguousarray(x.T)
                    if self.mono:
                        y = to_mono(y)
                    pos += x.shape[0]
                    if resampler is not None:
                        y = resampler.resample_chunk(np.ascontiguousarray(y.T), last=last).T
                    if y.shape[1]:
                        yield np.ascontiguousarray(y)
                    if last:
                        break
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(
                f"Cannot decode {p!r}: {_clean(exc)}. The file is corrupt or truncated; re-export it."
            ) from exc
        if total is not None and pos < total:
            raise AudioError(
                f"Audio file {p!r} is truncated: its header announces {total} frames but only "
                f"{pos} could be decoded. Re-export or re-download it."
            )
        if pos == 0:
            raise AudioError(
                f"Audio file {p!r} contains zero samples (empty, or truncated or damaged so that no "
                "frame decodes). Re-export it."
            )


def stream_audio(
    path: str | os.PathLike[str], sr: int | None = None, mono: bool = False, block: int = _STREAM_BLOCK
) -> AudioStream:
    """Read an audio file block by block: memory holds one block, whatever the file's length.

    Decoding (libsndfile, or PyAV for containers), the mono downmix and the resampling (soxr's
    streaming resampler, the same samples as :func:`load_audio` gives) all happen per block;
    concatenating the blocks gives exactly ``load_audio(path, sr, mono)[0]``.

    Parameters
    ----------
    path : str or os.PathLike
        Any file :func:`load_audio` reads.
    sr : int, optional
        Resample to this rate (``None``: the file's rate).
    mono : bool
        Mix down to the mean of the channels.
    block : int
        About how many samples (at ``sr``) each block holds (default 2**18).

    Returns
    -------
    AudioStream
        Iterable of float32 ``(channels, n)`` blocks, with ``sr``, ``channels``, ``frames`` and
        ``duration``; it can be iterated more than once (each pass reads the file again).

    Raises
    ------
    AudioFileNotFoundError, AudioError
        As :func:`load_audio`: when opened (missing, empty, not audio, truncated header) or
        while iterating (undecodable, NaN/inf samples, fewer frames than announced).

    Examples
    --------
    >>> import xmtag
    >>> stream = stream_audio(xmtag.datasets.demo_path() / "bass.ogg", sr=16000, mono=True, block=65536)
    >>> stream.sr, stream.channels
    (16000, 1)
    >>> sum(b.shape[1] for b in stream) == stream.frames
    True
    """
    sr = positive_int(sr, "stream_audio(): sr (target rate in Hz)", allow_none=True, error=AudioError)
    return AudioStream(path, sr, mono, block)
