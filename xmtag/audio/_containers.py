"""Audio from video and compressed containers (mp4, m4a, mov, webm, mkv, aac, ...) through PyAV.

libsndfile reads wav, flac, ogg and mp3 but not the containers people record talks and
lectures in. PyAV (``av``) bundles FFmpeg in its wheels (it comes with ``faster-whisper``),
so :func:`xmtag.load_audio` hands such files here. The first audio stream is decoded frame
by frame, converted to float32, mixed to mono if asked (the channel mean, as
:func:`xmtag.audio.to_mono`) and resampled block by block with soxr's streaming resampler
(the same HQ resampler as :func:`xmtag.audio.resample`), so memory holds the output and
one decoded frame, never a second full-length copy at the source rate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import AudioError, MissingDependencyError

__all__ = ["CONTAINER_SUFFIXES", "wants_av", "may_try", "available", "load_av", "open_av", "collect"]

#: extensions that go straight to PyAV (libsndfile cannot read them)
CONTAINER_SUFFIXES = frozenset(
    {".mp4", ".m4a", ".m4b", ".mov", ".webm", ".mkv", ".mka", ".aac", ".avi", ".wmv", ".wma", ".3gp", ".ts"}
)


#: what libsndfile reads: a file with one of these extensions that it rejects is corrupt, not "other"
SNDFILE_SUFFIXES = frozenset(
    {
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".aif",
        ".aiff",
        ".aifc",
        ".au",
        ".snd",
        ".caf",
        ".w64",
        ".rf64",
        ".raw",
        ".sd2",
        ".voc",
        ".htk",
        ".mat",
        ".pvf",
        ".xi",
        ".sds",
        ".nist",
    }
)


def may_try(path: str | os.PathLike[str]) -> bool:
    """Whether PyAV may try a file libsndfile rejected: installed, and not a libsndfile extension.

    A ``.wav`` that libsndfile cannot read stays an error (FFmpeg would decode a damaged file
    leniently); a ``.wma`` or an extension-less file gets a second chance.

    Examples
    --------
    >>> may_try("song.wav")
    False
    """
    return Path(path).suffix.lower() not in SNDFILE_SUFFIXES and available()


def wants_av(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has a container extension that only PyAV reads.

    Examples
    --------
    >>> wants_av("lecture.MP4"), wants_av("song.flac")
    (True, False)
    """
    return Path(path).suffix.lower() in CONTAINER_SUFFIXES


def available() -> bool:
    """Whether PyAV is importable."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def load_av(
    path: str | os.PathLike[str], sr: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a container to float32 ``(channels, samples)``.

    Parameters
    ----------
    path : str or os.PathLike
        A video or audio container FFmpeg reads.
    sr : int, optional
        Output sample rate (default: the stream's).
    mono : bool
        Mix to one channel (the mean of the channels).

    Returns
    -------
    y : numpy.ndarray
    sr : int

    Raises
    ------
    MissingDependencyError
        Without PyAV (``pip install av``, or the ``[speech]`` extra).
    AudioError
        Not a readable container, no audio stream, undecodable or empty audio.
    """
    stream = open_av(path, sr=sr, mono=mono)
    estimate = stream.frames
    return collect(iter(stream), stream.channels, estimate, str(path)), stream.sr


def _import_av(path: str | os.PathLike[str]):
    try:
        import av
    except ImportError as exc:
        raise MissingDependencyError(
            f"Reading {str(path)!r} (a video/compressed container) needs PyAV: pip install av "
            "(also installed by pip install 'xmtag[speech]')."
        ) from exc
    return av


class AVStream:
    """The first audio stream of a container, decoded block by block (see :func:`open_av`).

    Attributes
    ----------
    path : str
    sr : int
        Rate of the blocks.
    channels : int
        Channels of the blocks (1 with ``mono``).
    frames : int or None
        Samples per channel at ``sr`` as the container announces them (an estimate; ``None``
        when it does not say).
    """

    def __init__(self, path: str | os.PathLike[str], sr: int | None, mono: bool, block: int) -> None:
        av = _import_av(path)
        self.path = str(path)
        self.mono = bool(mono)
        self.block = int(block)
        p = Path(path)
        try:
            container = av.open(str(p))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise AudioError(f"Cannot read {str(p)!r} as a media container: {exc}.") from exc
        with container:
            if not container.streams.audio:
                kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
                raise AudioError(
                    f"{str(p)!r} has no audio stream (it holds {kinds}); there is no sound to load. "
                    "Use a file with an audio track."
                )
            stream = container.streams.audio[0]
            self.src_sr = int(stream.rate or stream.codec_context.sample_rate)
            n_src = int(stream.codec_context.channels or 0) or len(stream.layout.channels)
            seconds = None
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000
        self.sr = int(sr) if sr else self.src_sr
        self.channels = 1 if mono else max(1, n_src)
        self.frames = None if not seconds or seconds <= 0 else int(round(seconds * self.sr))

    def __iter__(self) -> Iterator[np.ndarray]:
        av = _import_av(self.path)
        import soxr

        p = self.path
        try:
            container = av.open(p)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise AudioError(f"Cannot read {p!r} as a media container: {exc}.") from exc
        with container:
            stream = container.streams.audio[0]
            stream.thread_type = "AUTO"
            converter = av.AudioResampler(format="fltp", rate=self.src_sr)
            resampler = None
            n_ch = None
            pending: list[np.ndarray] = []
            held = 0
            any_samples = False
            try:
                for packet in container.demux(stream):
                    for frame in packet.decode():
                        for f in converter.resample(frame):
                            x = f.to_ndarray().astype(np.float32, copy=False)
                            if n_ch is None:
                                n_ch = 1 if self.mono else x.shape[0]
                                if self.sr != self.src_sr:
                                    resampler = soxr.ResampleStream(
                                        self.src_sr, self.sr, n_ch, dtype="float32"
                                    )
                            if self.mono:
                                x = x.mean(axis=0, keepdims=True)
                            if resampler is not None:
                                x = resampler.resample_chunk(np.ascontiguousarray(x.T)).T
                            if x.shape[1]:
                                pending.append(np.array(x, dtype=np.float32))
                                held += x.shape[1]
                            if held >= self.block:
                                out = np.concatenate(pending, axis=1)
                                pending, held = [], 0
                                _finite(out, p)
                                any_samples = True
                                yield out
                if resampler is not None:
                    tail = resampler.resample_chunk(np.zeros((0, n_ch), np.float32), last=True).T
                    if tail.shape[1]:
                        pending.append(np.array(tail, dtype=np.float32))
            except (av.FFmpegError, ValueError) as exc:
                raise AudioError(
                    f"Cannot decode the audio of {p!r}: {exc}. The file may be corrupt."
                ) from exc
            if pending:
                out = np.concatenate(pending, axis=1)
                _finite(out, p)
                any_samples = any_samples or out.shape[1] > 0
                yield out
            if not any_samples:
                raise AudioError(f"The audio stream of {p!r} contains zero samples.")


def _finite(y: np.ndarray, path: str) -> None:
    if not np.isfinite(y).all():
        raise AudioError(f"The audio of {path!r} contains NaN or infinite samples.")


def open_av(
    path: str | os.PathLike[str], sr: int | None = None, mono: bool = False, block: int = 1 << 20
) -> AVStream:
    """The first audio stream of a container as an iterable of float32 ``(channels, n)`` blocks.

    Frames are decoded one at a time, mixed to mono if asked and resampled with soxr's
    streaming resampler, and handed out in blocks of about ``block`` samples: memory holds one
    block, whatever the length of the recording.

    Raises
    ------
    MissingDependencyError
        Without PyAV.
    AudioError
        Not a readable container, no audio stream (when opened); undecodable, empty or
        NaN/inf audio (while iterating).
    """
    return AVStream(path, sr, mono, block)


def collect(blocks: Iterator[np.ndarray], n_ch: int, estimate: int | None, name: str) -> np.ndarray:
    """Concatenate blocks into one ``(n_ch, n)`` array without holding them twice.

    The output is preallocated from ``estimate`` (grown by a quarter when the stream runs
    longer), so the peak is about the output, not the output plus a list of blocks.
    """
    size = max(int(estimate or 0) + 4096, 1 << 16)
    out = np.empty((n_ch, size), np.float32)
    pos = 0
    for x in blocks:
        need = pos + x.shape[1]
        if need > out.shape[1]:
            grown = np.empty((n_ch, max(need, out.shape[1] + out.shape[1] // 4)), np.float32)
            grown[:, :pos] = out[:, :pos]
            out = grown
        out[:, pos:need] = x
        pos = need
    if pos == 0:
        raise AudioError(f"The audio stream of {name!r} contains zero samples.")
    if pos < out.shape[1]:  # one channel: a contiguous view; several: a contiguous copy
        out = out[:, :pos] if n_ch == 1 else np.ascontiguousarray(out[:, :pos])
    return out
