"""Whisper's log-Mel features for a long block in bounded memory, equal to faster-whisper's.

faster-whisper's ``FeatureExtractor`` computes the short-time Fourier transform of its whole
input at once: for a 10-minute transcription block that is a framed copy of the audio, a
complex spectrum and two magnitude arrays, about 0.45 GB at the peak, which set the peak memory
of ``xmtag transcribe`` (and made it grow with the amount of speech in the densest block).
:class:`BoundedFeatureExtractor` does the same arithmetic on :data:`CHUNK_FRAMES` frames at a
time and writes the log-Mel rows into one ``(n_mels, frames)`` array (16 MB for 10 minutes), so
its working set is a few megabytes whatever the input length. Each frame's spectrum depends
only on its own 400 samples, and the final clamp uses the maximum over the whole input, as the
original does: the features are the same numbers (``tests/speech/test_features.py`` checks them
bit for bit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CHUNK_FRAMES", "BoundedFeatureExtractor", "bound_features"]

#: frames (10 ms each) whose spectrum is computed at once: 30 s of audio, a few MB
CHUNK_FRAMES = 3000
#: no chunk is narrower than this (a tail is merged into the chunk before it): BLAS multiplies very
#: narrow matrices by another method, whose sums can differ from the wide product in the last bit
MIN_CHUNK_FRAMES = 64

try:  # faster-whisper is optional (the [speech] extra)
    from faster_whisper.feature_extractor import FeatureExtractor as _Base
except ImportError:  # pragma: no cover - exercised only without faster-whisper
    _Base = object  # type: ignore[assignment,misc]


class BoundedFeatureExtractor(_Base):  # type: ignore[misc,valid-type]
    """faster-whisper's ``FeatureExtractor`` with a working set that does not grow with the input.

    A drop-in replacement: same constructor, attributes and ``__call__`` signature, same
    output (``float32``, ``(n_mels, frames)``), computed :data:`CHUNK_FRAMES` frames at a time.
    """

    chunk_frames: int = CHUNK_FRAMES

    @classmethod
    def like(cls, other: Any) -> BoundedFeatureExtractor:
        """A bounded extractor with the settings (and Mel filters) of ``other``."""
        new = cls.__new__(cls)
        new.__dict__.update(vars(other))
        return new

    def __call__(
        self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None
    ) -> np.ndarray:
        """The log-Mel spectrogram of ``waveform`` (1-D, 16 kHz), as faster-whisper computes it."""
        if chunk_length is not None:  # the original's side effect on the window length
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        if waveform.dtype != np.float32:  # (the original copies float32 input too; same values)
            waveform = waveform.astype(np.float32)
        n_fft, hop = self.n_fft, self.hop_length
        # the end padding, then the STFT's centring (one padded copy is kept)
        x = np.pad(np.pad(waveform, (0, padding)) if padding else waveform, n_fft // 2, mode="reflect")
        if x.shape[0] < n_fft:
            raise ValueError(f"stft: expected 0 < n_fft <= {x.shape[0]}, but got n_fft={n_fft}")
        frames = 1 + (x.shape[0] - n_fft) // hop - 1  # the original drops the last frame
        window = np.hanning(n_fft + 1)[:-1].astype("float32")
        out = np.empty((self.mel_filters.shape[0], frames), dtype=np.float32)
        step = x.strides[0]
        for a in range(0, frames, self.chunk_frames):
            b = min(a + self.chunk_frames, frames)
            if 0 < frames - b < MIN_CHUNK_FRAMES:
                b = frames
            framed = np.lib.stride_tricks.as_strided(x[a * hop :], (1, b - a, n_fft), (0, hop * step, step))
            spectrum = np.fft.rfft(framed * window, n=n_fft, axis=-1).astype("complex64")
            magnitudes = np.abs(spectrum.transpose((0, 2, 1))[0]) ** 2
            out[:, a:b] = np.log10(np.clip(self.mel_filters @ magnitudes, a_min=1e-10, a_max=None))
            del framed, spectrum, magnitudes
            if b == frames:
                break
        np.maximum(out, out.max() - 8.0, out=out)  # in place: the same float32 operations
        out += 4.0
        out /= 4.0
        return out


def bound_features(model: Any) -> Any:
    """Give a faster-whisper ``WhisperModel`` a :class:`BoundedFeatureExtractor` (once); return it."""
    fe = getattr(model, "feature_extractor", None)
    if _Base is not object and isinstance(fe, _Base) and not isinstance(fe, BoundedFeatureExtractor):
        model.feature_extractor = BoundedFeatureExtractor.like(fe)
    return model
