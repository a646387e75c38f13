"""Audio for the speech models: one mono float32 waveform at 16 kHz, from a file or an array."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..audio import check_waveform, load_audio, resample, to_mono
from ..errors import XmtagError

__all__ = ["SAMPLE_RATE", "prepare_audio"]

#: The rate every speech model here reads (Whisper, the segmentation model, the speaker encoders).
SAMPLE_RATE = 16000


def prepare_audio(audio: Any, sr: int | None, who: str = "transcribe") -> tuple[np.ndarray, str]:
    """Return a 1-D float32 waveform at 16 kHz and a name for messages."""
    if isinstance(audio, (str, os.PathLike)):
        y, _ = load_audio(audio, sr=SAMPLE_RATE, mono=True)
        return y[0], os.fspath(audio)
    if isinstance(audio, np.ndarray) or hasattr(audio, "__array__"):
        if sr is None:
            raise XmtagError(
                f"{who}(): an array needs its sample rate; pass sr=... (e.g. sr=16000), or give a file path."
            )
        y = to_mono(check_waveform(np.asarray(audio), "audio"))
        if int(sr) != SAMPLE_RATE:
            y = resample(y, int(sr), SAMPLE_RATE)
        return y[0], "audio array"
    raise XmtagError(f"{who}(): expected a file path or a waveform array, got {type(audio).__name__}.")
