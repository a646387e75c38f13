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
from pathlib import Path

import numpy as np

from ..errors import AudioError, MissingDependencyError

__all__ = ["CONTAINER_SUFFIXES", "wants_av", "may_try", "available", "load_av"]

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
    try:
        import av
    except ImportError as exc:
        raise MissingDependencyError(
            f"Reading {str(path)!r} (a video/compressed container) needs PyAV: pip install av "
            "(also installed by pip install 'xmtag[speech]')."
        ) from exc
    import soxr

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
        stream.thread_type = "AUTO"
        src_sr = int(stream.rate or stream.codec_context.sample_rate)
        out_sr = int(sr) if sr else src_sr
        converter = av.AudioResampler(format="fltp", rate=src_sr)
        blocks: list[np.ndarray] = []
        resampler = None
        n_ch = None
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for f in converter.resample(frame):
                        x = f.to_ndarray().astype(np.float32, copy=False)
                        if n_ch is None:
                            n_ch = 1 if mono else x.shape[0]
                            if out_sr != src_sr:
                                resampler = soxr.ResampleStream(src_sr, out_sr, n_ch, dtype="float32")
                        if mono:
                            x = x.mean(axis=0, keepdims=True)
                        if resampler is not None:
                            x = resampler.resample_chunk(np.ascontiguousarray(x.T)).T
                        if x.shape[1]:
                            blocks.append(np.array(x, dtype=np.float32))
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros((0, n_ch), np.float32), last=True).T
                if tail.shape[1]:
                    blocks.append(np.array(tail, dtype=np.float32))
        except (av.FFmpegError, ValueError) as exc:
            raise AudioError(
                f"Cannot decode the audio of {str(p)!r}: {exc}. The file may be corrupt."
            ) from exc
    if not blocks:
        raise AudioError(f"The audio stream of {str(p)!r} contains zero samples.")
    y = np.concatenate(blocks, axis=1)
    if not np.isfinite(y).all():
        raise AudioError(f"The audio of {str(p)!r} contains NaN or infinite samples.")
    return y, out_sr
