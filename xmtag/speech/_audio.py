"""Audio for the speech models: one mono float32 waveform at 16 kHz, from a file or an array.

:func:`prepare_audio` gives the whole waveform; :func:`speech_source` gives a
:class:`SpeechSource` that is read block by block (a file is streamed with
:func:`xmtag.audio.stream_audio`, so memory holds one block whatever the file's length) and
whose sample ranges can be read again later (:meth:`SpeechSource.ranges`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..audio import check_waveform, load_audio, resample, stream_audio, to_mono
from ..errors import XmtagError

__all__ = ["SAMPLE_RATE", "prepare_audio", "speech_source", "SpeechSource"]

#: The rate every speech model here reads (Whisper, the segmentation model, the speaker encoders).
SAMPLE_RATE = 16000
#: samples per block when a source is read block by block (16.4 s at 16 kHz)
BLOCK = 2**18


def prepare_audio(audio: Any, sr: int | None, who: str = "transcribe") -> tuple[np.ndarray, str]:
    """Return a 1-D float32 waveform at 16 kHz and a name for messages."""
    if isinstance(audio, (str, os.PathLike)):
        y, _ = load_audio(audio, sr=SAMPLE_RATE, mono=True)
        return y[0], os.fspath(audio)
    return _array(audio, sr, who), "audio array"


def _array(audio: Any, sr: int | None, who: str) -> np.ndarray:
    if isinstance(audio, np.ndarray) or hasattr(audio, "__array__"):
        if sr is None:
            raise XmtagError(
                f"{who}(): an array needs its sample rate; pass sr=... (e.g. sr=16000), or give a file path."
            )
        y = to_mono(check_waveform(np.asarray(audio), "audio"))
        if int(sr) != SAMPLE_RATE:
            y = resample(y, int(sr), SAMPLE_RATE)
        return y[0]
    raise XmtagError(f"{who}(): expected a file path or a waveform array, got {type(audio).__name__}.")


class SpeechSource:
    """Mono 16-kHz speech audio read in order, block by block: a waveform or a streamed file.

    Attributes
    ----------
    name : str
        The file's path, or ``"audio array"``.
    path : str or None
        The file (``None`` for an array).
    frames : int or None
        Samples at 16 kHz when known before reading (exact for an array, from the header for a
        file, ``None`` when a container does not say).
    """

    def __init__(self, y: np.ndarray | None = None, path: str | None = None, block: int = BLOCK) -> None:
        self._y = y
        self.path = path
        self.block = int(block)
        self._stream = None
        if path is not None:
            self._stream = stream_audio(path, sr=SAMPLE_RATE, mono=True, block=self.block)
            self.name = path
            self.frames = self._stream.frames
        else:
            assert y is not None
            self.name = "audio array"
            self.frames = int(y.shape[0])

    @classmethod
    def of(cls, audio: Any) -> SpeechSource:
        """``audio`` itself when it is a source, else a source over the 1-D waveform ``audio``."""
        return audio if isinstance(audio, SpeechSource) else cls(np.asarray(audio, dtype=np.float32))

    def blocks(self) -> Iterator[np.ndarray]:
        """1-D float32 blocks that, concatenated, give the whole waveform (a file is read again)."""
        if self._stream is None:
            y = self._y
            for a in range(0, y.shape[0], self.block):
                yield y[a : a + self.block]
            return
        for b in self._stream:
            yield b[0]

    def ranges(self, bounds: list[tuple[int, int]]) -> list[np.ndarray]:
        """The samples ``[a, b)`` of each of ``bounds`` (clipped to the audio), in one pass.

        A file is read once more, block by block; only the requested samples are kept.
        """
        if self._stream is None:
            return [self._y[max(0, a) : max(0, b)] for a, b in bounds]
        bounds = [(max(0, int(a)), max(0, int(b))) for a, b in bounds]
        pieces: list[list[np.ndarray]] = [[] for _ in bounds]
        order = sorted(range(len(bounds)), key=lambda i: bounds[i][0])
        first = 0  # bounds before order[first] end before the current block
        if bounds:
            last_end = max(b for _, b in bounds)
            pos = 0
            for x in self.blocks():
                end = pos + x.shape[0]
                for i in order[first:]:
                    a, b = bounds[i]
                    if a >= end:
                        break
                    if b > pos and b > a:
                        pieces[i].append(x[max(a, pos) - pos : min(b, end) - pos].copy())
                while first < len(order) and bounds[order[first]][1] <= end:
                    first += 1
                pos = end
                if pos >= last_end:
                    break
        return [np.concatenate(p) if p else np.zeros(0, np.float32) for p in pieces]


def speech_source(audio: Any, sr: int | None, who: str = "diarize", block: int = BLOCK) -> SpeechSource:
    """A :class:`SpeechSource` over a file (streamed) or an array (at 16 kHz, mono).

    Raises
    ------
    AudioFileNotFoundError, AudioError
        A missing file, or one that is not audio (when opened; a corrupt block raises while
        reading).
    XmtagError
        An array without ``sr``, or neither a path nor an array.
    """
    if isinstance(audio, SpeechSource):
        return audio
    if isinstance(audio, (str, os.PathLike)):
        return SpeechSource(path=os.fspath(audio), block=block)
    return SpeechSource(_array(audio, sr, who), block=block)
