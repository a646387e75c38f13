"""The pretrained musicnn taggers (Pons & Serra, 2019) in PyTorch, offline.

The weights are the TensorFlow 1 checkpoints that the ``musicnn`` PyPI package
ships (``pip install --no-deps musicnn==0.1.0``; its code needs TensorFlow 1 and
numpy < 1.17 and is never imported here). They are read with
:mod:`xmtag.taggers.tfcheckpoint` (numpy only, CRC-checked), converted to
PyTorch layout once and cached in :mod:`xmtag.cache` under a key made of the
checkpoint files' SHA-256, so a changed or corrupt checkpoint is never served
from a stale cache entry, and a corrupt cache entry is detected (checksum) and
rebuilt.

Models: ``musicnn-msd`` / ``musicnn-mtt`` (musically motivated CNN, 790 k
parameters, 50 tags from the Million Song Dataset / MagnaTagATune) and
``msd-vgg`` / ``mtt-vgg`` (5-layer VGG-like CNN, 128 filters).

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

Network: a faithful transcription of ``musicnn.models`` in inference mode
(batch norm with the moving statistics and ``epsilon=1e-3``, dropout off,
TensorFlow's asymmetric ``"same"`` padding for even kernels, the
max/mean-pool interleaving of the original ``concat`` + ``flatten``). Exact
algebraic rewrites (no approximation) are used for speed: the frequency max-pool
after ``relu`` and batch norm is taken before them (``max`` commutes with ``relu``
and with an affine map of positive slope, and becomes ``min`` for a negative slope,
handled by negating those channels' weights once); the ``(k, 1)`` temporal
convolutions run as one matrix product per patch over im2col windows. Outputs
match the original to float32 summation-order noise (max |difference| ~1e-5 on
the fixtures, tested at 1e-3). ``benchmarks/tagger_speed.py`` compares the speed.

The network costs 2.80 GFLOP per patch (``torch.utils.flop_counter``), 81 % of
it in the two timbral convolutions (7 x 38 and 7 x 67 kernels, 204 filters).

Examples
--------
>>> import numpy as np, xmtag
>>> tagger = xmtag.load_tagger("musicnn-msd")  # doctest: +SKIP
>>> y = np.zeros((1, 3 * 47872), np.float32)
>>> tagger.predict_patches(y).shape  # doctest: +SKIP
(1, 3, 50)
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import _checks
from ..cache import Cache, default_cache, hash_file, make_key
from ..errors import MissingDependencyError, ModelNotFoundError, TaggerError
from .base import check_batch, split_patches

__all__ = [
    "MODELS",
    "MSD_LABELS",
    "MTT_LABELS",
    "MusicnnTagger",
    "PATCH_FRAMES",
    "PATCH_LENGTH",
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
_BN_EPS = 1e-3
_CONVERTER_VERSION = 1

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

    if "fb" not in _FB_CACHE:
        _FB_CACHE["fb"] = torch.from_numpy(mel_filterbank().astype(np.float64))
        _FB_CACHE["win"] = torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)
    spec = torch.stft(
        y.to(torch.float64),
        n_fft=N_FFT,
        hop_length=HOP,
        window=_FB_CACHE["win"],
        center=True,
        pad_mode="constant",
        return_complex=True,
    )  # (B, 257, T)
    power = spec.real.square() + spec.imag.square()
    mel = torch.matmul(_FB_CACHE["fb"], power).transpose(1, 2)  # (B, T, 96)
    mel = mel.to(torch.float32).to(torch.float16).to(torch.float32)
    return torch.log10(mel * 10000.0 + 1.0)


# --------------------------------------------------------------------------- weights
def musicnn_checkpoint(folder_name: str) -> Path:
    """The folder of a checkpoint shipped by the installed ``musicnn`` package.

    Raises
    ------
    MissingDependencyError
        If ``musicnn`` is not installed.
    ModelNotFoundError
        If the package lacks that checkpoint.
    """
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "The pretrained musicnn weights come from the 'musicnn' package, which is not installed. "
            "Install it without its outdated dependencies: pip install --no-deps musicnn==0.1.0"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / folder_name
    if not (folder / ".index").is_file():
        raise ModelNotFoundError(
            f"The installed musicnn package has no checkpoint {folder_name!r} (looked in {folder}). "
            "Reinstall it: pip install --no-deps --force-reinstall musicnn==0.1.0"
        )
    return folder


def _checkpoint_files(folder: Path) -> list[Path]:
    files = [folder / ".index", *sorted(folder.glob(".data-*-of-*"))]
    if len(files) < 2:
        raise ModelNotFoundError(f"Checkpoint folder {folder} has an index but no .data file.")
    return files


def _bn(ckpt, name: str) -> tuple[np.ndarray, np.ndarray]:
    gamma = ckpt[f"{name}/gamma"].astype(np.float32)
    beta = ckpt[f"{name}/beta"].astype(np.float32)
    mean = ckpt[f"{name}/moving_mean"].astype(np.float32)
    var = ckpt[f"{name}/moving_variance"].astype(np.float32)
    scale = (gamma / np.sqrt(var + np.float32(_BN_EPS))).astype(np.float32)
    return scale, (beta - mean * scale).astype(np.float32)


def _convert(folder: Path, arch: str) -> dict[str, np.ndarray]:
    """Checkpoint -> dict of PyTorch-layout float32 arrays."""
    from .tfcheckpoint import TFCheckpoint

    ckpt = TFCheckpoint(folder)
    w: dict[str, np.ndarray] = {}

    def conv(tf_name: str, key: str) -> None:
        # TF (kh, kw, in, out) -> torch (out, in, kh, kw)
        w[key + ".weight"] = np.ascontiguousarray(ckpt[f"{tf_name}/kernel"].transpose(3, 2, 0, 1))
        w[key + ".bias"] = ckpt[f"{tf_name}/bias"]

    def bn(tf_name: str, key: str) -> None:
        w[key + ".scale"], w[key + ".shift"] = _bn(ckpt, tf_name)

    def dense(tf_name: str, key: str) -> None:
        w[key + ".weight"] = np.ascontiguousarray(ckpt[f"{tf_name}/kernel"].T)
        w[key + ".bias"] = ckpt[f"{tf_name}/bias"]

    bn("batch_normalization", "bn_in")
    if arch == "musicnn":
        for i, key in enumerate(["f74", "f77", "s1", "s2", "s3"]):
            conv("conv2d" if i == 0 else f"conv2d_{i}", key)
            bn(f"batch_normalization_{i + 1}", key + "_bn")
        for i in range(3):
            conv(f"conv2d_{5 + i}", f"mid{i + 1}")
            bn(f"batch_normalization_{6 + i}", f"mid{i + 1}_bn")
            # (64, 1, 7, C) -> conv1d (64, C, 7)
            w[f"mid{i + 1}.weight"] = np.ascontiguousarray(w[f"mid{i + 1}.weight"][:, 0].transpose(0, 2, 1))
        bn("batch_normalization_9", "pool_bn")
        dense("dense", "dense")
        bn("batch_normalization_10", "dense_bn")
        dense("dense_1", "out")
    else:
        for i in range(1, 6):
            conv(f"{i}CNN", f"conv{i}")
            bn(f"batch_normalization_{i}", f"conv{i}_bn")
        dense("dense", "out")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}


def _load_weights(folder: Path, arch: str, cache: Cache) -> tuple[dict[str, np.ndarray], str]:
    files = _checkpoint_files(folder)
    digest = make_key("musicnn-checkpoint", [hash_file(f) for f in files])
    key = make_key("musicnn-torch-weights", _CONVERTER_VERSION, arch, digest)
    arrays, _meta = cache.get_or_compute(
        "taggers",
        key,
        lambda: (_convert(folder, arch), {"source": str(folder), "arch": arch, "checkpoint": digest}),
    )
    return arrays, digest


# --------------------------------------------------------------------------- networks
def _build_network(arch: str, weights: dict[str, np.ndarray]):
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()}

    class Musicnn(torch.nn.Module):
        """musicnn in inference mode.

        Front-end blocks compute conv -> relu -> batch norm -> max over frequency. With
        ``a`` the batch-norm scale of a channel, ``max_f(a relu(z) + b) = a relu(max_f z) + b``
        for ``a > 0`` and ``a relu(min_f z) + b`` for ``a < 0``; the weights of channels with
        ``a < 0`` are negated once here so that one ``max`` serves both (``min z = -max(-z)``),
        and the bias is added after the max (rounding is monotone: all of this is exact).
        """

        def __init__(self) -> None:
            super().__init__()
            self.front: dict[str, tuple] = {}
            for k in ("f74", "f77", "s1", "s2", "s3"):
                scale, shift = t[k + "_bn.scale"], t[k + "_bn.shift"]
                sign = torch.where(scale > 0, 1.0, -1.0)
                w = t[k + ".weight"] * sign.view(-1, 1, 1, 1)  # (C, 1, kh, kw)
                if k.startswith("s"):  # temporal (kh, 1) kernels as a GEMM weight (kh, C)
                    w = w[:, 0, :, 0].t().contiguous()

                self.front[k] = (w, t[k + ".bias"] * sign, sign, scale, shift)

        def bn(self, x, key: str, dim: int = 1):
            shape = [1] * x.dim()
            shape[dim] = -1
            return x * t[key + ".scale"].view(shape) + t[key + ".shift"].view(shape)

        def _finish(self, m, key: str):  # m: (B, C, T) = max over frequency of the signed conv
            _w, bias, sign, scale, shift = self.front[key]
            v = ((m + bias.view(1, -1, 1)) * sign.view(1, -1, 1)).clamp_min_(0)
            return v * scale.view(1, -1, 1) + shift.view(1, -1, 1)

        def forward(self, x):  # x: (B, 187, 96) log-mel patches
            x = self.bn(x.unsqueeze(1), "bn_in")  # (B, 1, T, 96)
            xt = F.pad(x, (0, 0, 3, 3))
            feats = [self._finish(F.conv2d(xt, self.front[k][0]).amax(dim=-1), k) for k in ("f74", "f77")]
            xf = x[:, 0].transpose(1, 2)  # (B, 96, T)
            for k, (before, after) in zip(("s1", "s2", "s3"), ((63, 64), (31, 32), (15, 16))):
                w = self.front[k][0]
                kh = w.shape[0]
                padded = F.pad(xf, (before, after))
                # one patch at a time: the im2col windows (96 x 187 x kh floats) stay in cache,
                # measured 2x faster than one conv2d over the batch
                m = torch.stack(
                    [
                        torch.mm(p.unfold(1, kh, 1).reshape(-1, kh), w)
                        .view(N_MELS, -1, w.shape[1])
                        .amax(dim=0)
                        for p in padded
                    ]
                )  # (B, T, C): TF "same" conv, max over mels
                feats.append(self._finish(m.transpose(1, 2), k))
            front = torch.cat(feats, dim=1)  # (B, 561, T)
            h1 = self.bn(F.relu(F.conv1d(F.pad(front, (3, 3)), t["mid1.weight"], t["mid1.bias"])), "mid1_bn")
            h2 = (
                self.bn(F.relu(F.conv1d(F.pad(h1, (3, 3)), t["mid2.weight"], t["mid2.bias"])), "mid2_bn") + h1
            )
            h3 = (
                self.bn(F.relu(F.conv1d(F.pad(h2, (3, 3)), t["mid3.weight"], t["mid3.bias"])), "mid3_bn") + h2
            )
            feat = torch.cat([front, h1, h2, h3], dim=1)  # (B, 753, T)
            pooled = torch.stack([feat.amax(dim=2), feat.mean(dim=2)], dim=2).flatten(1)  # interleaved
            pooled = self.bn(pooled, "pool_bn")
            h = self.bn(F.relu(F.linear(pooled, t["dense.weight"], t["dense.bias"])), "dense_bn")
            return torch.sigmoid(F.linear(h, t["out.weight"], t["out.bias"]))

    class Vgg(torch.nn.Module):
        def bn(self, x, key: str):
            return x * t[key + ".scale"].view(1, -1, 1, 1) + t[key + ".shift"].view(1, -1, 1, 1)

        def forward(self, x):
            x = self.bn(x.unsqueeze(1), "bn_in")
            pools = [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))]
            for i, (k, s) in enumerate(pools, start=1):
                x = F.relu(F.conv2d(x, t[f"conv{i}.weight"], t[f"conv{i}.bias"], padding=1))
                x = F.max_pool2d(self.bn(x, f"conv{i}_bn"), kernel_size=k, stride=s)
            x = x.permute(0, 2, 3, 1).flatten(1)  # NHWC flatten, as TensorFlow
            return torch.sigmoid(F.linear(x, t["out.weight"], t["out.bias"]))

    net = Musicnn() if arch == "musicnn" else Vgg()
    return net.eval()


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    import torch

    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


class MusicnnTagger:
    """A pretrained musicnn (or VGG) tagger from the ``musicnn`` package, run in PyTorch.

    Usually made with :func:`xmtag.load_tagger` (``"musicnn-msd"``, ``"musicnn-mtt"``,
    ``"msd-vgg"``, ``"mtt-vgg"``).

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    checkpoint : str or os.PathLike, optional
        Folder holding the checkpoint (``.index`` + ``.data-00000-of-00001``);
        default: the one shipped by the installed ``musicnn`` package.
    batch_size : int
        Patches per forward pass (bounds memory: about 20 MB of intermediates per musicnn
        patch). All patches of all clips are streamed through the network in passes of
        this size. On CPU small passes are the fastest because the intermediates stay in
        cache (measured single-threaded on a 2-core Xeon: 30 ms per patch at 1-2, 41 at 4,
        44 at 16); raise it on GPUs.
    num_threads : int, optional
        Threads for inference (default: ``torch.get_num_threads()``). Passes of
        ``batch_size`` patches run as that many independent single-threaded workers
        (each pass is computed the same way whatever the thread count, so results do
        not depend on it).
    cache : xmtag.cache.Cache, optional
        Where converted weights are cached (default :func:`xmtag.cache.default_cache`).

    Attributes
    ----------
    labels : list of str
    sample_rate : int
        16000.
    patch_length : int
        47872 samples (187 frames of 256 samples).
    name : str

    Raises
    ------
    ModelNotFoundError
        Unknown model name or missing checkpoint.
    MissingDependencyError
        ``musicnn`` is not installed.
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
        batch_size: int = 2,
        num_threads: int | None = None,
        cache: Cache | None = None,
    ) -> None:
        if model not in MODELS:
            raise ModelNotFoundError(f"Unknown musicnn model {model!r}; choose one of {sorted(MODELS)}.")
        folder_name, self.arch, labels = MODELS[model]
        self.name = model
        self.labels = list(labels)
        if int(batch_size) < 1:
            raise TaggerError(f"batch_size must be >= 1, got {batch_size}.")
        self.batch_size = int(batch_size)
        self.num_threads = _checks.threads(num_threads, "num_threads")
        folder = Path(checkpoint) if checkpoint is not None else musicnn_checkpoint(folder_name)
        if not (folder / ".index").is_file():
            raise ModelNotFoundError(f"No checkpoint index {folder / '.index'}; pass the checkpoint folder.")
        weights, self.checkpoint_hash = _load_weights(folder, self.arch, cache or default_cache())
        self.checkpoint = folder
        self._net = _build_network(self.arch, weights)
        self.n_parameters = int(sum(v.size for v in weights.values()))

    def __repr__(self) -> str:
        return f"MusicnnTagger({self.name!r}, checkpoint={str(self.checkpoint)!r})"

    def melspectrogram(self, batch: np.ndarray) -> np.ndarray:
        """The network's input for whole clips, ``(B, 1 + N // 256, 96)`` (see :func:`log_mel`)."""
        return log_mel(batch)

    def predict_mel(self, patches: np.ndarray) -> np.ndarray:
        """Run the network on log-mel patches ``(M, 187, 96)`` -> ``(M, n_tags)``."""
        import torch

        x = np.asarray(patches, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise TaggerError(f"expected log-mel patches shaped (M, 187, 96), got {x.shape}.")
        out = np.empty((x.shape[0], len(self.labels)), np.float32)
        xt = torch.from_numpy(np.ascontiguousarray(x))
        starts = range(0, x.shape[0], self.batch_size)

        def run(start: int) -> None:
            with torch.inference_mode():
                out[start : start + self.batch_size] = self._net(xt[start : start + self.batch_size]).numpy()

        n_threads = int(self.num_threads or torch.get_num_threads())
        if n_threads > 1 and len(starts) > 1:
            # independent single-threaded workers over chunks of patches (torch releases the GIL
            # in its kernels): no OpenMP barrier per operation, which on a busy machine made
            # intra-op threading several times slower than one thread
            from concurrent.futures import ThreadPoolExecutor

            with _threads(1), ThreadPoolExecutor(min(n_threads, len(starts))) as pool:
                list(pool.map(run, starts))
        else:
            with _threads(self.num_threads):
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

        y = check_batch(batch)
        b, n = y.shape
        if n < PATCH_LENGTH:
            y = split_patches(y, PATCH_LENGTH).reshape(b, PATCH_LENGTH)  # pads, warns
        p = y.shape[1] // PATCH_LENGTH
        # spectrogram in bounded chunks of clips, patches of all clips in one stream
        clips_per_chunk = max(1, 64 // p)  # STFT of at most ~64 patches at a time
        mels = []
        with torch.inference_mode(), _threads(self.num_threads):
            for start in range(0, b, clips_per_chunk):
                chunk = torch.from_numpy(y[start : start + clips_per_chunk, : p * PATCH_LENGTH])
                mel = _log_mel_torch(chunk)[:, : p * PATCH_FRAMES]
                mels.append(mel.reshape(-1, PATCH_FRAMES, N_MELS).numpy())
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
        >>> tagger = xmtag.load_tagger("musicnn-msd")
        >>> y, sr = xmtag.load_audio(xmtag.datasets.demo_path() / "guitar.ogg", sr=16000, mono=True)
        >>> probs = tagger.predict(y[:, : 3 * 16000])
        >>> probs.shape, tagger.labels[int(probs[0].argmax())]
        ((1, 50), 'blues')
        """
        return self.predict_patches(batch).mean(axis=1)
