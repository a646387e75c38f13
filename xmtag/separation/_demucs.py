"""Source separation with Demucs: a mixed song in, :class:`~xmtag.separation.Stems` out.

:class:`DemucsSeparator` (what ``xmtag.Separator("htdemucs", ...)`` builds) wraps the
``demucs`` package: models are loaded the way ``demucs.pretrained.get_model(name, repo=...)``
does, but each ``.th`` file with ``torch.load(weights_only=True)`` (see below), and applied
with ``demucs.apply.apply_model(..., split=True)``, which processes the track in overlapping
chunks of the model's segment length (about 8 s) so that memory stays bounded on long tracks.
Results are cached on disk (:mod:`xmtag.cache`), keyed by the audio content, the model's
weights and the separation parameters. Where the weights come from (a local folder, the caches,
the network) is :mod:`xmtag.separation._demucs_models`; any model in that layout works,
including the 6-stem ``htdemucs_6s`` (drums, bass, other, vocals, guitar, piano) and bags of
models (``htdemucs_ft``, ``mdx_extra``), whose output is the weighted mean of their members.

Demucs does not guarantee that its stems add up to the input: the residual policy of
:mod:`xmtag.separation._base` (``residual="auto"``) adds it as a stem ``"residual"`` when it is
not negligible.

Memory
------
Demucs keeps the whole output in memory (``stems x channels x samples`` float32, 4x the
input for 4 stems) plus one chunk's activations. For a file input xmtag normalises the
samples in place instead of copying them. Measured with the default-size HTDemucs
(random weights, ``benchmarks/separation_speed.py``): a 10-minute stereo file peaks
around 2.3 GiB resident. glibc's heap fragmentation adds a few hundred MB to each chunk's
working set; ``MALLOC_MMAP_THRESHOLD_=4194304`` in the environment trades about a third
more CPU time for a lower peak.

Model files (``.th``) are Python pickles: xmtag reads them with ``torch.load(weights_only=True)``
and an allow-list of Demucs' own classes (never ``weights_only=False``, which Demucs itself
uses), so a file that would run code is refused with an
:class:`~xmtag.errors.UnsafeModelFileError` instead of being run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import non_negative_int
from ..audio import load_audio, resample
from ..cache import Cache, default_cache, hash_array, make_key
from ..errors import AudioError, ModelNotFoundError, XmtagError
from ._base import CACHE_NAMESPACE, Separator, check_device, check_residual, number, read_input, seeded
from ._demucs_models import _howto, _remote_listing, _resolve_local, _resolve_remote, network_available
from ._stems import Stems

__all__ = ["DemucsSeparator", "Separator", "DEFAULT_MODEL", "CACHE_NAMESPACE", "network_available"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "htdemucs"
#: Bump when the separation code changes what it returns, to retire old cache entries.
_CODE_VERSION = 1


# -- the separator -----------------------------------------------------------------------------
class DemucsSeparator(Separator):
    """Separate songs into stems with a Demucs model (``xmtag.Separator("htdemucs", ...)``).

    Parameters
    ----------
    model : str
        A Demucs model name: ``"htdemucs"`` (drums, bass, other, vocals), ``"htdemucs_ft"``,
        ``"htdemucs_6s"`` (adds guitar and piano), ``"mdx_extra"``, ..., or the name of a
        ``.th`` / bag ``.yaml`` in ``repo``.
    repo : str or os.PathLike, optional
        Local model folder (layout in the module notes). ``None``: Demucs' download/cache.
    device : str
        Torch device for the computation (``"cpu"``, ``"cuda"``); the full track stays in
        host memory, chunks move to the device.
    shifts : int
        Random time shifts averaged (Demucs' "shift trick"); the shifts are drawn from
        ``seed``, so the result is deterministic. 0 is fastest.
    overlap : float
        Overlap between chunks, in ``[0, 1)``.
    segment : float, optional
        Chunk length in seconds; default the model's own (must not exceed it for
        transformer models).
    jobs : int
        Parallel CPU workers over chunks (more memory, faster with many cores).
    cache : bool
        Reuse and store results in the xmtag cache (``$XMTAG_CACHE``).
    progress : bool
        Show a progress bar over chunks.
    seed : int
        Seed of the random shifts.
    residual : {"auto", True, False}
        Add the residual (mixture minus the sum of stems) as a stem ``"residual"``:
        when not negligible (``"auto"``, see :mod:`xmtag.separation._base`), always, or never.

    Raises
    ------
    ModelNotFoundError
        If the model is neither in ``repo`` nor cached and cannot be downloaded: the
        message names the files to fetch and where to put them (raised within seconds).
    XmtagError
        For invalid parameters.

    Examples
    --------
    >>> sep = Separator("htdemucs", repo="/path/to/models")  # doctest: +SKIP
    >>> stems = sep.separate("song.mp3")  # doctest: +SKIP
    >>> stems.names  # doctest: +SKIP
    ['drums', 'bass', 'other', 'vocals']
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        repo: str | os.PathLike[str] | None = None,
        device: str = "auto",
        shifts: int = 0,
        overlap: float = 0.25,
        segment: float | None = None,
        jobs: int = 0,
        *,
        cache: bool = True,
        progress: bool = True,
        seed: int = 0,
        residual: str | bool = "auto",
    ) -> None:
        if not isinstance(model, str) or not model:
            raise XmtagError(f"Separator: model must be a Demucs model name, got {model!r}.")
        shifts = non_negative_int(shifts, "Separator: shifts")
        if not 0.0 <= number(overlap, "overlap") < 1.0:
            raise XmtagError(f"Separator: overlap must be in [0, 1), got {overlap!r}.")
        if segment is not None and not number(segment, "segment") > 0:
            raise XmtagError(f"Separator: segment must be a positive number of seconds, got {segment!r}.")
        jobs = non_negative_int(jobs, "Separator: jobs")
        device = check_device(device)
        self.residual = check_residual(residual)
        self.model_name = model
        self.repo = Path(repo).expanduser() if repo is not None else None
        self.device = str(device)
        self.shifts = int(shifts)
        self.overlap = float(overlap)
        self.segment = None if segment is None else float(segment)
        self.jobs = int(jobs)
        self.progress = bool(progress)
        self.seed = int(seed)
        self.cache: Cache = default_cache(enabled=bool(cache))
        self._model: Any = None
        self._source = _resolve_local(model, self.repo) if self.repo is not None else _resolve_remote(model)

    def __repr__(self) -> str:
        repo = f", repo={str(self.repo)!r}" if self.repo is not None else ""
        return (
            f"Separator({self.model_name!r}{repo}, device={self.device!r}, shifts={self.shifts}, "
            f"overlap={self.overlap}, segment={self.segment}, jobs={self.jobs})"
        )

    # -- model ----------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The Demucs model (or bag of models), loaded on first use."""
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from demucs.repo import ModelLoadingError

        src = self._source
        where = f"from {str(src.repo)!r}" if src.kind == "local" else f"({src.kind})"
        logger.info("Loading Demucs model %r %s", src.name, where)
        try:
            model = src.load()
        except XmtagError:  # refused as unsafe, not a Demucs file: already says which file and why
            raise
        except ModelLoadingError as exc:
            raise ModelNotFoundError(f"Cannot load Demucs model {src.name!r} {where}: {exc}") from exc
        except SystemExit as exc:  # demucs' `fatal()` exits
            raise ModelNotFoundError(
                f"Cannot load Demucs model {src.name!r} {where} (demucs exited)."
            ) from exc
        except ImportError as exc:
            raise XmtagError(f"Cannot load Demucs model {src.name!r}: {exc}.") from exc
        except Exception as exc:
            raise ModelNotFoundError(
                f"Cannot load Demucs model {src.name!r} {where}: {type(exc).__name__}: {exc}. "
                "The file may be corrupt or not a Demucs model; re-download it. "
                + _howto(src.name, _remote_listing(src.name))
            ) from exc
        if model is None:
            raise ModelNotFoundError(f"Demucs returned no model for {src.name!r} {where}.")
        if not src.signature:  # downloaded, unknown name: identify it by its weights
            src.signature = {"name": src.name, "state": _state_hash(model)}
        max_seg = _max_segment(model)
        if self.segment is not None and max_seg is not None and self.segment > max_seg + 1e-9:
            raise XmtagError(
                f"Separator: segment={self.segment:g} s exceeds the {max_seg:g} s that model "
                f"{src.name!r} was trained with; pass segment <= {max_seg:g} or leave it unset."
            )
        return model

    @property
    def sources(self) -> list[str]:
        """The stem names the model produces (loads the model)."""
        return list(self.model.sources)

    @property
    def samplerate(self) -> int:
        """The model's sample rate (loads the model)."""
        return int(self.model.samplerate)

    @property
    def signature(self) -> dict[str, Any]:
        """What identifies the model's weights in cache keys (names and hashes of its files)."""
        if not self._source.signature:
            _ = self.model
        return dict(self._source.signature)

    def _params(self) -> dict[str, Any]:
        return {
            "shifts": self.shifts,
            "overlap": self.overlap,
            "segment": self.segment,
            "seed": self.seed if self.shifts else None,
            "split": True,
            "device": self.device.split(":")[0],
        }

    # -- separation -----------------------------------------------------------------------------
    def separate(self, path_or_array: str | os.PathLike[str] | np.ndarray, sr: int | None = None) -> Stems:
        """Separate a song into stems.

        Parameters
        ----------
        path_or_array : str, os.PathLike or numpy.ndarray
            An audio file (wav, flac, ogg, mp3) or a waveform ``(C, N)`` / 1-D.
        sr : int, optional
            Sample rate of an array (required then); not used with a file.

        Returns
        -------
        Stems
            The model's stems in its order (e.g. drums, bass, other, vocals; then
            ``residual`` under the residual policy) at the
            model's sample rate (44.1 kHz for Demucs; ``.resampled(sr)`` converts), with the
            input (resampled likewise) as ``mixture``. Mono input is fed to the model as
            two equal channels and the stems are returned as mono (mean of the channels).

        Raises
        ------
        AudioFileNotFoundError, AudioError
            For a missing or unreadable file, or an array without ``sr``, of a bad shape,
            or with more channels than the model takes.
        ModelNotFoundError
            If the model's weights cannot be loaded.

        Examples
        --------
        >>> sep = Separator("htdemucs", repo="models/")  # doctest: +SKIP
        >>> stems = sep.separate("song.mp3")              # doctest: +SKIP
        >>> stems.names                                   # doctest: +SKIP
        ['drums', 'bass', 'other', 'vocals']
        """
        y, in_sr, label, reload = self._read_input(path_or_array, sr)
        audio_hash = hash_array(y)
        key = make_key(
            "xmtag.separation._demucs",
            _CODE_VERSION,
            audio_hash,
            in_sr,
            self.signature,
            self._params(),
            _demucs_version(),
        )
        hit = self.cache.get(CACHE_NAMESPACE, key)
        if hit is not None:
            arrays, meta = hit
            logger.info("Stems of %s from the cache (%s).", label, key[:12])
            out_sr = int(meta["sr"])
            mix = resample(y, in_sr, out_sr)
            return self._with_residual(
                Stems({n: arrays[f"stem/{n}"] for n in meta["names"]}, sr=out_sr, mixture=mix)
            )
        holder = [y]
        del y  # _separate may overwrite a file's samples in place to save memory (see there)
        stems = self._separate(holder, in_sr, label, reload, audio_hash)
        self.cache.put(
            CACHE_NAMESPACE,
            key,
            {f"stem/{n}": a for n, a in stems.items()},
            meta={
                "names": stems.names,
                "sr": stems.sr,
                "model": self.model_name,
                "signature": self.signature,
                "params": self._params(),
                "input": label,
            },
        )
        return self._with_residual(stems)

    def _read_input(
        self, x: Any, sr: int | None
    ) -> tuple[np.ndarray, int, str, Callable[[], np.ndarray] | None]:
        """``(samples, rate, label, reload)``; ``reload`` re-reads a file (``None`` for arrays)."""
        return read_input(x, sr, lambda p: load_audio(p))

    def _separate(
        self,
        holder: list[np.ndarray],
        in_sr: int,
        label: str,
        reload: Callable[[], np.ndarray] | None,
        audio_hash: str,
    ) -> Stems:
        """Run Demucs on ``holder[0]``.

        Memory: Demucs needs the track normalised ((x - mean) / std) next to its output
        (4 stems = 4x the input). When the model-rate samples are xmtag's own (a file we
        read, or a resampled copy), they are normalised in place and the exact mixture is
        re-made afterwards (re-read / re-resampled, checked against the input's hash), which
        saves one copy of the track during the separation; a caller's array is never modified.
        """
        import torch
        from demucs.apply import apply_model

        model = self.model
        model_sr, model_ch = int(model.samplerate), int(model.audio_channels)
        y = holder.pop()
        if y.shape[0] not in (1, model_ch):
            raise AudioError(
                f"{label}: {y.shape[0]} channels, but model {self.model_name!r} takes {model_ch} "
                f"(or mono). Mix it down first, e.g. xmtag.audio.to_mono or a stereo downmix."
            )
        n_in = y.shape[1]
        mix = resample(y, in_sr, model_sr)
        resampled = mix is not y
        mono = mix.shape[0] == 1 and model_ch != 1
        in_place = (resampled or reload is not None) and not mono
        if reload is not None:
            del y  # a file: read it again when needed
        n_samples = mix.shape[1]
        x = torch.from_numpy(np.ascontiguousarray(mix))
        if mono:
            x = x.expand(model_ch, -1)
        ref = x.mean(0)
        mean, std = float(ref.mean()), float(ref.std()) + 1e-8
        del ref
        if in_place:
            del mix
            x.sub_(mean).div_(std)
        else:
            x = x.sub(mean).div_(std)  # one new tensor: `mix` stays the caller's audio
        logger.info(
            "Separating %s (%.1f s) with %r on %s.", label, n_samples / model_sr, self.model_name, self.device
        )
        with seeded(self.seed), torch.no_grad():
            out = apply_model(
                model,
                x[None],
                shifts=self.shifts,
                split=True,
                overlap=self.overlap,
                progress=self.progress,
                device=self.device,
                num_workers=self.jobs,
                segment=self.segment,
            )
        del x
        out = out[0]
        out.mul_(std).add_(mean)
        arr = out.cpu().numpy()
        if arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        if mono:
            arr = arr.mean(axis=1, keepdims=True, dtype=np.float32)
        if in_place:  # re-make the exact mixture
            if reload is not None:
                y = reload()
                if y.shape[1] != n_in or hash_array(y) != audio_hash:
                    raise AudioError(f"{label} changed while it was being separated; run again.")
            mix = resample(y, in_sr, model_sr)
        return Stems(dict(zip(list(model.sources), arr)), sr=model_sr, mixture=mix)


def _max_segment(model: Any) -> float | None:
    if hasattr(model, "max_allowed_segment"):
        value = float(model.max_allowed_segment)
        return None if value == float("inf") else value
    from demucs.htdemucs import HTDemucs

    return float(model.segment) if isinstance(model, HTDemucs) else None


def _state_hash(model: Any) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(hash_array(v.detach().cpu().numpy()).encode())
    return h.hexdigest()


def _demucs_version() -> str:
    try:
        return importlib.metadata.version("demucs")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"
