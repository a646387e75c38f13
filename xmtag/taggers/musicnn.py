"""The pretrained musicnn taggers (Pons & Serra, 2019) in PyTorch, offline, on CPU or GPU.

The weights ship inside xmtag (``xmtag/data/musicnn/``, ISC licence of the original, see
:mod:`xmtag.taggers.musicnn_weights`): the inference variables of the TensorFlow 1 checkpoints
of the ``musicnn`` PyPI package, converted once to float32 safetensors files. The ``musicnn``
package is not needed (its code needs TensorFlow 1 and numpy < 1.17 and is never imported).
Users' own musicnn checkpoints run with ``MusicnnTagger(model, checkpoint=folder)``: they are
read by :mod:`xmtag.taggers.tfcheckpoint` (numpy only, CRC-checked), converted and cached in
:mod:`xmtag.cache` under a key made of the checkpoint files' SHA-256.

Models: ``musicnn-msd`` / ``musicnn-mtt`` (musically motivated CNN, 787 k parameters, 50 tags
from the Million Song Dataset / MagnaTagATune) and ``msd-vgg`` / ``mtt-vgg`` (5-layer VGG-like
CNN, 128 filters, 606 k parameters). The networks are :class:`torch.nn.Module` s
(:mod:`xmtag.taggers.musicnn_net`): ``tagger.module`` has a ``state_dict`` and moves with
``tagger.to(device)``.

Devices, threads and precision
------------------------------
``device="auto"`` (the default) runs on CUDA when torch sees a GPU, else on the CPU
(:func:`xmtag._checks.resolve_device`; ``XMTAG_DEVICE`` overrides it). On the CPU, passes of
``batch_size`` patches (default 2) run in ``num_threads`` worker threads of one OpenMP thread
each (:func:`xmtag._threads.limit_threads`: a per-thread setting, so the process-wide
``torch.set_num_threads`` is never called); on a GPU all patches go in passes of 64.
``precision="bf16"`` runs the network under ``torch.autocast`` in bfloat16 (off by default;
the spectrogram stays float32/float64; which layers use bfloat16 is described in
:mod:`xmtag.taggers.musicnn_net`): 0.7-1.0x the float32 time on the 2-core AVX512-BF16 CPU
without AMX it was measured on, largest deviation from float32 on 85 patches of recorded music
4.0e-3 (musicnn-msd), 6.5e-3 (msd-vgg) (``benchmarks/tagger_speed.py``).

Preprocessing, exactly as ``musicnn.extractor.batch_data`` run with librosa >= 0.10:

* audio mono at 16 kHz (``load_audio(path, sr=16000, mono=True)`` resamples
  with soxr; the original used ``librosa.load``, also soxr);
* power mel spectrogram of the **whole clip**: STFT with a periodic Hann window,
  ``n_fft=512``, ``hop=256``, ``center=True`` with zero padding of 256 samples
  at both ends (librosa's default ``pad_mode="constant"`` since 0.10; librosa
  < 0.10 reflect-padded, which changes only the first and last frame of a clip),
  ``|X|**2``, 96 Slaney-style mel bands from 0 to 8 kHz with Slaney area
  normalisation (``librosa.filters.mel`` defaults, reimplemented in
  :func:`mel_filterbank`, bit-identical to librosa's); the STFT and the mel
  product are computed in float64 (numpy 1's FFT, which librosa used, is float64
  too) and then rounded to float32;
* the spectrogram is rounded to float16 (``astype(np.float16)`` in the original)
  and ``log10(10000 * x + 1)`` is computed in **float32**, as numpy 1 did. (Under
  numpy 2 the original code computes that in float16, overflows to inf, and every
  tag silently becomes NaN: one reason xmtag carries its own port.)
* the log-mel spectrogram is cut into non-overlapping patches of 187 frames
  (``librosa.time_to_frames(3) + 1``); the network tags each patch; a clip's
  tags are the mean over its patches (the mean of the original's *taggram*).

Patches and samples: frame ``t`` covers samples ``[256 t - 256, 256 t + 256)``
(zero outside the clip), so patch ``p`` (frames ``187 p ... 187 p + 186``) is a
function of samples ``[47872 p - 256, 47872 (p + 1))`` and
``patch_length = 187 * 256 = 47872`` samples (2.992 s). Because the spectrogram
is computed on the whole clip before slicing (exactly like the original),
**neighbouring patches share the STFT window context at their edges**: the first
frame of patch ``p`` also sees the last 256 samples of patch ``p - 1`` (patch 0
sees zero padding there); nothing after a patch's end reaches it. Attribution
code that treats patches as independent should know this (one frame in 187).
``P = N // 47872`` whole patches are used; the trailing remainder is dropped
(the original would use one extra patch in the rare case that the remainder is
at least 47616 samples). Clips shorter than one patch are zero-padded to one
patch with a :class:`~xmtag.taggers.base.ShortClipWarning` (the original fails
on them).

The network (:mod:`xmtag.taggers.musicnn_net`) is a faithful transcription of
``musicnn.models`` in inference mode, run through exact algebraic rewrites (batch norm folded
into the convolutions, pooling before the element-wise work); outputs match the original
TensorFlow code to float32 summation-order noise (max |difference| ~2e-6 on the fixtures,
tested at 2e-5). The network costs 2.80 GFLOP per patch (``torch.utils.flop_counter``), 81 % of
it in the two timbral convolutions (7 x 38 and 7 x 67 kernels, 204 filters).
``benchmarks/tagger_speed.py`` measures the speed.

Examples
--------
>>> import numpy as np, xmtag
>>> tagger = xmtag.load_tagger("musicnn-msd", device="cpu")
>>> y = np.zeros((1, 3 * 47872), np.float32)
>>> tagger.predict_patches(y).shape
(1, 3, 50)
>>> tagger.module.f74.weight.shape
torch.Size([204, 1, 7, 38])
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import choice, positive_int, resolve_device, threads
from .._threads import limit_threads
from ..cache import Cache, default_cache, make_key
from ..errors import ModelNotFoundError, TaggerError
from .base import SampleRateAlias, check_batch, split_patches
from .musicnn_weights import (
    CONVERTER_VERSION,
    checkpoint_digest,
    convert_checkpoint,
    musicnn_checkpoint,
    shipped_manifest,
    shipped_weights,
)

__all__ = [
    "MODELS",
    "MSD_LABELS",
    "MTT_LABELS",
    "MusicnnTagger",
    "PATCH_FRAMES",
    "PATCH_LENGTH",
    "PRECISIONS",
    "SAMPLE_RATE",
    "log_mel",
    "mel_filterbank",
    "musicnn_checkpoint",
]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187
PATCH_LENGTH = PATCH_FRAMES * HOP  # 47872 samples
PRECISIONS = ("fp32", "bf16")
_CPU_BATCH, _GPU_BATCH = 2, 64

# fmt: off
MTT_LABELS = ['guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast', 'piano', 'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male', 'singing', 'vocals', 'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman', 'male vocal', 'no vocal', 'pop', 'soft', 'sitar', 'solo', 'man', 'classic', 'choir', 'voice', 'new age', 'dance', 'male voice', 'female vocal', 'beats', 'harp', 'cello', 'no voice', 'weird', 'country', 'metal', 'female voice', 'choral']  # noqa: E501
MSD_LABELS = ['rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s', 'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists', 'classic rock', 'soul', 'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill', 'instrumental', 'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic', 'experimental', 'female vocalist', 'guitar', 'Hip-Hop', '70s', 'party', 'country', 'easy listening', 'sexy', 'catchy', 'funk', 'electro', 'heavy metal', 'Progressive rock', '60s', 'rnb', 'indie pop', 'sad', 'House', 'happy']  # noqa: E501
# fmt: on

#: xmtag name -> (folder in the musicnn package, architecture, labels)
MODELS: dict[str, tuple[str, str, list[str]]] = {
    "musicnn-msd": ("MSD_musicnn", "musicnn", MSD_LABELS),
    "musicnn-mtt": ("MTT_musicnn", "musicnn", MTT_LABELS),
    "msd-vgg": ("MSD_vgg", "vgg", MSD_LABELS),
    "mtt-vgg": ("MTT_vgg", "vgg", MTT_LABELS),
}


# --------------------------------------------------------------------------- preprocessing
def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    mels = f / f_sp
    return np.where(
        f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney mel filterbank, identical to ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)``.

    Slaney mel scale (linear below 1 kHz, logarithmic above), triangles from 0 Hz
    to ``sr / 2``, area-normalised; float32 with librosa's rounding steps.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n_mels, 1 + n_fft // 2)``.

    Examples
    --------
    >>> fb = mel_filterbank()
    >>> fb.shape, fb.dtype
    ((96, 257), dtype('float32'))
    """
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights


_FB_CACHE: dict[str, Any] = {}


def log_mel(batch: np.ndarray) -> np.ndarray:
    """musicnn's input representation of whole clips: ``(B, N)`` at 16 kHz -> ``(B, 1 + N // 256, 96)``.

    ``log10(10000 * float16(mel) + 1)`` in float32, see the module docstring.

    Examples
    --------
    >>> log_mel(np.zeros((2, 1000), np.float32)).shape
    (2, 4, 96)
    """
    import torch

    y = check_batch(batch)
    with torch.inference_mode():
        return _log_mel_torch(torch.from_numpy(y)).numpy()


def _log_mel_torch(y):
    import torch

    dev = str(y.device)
    if dev not in _FB_CACHE:  # filterbank and window per device
        fb = torch.from_numpy(mel_filterbank().astype(np.float64)).to(y.device)
        _FB_CACHE[dev] = (fb, torch.hann_window(N_FFT, periodic=True, dtype=torch.float64, device=y.device))
    fb, win = _FB_CACHE[dev]
    spec = torch.stft(
        y.to(torch.float64),
        n_fft=N_FFT,
        hop_length=HOP,
        window=win,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )  # (B, 257, T)
    power = spec.real.square() + spec.imag.square()
    mel = torch.matmul(fb, power).transpose(1, 2)  # (B, T, 96)
    mel = mel.to(torch.float32).to(torch.float16).to(torch.float32)
    return torch.log10(mel * 10000.0 + 1.0)


# --------------------------------------------------------------------------- weights
def _checkpoint_weights(folder: Path, arch: str, cache: Cache) -> tuple[dict[str, np.ndarray], str]:
    """A user's TF checkpoint, converted once and cached under the checkpoint files' SHA-256."""
    digest = checkpoint_digest(folder)
    key = make_key("musicnn-torch-weights", CONVERTER_VERSION, arch, digest)
    meta = {"source": str(folder), "arch": arch, "checkpoint": digest}
    arrays, _meta = cache.get_or_compute("taggers", key, lambda: (convert_checkpoint(folder, arch), meta))
    return arrays, digest


# --------------------------------------------------------------------------- the tagger
class MusicnnTagger(SampleRateAlias):
    """A pretrained musicnn (or VGG) tagger, run in PyTorch on the CPU or a GPU.

    Usually made with :func:`xmtag.load_tagger` (``"musicnn-msd"``, ``"musicnn-mtt"``,
    ``"msd-vgg"``, ``"mtt-vgg"``).

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    checkpoint : str or os.PathLike, optional
        Folder holding a TensorFlow checkpoint of the same architecture (``.index`` +
        ``.data-00000-of-00001``), e.g. one you trained with the musicnn training code;
        default: the weights shipped inside xmtag.
    device : str or torch.device
        ``"auto"`` (default: CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    precision : str
        ``"fp32"`` (default) or ``"bf16"``: the network under ``torch.autocast`` in bfloat16
        (faster where the CPU has AVX512-BF16 or AMX, and on recent GPUs; tag probabilities
        within ~5e-3 of float32, see the module docstring).
    batch_size : int, optional
        Patches per forward pass (bounds memory: about 20 MB of intermediates per musicnn
        patch). Default 2 on the CPU (small passes keep the intermediates in cache) and 64
        on a GPU.
    num_threads : int, optional
        CPU threads (default: the calling thread's ``torch.get_num_threads()``). Passes run as
        that many independent single-threaded workers; each pass is computed the same way
        whatever the thread count, so results do not depend on it. Never changes torch's
        process-wide setting (:mod:`xmtag._threads`).
    cache : xmtag.cache.Cache, optional
        Where a converted user checkpoint is cached (default :func:`xmtag.cache.default_cache`).

    Attributes
    ----------
    labels : list of str
    sample_rate : int
        16000.
    patch_length : int
        47872 samples (187 frames of 256 samples).
    name : str
        The model name (``"+bf16"`` appended in bfloat16, so cached results never mix).
    module : torch.nn.Module
        The network (:class:`~xmtag.taggers.musicnn_net.MusicnnNet` or ``VggNet``).
    device : torch.device
    weights : str
        ``"xmtag"`` (shipped) or the checkpoint folder.
    checkpoint_hash : str
        Digest of the TensorFlow checkpoint the weights come from.

    Raises
    ------
    ModelNotFoundError
        Unknown model name or missing checkpoint.
    XmtagError
        A bad ``device``, ``precision``, ``batch_size`` or ``num_threads``.
    """

    sample_rate: int = SAMPLE_RATE
    patch_length: int = PATCH_LENGTH
    #: samples before a patch that reach its output: its first STFT frame (see the module docstring)
    patch_context: int = HOP

    def __init__(
        self,
        model: str = "musicnn-msd",
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        device: Any = "auto",
        precision: str = "fp32",
        batch_size: int | None = None,
        num_threads: int | None = None,
        cache: Cache | None = None,
    ) -> None:
        from .musicnn_net import build_network

        if model not in MODELS:
            raise ModelNotFoundError(f"Unknown musicnn model {model!r}; choose one of {sorted(MODELS)}.")
        folder_name, self.arch, labels = MODELS[model]
        self.precision = choice(precision, "precision", PRECISIONS)
        self.model = model
        self.name = model if self.precision == "fp32" else f"{model}+{self.precision}"
        self.labels = list(labels)
        self._batch_size = positive_int(batch_size, "batch_size", allow_none=True, error=TaggerError)
        self.num_threads = threads(num_threads, "num_threads")
        if checkpoint is None:
            state = shipped_weights(folder_name)
            self.weights = "xmtag"
            self.checkpoint_hash = shipped_manifest()[folder_name]["checkpoint_digest"]
        else:
            folder = Path(checkpoint)
            state, self.checkpoint_hash = _checkpoint_weights(folder, self.arch, cache or default_cache())
            self.weights = str(folder)
        self.module = build_network(self.arch, state)
        self.n_parameters = int(sum(p.numel() for p in self.module.parameters()))
        self.device = resolve_device(device)
        self.module.to(self.device)

    def __repr__(self) -> str:
        return (
            f"MusicnnTagger({self.model!r}, device={str(self.device)!r}, precision={self.precision!r}, "
            f"weights={self.weights!r})"
        )

    @property
    def batch_size(self) -> int:
        """Patches per forward pass (default 2 on the CPU, 64 on a GPU)."""
        if self._batch_size is not None:
            return self._batch_size
        return _CPU_BATCH if self.device.type == "cpu" else _GPU_BATCH

    def to(self, device: Any) -> MusicnnTagger:
        """Move the network to ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``, ...); returns ``self``."""
        self.device = resolve_device(device)
        self.module.to(self.device)
        return self

    def melspectrogram(self, batch: np.ndarray) -> np.ndarray:
        """The network's input for whole clips, ``(B, 1 + N // 256, 96)`` (see :func:`log_mel`)."""
        return log_mel(batch)

    def _autocast(self):
        import contextlib

        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _forward(self, x):
        """One pass on a device tensor of log-mel patches -> float32 CPU tensor."""
        with self._autocast():
            out = self.module(x)
        return out.float().cpu()

    def _check_runnable(self) -> None:
        if self.device.type == "meta":
            raise TaggerError(
                "This tagger is on the 'meta' device, which holds shapes but no data; "
                "move it with tagger.to('cpu') or tagger.to('cuda') to compute tags."
            )

    def predict_mel(self, patches: np.ndarray) -> np.ndarray:
        """Run the network on log-mel patches ``(M, 187, 96)`` -> ``(M, n_tags)``."""
        import torch

        self._check_runnable()
        x = np.asarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise TaggerError(f"expected log-mel patches shaped (M, 187, 96), got {x.shape}.")
        out = np.empty((x.shape[0], len(self.labels)), np.float32)
        xt = torch.from_numpy(np.ascontiguousarray(x))
        bs = self.batch_size
        starts = range(0, x.shape[0], bs)
        self.module.folded()  # fold the weights once, before any worker thread runs

        def run(start: int) -> None:
            with torch.inference_mode():
                out[start : start + bs] = self._forward(xt[start : start + bs].to(self.device)).numpy()

        if self.device.type != "cpu":
            for start in starts:
                run(start)
            return out
        n_threads = int(self.num_threads or torch.get_num_threads())
        if n_threads > 1 and len(starts) > 1:
            # independent single-threaded workers over chunks of patches (torch releases the GIL
            # in its kernels): no OpenMP barrier per operation, which on a busy machine makes
            # intra-op threading much slower than one thread
            from concurrent.futures import ThreadPoolExecutor

            def work(start: int) -> None:
                with limit_threads(1):
                    run(start)

            with ThreadPoolExecutor(min(n_threads, len(starts))) as pool:
                list(pool.map(work, starts))
        else:
            with limit_threads(self.num_threads):
                for start in starts:
                    run(start)
        return out

    def predict_patches(self, batch: np.ndarray) -> np.ndarray:
        """Per-patch tag probabilities ``(B, P, n_tags)``, ``P = N // 47872`` (at least 1).

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at 16 kHz (1-D: one clip).

        Returns
        -------
        numpy.ndarray
            float32 sigmoid outputs in [0, 1].

        Raises
        ------
        TaggerError
            For an empty batch, zero-length, NaN/inf, integer or 3-D input.
        """
        import torch

        self._check_runnable()
        y = check_batch(batch)
        b, n = y.shape
        if n < PATCH_LENGTH:
            y = split_patches(y, PATCH_LENGTH).reshape(b, PATCH_LENGTH)  # pads, warns
        p = y.shape[1] // PATCH_LENGTH
        # spectrogram in bounded chunks of clips, patches of all clips in one stream
        clips_per_chunk = max(1, 64 // p)  # STFT of at most ~64 patches at a time
        mels = []
        n_threads = self.num_threads if self.device.type == "cpu" else None
        with torch.inference_mode(), limit_threads(n_threads):
            for start in range(0, b, clips_per_chunk):
                chunk = torch.from_numpy(y[start : start + clips_per_chunk, : p * PATCH_LENGTH])
                mel = _log_mel_torch(chunk.to(self.device))[:, : p * PATCH_FRAMES]
                mels.append(mel.reshape(-1, PATCH_FRAMES, N_MELS).cpu().numpy())
        out = self.predict_mel(np.concatenate(mels))
        return out.reshape(b, p, len(self.labels))

    def predict_windows(self, windows: np.ndarray) -> np.ndarray:
        """Outputs of single patches given with their receptive field, ``(M, 256 + 47872) -> (M, n_tags)``.

        Row ``m`` holds the ``patch_context = 256`` samples before a patch (zeros before the
        start of a clip) and the patch's 47872 samples; the output equals that patch's row of
        :meth:`predict_patches` on the whole clip (bit for bit on CPU: the same centred STFT
        frames, taken from the window's frames 1 to 187). Used by
        :func:`xmtag.coalitions.evaluate` to evaluate each distinct patch input once.

        Raises
        ------
        TaggerError
            For windows of another length, or invalid samples.
        """
        x = check_batch(windows, "windows")
        if x.shape[1] != HOP + PATCH_LENGTH:
            raise TaggerError(
                f"windows must have {HOP + PATCH_LENGTH} samples (256 + one patch), got shape {x.shape}."
            )
        # 189 centred frames per window; frames 1..187 are the patch's frames in its clip
        mels = [self.melspectrogram(x[a : a + 64])[:, 1 : 1 + PATCH_FRAMES] for a in range(0, len(x), 64)]
        return self.predict_mel(np.concatenate(mels))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Clip-level tag probabilities ``(B, n_tags)``: the mean of :meth:`predict_patches`.

        Parameters
        ----------
        batch : numpy.ndarray
            float32 ``(B, N)`` mono clips at 16 kHz (1-D: one clip).

        Returns
        -------
        numpy.ndarray
            float32 ``(B, n_tags)`` in [0, 1].

        Raises
        ------
        TaggerError
            As :meth:`predict_patches`.

        Examples
        --------
        >>> import xmtag
        >>> tagger = xmtag.load_tagger("musicnn-msd", device="cpu")
        >>> y, sr = xmtag.load_audio(xmtag.datasets.demo_path() / "guitar.ogg", sr=16000, mono=True)
        >>> probs = tagger.predict(y[:, : 3 * 16000])
        >>> probs.shape, tagger.labels[int(probs[0].argmax())]
        ((1, 50), 'blues')
        """
        return self.predict_patches(batch).mean(axis=1)
